//! Every way a connection reaches its peer, apart from TCP and child processes
//! (tests/process.rs): a reader and a writer that are two objects.

mod common;

use std::time::{Duration, Instant};

use common::pipe::{pipe, End};
use common::wire;
use common::{run, HANG};
use futures::future::{self, FutureResult};
use futures::Future;
use rmp_rpc_demo::{BoxFuture, CallError, Client, ClosedReason, Server, Service, Value};
use tokio_core::reactor::Core;
use tokio_io::io::read_to_end;

// ---------------------------------------------------------------------------------------
// A service that answers, and calls its peer back
// ---------------------------------------------------------------------------------------

/// `add [a, b]` answers a + b; `ask [x]` asks the peer `echo [x]` and answers what the
/// peer answered; `echo [x]` answers x.
struct Calls {
    peer: Client,
}

impl Service for Calls {
    type Output = Value;
    type Error = Value;
    type RequestFuture = BoxFuture<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Vec<Value>) -> Self::RequestFuture {
        match (method, params.as_slice()) {
            ("add", [a, b]) => match (a.as_i64(), b.as_i64()) {
                (Some(a), Some(b)) => Box::new(future::ok((a + b).into())),
                _ => Box::new(future::err("expected two integers".into())),
            },
            ("ask", [x]) => Box::new(
                self.peer
                    .request("echo", vec![x.clone()])
                    .map_err(|err| err.to_string().into()),
            ),
            ("echo", [x]) => Box::new(future::ok(x.clone())),
            _ => Box::new(future::err(format!("no method `{}`", method).into())),
        }
    }

    fn handle_notification(&mut self, _: &str, _: Vec<Value>) -> Self::NotificationFuture {
        future::ok(())
    }
}

/// A reader and a writer that are two objects, as a child process's stdout and stdin
/// are: two pipes, each used in one direction. Returns the end a peer reads what we
/// write from, and the end it writes to us through.
struct OneWayPipes {
    /// Where we read the peer's bytes.
    reader: End,
    /// Where we write ours.
    writer: End,
    /// The peer's view: it reads what we write here...
    peer_reads: End,
    /// ...and writes here what we read.
    peer_writes: End,
}

fn one_way_pipes() -> OneWayPipes {
    let (writer, peer_reads) = pipe(usize::MAX);
    let (peer_writes, reader) = pipe(usize::MAX);
    OneWayPipes {
        reader,
        writer,
        peer_reads,
        peer_writes,
    }
}

#[test]
fn a_client_and_a_server_call_each_other_over_a_reader_and_a_writer() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let pipes = one_way_pipes();
    let client = Client::builder()
        .handler(|peer| Calls { peer })
        .start_halves(pipes.reader, pipes.writer, &handle);
    let served = Server::builder().serve_halves(
        pipes.peer_reads,
        pipes.peer_writes,
        &|peer| Calls { peer },
        &handle,
    );
    assert_eq!(
        run(&mut core, client.request("add", vec![2.into(), 3.into()])).unwrap(),
        Value::from(5)
    );
    // The server calls the client back from inside a request: both directions at once.
    assert_eq!(
        run(&mut core, client.request("ask", vec!["hello".into()])).unwrap(),
        Value::from("hello")
    );
    // And the server side's own handle calls the client.
    assert_eq!(
        run(&mut core, served.request("add", vec![40.into(), 2.into()])).unwrap(),
        Value::from(42)
    );
}

/// Turns the reactor until `end` has received one whole MessagePack value, and returns
/// it (bounded by [`HANG`]).
fn next_value(core: &mut Core, end: &End) -> Value {
    let deadline = Instant::now() + HANG;
    let mut bytes = Vec::new();
    loop {
        bytes.extend(end.drain());
        if let Some(value) = wire::decode_values(&bytes).into_iter().next() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "nothing arrived within {:?}",
            HANG
        );
        core.turn(Some(Duration::from_millis(20)));
    }
}

#[test]
fn requests_leave_through_the_writer_and_answers_come_through_the_reader() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let pipes = one_way_pipes();
    let client = Client::builder().start_halves(pipes.reader, pipes.writer, &handle);
    let call = client.request("add", vec![1.into(), 2.into()]);
    assert_eq!(
        next_value(&mut core, &pipes.peer_reads),
        wire::request(0, "add", vec![1.into(), 2.into()])
    );
    assert!(
        pipes.peer_writes.drain().is_empty(),
        "nothing is written to the reader's pipe"
    );
    pipes
        .peer_writes
        .feed(&wire::encode(&wire::ok_response(0, 3.into())));
    assert_eq!(run(&mut core, call).unwrap(), Value::from(3));
}

#[test]
fn the_end_of_the_reader_fails_the_calls_in_flight_and_closes_the_writer() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let pipes = one_way_pipes();
    let client = Client::builder().start_halves(pipes.reader, pipes.writer, &handle);
    let call = client.request("never_answered", vec![]);
    next_value(&mut core, &pipes.peer_reads);
    // The peer closes what we read: nothing more can arrive, no answer either.
    pipes.peer_writes.close_write();
    match run(&mut core, call) {
        Err(CallError::ConnectionClosed(ClosedReason::PeerClosed)) => {}
        other => panic!("expected the call to fail with PeerClosed, got {:?}", other),
    }
    // The writer went with the connection: the peer reads the end of its input, though
    // our handle is still alive.
    let (_, rest) = run(&mut core, read_to_end(pipes.peer_reads, Vec::new())).unwrap();
    assert!(rest.is_empty());
    assert!(matches!(
        client.closed_reason(),
        Some(ClosedReason::PeerClosed)
    ));
}
