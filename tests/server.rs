//! The server, seen from a raw MessagePack peer: the example's wire contract, ordering,
//! pipelining, many connections, hostile input, and graceful shutdown.

mod common;

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::Duration;

use common::wire::{self, err_response, notification, ok_response};
use common::{ExampleServer, RawPeer, HANG};
use futures::future::{self, FutureResult};
use futures::Future;
use rmp_rpc_demo::{BoxFuture, Client, Config, Params, Server, Service, ShutdownHandle, Value};
use tokio_core::reactor::{Core, Timeout};

fn text(s: &str) -> Value {
    Value::from(s)
}

#[test]
fn example_server_refuses_an_unknown_flag_with_its_usage() {
    let run = common::process::run_example("server", &["--frobnicate"]);
    assert_eq!(run.status.code(), Some(1), "{:?}", run);
    assert!(run.stdout.is_empty(), "{:?}", run);
    assert_eq!(run.stderr[0], "error: unknown flag `--frobnicate`");
    assert!(
        run.stderr[1].starts_with("usage: server [ADDR]"),
        "{:?}",
        run
    );
}

/// The example server's two services, the untyped `Calculator` and the typed `Router`:
/// the same contract, byte for byte.
const BOTH_SERVICES: [&[&str]; 2] = [&[], &["--typed"]];

#[test]
fn example_server_prints_its_address_and_answers_add_and_sub() {
    for args in BOTH_SERVICES {
        let server = ExampleServer::start_with(args);
        let mut peer = RawPeer::connect(server.addr);
        peer.request(1, "add", vec![40.into(), 2.into()]);
        assert_eq!(peer.recv(), ok_response(1, 42.into()));
        peer.request(2, "sub", vec![(-40).into(), 2.into()]);
        assert_eq!(peer.recv(), ok_response(2, (-42).into()));
        peer.request(3, "add", vec![i64::MIN.into(), 0.into()]);
        assert_eq!(peer.recv(), ok_response(3, i64::MIN.into()));
    }
}

#[test]
fn example_server_refuses_bad_arithmetic_with_readable_errors() {
    for args in BOTH_SERVICES {
        let server = ExampleServer::start_with(args);
        let mut peer = RawPeer::connect(server.addr);
        peer.request(1, "add", vec![i64::MAX.into(), 1.into()]);
        assert_eq!(
            peer.recv(),
            err_response(
                1,
                text("9223372036854775807 and 1: the result does not fit in 64 bits")
            )
        );
        peer.request(2, "sub", vec![i64::MIN.into(), 1.into()]);
        assert_eq!(
            peer.recv(),
            err_response(
                2,
                text("-9223372036854775808 and 1: the result does not fit in 64 bits")
            )
        );
        peer.request(3, "add", vec![1.into()]);
        assert_eq!(
            peer.recv(),
            err_response(3, text("add expects two 64-bit signed integers, got [1]"))
        );
        peer.request(4, "add", vec![1.into(), "2".into()]);
        assert_eq!(
            peer.recv(),
            err_response(
                4,
                text("add expects two 64-bit signed integers, got [1, \"2\"]")
            )
        );
        peer.request(5, "add", vec![u64::MAX.into(), 1.into()]);
        assert_eq!(
            peer.recv(),
            err_response(
                5,
                text("add expects two 64-bit signed integers, got [18446744073709551615, 1]")
            )
        );
        peer.request(6, "add", vec![1.5.into(), 1.into()]);
        assert_eq!(
            peer.recv(),
            err_response(
                6,
                text("add expects two 64-bit signed integers, got [1.5, 1]")
            )
        );
    }
}

#[test]
fn example_server_names_an_unknown_method() {
    for args in BOTH_SERVICES {
        let server = ExampleServer::start_with(args);
        let mut peer = RawPeer::connect(server.addr);
        peer.request(7, "mul", vec![2.into(), 3.into()]);
        assert_eq!(peer.recv(), err_response(7, text("unknown method `mul`")));
    }
}

