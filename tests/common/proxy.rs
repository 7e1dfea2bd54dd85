//! A TCP proxy that records what two other programs say to each other.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rmp_rpc_demo::message::Message;

use super::wire::message::decode_stream;
use super::HANG;

/// A proxy on 127.0.0.1 that forwards one connection to `target` and records the bytes
/// going each way.
pub struct Proxy {
    pub addr: SocketAddr,
    /// Bytes from the side that connected to the proxy.
    pub from_client: Arc<Mutex<Vec<u8>>>,
    /// Bytes from `target`.
    pub from_server: Arc<Mutex<Vec<u8>>>,
}

impl Proxy {
    pub fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let from_client = Arc::new(Mutex::new(Vec::new()));
        let from_server = Arc::new(Mutex::new(Vec::new()));
        let (up_record, down_record) = (from_client.clone(), from_server.clone());
        thread::spawn(move || {
            // One connection, accepted within HANG (the test fails otherwise).
            listener
                .set_nonblocking(true)
                .expect("nonblocking listener");
            let deadline = Instant::now() + HANG;
            let client = loop {
                match listener.accept() {
                    Ok((stream, _)) => break stream,
                    Err(ref err) if err.kind() == io::ErrorKind::WouldBlock => {
                        if Instant::now() > deadline {
                            return;
                        }
                        thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => return,
                }
            };
            client.set_nonblocking(false).expect("blocking stream");
            let server = match TcpStream::connect(target) {
                Ok(server) => server,
                Err(_) => return,
            };
            let (client2, server2) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            thread::spawn(move || pump(client2, server2, up_record));
            pump(server, client, down_record);
        });
        Proxy {
            addr,
            from_client,
            from_server,
        }
    }

    /// The messages recorded so far in one direction, decoded with our codec.
    pub fn messages(record: &Arc<Mutex<Vec<u8>>>) -> Vec<Message> {
        let bytes = record.lock().unwrap_or_else(|p| p.into_inner()).clone();
        decode_stream(&bytes)
    }
}

/// Copies `from` to `to`, recording the bytes, until either side closes.
fn pump(mut from: TcpStream, mut to: TcpStream, record: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                record
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
