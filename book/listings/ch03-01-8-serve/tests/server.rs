// ANCHOR: all
//! The server, tested from the outside.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{self, Shutdown, SocketAddr};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use futures::future::{self, Either, FutureResult};
use futures::sync::oneshot;
use futures::Future;
use minirpc::message::{Message, Notification, Request, Response};
use minirpc::server::{serve, Connection};
use minirpc::service::Service;
use rmpv::Value;
use tokio_core::net::{TcpListener, TcpStream};
use tokio_core::reactor::{Core, Timeout};

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

/// The notification `method(params)`.
fn notification(method: &str, params: Vec<Value>) -> Message {
    Message::Notification(Notification {
        method: method.to_owned(),
        params,
    })
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
/// The messages in `bytes`, which must hold whole messages only.
fn messages(bytes: &[u8]) -> Vec<Message> {
    let mut rest = bytes;
    let mut messages = Vec::new();
    while !rest.is_empty() {
        messages.push(Message::decode(&mut rest).unwrap());
    }
    messages
}

/// The response to request `id`.
fn response(id: u32, result: Result<Value, Value>) -> Message {
    Message::Response(Response { id, result })
}

#[test]
fn the_connection_ends_when_the_peer_closes() {
    let mut core = Core::new().unwrap();
    let (connection, mut peer) = connect(&core, Adder);
    peer.write_all(&bytes(request(1, "add", vec![Value::from(1)])))
        .unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    run(&mut core, connection).unwrap();
}

/// Writes down each call it gets, then answers at once with nil.
struct Recorder {
    calls: Rc<RefCell<Vec<String>>>,
}

impl Service for Recorder {
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, _params: Vec<Value>) -> Self::RequestFuture {
        self.calls.borrow_mut().push(format!("request {}", method));
        future::ok(Value::Nil)
    }

    fn handle_notification(
        &mut self,
        method: &str,
        _params: Vec<Value>,
    ) -> Self::NotificationFuture {
        self.calls
            .borrow_mut()
            .push(format!("notification {}", method));
        future::ok(())
    }
}

#[test]
fn the_service_gets_every_message_in_order() {
    let mut core = Core::new().unwrap();
    let calls = Rc::new(RefCell::new(Vec::new()));
    let recorder = Recorder {
        calls: calls.clone(),
    };
    let (connection, mut peer) = connect(&core, recorder);
    // A message bigger than one read, between two small ones.
    let big = Value::from("x".repeat(3 * 8 * 1024));
    peer.write_all(&bytes(request(1, "first", vec![]))).unwrap();
    peer.write_all(&bytes(notification("second", vec![big])))
        .unwrap();
    peer.write_all(&bytes(request(2, "third", vec![]))).unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    run(&mut core, connection).unwrap();
    assert_eq!(
        *calls.borrow(),
        ["request first", "notification second", "request third"]
    );
}

#[test]
fn each_request_gets_its_answer() {
    let mut core = Core::new().unwrap();
    let (connection, mut peer) = connect(&core, Adder);
    peer.write_all(&bytes(request(
        1,
        "add",
        vec![Value::from(1), Value::from(2)],
    )))
    .unwrap();
    peer.write_all(&bytes(notification("hello", vec![])))
        .unwrap();
    peer.write_all(&bytes(request(2, "mul", vec![]))).unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    run(&mut core, connection).unwrap();

    // The connection is gone, and the socket with it: read everything it wrote.
    let mut answers = Vec::new();
    peer.read_to_end(&mut answers).unwrap();
    assert_eq!(
        messages(&answers),
        [
            response(1, Ok(Value::from(3))),
            response(2, Err(Value::from("no method `mul`"))),
        ]
    );
}

/// How many big answers the test asks for, and their size.
const ANSWERS: u32 = 32;
const ANSWER_SIZE: usize = 1024 * 1024;

/// Answers `big [n]` with a string of `n` bytes, and any other request with nil, after
/// telling the test about it.
struct Flood {
    other: mpsc::Sender<()>,
}

