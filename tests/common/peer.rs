//! A raw MessagePack-RPC peer: a blocking `TcpStream` and rmpv, none of the crate's code,
//! so that what it checks does not depend on what it tests.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

use rmpv::Value;

use super::wire::{encode, notification, ok_response, parse_response, request};
use super::HANG;

/// One connection, spoken to by hand. Every read and write gives up after [`HANG`].
pub struct RawPeer {
    pub stream: TcpStream,
    /// The msgid of the next call [`RawPeer::check`] makes.
    next_id: u64,
}

impl RawPeer {
    pub fn connect(addr: SocketAddr) -> RawPeer {
        let stream = TcpStream::connect(addr)
            .unwrap_or_else(|err| panic!("cannot connect to {}: {}", addr, err));
        RawPeer::from_stream(stream)
    }

    /// Speaks over a connection made elsewhere (one a test's own listener accepted).
    pub fn from_stream(stream: TcpStream) -> RawPeer {
        // Guards against hangs, not synchronisation: every read expects data.
        stream
            .set_read_timeout(Some(HANG))
            .expect("set the read timeout");
        stream
            .set_write_timeout(Some(HANG))
            .expect("set the write timeout");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        RawPeer { stream, next_id: 0 }
    }

    /// Writes `bytes`; an error when the other side has closed (or reset) the connection.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Writes one value; panics if the connection is gone.
    pub fn send_value(&mut self, value: &Value) {
        self.send(&encode(value))
            .unwrap_or_else(|err| panic!("cannot send {}: {}", value, err));
    }

    pub fn request(&mut self, id: u64, method: &str, params: Vec<Value>) {
        self.send_value(&request(id, method, params));
    }

    pub fn notify(&mut self, method: &str, params: Vec<Value>) {
        self.send_value(&notification(method, params));
    }

    /// The next value on the wire; panics on end of stream, error or hang.
    pub fn recv(&mut self) -> Value {
        rmpv::decode::read_value(&mut self.stream)
            .unwrap_or_else(|err| panic!("no value from the peer: {}", err))
    }

    /// The next value, or `None` once the peer has closed the connection.
    pub fn try_recv(&mut self) -> Option<Value> {
        rmpv::decode::read_value(&mut self.stream).ok()
    }

    /// The next response, skipping notifications.
    pub fn recv_response(&mut self) -> (u64, Result<Value, Value>) {
        loop {
            if let Some(response) = parse_response(&self.recv()) {
                return response;
            }
        }
    }

    /// Sends `add [a, b]` as request `id` and checks that the next value on the wire is
    /// its answer: the connection is served correctly.
    pub fn check_add(&mut self, id: u64, a: i64, b: i64) {
        self.request(id, "add", vec![a.into(), b.into()]);
        assert_eq!(
            self.recv(),
            ok_response(id, Value::from(a + b)),
            "a wrong answer to add [{}, {}]",
            a,
            b
        );
    }

    /// [`RawPeer::check_add`] with a msgid of this peer's own, for a bystander that makes
    /// a call now and then.
    pub fn check(&mut self) {
        let id = self.next_id;
        self.next_id += 1;
        self.check_add(id, id as i64, 1000);
    }

    /// Reads until the peer closes the connection (end of stream or reset) and returns
    /// what came before. Panics after [`HANG`] without either.
    pub fn read_until_closed(&mut self) -> Vec<u8> {
        let mut got = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return got,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err)
                    if err.kind() == io::ErrorKind::WouldBlock
                        || err.kind() == io::ErrorKind::TimedOut =>
                {
                    panic!("the peer did not close the connection within {:?}", HANG)
                }
                // Reset: the peer closed with our bytes still unread on its side.
                Err(_) => return got,
            }
        }
    }

    /// Half-closes: the peer reads end of stream, and can still answer.
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}
