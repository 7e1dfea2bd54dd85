//! A user's own mistakes get a clear error, never a crash or a silent hang: settings
//! that cannot work, durations too large to count, handlers and builders that panic.

mod common;

use std::io;
use std::time::Duration;

use futures::future;
use futures::sync::oneshot;
use futures::Future;
use rmp_rpc_demo::{CallError, Client, ClosedReason, Config, ConfigError, Limits, Server, Value};
use tokio_core::reactor::Core;

use common::panicky::{quiet_deliberate_panics, Panicky, PanickyServer, DELIBERATE};
use common::pipe::pipe;
use common::reactor::recv_on;
use common::served::calc;
use common::{run, RawPeer};

/// Starts a `Calc` server on 127.0.0.1 and returns its address.
fn spawn_server(core: &Core) -> std::net::SocketAddr {
    let handle = core.handle();
    let addr = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(&addr, calc(&handle), &handle).expect("bind");
    let addr = server.local_addr();
    handle.spawn(server.map_err(|err| panic!("the server failed: {}", err)));
    addr
}

// ---------------------------------------------------------------------------------------
// Settings that cannot work
// ---------------------------------------------------------------------------------------

/// Each setting that cannot work, and the field its error must name.
fn invalid_configs() -> Vec<(Config, &'static str)> {
    let with_limits = |limits: Limits| Config {
        limits,
        ..Config::default()
    };
    vec![
        (
            Config {
                max_in_flight: 0,
                ..Config::default()
            },
            "Config::max_in_flight",
        ),
        (
            Config {
                max_write_buffer: 0,
                ..Config::default()
            },
            "Config::max_write_buffer",
        ),
        (
            Config {
                max_outgoing_depth: Some(1),
                ..Config::default()
            },
            "Config::max_outgoing_depth",
        ),
        (
            Config {
                idle_timeout: Some(Duration::from_secs(0)),
                ..Config::default()
            },
            "Config::idle_timeout",
        ),
        (
            with_limits(Limits {
                max_depth: 1,
                ..Limits::default()
            }),
            "Limits::max_depth",
        ),
        (
            with_limits(Limits {
                max_message_size: 0,
                ..Limits::default()
            }),
            "Limits::max_message_size",
        ),
        (
            with_limits(Limits {
                max_values: 3,
                ..Limits::default()
            }),
            "Limits::max_values",
        ),
    ]
}

/// The `ConfigError` inside an `io::Error` from a builder.
fn config_error(err: &io::Error) -> &ConfigError {
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<ConfigError>())
        .unwrap_or_else(|| panic!("not a ConfigError: {:?}", err))
}

#[test]
fn the_default_configuration_is_valid() {
    assert_eq!(Config::default().validate(), Ok(()));
}

#[test]
fn a_zero_in_flight_cap_is_refused_with_an_error_that_names_it() {
    let config = Config {
        max_in_flight: 0,
        ..Config::default()
    };
    let err = config
        .validate()
        .expect_err("max_in_flight = 0 cannot work");
    assert_eq!(err.field(), "Config::max_in_flight");
    assert_eq!(
        err.to_string(),
        "invalid setting Config::max_in_flight: 0 would refuse every request; use at least 1"
    );
}

#[test]
fn every_builder_refuses_a_setting_that_cannot_work_before_starting_anything() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let addr = spawn_server(&core);
    let any_port = "127.0.0.1:0".parse().unwrap();
    for (config, field) in invalid_configs() {
        assert_eq!(config.validate().map_err(|e| e.field()), Err(field));

        let bound =
            Server::builder()
                .config(config.clone())
                .bind(&any_port, calc(&handle), &handle);
        let err = bound.expect_err("bind refuses it");
        assert_eq!(config_error(&err).field(), field);

        let (_, server_end) = pipe(1024);
        let served = Server::builder().config(config.clone()).serve_connection(
            server_end,
            &calc(&handle),
            &handle,
        );
        assert_eq!(
            served.expect_err("serve_connection refuses it").field(),
            field
        );

        let (client_end, _) = pipe(1024);
        let started = Client::builder()
            .config(config.clone())
            .start(client_end, &handle);
        assert_eq!(started.expect_err("start refuses it").field(), field);

        // Over a reader and a writer, and over Unix sockets (a path nobody listens on:
        // the configuration is refused before anything is tried).
        let (reader, _) = pipe(1024);
        let (_, writer) = pipe(1024);
        let started = Client::builder()
            .config(config.clone())
            .start_halves(reader, writer, &handle);
        assert_eq!(started.err().map(|e| e.field()), Some(field));
        let (reader, _) = pipe(1024);
        let (_, writer) = pipe(1024);
        let served = Server::builder().config(config.clone()).serve_halves(
            reader,
            writer,
            &calc(&handle),
            &handle,
        );
        assert_eq!(served.err().map(|e| e.field()), Some(field));
        let nowhere = std::env::temp_dir().join("rmp-rpc-demo-mistakes-no-such.sock");
        let bound =
            Server::builder()
                .config(config.clone())
                .bind_unix(&nowhere, calc(&handle), &handle);
        assert_eq!(
            config_error(&bound.expect_err("bind_unix refuses it")).field(),
            field
        );
        assert!(!nowhere.exists(), "bind_unix created its socket anyway");
        let connected = run(
            &mut core,
            Client::builder()
                .config(config.clone())
                .connect_unix(&nowhere, &handle),
        );
        let err = connected.expect_err("connect_unix refuses it");
        assert_eq!(config_error(&err).field(), field);

        // A program that would fail if it started: it must not start at all.
        let spawned = Client::builder()
            .config(config.clone())
            .spawn(&mut std::process::Command::new("false"), &handle);
        let err = spawned.expect_err("spawn refuses it");
        assert_eq!(config_error(&err).field(), field);

        let connected = run(
            &mut core,
            Client::builder()
                .config(config.clone())
                .connect(&addr, &handle),
        );
        let err = connected.expect_err("connect refuses it");
        let inner = config_error(&err);
        assert_eq!(inner.field(), field);
        // Its text says which setting and what to do.
        assert!(
            err.to_string()
                .starts_with(&format!("invalid setting {}: ", field))
                && err.to_string().contains("; use "),
            "{}",
            err
        );
    }
}