#[test]
fn example_server_sleeps_then_answers_the_milliseconds() {
    for args in BOTH_SERVICES {
        let server = ExampleServer::start_with(args);
        let mut peer = RawPeer::connect(server.addr);
        peer.request(1, "sleep", vec![20.into()]);
        assert_eq!(peer.recv(), ok_response(1, 20.into()));
        peer.request(2, "sleep", vec![(-1).into()]);
        assert_eq!(
            peer.recv(),
            err_response(
                2,
                text("sleep expects a number of milliseconds from 0 to 600000, got [-1]")
            )
        );
        peer.request(3, "sleep", vec![u64::MAX.into()]);
        assert_eq!(
            peer.recv(),
            err_response(
                3,
                text("sleep expects a number of milliseconds from 0 to 600000, got [18446744073709551615]")
            )
        );
    }
}

#[test]
fn example_server_answers_ping_with_pong_on_the_same_connection() {
    for args in BOTH_SERVICES {
        let server = ExampleServer::start_with(args);
        let mut peer = RawPeer::connect(server.addr);
        let args = vec![1.into(), text("hello"), Value::Array(vec![Value::Nil])];
        peer.notify("ping", args.clone());
        assert_eq!(peer.recv(), notification("pong", args));
        peer.notify("ping", vec![]);
        assert_eq!(peer.recv(), notification("pong", vec![]));
    }
}

