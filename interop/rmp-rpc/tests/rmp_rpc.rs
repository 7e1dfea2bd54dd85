//! rmp-rpc 0.3 (crates.io) and rmp-rpc-demo, both ways:
//!
//! - an rmp-rpc 0.3 client (an `Endpoint`, so that it can receive our `pong`) calls our
//!   example server (`examples/server.rs`, built and started by the test);
//! - our client calls an rmp-rpc 0.3 server, which also calls our client back and sends
//!   it notifications.
//!
//! rmp-rpc 0.3 runs on the tokio 0.1 runtime (`tokio::spawn`), ours on a tokio-core
//! reactor: each side gets its own thread or runtime, and they meet on 127.0.0.1.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use futures::future::{self, Either};
use futures::{Future, Stream};
use common::reactor::{recv_on, turn_for};
use common::{run, ExampleServer, HANG};
use rmp_rpc::{Endpoint, ServiceWithClient};
use rmp_rpc_demo::{CallError, Client, Params, Server, Service, Value};
use tokio::runtime::current_thread::Runtime;
use tokio::timer::Delay;
use tokio::util::FutureExt;
use tokio_core::reactor::Core;

// ---------------------------------------------------------------------------------------
// rmp-rpc 0.3 is the client of our example server
// ---------------------------------------------------------------------------------------

/// The rmp-rpc side's handler: passes the notifications it receives to the test.
struct Collector {
    notifications: mpsc::Sender<(String, Vec<Value>)>,
}

impl ServiceWithClient for Collector {
    type RequestFuture = Result<Value, Value>;

    fn handle_request(
        &mut self,
        _: &mut rmp_rpc::Client,
        method: &str,
        _: &[Value],
    ) -> Self::RequestFuture {
        Err(format!("no method {}", method).into())
    }

    fn handle_notification(&mut self, _: &mut rmp_rpc::Client, method: &str, params: &[Value]) {
        let _ = self
            .notifications
            .send((method.to_string(), params.to_vec()));
    }
}

/// rmp-rpc's answer: `Ok(result)` or `Err(error value)`; `Err(())` if the connection died.
type Answer = Result<Result<Value, Value>, ()>;

#[test]
fn an_rmp_rpc_0_3_client_calls_our_example_server() {
    let server = ExampleServer::start();
    let (notifications, received) = mpsc::channel();
    let mut runtime = Runtime::new().expect("tokio runtime");

    let session = tokio::net::TcpStream::connect(&server.addr)
        .map_err(|err| panic!("connect: {}", err))
        .and_then(move |stream| {
            let endpoint = Endpoint::new(stream, Collector { notifications });
            let client = endpoint.client();
            tokio::spawn(endpoint.map_err(|err| panic!("rmp-rpc endpoint: {}", err)));
            let answer =
                |method: &str, params: &[Value]| -> Box<dyn Future<Item = Answer, Error = ()>> {
                    Box::new(client.request(method, params).then(Ok))
                };
            let simple = future::join_all(vec![
                answer("add", &[40.into(), 2.into()]),
                answer("sub", &[10.into(), 4.into()]),
                answer("frobnicate", &[]),
                answer("add", &[1.into()]),
            ]);
            // Pipelined: the slow one first, yet the fast one is answered first.
            let slow = answer("sleep", &[200.into()]);
            let fast = answer("add", &[1.into(), 2.into()]);
            type Rest = Box<dyn Future<Item = (&'static str, Answer, Answer), Error = ()>>;
            let race = slow.select2(fast).then(|first| -> Result<Rest, ()> {
                match first {
                    Ok(Either::B((fast, slow))) => {
                        Ok(Box::new(slow.map(move |slow| ("fast first", fast, slow))))
                    }
                    Ok(Either::A((slow, fast))) => {
                        Ok(Box::new(fast.map(move |fast| ("slow first", fast, slow))))
                    }
                    Err(_) => Err(()),
                }
            });
            let race = race.and_then(|rest| rest);
            let _ = client.notify("ping", &["from rmp-rpc".into(), 3.into()]);
            simple.join(race)
        });
    let (simple, (which, fast, slow)) = runtime
        .block_on(session.timeout(HANG))
        .unwrap_or_else(|err| panic!("the rmp-rpc session failed: {:?}", err));

    assert_eq!(
        simple,
        vec![
            Ok(Ok(42.into())),
            Ok(Ok(6.into())),
            Ok(Err("unknown method `frobnicate`".into())),
            Ok(Err("add expects two 64-bit signed integers, got [1]".into())),
        ]
    );
    assert_eq!(which, "fast first");
    assert_eq!(fast, Ok(Ok(3.into())));
    assert_eq!(slow, Ok(Ok(200.into())));
    // Our server's pong reached rmp-rpc's handler.
    let pong = received.recv_timeout(HANG).expect("a pong");
    assert_eq!(
        pong,
        ("pong".to_string(), vec!["from rmp-rpc".into(), 3.into()])
    );
}

/// A plain rmp-rpc `Client` (not an `Endpoint`) drops whatever is not a response: a
/// request from our server to it is never answered.
#[test]
fn a_plain_rmp_rpc_0_3_client_never_answers_our_servers_requests() {
    let (addr_tx, addr_rx) = mpsc::channel();
    let (result_tx, result_rx) = mpsc::channel();
    // Our server, on its own thread: asks every client `hello` and reports what came of it.
    let server = thread::spawn(move || {
        let mut core = Core::new().expect("reactor");
        let handle = core.handle();
        let builder = move |peer: Client| {
            let result_tx = result_tx.clone();
            let asked = peer
                .with_timeout(Duration::from_millis(300))
                .request("hello", vec![])
                .then(move |answer| {
                    let _ = result_tx.send(answer);
                    Ok(())
                });
            handle.spawn(asked);
            Silent
        };
        let server =
            Server::bind(&"127.0.0.1:0".parse().unwrap(), builder, &core.handle()).expect("bind");
        let _ = addr_tx.send(server.local_addr());
        let shutdown = server.shutdown_handle();
        handle_later(&core, shutdown);
        let _ = core.run(server);
    });
    let addr = addr_rx.recv_timeout(HANG).expect("our server's address");

    let mut runtime = Runtime::new().expect("tokio runtime");
    let session = tokio::net::TcpStream::connect(&addr)
        .map_err(|err| panic!("connect: {}", err))
        .and_then(|stream| {
            let client = rmp_rpc::Client::new(stream);
            let answer = client
                .request("add", &[1.into(), 2.into()])
                .then(Ok::<_, ()>);
            // The connection closes once the last handle is dropped and nothing is pending:
            // keep a handle while our server waits for its answer.
            let wait = Delay::new(Instant::now() + Duration::from_millis(500)).then(move |_| {
                drop(client);
                Ok(())
            });
            answer.join(wait)
        });
    let (answer, ()) = runtime.block_on(session.timeout(HANG)).expect("session");
    // rmp-rpc's own request went through; ours timed out unanswered.
    assert_eq!(answer, Ok(Err("no method add".into())));
    match result_rx.recv_timeout(HANG).expect("our request's fate") {
        Err(CallError::Timeout(after)) => assert_eq!(after, Duration::from_millis(300)),
        other => panic!("expected a timeout, got {:?}", other),
    }
    server.join().expect("our server thread");
}

/// Our server's service in the test above: answers nothing.
struct Silent;

impl Service for Silent {
    type Output = Value;
    type Error = Value;
    type RequestFuture = future::FutureResult<Value, Value>;
    type NotificationFuture = future::FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, _: Params) -> Self::RequestFuture {
        future::err(format!("no method {}", method).into())
    }

    fn handle_notification(&mut self, _: &str, _: Params) -> Self::NotificationFuture {
        future::ok(())
    }
}