#[test]
fn the_smallest_settings_that_can_work_do_work() {
    // One request at a time, one byte of write buffer, the tightest limits: slow, but
    // every call is answered.
    let config = Config {
        limits: Limits {
            max_depth: 2,
            max_message_size: 64,
            max_values: 8,
        },
        max_in_flight: 1,
        max_write_buffer: 1,
        max_outgoing_depth: Some(2),
        ..Config::default()
    };
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let (client_end, server_end) = pipe(16);
    Server::builder()
        .config(config.clone())
        .serve_connection(server_end, &calc(&handle), &handle)
        .expect("a valid configuration");
    let client = Client::builder()
        .config(config)
        .start(client_end, &handle)
        .expect("a valid configuration");
    let calls = (0..20u64).map(|i| client.request("add", vec![i.into(), 1.into()]));
    let answers = run(&mut core, future::join_all(calls)).expect("every answer");
    let expected: Vec<Value> = (0..20u64).map(|i| Value::from(i + 1)).collect();
    assert_eq!(answers, expected);
}

// ---------------------------------------------------------------------------------------
// Durations too large to count
// ---------------------------------------------------------------------------------------

#[test]
fn a_timeout_too_large_to_count_means_never_and_the_call_is_answered() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let addr = spawn_server(&core);
    let forever = Duration::from_secs(u64::MAX);
    let client = run(
        &mut core,
        Client::builder().timeout(forever).connect(&addr, &handle),
    )
    .expect("connect");
    assert_eq!(
        run(&mut core, client.request("sleep", vec![20.into()])).unwrap(),
        Value::from(20)
    );
    let per_handle = client.with_timeout(forever);
    assert_eq!(
        run(
            &mut core,
            per_handle.request("add", vec![1.into(), 2.into()])
        )
        .unwrap(),
        Value::from(3)
    );
    assert_eq!(client.pending_requests(), 0);
}

#[test]
fn a_shutdown_grace_too_large_to_count_lets_every_handler_finish() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let addr = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(&addr, calc(&handle), &handle).expect("bind");
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let (stopped_tx, stopped) = oneshot::channel();
    handle.spawn(server.then(move |_| stopped_tx.send(())));

    let (ready_tx, ready) = std::sync::mpsc::channel();
    let peer = std::thread::spawn(move || {
        let mut peer = RawPeer::connect(addr);
        peer.request(1, "sleep", vec![100.into()]);
        // The sleep has reached its handler once the next call is answered.
        peer.check_add(2, 1, 2);
        ready_tx.send(()).expect("the test waits");
        let answer = peer.recv_response();
        (answer, peer.read_until_closed())
    });
    recv_on(&mut core, &ready);
    shutdown.shutdown(Duration::from_secs(u64::MAX));
    run(&mut core, stopped).expect("the server stops once its handler is done");
    let (answer, rest) = peer.join().expect("the peer's thread");
    assert_eq!(answer, (1, Ok(Value::from(100))));
    assert!(rest.is_empty(), "nothing after the answer: {:?}", rest);
}

// ---------------------------------------------------------------------------------------
// Handlers that panic
// ---------------------------------------------------------------------------------------