/// The names of a process's threads.
fn thread_names(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", pid))
        .expect("the server's /proc/PID/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn example_server_serves_on_as_many_reactors_as_threads_asked() {
    let server = ExampleServer::start_with(&["--threads", "3"]);
    let mut peers: Vec<RawPeer> = (0..6).map(|_| RawPeer::connect(server.addr)).collect();
    for (i, peer) in peers.iter_mut().enumerate() {
        peer.check_add(i as u64, i as i64, 1);
        peer.notify("ping", vec![(i as i64).into()]);
        assert_eq!(peer.recv(), notification("pong", vec![(i as i64).into()]));
    }
    let names = thread_names(server.pid());
    assert_eq!(
        names
            .iter()
            .filter(|name| name.starts_with("rpc-reactor-"))
            .collect::<Vec<_>>(),
        vec!["rpc-reactor-1", "rpc-reactor-2"],
        "threads: {:?}",
        names
    );
    let single = ExampleServer::start();
    assert_eq!(thread_names(single.pid()).len(), 1, "one thread by default");
}

#[test]
fn example_server_closes_connections_beyond_max_connections_at_once() {
    let server = ExampleServer::start_with(&["--max-connections", "3", "--threads", "2"]);
    let mut allowed: Vec<RawPeer> = (0..3).map(|_| RawPeer::connect(server.addr)).collect();
    for (i, peer) in allowed.iter_mut().enumerate() {
        peer.check_add(i as u64, i as i64, 1);
    }
    let mut extra = RawPeer::connect(server.addr);
    assert!(
        extra.read_until_closed().is_empty(),
        "closed without a byte"
    );
    for (i, peer) in allowed.iter_mut().enumerate() {
        peer.check_add(i as u64, i as i64, 2);
    }
}

/// What the example server wrote to stderr when `args` made it exit with status 1.
fn example_server_refuses(args: &[&str]) -> Vec<String> {
    let run = common::process::run_example("server", args);
    assert_eq!(run.status.code(), Some(1), "{:?}", run);
    assert!(run.stdout.is_empty(), "{:?}", run);
    run.stderr
}

#[test]
fn example_server_refuses_bad_thread_counts_and_caps_with_a_reason() {
    let stderr = example_server_refuses(&["--threads", "many"]);
    assert_eq!(stderr[0], "error: `--threads` needs a number, not `many`");
    assert!(stderr[1].starts_with("usage: server [ADDR] [--threads N]"));
    let stderr = example_server_refuses(&["127.0.0.1:0", "--threads"]);
    assert_eq!(stderr[0], "error: `--threads` needs a number");
    let stderr = example_server_refuses(&["--max-connections", "-1"]);
    assert_eq!(
        stderr[0],
        "error: `--max-connections` needs a number, not `-1`"
    );
    assert_eq!(
        example_server_refuses(&["127.0.0.1:0", "--max-connections", "0"]),
        vec!["error: invalid setting ServerBuilder::max_connections: 0 would close every connection as soon as it is accepted; use at least 1"]
    );
    assert_eq!(
        example_server_refuses(&["127.0.0.1:0", "--threads", "0"]),
        vec!["error: invalid setting ServerBuilder::threads: 0 would leave no reactor to serve connections; use at least 1"]
    );
    let dir = common::process::TempDir::new("threads-unix");
    let path = dir.path().join("server.sock");
    assert_eq!(
        example_server_refuses(&[path.to_str().unwrap(), "--threads", "2"]),
        vec!["error: invalid setting ServerBuilder::threads: 2 reactors, but a Unix socket server runs on one (tokio-uds 0.1 cannot hand an accepted socket to another reactor); use 1"]
    );
}

#[test]
fn a_slow_request_does_not_hold_up_a_fast_one() {
    let server = ExampleServer::start();
    let mut peer = RawPeer::connect(server.addr);
    peer.request(1, "sleep", vec![200.into()]);
    peer.request(2, "add", vec![1.into(), 1.into()]);
    assert_eq!(peer.recv(), ok_response(2, 2.into()));
    assert_eq!(peer.recv(), ok_response(1, 200.into()));
}

#[test]
fn a_thousand_pipelined_requests_are_answered_with_matching_ids() {
    let server = ExampleServer::start();
    let mut peer = RawPeer::connect(server.addr);
    let mut bytes = Vec::new();
    for id in 0..1000u64 {
        let req = wire::request(id, "add", vec![(id as i64).into(), 1000.into()]);
        rmpv::encode::write_value(&mut bytes, &req).unwrap();
    }
    peer.send(&bytes).expect("send 1000 requests");
    for id in 0..1000u64 {
        assert_eq!(peer.recv(), ok_response(id, (id as i64 + 1000).into()));
    }
}

#[test]
fn two_hundred_connections_are_served_at_once() {
    let server = ExampleServer::start();
    let mut peers: Vec<RawPeer> = (0..200).map(|_| RawPeer::connect(server.addr)).collect();
    for (i, peer) in peers.iter_mut().enumerate() {
        peer.request(i as u64, "sleep", vec![10.into()]);
    }
    for (i, peer) in peers.iter_mut().enumerate() {
        assert_eq!(peer.recv(), ok_response(i as u64, 10.into()));
    }
}

#[test]
fn an_invalid_request_with_a_readable_msgid_gets_an_error_response() {
    let server = ExampleServer::start();
    let mut peer = RawPeer::connect(server.addr);
    // params is a map
    peer.send_value(&Value::Array(vec![
        0.into(),
        9.into(),
        text("add"),
        Value::Map(vec![(1.into(), 2.into())]),
    ]));
    assert_eq!(
        peer.recv(),
        err_response(9, text("invalid request: the params must be an array"))
    );
    // method is not a string
    peer.send_value(&Value::Array(vec![
        0.into(),
        10.into(),
        5.into(),
        Value::Array(vec![]),
    ]));
    assert_eq!(
        peer.recv(),
        err_response(
            10,
            text("invalid request: the method name must be a UTF-8 string")
        )
    );
    peer.check_add(11, 1, 2);
}

#[test]
fn values_that_are_not_messages_are_skipped_and_the_connection_goes_on() {
    let server = ExampleServer::start();
    let mut peer = RawPeer::connect(server.addr);
    peer.send_value(&text("not a message"));
    peer.send_value(&Value::Array(vec![7.into(), 1.into()]));
    // msgid 2^32 does not fit: the value is skipped, not answered with a truncated id.
    peer.send_value(&wire::request(1 << 32, "add", vec![1.into(), 2.into()]));
    // A response to a msgid the server never used is ignored.
    peer.send_value(&ok_response(12345, Value::Nil));
    peer.check_add(1, 2, 3);
}

/// Sends `bytes` on a fresh connection and expects the server to close it (after
/// answering nothing), while `bystander` keeps getting answers.
fn expect_closed_after(server: &ExampleServer, bystander: &mut RawPeer, bytes: &[u8], what: &str) {
    let mut hostile = RawPeer::connect(server.addr);
    // The server may close before taking every byte: a failed write is fine.
    let _ = hostile.send(bytes);
    let rest = hostile.read_until_closed();
    assert!(rest.is_empty(), "{}: the server answered {:?}", what, rest);
    bystander.check_add(1, 20, 22);
}

#[test]
fn hostile_input_ends_only_the_hostile_connection() {
    let server = ExampleServer::start();
    let mut bystander = RawPeer::connect(server.addr);
    bystander.check_add(1, 1, 1);

    let mut deep = vec![0x91u8; 1 << 20];
    deep.push(0xc0);
    expect_closed_after(&server, &mut bystander, &deep, "1 MB of 0x91");
    for (marker, what) in [
        (0xddu8, "array32 of 4 GiB"),
        (0xdf, "map32 of 4 GiB"),
        (0xdb, "str32 of 4 GiB"),
        (0xc6, "bin32 of 4 GiB"),
    ] {
        let bytes = [
            0x94, 0x00, 0x01, 0xa3, b'a', b'd', b'd', marker, 0xff, 0xff, 0xff, 0xff,
        ];
        expect_closed_after(&server, &mut bystander, &bytes, what);
    }
    expect_closed_after(&server, &mut bystander, &[0xc1], "the reserved marker 0xc1");
    expect_closed_after(
        &server,
        &mut bystander,
        &[0x94, 0x00, 0x01, 0xc1],
        "0xc1 inside a request",
    );
    let rss_kib = server.stats().rss_kib;
    assert!(rss_kib < 64 * 1024, "server RSS {} KiB", rss_kib);
}

#[test]
fn a_peer_that_leaves_with_requests_in_flight_disturbs_nobody() {
    let server = ExampleServer::start();
    let mut bystander = RawPeer::connect(server.addr);
    {
        let mut leaving = RawPeer::connect(server.addr);
        for id in 0..50 {
            leaving.request(id, "sleep", vec![100.into()]);
        }
        leaving.check_add(100, 1, 2);
    }
    bystander.check_add(1, 3, 4);
    // Let the abandoned sleeps fire: the server must survive writing nowhere.
    bystander.request(2, "sleep", vec![150.into()]);
    assert_eq!(bystander.recv(), ok_response(2, 150.into()));
    let mut later = RawPeer::connect(server.addr);
    later.check_add(1, 5, 6);
}

#[test]
fn a_peer_that_never_reads_is_slowed_down_and_the_server_memory_stays_bounded() {
    let server = ExampleServer::start();
    let baseline = server.stats().rss_kib;
    let mut bystander = RawPeer::connect(server.addr);
    let stubborn = TcpStream::connect(server.addr).unwrap();
    stubborn.set_nonblocking(true).unwrap();
    let mut stubborn = stubborn;
    // Batches of 1000 requests for an unknown method with a long name, so that each
    // error response is as large as its request (about 210 KB per batch each way).
    // Keep writing until the server stops taking them (backpressure), or 100 MB.
    let method = "m".repeat(200);
    let mut batch = Vec::new();
    for id in 0..1000u64 {
        let req = wire::request(id, &method, vec![]);
        rmpv::encode::write_value(&mut batch, &req).unwrap();
    }
    let mut sent_batches = 0;
    let mut blocked = false;
    'outer: for _ in 0..500 {
        let mut offset = 0;
        let mut spins = 0;
        while offset < batch.len() {
            match stubborn.write(&batch[offset..]) {
                Ok(n) => offset += n,
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    spins += 1;
                    if spins > 50 {
                        blocked = true;
                        break 'outer;
                    }
                    // Give the server a chance to read more, if it still wants to.
                    bystander.check_add(spins, 1, 1);
                }
                Err(err) => panic!("write failed: {}", err),
            }
        }
        sent_batches += 1;
    }
    assert!(
        blocked,
        "the server kept reading {} batches a peer never answered",
        sent_batches
    );
    bystander.check_add(99, 2, 2);
    let grown = server.stats().rss_kib.saturating_sub(baseline);
    eprintln!(
        "a peer that never reads: blocked after {} batches of 1000 requests; server RSS grew by {} KiB",
        sent_batches, grown
    );
    assert!(grown < 32 * 1024, "server RSS grew by {} KiB", grown);
}

