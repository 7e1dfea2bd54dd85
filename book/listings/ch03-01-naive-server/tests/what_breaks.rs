//! What goes wrong with the naive connection of chapter 3.1, measured next to the final
//! crate's connection (`rmp_rpc_demo::serve_connection`) in the same situation.
//!
//! Both run on a tokio-core reactor over an in-memory socket, so the numbers do not
//! depend on the machine. The chapter quotes the lines these tests print; each test
//! checks that the chapter still shows what it measured.

use std::cell::RefCell;
use std::cmp;
use std::io::{self, Read, Write};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::mpsc;

use ch03_01_naive_server::server::Connection;
use futures::future::{self, FutureResult};
use futures::task::{self, Task};
use futures::{Async, Future, Poll};
use rmp_rpc_demo::message::{Message, Request};
use rmp_rpc_demo::{serve_connection, Client, Config, Service, Value};
use tokio_core::reactor::Core;
use tokio_io::{AsyncRead, AsyncWrite};

/// An in-memory socket. The test plays the peer: it queues the bytes the peer sends,
/// reads what the server wrote, and can stop taking the server's writes, as a peer that
/// stops reading does once the kernel's buffers are full.
#[derive(Clone, Default)]
struct MockSocket(Rc<RefCell<MockState>>);

#[derive(Default)]
struct MockState {
    /// Sent by the peer, not yet read by the server.
    input: Vec<u8>,
    /// Written by the server.
    output: Vec<u8>,
    /// How many `write` calls took bytes.
    writes: usize,
    /// The peer reads nothing: every write would block.
    blocked: bool,
    /// The task to wake when the server may write again.
    writer: Option<Task>,
}

impl MockSocket {
    fn with_input(input: Vec<u8>) -> MockSocket {
        let socket = MockSocket::default();
        socket.0.borrow_mut().input = input;
        socket
    }

    fn block_writes(&self) {
        self.0.borrow_mut().blocked = true;
    }

    fn unblock_writes(&self) {
        let writer = {
            let mut state = self.0.borrow_mut();
            state.blocked = false;
            state.writer.take()
        };
        if let Some(writer) = writer {
            writer.notify();
        }
    }

    fn all_read(&self) -> bool {
        self.0.borrow().input.is_empty()
    }

    fn writes(&self) -> usize {
        self.0.borrow().writes
    }

    /// How many whole MessagePack values the server wrote.
    fn responses(&self) -> usize {
        let state = self.0.borrow();
        let mut rest = &state.output[..];
        let mut count = 0;
        while rmpv::decode::read_value(&mut rest).is_ok() {
            count += 1;
        }
        count
    }
}

impl Read for MockSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut state = self.0.borrow_mut();
        if state.input.is_empty() {
            // Nothing more will arrive in these tests: no task to remember.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = cmp::min(buf.len(), state.input.len());
        buf[..n].copy_from_slice(&state.input[..n]);
        state.input.drain(..n);
        Ok(n)
    }
}

impl Write for MockSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut state = self.0.borrow_mut();
        if state.blocked {
            state.writer = Some(task::current());
            return Err(io::ErrorKind::WouldBlock.into());
        }
        state.output.extend_from_slice(buf);
        state.writes += 1;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MockSocket {}

impl AsyncWrite for MockSocket {
    fn shutdown(&mut self) -> Poll<(), io::Error> {
        Ok(Async::Ready(()))
    }
}

/// Handler futures that complete when the test opens their gate, and count their polls.
#[derive(Clone)]
struct Gates(Rc<RefCell<GateState>>);

struct GateState {
    open: Vec<bool>,
    /// The task that polled each gate last, to wake when it opens.
    waiting: Vec<Option<Task>>,
    /// Gates polled at least once: their handler has started.
    started: Vec<bool>,
    polls: usize,
}

impl Gates {
    fn new(n: usize, open: bool) -> Gates {
        Gates(Rc::new(RefCell::new(GateState {
            open: vec![open; n],
            waiting: vec![None; n],
            started: vec![false; n],
            polls: 0,
        })))
    }

    fn open(&self, index: usize) {
        let waiting = {
            let mut state = self.0.borrow_mut();
            state.open[index] = true;
            state.waiting[index].take()
        };
        if let Some(task) = waiting {
            task.notify();
        }
    }

    fn all_started(&self) -> bool {
        self.0.borrow().started.iter().all(|&started| started)
    }

    fn polls(&self) -> usize {
        self.0.borrow().polls
    }
}

struct Gate {
    gates: Gates,
    index: usize,
}

impl Future for Gate {
    type Item = Value;
    type Error = Value;

    fn poll(&mut self) -> Poll<Value, Value> {
        let mut state = self.gates.0.borrow_mut();
        state.polls += 1;
        state.started[self.index] = true;
        if state.open[self.index] {
            return Ok(Async::Ready(Value::from(self.index)));
        }
        // `open` will wake us.
        state.waiting[self.index] = Some(task::current());
        Ok(Async::NotReady)
    }
}

/// `wait [i]` returns gate `i`.
struct WaitService(Gates);

impl Service for WaitService {
    type T = Value;
    type E = Value;
    type RequestFuture = Gate;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, _method: &str, params: Vec<Value>) -> Gate {
        let index = params.first().and_then(Value::as_u64).unwrap_or(0) as usize;
        Gate {
            gates: self.0.clone(),
            index,
        }
    }

    fn handle_notification(&mut self, _method: &str, _params: Vec<Value>) -> FutureResult<(), ()> {
        future::ok(())
    }
}

