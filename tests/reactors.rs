//! A server on several reactors, one thread each: connections spread over all of them,
//! calls both ways on each, a shutdown that drains them all, a reactor thread that
//! panics, and the settings refused.

mod common;

use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::wire::{notification, ok_response, request};
use common::{RawPeer, HANG};
use futures::future::{self, FutureResult};
use futures::sync::oneshot;
use futures::Future;
use rmp_rpc_demo::errors::{ConfigError, ServerError};
use rmp_rpc_demo::{
    BoxFuture, Client, Params, Server, ServerBuilder, Service, ShutdownHandle, Value,
};
use tokio_core::reactor::{Core, Handle};

/// The name of the thread that runs the server's own reactor (reactor 0).
const SERVER_THREAD: &str = "test-server";

/// Holds `wait` requests until the test releases them, and says when each started.
#[derive(Default)]
struct Gate {
    started: Mutex<Option<std_mpsc::Sender<String>>>,
    waiting: Mutex<Vec<oneshot::Sender<()>>>,
}

impl Gate {
    /// A gate, and the receiver of the thread name of each `wait` that starts.
    fn new() -> (Arc<Gate>, std_mpsc::Receiver<String>) {
        let (sender, started) = std_mpsc::channel();
        let gate = Gate {
            started: Mutex::new(Some(sender)),
            waiting: Mutex::new(Vec::new()),
        };
        (Arc::new(gate), started)
    }

    fn enter(&self) -> oneshot::Receiver<()> {
        let (sender, receiver) = oneshot::channel();
        self.waiting.lock().unwrap().push(sender);
        if let Some(started) = self.started.lock().unwrap().as_ref() {
            let _ = started.send(thread_name());
        }
        receiver
    }

    fn release_all(&self) {
        for waiting in self.waiting.lock().unwrap().drain(..) {
            let _ = waiting.send(());
        }
    }
}

fn thread_name() -> String {
    thread::current().name().unwrap_or("unnamed").to_string()
}

/// A service that says where it runs:
///
/// - `thread []` -> the name of its thread;
/// - `wait []` -> the name of its thread, once the test opens the gate;
/// - `ask [n]` -> asks the peer `double [n]` (with a timeout, which needs this reactor's
///   timer) and answers `[what the peer answered, its thread]`;
/// - `crash []` -> spawns a task on its reactor that panics, and answers `"ok"`;
/// - notification `ping []` -> notification `pong [its thread]`.
struct Where {
    peer: Client,
    handle: Handle,
    gate: Arc<Gate>,
}

impl Service for Where {
    type Output = Value;
    type Error = Value;
    type RequestFuture = BoxFuture<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Params<'_>) -> Self::RequestFuture {
        match method {
            "thread" => Box::new(future::ok(thread_name().into())),
            "wait" => Box::new(
                self.gate
                    .enter()
                    .map(|()| Value::from(thread_name()))
                    .map_err(|_| Value::from("the gate was dropped")),
            ),
            "ask" => Box::new(
                self.peer
                    .with_timeout(HANG)
                    .request("double", params.into_values())
                    .map(|doubled| Value::Array(vec![doubled, thread_name().into()]))
                    .map_err(|err| Value::from(err.to_string())),
            ),
            "crash" => {
                self.handle.spawn(future::lazy(|| -> Result<(), ()> {
                    panic!("a task on this reactor panicked")
                }));
                Box::new(future::ok("ok".into()))
            }
            other => Box::new(future::err(format!("unknown method `{}`", other).into())),
        }
    }

    fn handle_notification(&mut self, method: &str, _: Params<'_>) -> FutureResult<(), ()> {
        if method == "ping" {
            let _ = self.peer.notify("pong", vec![thread_name().into()]);
        }
        future::ok(())
    }
}

/// A `Where` server running on its own thread, named [`SERVER_THREAD`].
struct Running {
    addr: SocketAddr,
    shutdown: ShutdownHandle,
    /// What the server future returned.
    done: std_mpsc::Receiver<Result<(), ServerError>>,
    /// Dropping it drops the server future before it completes.
    drop_server: Option<oneshot::Sender<()>>,
}

fn start(settings: ServerBuilder, gate: Arc<Gate>) -> Running {
    let (setup_tx, setup_rx) = std_mpsc::channel();
    let (done_tx, done) = std_mpsc::channel();
    let (drop_server, dropped) = oneshot::channel::<()>();
    thread::Builder::new()
        .name(SERVER_THREAD.to_string())
        .spawn(move || {
            let mut core = Core::new().unwrap();
            let per_reactor = move |handle: &Handle| {
                let handle = handle.clone();
                let gate = gate.clone();
                move |peer: Client| Where {
                    peer,
                    handle: handle.clone(),
                    gate: gate.clone(),
                }
            };
            let addr = "127.0.0.1:0".parse().unwrap();
            let server = settings
                .bind_per_reactor(&addr, per_reactor, &core.handle())
                .unwrap();
            setup_tx
                .send((server.local_addr(), server.shutdown_handle()))
                .unwrap();
            // Runs the server until it completes, or until the test drops it.
            match core.run(server.select2(dropped)) {
                Ok(future::Either::A(((), _))) => {
                    let _ = done_tx.send(Ok(()));
                }
                Err(future::Either::A((err, _))) => {
                    let _ = done_tx.send(Err(err));
                }
                Ok(future::Either::B(_)) | Err(future::Either::B(_)) => {}
            }
        })
        .unwrap();
    let (addr, shutdown) = setup_rx.recv_timeout(HANG).expect("the server is bound");
    Running {
        addr,
        shutdown,
        done,
        drop_server: Some(drop_server),
    }
}