/// The peer's answer to a call that fails only with an error response.
fn answer(outcome: Result<Value, CallError>) -> Result<Value, Value> {
    match outcome {
        Ok(value) => Ok(value),
        Err(CallError::Remote(error)) => Err(error),
        Err(other) => panic!("no answer: {}", other),
    }
}

fn internal_error(method: &str) -> Result<Value, Value> {
    Err(Value::from(format!("internal error in {}", method)))
}

#[test]
fn a_request_handler_that_panics_costs_that_call_and_the_connection_goes_on() {
    let server = PanickyServer::start(None);
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let client = run(&mut core, Client::connect(&server.addr, &handle)).expect("connect");
    let call = |core: &mut Core, method: &str| {
        answer(
            run(
                core,
                client
                    .request(method, vec![2.into(), 3.into()])
                    .then(Ok::<_, ()>),
            )
            .unwrap(),
        )
    };
    assert_eq!(call(&mut core, "panic_now"), internal_error("panic_now"));
    assert_eq!(call(&mut core, "add"), Ok(Value::from(5)));
    assert_eq!(
        call(&mut core, "panic_later"),
        internal_error("panic_later")
    );
    assert_eq!(call(&mut core, "add_later"), Ok(Value::from(5)));
    // Both at once, with others in flight around them.
    let calls = ["add_later", "panic_later", "panic_now", "add"]
        .iter()
        .map(|method| {
            let call = client.request(method, vec![1.into(), 1.into()]);
            call.then(|outcome| Ok::<_, ()>(answer(outcome)))
        });
    let outcomes = run(&mut core, future::join_all(calls)).unwrap();
    assert_eq!(
        outcomes,
        vec![
            Ok(Value::from(2)),
            internal_error("panic_later"),
            internal_error("panic_now"),
            Ok(Value::from(2)),
        ]
    );
    assert!(client.closed_reason().is_none());
    assert_eq!(client.pending_requests(), 0);
}

#[test]
fn a_notification_handler_that_panics_costs_nothing_but_itself() {
    quiet_deliberate_panics();
    for ordered in [false, true] {
        let config = Config {
            ordered_notifications: ordered,
            ..Config::default()
        };
        let mut core = Core::new().unwrap();
        let handle = core.handle();
        let (client_end, server_end) = pipe(usize::MAX);
        let counted = std::rc::Rc::new(std::cell::Cell::new(0));
        let builder = {
            let counted = counted.clone();
            move |_peer: Client| Panicky {
                counted: counted.clone(),
            }
        };
        let served = Server::builder()
            .config(config)
            .serve_connection(server_end, &builder, &handle)
            .expect("a valid configuration");
        let client = Client::new(client_end, &handle);
        for method in ["count", "panic_now", "count", "panic_later", "count"] {
            client
                .notify(method, vec![])
                .expect("the connection is open");
        }
        // Answered after the notifications before it were handled.
        assert_eq!(
            run(
                &mut core,
                client.request("add_later", vec![1.into(), 2.into()])
            )
            .unwrap(),
            Value::from(3)
        );
        assert_eq!(counted.get(), 3, "ordered: {}", ordered);
        assert!(served.closed_reason().is_none());
    }
}

#[test]
fn a_builder_that_panics_closes_its_own_connection_only() {
    let server = PanickyServer::start(Some(2));
    let mut first = RawPeer::connect(server.addr);
    first.check_add(1, 1, 2);
    // The builder of the second connection panics: that connection closes at once.
    let mut second = RawPeer::connect(server.addr);
    let _ = second.send(&common::wire::encode(&common::wire::request(
        1,
        "add",
        vec![1.into(), 2.into()],
    )));
    assert!(second.read_until_closed().is_empty());
    first.check_add(2, 3, 4);
    let mut third = RawPeer::connect(server.addr);
    third.check_add(1, 5, 6);
    assert_eq!(server.built.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[test]
fn a_client_whose_handler_builder_panics_says_so_on_every_call() {
    quiet_deliberate_panics();
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let (client_end, _server_end) = pipe(usize::MAX);
    let client = Client::builder()
        .handler(|_peer: Client| -> Panicky { panic!("{} no handler today", DELIBERATE) })
        .start(client_end, &handle)
        .expect("a valid configuration");
    match client.closed_reason() {
        Some(ClosedReason::BuilderPanicked(message)) => {
            assert_eq!(&*message, format!("{} no handler today", DELIBERATE))
        }
        other => panic!("unexpected {:?}", other),
    }
    match run(&mut core, client.request("add", vec![])) {
        Err(CallError::ConnectionClosed(reason)) => assert_eq!(
            reason.to_string(),
            format!(
                "the connection was closed at once: the ServiceBuilder panicked making its service ({} no handler today)",
                DELIBERATE
            )
        ),
        other => panic!("unexpected {:?}", other),
    }
}