/// `n` requests `wait [i]` with msgid `i`, as the peer sends them.
fn wait_requests(n: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for i in 0..n {
        let request = Message::Request(Request {
            id: i as u32,
            method: "wait".to_owned(),
            params: vec![Value::from(i)],
        });
        request.encode(&mut bytes).unwrap();
    }
    bytes
}

#[derive(Clone, Copy, Debug)]
enum Which {
    Naive,
    Final,
}

/// Starts a connection of either kind on the reactor, serving `WaitService`.
fn start(which: Which, core: &Core, socket: &MockSocket, gates: &Gates) {
    let handle = core.handle();
    match which {
        Which::Naive => {
            let connection = Connection::new(socket.clone(), WaitService(gates.clone()));
            handle.spawn(connection.map_err(|err| panic!("naive connection failed: {}", err)));
        }
        Which::Final => {
            let gates = gates.clone();
            let builder = move |_peer: Client| WaitService(gates.clone());
            serve_connection(socket.clone(), &builder, Config::default(), &handle);
        }
    }
}

/// Polls `step` once per turn of the reactor until it returns true.
fn run_until<F: FnMut() -> bool>(core: &mut Core, mut step: F) {
    let mut turns = 0;
    let until = future::poll_fn(move || -> Poll<(), ()> {
        turns += 1;
        assert!(turns < 1_000_000, "no progress after a million turns");
        if step() {
            return Ok(Async::Ready(()));
        }
        // Come back after the other tasks ran.
        task::current().notify();
        Ok(Async::NotReady)
    });
    core.run(until).unwrap();
}

/// Starts `n` handlers, completes them one at a time, and returns how many times the
/// connection polled a handler in total.
fn handler_polls(which: Which, n: usize) -> usize {
    let mut core = Core::new().unwrap();
    let socket = MockSocket::with_input(wait_requests(n));
    let gates = Gates::new(n, false);
    start(which, &core, &socket, &gates);
    run_until(&mut core, || gates.all_started());
    let mut next = 0;
    run_until(&mut core, || {
        if next < n {
            gates.open(next);
            next += 1;
        }
        socket.responses() == n
    });
    gates.polls()
}

/// Answers `n` pipelined requests at once, and returns how many writes it took.
fn socket_writes(which: Which, n: usize) -> usize {
    let mut core = Core::new().unwrap();
    let socket = MockSocket::with_input(wait_requests(n));
    let gates = Gates::new(n, true);
    start(which, &core, &socket, &gates);
    run_until(&mut core, || socket.responses() == n);
    socket.writes()
}

/// Fails unless chapter 3.1 shows `line`, so the book and the measurement stay in step.
fn assert_the_book_shows(line: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../src/ch03-01-server.md");
    let chapter = std::fs::read_to_string(path).unwrap();
    assert!(
        chapter.contains(line),
        "chapter 3.1 should show this line:\n{}",
        line
    );
}

#[test]
fn the_naive_connection_polls_every_running_handler_on_every_wake_up() {
    let n = 1000;
    let naive = handler_polls(Which::Naive, n);
    let fin = handler_polls(Which::Final, n);
    let line = format!(
        "{} handlers, completed one at a time: polled {} times by the naive connection, {} times by the final one",
        n, naive, fin
    );
    println!("{}", line);
    // Each wake-up polls every handler still running: n + (n-1) + ... + 1.
    assert!(naive >= n * (n + 1) / 2, "{}", line);
    // Each handler is polled when it starts, when it is registered, and when it is woken.
    assert!(fin <= 3 * n, "{}", line);
    assert_the_book_shows(&line);
}

#[test]
fn the_naive_connection_writes_once_per_response() {
    let n = 1000;
    let naive = socket_writes(Which::Naive, n);
    let fin = socket_writes(Which::Final, n);
    let line = format!(
        "{} pipelined requests answered at once: {} writes to the socket by the naive connection, {} by the final one",
        n, naive, fin
    );
    println!("{}", line);
    assert_eq!(naive, n, "{}", line);
    assert!(fin <= n / 100, "{}", line);
    assert_the_book_shows(&line);
}

#[test]
fn the_naive_connection_panics_when_the_peer_stops_reading() {
    let n = 5000;
    let mut core = Core::new().unwrap();
    let socket = MockSocket::with_input(wait_requests(n));
    socket.block_writes();
    let gates = Gates::new(n, true);
    start(Which::Naive, &core, &socket, &gates);
    // Record where the panic happens, as the default hook would print it.
    let (where_tx, where_rx) = mpsc::channel();
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if let Some(at) = info.location() {
            let _ = where_tx.send(format!("{}:{}:{}", at.file(), at.line(), at.column()));
        }
    }));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        run_until(&mut core, || socket.all_read());
    }));
    panic::set_hook(default_hook);
    let panic = outcome.expect_err("the naive connection should have panicked");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"the sink is full"));
    let at = where_rx.recv().unwrap();
    assert_the_book_shows(&format!("panicked at {}:\nthe sink is full", at));
}

#[test]
fn the_final_connection_keeps_the_answers_until_the_peer_reads_again() {
    let n = 5000;
    let mut core = Core::new().unwrap();
    let socket = MockSocket::with_input(wait_requests(n));
    socket.block_writes();
    let gates = Gates::new(n, true);
    start(Which::Final, &core, &socket, &gates);
    run_until(&mut core, || socket.all_read() && gates.polls() == n);
    assert_eq!(socket.responses(), 0, "nothing can be written yet");
    socket.unblock_writes();
    run_until(&mut core, || socket.responses() == n);
}