/// `thread []` on `peer`: the thread that serves it.
fn served_by(peer: &mut RawPeer) -> String {
    peer.request(1, "thread", vec![]);
    match peer.recv_response() {
        (1, Ok(Value::String(name))) => name.into_str().expect("a UTF-8 name"),
        other => panic!("unexpected answer to `thread`: {:?}", other),
    }
}

/// How many of `names` each name is.
fn tally(names: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for name in names {
        *counts.entry(name.as_str()).or_insert(0) += 1;
    }
    counts
}

#[test]
fn connections_spread_evenly_over_every_reactor() {
    let (gate, _) = Gate::new();
    let server = start(Server::builder().threads(3), gate);
    let mut peers: Vec<RawPeer> = (0..6).map(|_| RawPeer::connect(server.addr)).collect();
    let names: Vec<String> = peers.iter_mut().map(served_by).collect();
    let expected: BTreeMap<&str, usize> = vec![
        ("rpc-reactor-1", 2),
        ("rpc-reactor-2", 2),
        (SERVER_THREAD, 2),
    ]
    .into_iter()
    .collect();
    assert_eq!(tally(&names), expected, "served by {:?}", names);
}

#[test]
fn requests_and_notifications_to_the_client_work_on_every_reactor() {
    let (gate, _) = Gate::new();
    let server = start(Server::builder().threads(2), gate);
    let mut names = Vec::new();
    for _ in 0..4 {
        let mut peer = RawPeer::connect(server.addr);
        peer.notify("ping", vec![]);
        let pong = peer.recv();
        let name = match pong.as_array().and_then(|items| items.get(2)) {
            Some(Value::Array(args)) => args[0].as_str().unwrap_or("?").to_string(),
            _ => panic!("expected a pong, got {}", pong),
        };
        assert_eq!(pong, notification("pong", vec![name.clone().into()]));

        peer.request(1, "ask", vec![21.into()]);
        let asked = peer.recv();
        let id = match asked.as_array().map(|items| &items[..]) {
            Some([kind, id, _, _]) if kind.as_u64() == Some(0) => id.as_u64().unwrap(),
            _ => panic!("expected the server's request, got {}", asked),
        };
        assert_eq!(asked, request(id, "double", vec![21.into()]));
        peer.send_value(&ok_response(id, 42.into()));
        assert_eq!(
            peer.recv(),
            ok_response(1, Value::Array(vec![42.into(), name.clone().into()]))
        );
        names.push(name);
    }
    let expected: BTreeMap<&str, usize> = vec![("rpc-reactor-1", 2), (SERVER_THREAD, 2)]
        .into_iter()
        .collect();
    assert_eq!(tally(&names), expected, "served by {:?}", names);
}

#[test]
fn a_shutdown_answers_the_calls_in_flight_on_every_reactor_then_completes() {
    let (gate, started) = Gate::new();
    let server = start(Server::builder().threads(3), gate.clone());
    let mut peers: Vec<RawPeer> = (0..6).map(|_| RawPeer::connect(server.addr)).collect();
    for (id, peer) in peers.iter_mut().enumerate() {
        peer.request(id as u64, "wait", vec![]);
    }
    let mut running: Vec<String> = (0..6)
        .map(|_| started.recv_timeout(HANG).expect("every call started"))
        .collect();
    running.sort();
    assert_eq!(
        running,
        vec![
            "rpc-reactor-1",
            "rpc-reactor-1",
            "rpc-reactor-2",
            "rpc-reactor-2",
            SERVER_THREAD,
            SERVER_THREAD
        ]
    );
    server.shutdown.shutdown(HANG);
    gate.release_all();
    for (id, peer) in peers.iter_mut().enumerate() {
        match peer.recv_response() {
            (got, Ok(_)) if got == id as u64 => {}
            other => panic!("call {} got {:?}", id, other),
        }
        assert!(
            peer.read_until_closed().is_empty(),
            "closed after its answer"
        );
    }
    assert_eq!(
        server
            .done
            .recv_timeout(HANG)
            .expect("the server completes"),
        Ok(())
    );
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "no new connections after a shutdown"
    );
}