impl Service for Flood {
    type RequestFuture = Box<dyn Future<Item = Value, Error = Value>>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Vec<Value>) -> Self::RequestFuture {
        if method == "big" {
            let size = params.first().and_then(Value::as_u64).unwrap_or(0);
            return Box::new(future::ok(Value::from("x".repeat(size as usize))));
        }
        let other = self.other.clone();
        // `lazy` runs the closure when the future is first polled.
        Box::new(future::lazy(move || {
            let _ = other.send(());
            Ok(Value::Nil)
        }))
    }

    fn handle_notification(
        &mut self,
        _method: &str,
        _params: Vec<Value>,
    ) -> Self::NotificationFuture {
        future::ok(())
    }
}

#[test]
fn a_peer_that_reads_late_gets_every_answer() {
    let mut core = Core::new().unwrap();
    let (other_sent, other_answered) = mpsc::channel();
    let (connection, mut peer) = connect(&core, Flood { other: other_sent });
    let reader = thread::spawn(move || {
        let size = Value::from(ANSWER_SIZE);
        for id in 0..ANSWERS {
            peer.write_all(&bytes(request(id, "big", vec![size.clone()])))
                .unwrap();
        }
        peer.write_all(&bytes(request(ANSWERS, "last", vec![])))
            .unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        // Read nothing until the server has handled the last request.
        other_answered.recv_timeout(PATIENCE).unwrap();
        let mut answers = Vec::new();
        peer.read_to_end(&mut answers).unwrap();
        answers
    });
    run(&mut core, connection).unwrap();

    let answers = messages(&reader.join().unwrap());
    let big = Value::from("x".repeat(ANSWER_SIZE));
    let mut expected: Vec<_> = (0..ANSWERS)
        .map(|id| response(id, Ok(big.clone())))
        .collect();
    expected.push(response(ANSWERS, Ok(Value::Nil)));
    assert!(answers == expected, "some answers are missing or wrong");
}

// ANCHOR: counter
/// Answers `count` with the number of requests its connection has sent so far.
struct Counter {
    requests: u64,
}

impl Service for Counter {
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, _method: &str, _params: Vec<Value>) -> Self::RequestFuture {
        self.requests += 1;
        future::ok(Value::from(self.requests))
    }

    fn handle_notification(
        &mut self,
        _method: &str,
        _params: Vec<Value>,
    ) -> Self::NotificationFuture {
        future::ok(())
    }
}

/// A peer on a thread of its own: sends `count` `calls` times to the server at `addr`,
/// and returns the answers.
fn counting_peer(addr: SocketAddr, calls: u32) -> oneshot::Receiver<Vec<Message>> {
    let (done, answers) = oneshot::channel();
    thread::spawn(move || {
        let mut peer = net::TcpStream::connect(addr).unwrap();
        peer.set_read_timeout(Some(PATIENCE)).unwrap();
        for id in 0..calls {
            peer.write_all(&bytes(request(id, "count", vec![])))
                .unwrap();
        }
        peer.shutdown(Shutdown::Write).unwrap();
        let mut answers = Vec::new();
        peer.read_to_end(&mut answers).unwrap();
        let _ = done.send(messages(&answers));
    });
    answers
}
// ANCHOR_END: counter

// ANCHOR: test_serve
#[test]
fn each_connection_gets_a_service_of_its_own() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap(), &handle).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = serve(listener, &handle, || Counter { requests: 0 });
    handle.spawn(server.map_err(|err| panic!("the server stopped: {}", err)));

    let first = counting_peer(addr, 2);
    let second = counting_peer(addr, 1);
    let (first, second) = run(&mut core, first.join(second)).unwrap();
    assert_eq!(
        first,
        [
            response(0, Ok(Value::from(1))),
            response(1, Ok(Value::from(2)))
        ]
    );
    assert_eq!(second, [response(0, Ok(Value::from(1)))]);
}
// ANCHOR_END: test_serve
// ANCHOR_END: all