/// A service whose `wait` requests finish when the test says so.
struct Waiter {
    started: std_mpsc::Sender<u64>,
    handle: tokio_core::reactor::Handle,
}

impl Service for Waiter {
    type Output = Value;
    type Error = Value;
    type RequestFuture = BoxFuture<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Params) -> Self::RequestFuture {
        let params = params.into_values();
        let ms = params.first().and_then(Value::as_u64).unwrap_or(0);
        let _ = self.started.send(ms);
        match method {
            "sleep" => Box::new(
                Timeout::new(Duration::from_millis(ms), &self.handle)
                    .unwrap()
                    .map(move |()| Value::from(ms))
                    .map_err(|err| Value::from(err.to_string())),
            ),
            _ => Box::new(future::ok(Value::from("ok"))),
        }
    }

    fn handle_notification(&mut self, _: &str, _: Params) -> FutureResult<(), ()> {
        future::ok(())
    }
}

/// What `start_waiter_server` returns: the address, a receiver of "request started"
/// signals, the shutdown handle, and a receiver fired when the server future completes.
type WaiterServer = (
    SocketAddr,
    std_mpsc::Receiver<u64>,
    ShutdownHandle,
    std_mpsc::Receiver<()>,
);

/// Runs a `Waiter` server with the default configuration on its own thread.
fn start_waiter_server() -> WaiterServer {
    start_waiter_server_with(Config::default())
}