#[test]
fn a_reactor_thread_that_panics_stops_the_server_with_an_error_naming_it() {
    let (gate, started) = Gate::new();
    let server = start(Server::builder().threads(2), gate);
    let mut on_server_thread = RawPeer::connect(server.addr);
    let mut on_reactor_1 = RawPeer::connect(server.addr);
    assert_eq!(served_by(&mut on_server_thread), SERVER_THREAD);
    assert_eq!(served_by(&mut on_reactor_1), "rpc-reactor-1");
    // A call in flight on the reactor that survives, never released.
    on_server_thread.request(2, "wait", vec![]);
    assert_eq!(started.recv_timeout(HANG).unwrap(), SERVER_THREAD);

    on_reactor_1.request(2, "crash", vec![]);
    assert_eq!(
        server.done.recv_timeout(HANG).expect("the server stops"),
        Err(ServerError::ReactorPanicked {
            thread: "rpc-reactor-1".to_string(),
            message: "a task on this reactor panicked".to_string(),
        })
    );
    // The other reactor's connection was closed, not left running unobserved.
    assert!(on_server_thread.read_until_closed().is_empty());
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "no longer accepting"
    );
    assert_eq!(
        ServerError::ReactorPanicked {
            thread: "rpc-reactor-1".to_string(),
            message: "a task on this reactor panicked".to_string(),
        }
        .to_string(),
        "reactor thread `rpc-reactor-1` panicked: a task on this reactor panicked; the server closed its other connections and stopped"
    );
}

#[test]
fn dropping_an_unfinished_server_closes_its_connections_on_every_reactor() {
    let (gate, started) = Gate::new();
    let mut server = start(Server::builder().threads(2), gate);
    let mut peers: Vec<RawPeer> = (0..2).map(|_| RawPeer::connect(server.addr)).collect();
    for peer in &mut peers {
        peer.request(1, "wait", vec![]);
    }
    let mut running: Vec<String> = (0..2)
        .map(|_| started.recv_timeout(HANG).unwrap())
        .collect();
    running.sort();
    assert_eq!(running, vec!["rpc-reactor-1", SERVER_THREAD]);
    drop(server.drop_server.take());
    for peer in &mut peers {
        assert!(
            peer.read_until_closed().is_empty(),
            "closed without an answer"
        );
    }
}

#[test]
fn a_service_builder_that_panics_on_a_reactor_thread_fails_bind_with_its_message() {
    let core = Core::new().unwrap();
    let addr = "127.0.0.1:0".parse().unwrap();
    let per_reactor = |_: &Handle| {
        if thread_name() == "rpc-reactor-2" {
            panic!("no builder on this thread");
        }
        |_peer: Client| rmp_rpc_demo::NoHandler
    };
    let err = Server::builder()
        .threads(3)
        .bind_per_reactor(&addr, per_reactor, &core.handle())
        .expect_err("a reactor could not start");
    assert_eq!(err.kind(), io::ErrorKind::Other);
    assert_eq!(
        err.get_ref()
            .and_then(|err| err.downcast_ref::<ServerError>()),
        Some(&ServerError::ReactorPanicked {
            thread: "rpc-reactor-2".to_string(),
            message: "no builder on this thread".to_string(),
        })
    );
}

/// Checks that `err` carries the `ConfigError` of `field`, and says exactly `text`.
fn assert_refused(err: io::Error, field: &str, text: &str) {
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let config = err
        .get_ref()
        .and_then(|err| err.downcast_ref::<ConfigError>())
        .unwrap_or_else(|| panic!("not a ConfigError: {}", err));
    assert_eq!(config.field(), field);
    assert_eq!(err.to_string(), text);
}

#[test]
fn zero_threads_zero_connections_and_several_reactors_for_one_builder_are_refused() {
    let core = Core::new().unwrap();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let one_builder = |_peer: Client| rmp_rpc_demo::NoHandler;
    let per_reactor = |_: &Handle| |_peer: Client| rmp_rpc_demo::NoHandler;
    assert_refused(
        Server::builder()
            .threads(0)
            .bind_per_reactor(&addr, per_reactor, &core.handle())
            .unwrap_err(),
        "ServerBuilder::threads",
        "invalid setting ServerBuilder::threads: 0 would leave no reactor to serve connections; use at least 1",
    );
    assert_refused(
        Server::builder()
            .max_connections(0)
            .bind(&addr, one_builder, &core.handle())
            .unwrap_err(),
        "ServerBuilder::max_connections",
        "invalid setting ServerBuilder::max_connections: 0 would close every connection as soon as it is accepted; use at least 1",
    );
    assert_refused(
        Server::builder()
            .threads(2)
            .bind(&addr, one_builder, &core.handle())
            .unwrap_err(),
        "ServerBuilder::threads",
        "invalid setting ServerBuilder::threads: 2 reactors need a service builder each, made on each reactor's thread: use ServerBuilder::bind_per_reactor",
    );
}

#[test]
fn one_reactor_through_bind_per_reactor_runs_on_the_callers_thread_only() {
    let (gate, _) = Gate::new();
    let server = start(Server::builder(), gate);
    let mut peers: Vec<RawPeer> = (0..3).map(|_| RawPeer::connect(server.addr)).collect();
    let names: Vec<String> = peers.iter_mut().map(served_by).collect();
    assert_eq!(names, vec![SERVER_THREAD; 3]);
    server.shutdown.shutdown(Duration::from_secs(0));
    assert_eq!(server.done.recv_timeout(HANG).unwrap(), Ok(()));
}
