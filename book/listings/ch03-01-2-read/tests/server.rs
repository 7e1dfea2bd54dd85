//! The server, tested from the outside.

// ANCHOR: imports
use std::io::Write;
use std::net::{self, Shutdown};
use std::time::Duration;

use futures::future::{self, Either, FutureResult};
use futures::Future;
use minirpc::message::{Message, Request};
use minirpc::server::Connection;
use minirpc::service::Service;
use rmpv::Value;
use tokio_core::net::TcpStream;
use tokio_core::reactor::{Core, Timeout};
// ANCHOR_END: imports

/// Answers `add` with the sum of its params.
struct Adder;

impl Service for Adder {
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Vec<Value>) -> Self::RequestFuture {
        match method {
            "add" => future::result(add(&params)),
            _ => future::err(format!("no method `{}`", method).into()),
        }
    }

    fn handle_notification(
        &mut self,
        _method: &str,
        _params: Vec<Value>,
    ) -> Self::NotificationFuture {
        future::ok(())
    }
}

/// The sum of `params`, or an error value if one is not an integer or the sum overflows.
fn add(params: &[Value]) -> Result<Value, Value> {
    let sum = params
        .iter()
        .try_fold(0i64, |sum, param| sum.checked_add(param.as_i64()?));
    sum.map(Value::from)
        .ok_or_else(|| Value::from("expected integers with a sum that fits in 64 bits"))
}

#[test]
fn a_service_can_be_called_without_a_network() {
    let mut adder = Adder;
    let sum = adder.handle_request("add", vec![Value::from(1), Value::from(2)]);
    assert_eq!(sum.wait(), Ok(Value::from(3)));
    let unknown = adder.handle_request("mul", vec![]);
    assert_eq!(unknown.wait(), Err(Value::from("no method `mul`")));
}

// ANCHOR: helpers
/// How long a test waits for a future before calling it a hang.
const PATIENCE: Duration = Duration::from_secs(10);

/// A connection serving one end of a new 127.0.0.1 socket pair, and the other end, from
/// which the test plays the peer.
fn connect<S: Service>(core: &Core, service: S) -> (Connection<S>, net::TcpStream) {
    let listener = net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (ours, _) = listener.accept().unwrap();
    let ours = TcpStream::from_stream(ours, &core.handle()).unwrap();
    (Connection::new(ours, service), peer)
}

/// Runs `future` on `core` to its end; panics if that takes longer than `PATIENCE`.
fn run<F: Future>(core: &mut Core, future: F) -> Result<F::Item, F::Error> {
    let timeout = Timeout::new(PATIENCE, &core.handle()).unwrap();
    match core.run(future.select2(timeout)) {
        Ok(Either::A((item, _))) => Ok(item),
        Err(Either::A((err, _))) => Err(err),
        _ => panic!("still running after {:?}", PATIENCE),
    }
}

/// `message`, encoded.
fn bytes(message: Message) -> Vec<u8> {
    let mut bytes = Vec::new();
    message.encode(&mut bytes).unwrap();
    bytes
}

/// The request `method(params)`, with msgid `id`.
fn request(id: u32, method: &str, params: Vec<Value>) -> Message {
    Message::Request(Request {
        id,
        method: method.to_owned(),
        params,
    })
}
// ANCHOR_END: helpers

// ANCHOR: test_read
#[test]
fn the_connection_ends_when_the_peer_closes() {
    let mut core = Core::new().unwrap();
    let (connection, mut peer) = connect(&core, Adder);
    peer.write_all(&bytes(request(1, "add", vec![Value::from(1)])))
        .unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    run(&mut core, connection).unwrap();
}
// ANCHOR_END: test_read