/// Runs a `Waiter` server with `config` on its own thread.
fn start_waiter_server_with(config: Config) -> WaiterServer {
    let (setup_tx, setup_rx) = std_mpsc::channel();
    let (started_tx, started_rx) = std_mpsc::channel();
    let (done_tx, done_rx) = std_mpsc::channel();
    thread::spawn(move || {
        let mut core = Core::new().unwrap();
        let handle = core.handle();
        let builder = move |_peer: Client| Waiter {
            started: started_tx.clone(),
            handle: handle.clone(),
        };
        let addr = "127.0.0.1:0".parse().unwrap();
        let server = Server::builder()
            .config(config)
            .bind(&addr, builder, &core.handle())
            .unwrap();
        setup_tx
            .send((server.local_addr(), server.shutdown_handle()))
            .unwrap();
        let _ = core.run(server);
        let _ = done_tx.send(());
    });
    let (addr, shutdown) = setup_rx.recv_timeout(HANG).expect("the server is bound");
    (addr, started_rx, shutdown, done_rx)
}

#[test]
fn graceful_shutdown_finishes_running_requests_then_closes() {
    let (addr, started, shutdown, done) = start_waiter_server();
    let mut peer = RawPeer::connect(addr);
    peer.request(1, "sleep", vec![300.into()]);
    assert_eq!(started.recv_timeout(HANG).unwrap(), 300);
    shutdown.shutdown(Duration::from_secs(20));
    assert_eq!(peer.recv(), ok_response(1, 300.into()));
    assert!(
        peer.try_recv().is_none(),
        "the connection closes after the last response"
    );
    done.recv_timeout(HANG)
        .expect("the server future completes");
    assert!(
        TcpStream::connect(addr).is_err(),
        "no new connections after a shutdown"
    );
}

