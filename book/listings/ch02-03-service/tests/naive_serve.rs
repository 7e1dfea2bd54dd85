//! The first way a reader serves a handler, tokio-proto's `TcpServer`, and what it
//! does when the port is taken.

use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ch02_03_service::protocol::Proto;
use ch02_03_service::server::{Handler, Reply, Server};
use futures::future;
use rmpv::Value;
use tokio_proto::TcpServer;

// ANCHOR: serve_forever
/// Serves connections on `addr` until the process ends.
fn serve_forever<H, F>(addr: SocketAddr, new_handler: F)
where
    H: Handler + 'static,
    F: Fn() -> H + Send + Sync + 'static,
{
    TcpServer::new(Proto, addr).serve(move || Ok(Server(new_handler())));
}
// ANCHOR_END: serve_forever

struct Nothing;

impl Handler for Nothing {
    fn handle_request(&self, _method: &str, _params: &[Value]) -> Reply {
        Box::new(future::err(Value::from("nothing here")))
    }
}

#[test]
fn tcp_server_panics_when_the_port_is_taken() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();

    // The server thread's panic is expected: keep it out of the test's output.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let (done, outcome) = mpsc::channel();
    thread::spawn(move || {
        let result = std::panic::catch_unwind(|| serve_forever(addr, || Nothing));
        let _ = done.send(result);
    });
    let outcome = outcome.recv_timeout(Duration::from_secs(10));
    std::panic::set_hook(default_hook);
    let panic = match outcome {
        Ok(Err(panic)) => panic,
        Ok(Ok(())) => panic!("serve returned"),
        Err(_) => panic!("serve did not fail within 10 s: it bound a port that was taken"),
    };
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("AddrInUse"), "{}", message);

    // The book shows this message: keep them in step.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../src/ch02-03-service.md");
    let chapter = std::fs::read_to_string(path).unwrap();
    assert!(
        chapter.contains(&message),
        "chapter 2.3 should show the panic message `{}`",
        message
    );
    drop(taken);
}
