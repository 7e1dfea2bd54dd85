//! Idle and slow peers: `Config::idle_timeout` closes a connection on which no whole
//! message has arrived and nothing has been in flight for that long, and leaves busy
//! ones alone.
//!
//! The timeouts are short (200 ms) and the tests wait for what they expect (the server
//! closing, an answer) with every wait bounded by `HANG`: a closing that never comes
//! fails the test, and one that comes too early shows as a lost answer.

mod common;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use rmp_rpc_demo::{Client, ClosedReason, Config, Value};
use tokio_core::reactor::{Core, Handle};

use common::served::{calc, ServerThread};
use common::wire::{encode, ok_response, request};
use common::{run, RawPeer};

/// The idle timeout of these tests.
const IDLE: Duration = Duration::from_millis(200);

/// A server of `Calc` whose connections close after `idle` idle.
fn idle_server(idle: Duration) -> ServerThread {
    let config = Config {
        idle_timeout: Some(idle),
        ..Config::default()
    };
    ServerThread::start(config, |handle: &Handle| calc(handle))
}

// ANCHOR: idle_tests
#[test]
fn a_silent_peer_is_closed_after_the_idle_timeout() {
    let server = idle_server(IDLE);
    let mut silent = RawPeer::connect(server.addr);
    let connected = Instant::now();
    // It sends nothing: the server must close it by itself (within HANG).
    assert!(silent.read_until_closed().is_empty());
    assert!(
        connected.elapsed() >= IDLE,
        "closed before the idle timeout"
    );
}

#[test]
fn a_peer_that_trickles_bytes_without_finishing_a_message_is_closed() {
    // One byte every 20 ms of a request that never ends: bytes arrive, but never a
    // whole message, so the connection is idle.
    let server = idle_server(IDLE);
    let mut peer = RawPeer::connect(server.addr);
    let mut bytes = encode(&request(
        1,
        "add",
        vec![Value::from("x".repeat(1000)), 1.into()],
    ));
    bytes.truncate(bytes.len() - 1);
    let mut writer = peer.stream.try_clone().expect("clone the socket");
    let trickling = thread::spawn(move || -> usize {
        for (sent, byte) in bytes.iter().enumerate() {
            if writer.write_all(&[*byte]).is_err() {
                return sent;
            }
            thread::sleep(Duration::from_millis(20));
        }
        bytes.len()
    });
    assert!(peer.read_until_closed().is_empty());
    let sent = trickling.join().expect("the trickling thread");
    // It was still trickling when it was closed: 50 bytes a second, over 1,000.
    assert!(sent < 1000, "the server waited for all {} bytes", sent);
}

#[test]
fn a_request_in_flight_longer_than_the_idle_timeout_is_answered() {
    let server = idle_server(IDLE);
    let mut peer = RawPeer::connect(server.addr);
    peer.request(1, "sleep", vec![(4 * IDLE.as_millis() as u64).into()]);
    assert_eq!(
        peer.recv(),
        ok_response(1, (4 * IDLE.as_millis() as u64).into())
    );
    // Then it is idle, and closed.
    assert!(peer.read_until_closed().is_empty());
}

#[test]
fn a_peer_that_calls_more_often_than_the_idle_timeout_stays_connected() {
    // A longer timeout here, so that a busy machine cannot stretch a pause between two
    // calls (a twelfth of it) into a whole timeout.
    let idle = 3 * IDLE;
    let server = idle_server(idle);
    let mut peer = RawPeer::connect(server.addr);
    let started = Instant::now();
    let mut id = 0;
    // For three timeouts: never idle long enough.
    while started.elapsed() < 3 * idle {
        peer.check_add(id, id as i64, 1);
        id += 1;
        thread::sleep(idle / 12);
    }
    peer.check_add(id, 1, 1);
}
// ANCHOR_END: idle_tests

#[test]
fn a_client_closes_its_idle_connection_and_says_why() {
    let server = idle_server(Duration::from_secs(600));
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let config = Config {
        idle_timeout: Some(IDLE),
        ..Config::default()
    };
    let client = run(
        &mut core,
        Client::builder()
            .config(config)
            .connect(&server.addr, &handle),
    )
    .expect("connect");
    assert_eq!(
        run(&mut core, client.request("sleep", vec![400.into()])).unwrap(),
        Value::from(400),
        "a call in flight keeps the connection open"
    );
    match run(&mut core, client.closed()) {
        Ok(ClosedReason::Idle(after)) => assert_eq!(after, IDLE),
        other => panic!("expected an idle close, got {:?}", other),
    }
    match run(&mut core, client.request("add", vec![1.into(), 2.into()])) {
        Err(err) => assert_eq!(
            err.to_string(),
            "no answer: the connection was closed by this side after 200 ms idle (Config::idle_timeout)"
        ),
        Ok(value) => panic!("answered {} on a closed connection", value),
    }
}

#[test]
fn an_idle_timeout_too_long_to_count_means_never() {
    let server = idle_server(Duration::from_secs(u64::MAX));
    let mut peer = RawPeer::connect(server.addr);
    peer.check_add(1, 1, 2);
    thread::sleep(2 * IDLE);
    peer.check_add(2, 3, 4);
}

#[test]
fn the_example_server_takes_its_idle_timeout_from_the_command_line() {
    let server = common::ExampleServer::start_with(&["--idle-timeout", "1"]);
    let mut silent = RawPeer::connect(server.addr);
    assert!(silent.read_until_closed().is_empty());
    let mut busy = RawPeer::connect(server.addr);
    busy.request(1, "sleep", vec![1500.into()]);
    assert_eq!(busy.recv(), ok_response(1, 1500.into()));
    // Refused on the command line: zero, and what is not a number.
    for bad in [
        &["--idle-timeout", "0"][..],
        &["--idle-timeout", "soon"][..],
    ] {
        let finished = common::process::run_example("server", bad);
        assert!(!finished.status.success());
        assert!(
            finished
                .stderr
                .iter()
                .any(|line| line.contains("`--idle-timeout` needs")),
            "{:?}",
            finished.stderr
        );
    }
}