#[test]
fn graceful_shutdown_gives_up_on_handlers_after_the_grace_period() {
    let (addr, started, shutdown, done) = start_waiter_server();
    let mut peer = RawPeer::connect(addr);
    peer.request(1, "sleep", vec![60_000.into()]);
    assert_eq!(started.recv_timeout(HANG).unwrap(), 60_000);
    shutdown.shutdown(Duration::from_millis(50));
    assert!(peer.try_recv().is_none(), "closed without an answer");
    done.recv_timeout(HANG)
        .expect("the server future completes");
}

#[test]
fn one_shutdown_handle_drains_a_server_and_a_connection_served_over_any_transport() {
    let (setup_tx, setup_rx) = std_mpsc::channel();
    let (started_tx, started) = std_mpsc::channel();
    let (server_done_tx, server_done) = std_mpsc::channel();
    let (test_done, test_done_rx) = futures::sync::oneshot::channel::<()>();
    let other_transport = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other_addr = other_transport.local_addr().unwrap();
    let shutdown = ShutdownHandle::new();
    let settings = Server::builder().shutdown_handle(shutdown.clone());
    thread::spawn(move || {
        let mut core = Core::new().unwrap();
        let handle = core.handle();
        let timers = handle.clone();
        let builder = move |_peer: Client| Waiter {
            started: started_tx.clone(),
            handle: timers.clone(),
        };
        let addr = "127.0.0.1:0".parse().unwrap();
        let server = settings
            .clone()
            .bind(&addr, builder.clone(), &handle)
            .unwrap();
        setup_tx.send(server.local_addr()).unwrap();
        // A transport the server did not accept, served with the same settings.
        let (socket, _) = other_transport.accept().unwrap();
        let socket = tokio_core::net::TcpStream::from_stream(socket, &handle).unwrap();
        settings
            .serve_connection(socket, &builder, &handle)
            .expect("a valid configuration");
        let _ = core.run(server);
        let _ = server_done_tx.send(());
        // Keep the reactor turning for the served connection until the test is done.
        let _ = core.run(test_done_rx);
    });
    let addr = setup_rx.recv_timeout(HANG).expect("the server is bound");
    let mut accepted = RawPeer::connect(addr);
    let mut served = RawPeer::connect(other_addr);
    accepted.request(1, "sleep", vec![200.into()]);
    served.request(1, "sleep", vec![300.into()]);
    let mut both = vec![
        started.recv_timeout(HANG).unwrap(),
        started.recv_timeout(HANG).unwrap(),
    ];
    both.sort_unstable();
    assert_eq!(both, vec![200, 300]);
    shutdown.shutdown(Duration::from_secs(20));
    assert_eq!(accepted.recv(), ok_response(1, 200.into()));
    assert_eq!(served.recv(), ok_response(1, 300.into()));
    assert!(accepted.try_recv().is_none(), "closed after its answer");
    assert!(served.try_recv().is_none(), "closed after its answer");
    server_done
        .recv_timeout(HANG)
        .expect("the server future completes");
    let _ = test_done.send(());
}

#[test]
fn a_shutdown_handle_can_be_shared_with_other_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ShutdownHandle>();
}

#[test]
fn the_in_flight_cap_holds_back_reading_until_a_handler_finishes() {
    let config = Config {
        max_in_flight: 1,
        ..Config::default()
    };
    let (addr, started, _shutdown, _done) = start_waiter_server_with(config);
    let mut peer = RawPeer::connect(addr);
    peer.request(1, "sleep", vec![100.into()]);
    peer.request(2, "add", vec![]);
    // Without the cap, `add` would be answered first (see a_slow_request_does_not_hold_up_a_fast_one).
    assert_eq!(peer.recv(), ok_response(1, 100.into()));
    assert_eq!(peer.recv(), ok_response(2, text("ok")));
    assert_eq!(started.recv_timeout(HANG).unwrap(), 100);
    assert_eq!(started.recv_timeout(HANG).unwrap(), 0);
}