/// Shuts the server down after a while, so that its thread ends by itself.
fn handle_later(core: &Core, shutdown: rmp_rpc_demo::ShutdownHandle) {
    let timer =
        tokio_core::reactor::Timeout::new(Duration::from_secs(1), &core.handle()).expect("timer");
    core.handle().spawn(timer.then(move |_| {
        shutdown.shutdown(Duration::from_millis(100));
        Ok(())
    }));
}

// ---------------------------------------------------------------------------------------
// Our client calls an rmp-rpc 0.3 server
// ---------------------------------------------------------------------------------------

/// The rmp-rpc 0.3 server's service.
struct RmpRpcService;

type RmpFuture = Box<dyn Future<Item = Value, Error = Value> + Send>;

impl ServiceWithClient for RmpRpcService {
    type RequestFuture = RmpFuture;

    fn handle_request(
        &mut self,
        client: &mut rmp_rpc::Client,
        method: &str,
        params: &[Value],
    ) -> RmpFuture {
        match (method, params) {
            ("echo", [value]) => Box::new(future::ok(value.clone())),
            ("fail", _) => Box::new(future::err("rmp-rpc says no".into())),
            // [ms] -> ms, after ms milliseconds.
            ("sleep", [ms]) => {
                let ms = ms.as_u64().unwrap_or(0).min(5_000);
                Box::new(
                    Delay::new(Instant::now() + Duration::from_millis(ms))
                        .then(move |_| Ok(ms.into())),
                )
            }
            // [method, params]: ask the client, answer with its answer.
            ("call_me_back", [method, Value::Array(args)]) => Box::new(
                client
                    .request(method.as_str().unwrap_or(""), args)
                    .map_err(|()| Value::from("the client went away"))
                    .map(|answer| {
                        answer.unwrap_or_else(|err| Value::Map(vec![("error".into(), err)]))
                    }),
            ),
            _ => Box::new(future::err(format!("no method {}", method).into())),
        }
    }

    fn handle_notification(
        &mut self,
        client: &mut rmp_rpc::Client,
        method: &str,
        params: &[Value],
    ) {
        if method == "notify_me" {
            let count = params.first().and_then(Value::as_u64).unwrap_or(0).min(100);
            for i in 0..count {
                let _ = client.notify("tick", &[i.into()]);
            }
        }
    }
}

/// Starts an rmp-rpc 0.3 server for one connection on its own thread; returns its
/// address and the thread, which ends when the connection does.
fn start_rmp_rpc_server() -> (std::net::SocketAddr, thread::JoinHandle<()>) {
    let (addr_tx, addr_rx) = mpsc::channel();
    let thread = thread::spawn(move || {
        let mut runtime = Runtime::new().expect("tokio runtime");
        let listener =
            tokio::net::TcpListener::bind(&"127.0.0.1:0".parse().unwrap()).expect("bind");
        let _ = addr_tx.send(listener.local_addr().expect("address"));
        let serve_one = listener
            .incoming()
            .take(1)
            .map_err(|err| panic!("accept: {}", err))
            .for_each(|stream| {
                Endpoint::new(stream, RmpRpcService).map_err(|err| panic!("endpoint: {}", err))
            });
        runtime
            .block_on(serve_one.timeout(HANG * 2))
            .unwrap_or_else(|_| panic!("the rmp-rpc server did not finish within {:?}", HANG * 2));
    });
    let addr = addr_rx
        .recv_timeout(HANG)
        .expect("the rmp-rpc server's address");
    (addr, thread)
}

/// Our client's handler: answers `double [n]`, passes notifications to the test.
struct Doubler {
    notifications: mpsc::Sender<(String, Vec<Value>)>,
}

impl Service for Doubler {
    type Output = Value;
    type Error = Value;
    type RequestFuture = future::FutureResult<Value, Value>;
    type NotificationFuture = future::FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Params) -> Self::RequestFuture {
        let params = params.into_values();
        match (method, params.first().and_then(Value::as_i64)) {
            ("double", Some(n)) => future::ok((n * 2).into()),
            _ => future::err(format!("no method {}", method).into()),
        }
    }

    fn handle_notification(&mut self, method: &str, params: Params) -> Self::NotificationFuture {
        let params = params.into_values();
        let _ = self.notifications.send((method.to_string(), params));
        future::ok(())
    }
}

#[test]
fn our_client_calls_an_rmp_rpc_0_3_server_which_calls_back() {
    let (addr, rmp_rpc_thread) = start_rmp_rpc_server();
    let mut core = Core::new().expect("reactor");
    let (notifications, received) = mpsc::channel();
    let connect = Client::builder()
        .timeout(HANG)
        .handler(move |_peer: Client| Doubler {
            notifications: notifications.clone(),
        })
        .connect(&addr, &core.handle());
    let client = run(&mut core, connect).expect("connect to the rmp-rpc server");

    let value = Value::Array(vec![
        Value::Nil,
        true.into(),
        (-7).into(),
        u64::MAX.into(),
        1.25.into(),
        "text".into(),
        Value::Binary(vec![0, 255]),
        Value::Map(vec![("k".into(), Value::Array(vec![]))]),
        Value::Ext(3, vec![9]),
    ]);
    assert_eq!(
        run(&mut core, client.request("echo", vec![value.clone()])).unwrap(),
        value
    );
    match run(&mut core, client.request("fail", vec![])) {
        Err(CallError::Remote(error)) => assert_eq!(error, Value::from("rmp-rpc says no")),
        other => panic!("expected an error, got {:?}", other),
    }

    // Pipelined, answered out of order: 300 ms, 100 ms, at once.
    let started = Instant::now();
    let timed = |ms: u64| {
        client
            .request("sleep", vec![ms.into()])
            .map(move |value| (value, started.elapsed()))
    };
    let both = timed(300).join3(timed(100), client.request("echo", vec!["now".into()]));
    let ((slow, slow_at), (quick, quick_at), now) = run(&mut core, both).unwrap();
    assert_eq!((slow, quick, now), (300.into(), 100.into(), "now".into()));
    assert!(quick_at < slow_at, "{:?} {:?}", quick_at, slow_at);
    assert!(
        slow_at < Duration::from_millis(390),
        "ran concurrently: {:?}",
        slow_at
    );

    // The rmp-rpc server asks our client while we wait for its answer.
    let call = client.request(
        "call_me_back",
        vec!["double".into(), Value::Array(vec![21.into()])],
    );
    assert_eq!(run(&mut core, call).unwrap(), Value::from(42));
    let call = client.request(
        "call_me_back",
        vec!["triple".into(), Value::Array(vec![1.into()])],
    );
    assert_eq!(
        run(&mut core, call).unwrap(),
        Value::Map(vec![("error".into(), "no method triple".into())])
    );

    client.notify("notify_me", vec![3.into()]).unwrap();
    for i in 0..3 {
        assert_eq!(
            recv_on(&mut core, &received),
            ("tick".to_string(), vec![Value::from(i)])
        );
    }

    // Dropping our last handle closes the connection, and the rmp-rpc server's thread ends.
    drop(client);
    turn_for(&mut core, Duration::from_millis(100));
    rmp_rpc_thread.join().expect("the rmp-rpc server thread");
}
