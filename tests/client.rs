//! The client: against the example server, against a server-side service that calls
//! back, and against a raw MessagePack server that pins down the bytes on the wire.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::Duration;

use common::wire::{self, err_response, nested, notification, ok_response};
use common::{run, ExampleServer, RawPeer};
use futures::future::{self, FutureResult};
use futures::sync::{mpsc, oneshot};
use futures::{stream, Future, Stream};
use rmp_rpc_demo::errors::{CodecError, InvalidMessage};
use rmp_rpc_demo::{BoxFuture, CallError, Client, ClosedReason, Params, Server, Service, Value};
use tokio_core::reactor::Core;

fn connect(core: &mut Core, addr: SocketAddr) -> Client {
    let handle = core.handle();
    run(core, Client::connect(&addr, &handle)).expect("connect")
}

#[test]
fn client_speaks_the_whole_example_contract() {
    let server = ExampleServer::start();
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, server.addr);
    assert_eq!(
        run(&mut core, client.request("add", vec![1.into(), 2.into()])).unwrap(),
        Value::from(3)
    );
    assert_eq!(
        run(&mut core, client.request("sub", vec![1.into(), 2.into()])).unwrap(),
        Value::from(-1)
    );
    assert_eq!(
        run(&mut core, client.request("sleep", vec![5.into()])).unwrap(),
        Value::from(5)
    );
    match run(&mut core, client.request("nope", vec![])) {
        Err(CallError::Remote(error)) => assert_eq!(error, Value::from("unknown method `nope`")),
        other => panic!("unexpected {:?}", other),
    }
    match run(
        &mut core,
        client.request("add", vec![i64::MAX.into(), 1.into()]),
    ) {
        Err(CallError::Remote(error)) => assert_eq!(
            error,
            Value::from("9223372036854775807 and 1: the result does not fit in 64 bits")
        ),
        other => panic!("unexpected {:?}", other),
    }
    assert_eq!(client.pending_requests(), 0);
}

#[test]
fn ping_gets_a_pong_at_the_clients_handler() {
    struct Pongs(mpsc::UnboundedSender<(String, Vec<Value>)>);
    impl Service for Pongs {
        type Output = Value;
        type Error = Value;
        type RequestFuture = FutureResult<Value, Value>;
        type NotificationFuture = FutureResult<(), ()>;
        fn handle_request(&mut self, _: &str, _: Params) -> Self::RequestFuture {
            future::err(Value::Nil)
        }
        fn handle_notification(
            &mut self,
            method: &str,
            params: Params,
        ) -> Self::NotificationFuture {
            let params = params.into_values();
            self.0.unbounded_send((method.to_owned(), params)).unwrap();
            future::ok(())
        }
    }
    let server = ExampleServer::start();
    let mut core = Core::new().unwrap();
    let (tx, rx) = mpsc::unbounded();
    let connect = Client::builder()
        .handler(move |_peer: Client| Pongs(tx.clone()))
        .connect(&server.addr, &core.handle());
    let client = run(&mut core, connect).unwrap();
    client.notify("ping", vec!["a".into(), 1.into()]).unwrap();
    client.notify("ping", vec!["b".into()]).unwrap();
    let pongs = run(&mut core, rx.take(2).collect()).unwrap();
    assert_eq!(
        pongs,
        vec![
            ("pong".to_owned(), vec!["a".into(), 1.into()]),
            ("pong".to_owned(), vec!["b".into()]),
        ]
    );
}

#[test]
fn ten_thousand_concurrent_requests_each_get_their_own_answer() {
    let server = ExampleServer::start();
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, server.addr);
    let calls: Vec<_> = (0..10_000u64)
        .map(|i| {
            let ms = i % 20;
            client
                .request("sleep", vec![ms.into()])
                .map(move |answer| (ms, answer))
        })
        .collect();
    let answers = run(&mut core, stream::futures_unordered(calls).collect()).unwrap();
    assert_eq!(answers.len(), 10_000);
    for (ms, answer) in answers {
        assert_eq!(answer, Value::from(ms));
    }
    assert_eq!(client.pending_requests(), 0);
}

#[test]
fn handles_cloned_into_several_tasks_share_the_connection() {
    let server = ExampleServer::start();
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, server.addr);
    let (done_tx, done_rx) = mpsc::unbounded();
    for task in 0..4i64 {
        let client = client.clone();
        let done = done_tx.clone();
        let calls = stream::iter_ok::<_, CallError>(0..100i64).for_each(move |i| {
            client
                .request("add", vec![task.into(), i.into()])
                .map(move |sum| assert_eq!(sum, Value::from(task + i)))
        });
        core.handle().spawn(calls.then(move |result| {
            done.unbounded_send(result.is_ok()).unwrap();
            Ok(())
        }));
    }
    drop(done_tx);
    let finished = run(&mut core, done_rx.collect()).unwrap();
    assert_eq!(finished, vec![true; 4]);
}

#[test]
fn a_dying_server_fails_every_pending_request_and_later_calls_fail_fast() {
    let mut server = ExampleServer::start();
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, server.addr);
    let calls: Vec<_> = (0..20)
        .map(|_| client.request("sleep", vec![60_000.into()]))
        .collect();
    // A round trip proves the sleeps reached the server before it dies.
    run(&mut core, client.request("add", vec![1.into(), 1.into()])).unwrap();
    assert_eq!(client.pending_requests(), 20);
    server.kill();
    let results = run(
        &mut core,
        future::join_all(calls.into_iter().map(|call| call.then(Ok::<_, ()>))),
    )
    .unwrap();
    for result in results {
        match result {
            Err(CallError::ConnectionClosed(ClosedReason::PeerClosed)) => {}
            Err(CallError::ConnectionClosed(ClosedReason::Io(_))) => {}
            other => panic!("unexpected {:?}", other),
        }
    }
    assert_eq!(client.pending_requests(), 0);
    assert!(client.closed_reason().is_some());
    match run(&mut core, client.request("add", vec![1.into(), 1.into()])) {
        Err(CallError::ConnectionClosed(_)) => {}
        other => panic!("unexpected {:?}", other),
    }
    assert!(matches!(
        client.notify("ping", vec![]),
        Err(CallError::ConnectionClosed(_))
    ));
}

#[test]
fn a_timed_out_request_is_forgotten_and_its_late_answer_ignored() {
    let server = ExampleServer::start();
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, server.addr);
    let hasty = client.with_timeout(Duration::from_millis(50));
    match run(&mut core, hasty.request("sleep", vec![300.into()])) {
        Err(CallError::Timeout(after)) => assert_eq!(after, Duration::from_millis(50)),
        other => panic!("unexpected {:?}", other),
    }
    assert_eq!(client.pending_requests(), 0);
    // The late answer arrives while this one waits; the connection shrugs it off.
    assert_eq!(
        run(&mut core, client.request("sleep", vec![400.into()])).unwrap(),
        Value::from(400)
    );
    assert_eq!(
        run(&mut core, hasty.request("add", vec![2.into(), 2.into()])).unwrap(),
        Value::from(4)
    );
    assert!(client.closed_reason().is_none());
}

#[test]
fn dropping_a_request_future_forgets_the_request() {
    let server = ExampleServer::start();
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, server.addr);
    let abandoned = client.request("sleep", vec![100.into()]);
    assert_eq!(client.pending_requests(), 1);
    drop(abandoned);
    assert_eq!(client.pending_requests(), 0);
    assert_eq!(
        run(&mut core, client.request("sleep", vec![200.into()])).unwrap(),
        Value::from(200)
    );
}

/// A server-side service that, for `double_via_client [x]`, asks its client to
/// `double [x]` and answers with the client's result.
struct CallsBack {
    peer: Client,
}

impl Service for CallsBack {
    type Output = Value;
    type Error = Value;
    type RequestFuture = BoxFuture<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;
    fn handle_request(&mut self, _method: &str, params: Params) -> Self::RequestFuture {
        let params = params.into_values();
        Box::new(
            self.peer
                .request("double", params)
                .map_err(|err| Value::from(err.to_string())),
        )
    }
    fn handle_notification(&mut self, _: &str, _: Params) -> FutureResult<(), ()> {
        future::ok(())
    }
}

struct Doubler;

impl Service for Doubler {
    type Output = Value;
    type Error = Value;
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;
    fn handle_request(&mut self, method: &str, params: Params) -> Self::RequestFuture {
        let params = params.into_values();
        match (method, params.first().and_then(Value::as_i64)) {
            ("double", Some(x)) => future::ok(Value::from(2 * x)),
            _ => future::err(Value::from("bad call")),
        }
    }
    fn handle_notification(&mut self, _: &str, _: Params) -> FutureResult<(), ()> {
        future::ok(())
    }
}

#[test]
fn a_server_side_service_can_call_its_client_back() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let server = Server::bind(
        &"127.0.0.1:0".parse().unwrap(),
        |peer| CallsBack { peer },
        &handle,
    )
    .unwrap();
    let addr = server.local_addr();
    handle.spawn(server.map_err(|err| panic!("the server failed: {}", err)));
    let connect = Client::builder()
        .handler(|_peer: Client| Doubler)
        .connect(&addr, &handle);
    let client = run(&mut core, connect).unwrap();
    assert_eq!(
        run(
            &mut core,
            client.request("double_via_client", vec![21.into()])
        )
        .unwrap(),
        Value::from(42)
    );
}

/// A raw MessagePack server on its own thread: accepts one connection and hands it to
/// `script`. The receiver completes when the script has run to its end (and fails if
/// the script panicked): run the reactor on it so the client keeps working meanwhile.
fn raw_server<F>(script: F) -> (SocketAddr, oneshot::Receiver<()>)
where
    F: FnOnce(RawPeer) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (done_tx, done_rx) = oneshot::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        script(RawPeer::from_stream(stream));
        let _ = done_tx.send(());
    });
    (addr, done_rx)
}

#[test]
fn client_puts_exactly_these_bytes_on_the_wire() {
    use std::io::Read;
    let (seen_tx, seen_rx) = std_mpsc::channel();
    let (addr, server) = raw_server(move |mut peer| {
        let mut take = |n: usize| {
            let mut buf = vec![0u8; n];
            peer.stream.read_exact(&mut buf).unwrap();
            seen_tx.send(buf).unwrap();
        };
        take(10);
        take(10);
        take(9);
        peer.send_value(&ok_response(0, 3.into()));
        peer.send_value(&ok_response(1, Value::Nil));
    });
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, addr);
    let add = client.request("add", vec![1.into(), 2.into()]);
    let sub = client.request("sub", vec![5.into(), 3.into()]);
    client.notify("ping", vec![7.into()]).unwrap();
    assert_eq!(
        run(&mut core, add.join(sub)).unwrap(),
        (Value::from(3), Value::Nil)
    );
    // [0, 0, "add", [1, 2]]
    assert_eq!(
        seen_rx.recv().unwrap(),
        vec![0x94, 0x00, 0x00, 0xa3, b'a', b'd', b'd', 0x92, 0x01, 0x02]
    );
    // [0, 1, "sub", [5, 3]]: the next id
    assert_eq!(
        seen_rx.recv().unwrap(),
        vec![0x94, 0x00, 0x01, 0xa3, b's', b'u', b'b', 0x92, 0x05, 0x03]
    );
    // [2, "ping", [7]]
    assert_eq!(
        seen_rx.recv().unwrap(),
        vec![0x93, 0x02, 0xa4, b'p', b'i', b'n', b'g', 0x91, 0x07]
    );
    run(&mut core, server).expect("the raw server's script ran to its end");
}

#[test]
fn responses_to_unknown_ids_are_ignored_without_disturbing_the_call() {
    let (addr, server) = raw_server(|mut peer| {
        let req = peer.recv();
        assert_eq!(req, wire::request(0, "add", vec![1.into(), 2.into()]));
        peer.send_value(&ok_response(999, "stray".into()));
        peer.send_value(&ok_response(0, 3.into()));
        let _ = peer.read_until_closed();
    });
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, addr);
    assert_eq!(
        run(&mut core, client.request("add", vec![1.into(), 2.into()])).unwrap(),
        Value::from(3)
    );
    assert!(client.closed_reason().is_none());
    drop(client);
    run(&mut core, server).expect("the raw server's script ran to its end");
}

// ANCHOR: broken_answers
#[test]
fn a_response_of_the_wrong_shape_fails_its_call_and_the_connection_goes_on() {
    let (addr, server) = raw_server(|mut peer| {
        peer.recv();
        // Three items: the msgid is there, the result is not.
        peer.send_value(&Value::Array(vec![1.into(), 0.into(), Value::Nil]));
        peer.recv();
        peer.send_value(&ok_response(1, 3.into()));
        let _ = peer.read_until_closed();
    });
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, addr);
    match run(&mut core, client.request("add", vec![1.into(), 2.into()])) {
        Err(CallError::InvalidResponse(reason)) => assert_eq!(
            reason,
            InvalidMessage::WrongLength {
                kind: "response",
                expected: 4,
                found: 3
            }
        ),
        other => panic!("expected an invalid response, got {:?}", other),
    }
    assert_eq!(
        run(&mut core, client.request("add", vec![1.into(), 2.into()])).unwrap(),
        Value::from(3)
    );
    assert!(client.closed_reason().is_none());
    drop(client);
    run(&mut core, server).expect("the raw server's script ran to its end");
}

#[test]
fn a_response_whose_msgid_cannot_be_read_closes_the_connection_and_fails_every_call() {
    for msgid in [Value::from("0"), Value::from(1u64 << 32)] {
        let broken = Value::Array(vec![1.into(), msgid.clone(), Value::Nil, 3.into()]);
        let (addr, server) = raw_server(move |mut peer| {
            peer.recv();
            peer.recv();
            peer.send_value(&broken);
            let _ = peer.read_until_closed();
        });
        let mut core = Core::new().unwrap();
        let client = connect(&mut core, addr);
        let calls = (0..2).map(|_| client.request("add", vec![1.into(), 2.into()]));
        let outcomes = run(
            &mut core,
            future::join_all(calls.map(|call| call.then(Ok::<_, ()>))),
        )
        .unwrap();
        for outcome in outcomes {
            match outcome {
                Err(CallError::ConnectionClosed(ClosedReason::Protocol(err))) => assert!(
                    matches!(
                        *err,
                        CodecError::UnreadableResponse(InvalidMessage::InvalidMsgId)
                    ),
                    "msgid {}: {}",
                    msgid,
                    err
                ),
                other => panic!(
                    "msgid {}: expected a protocol error, got {:?}",
                    msgid, other
                ),
            }
        }
        run(&mut core, server).expect("the raw server's script ran to its end");
    }
}
// ANCHOR_END: broken_answers

#[test]
fn without_a_handler_an_incoming_request_gets_an_error_response() {
    let (seen_tx, seen_rx) = std_mpsc::channel();
    let (addr, server) = raw_server(move |mut peer| {
        peer.request(7, "hello", vec![]);
        peer.notify("dropped", vec![]);
        // The client's answer to 7 and its own request come in either order.
        let mut seen = vec![peer.recv(), peer.recv()];
        seen.sort_by_key(|value| value.to_string());
        peer.send_value(&ok_response(0, "fine".into()));
        seen_tx.send(seen).unwrap();
        let _ = peer.read_until_closed();
    });
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, addr);
    assert_eq!(
        run(&mut core, client.request("add", vec![])).unwrap(),
        Value::from("fine")
    );
    drop(client);
    let mut seen = seen_rx.recv().unwrap();
    seen.sort_by_key(|value| value.to_string());
    let mut expected = vec![
        wire::request(0, "add", vec![]),
        err_response(
            7,
            Value::from("cannot handle request `hello`: this client installed no handler"),
        ),
    ];
    expected.sort_by_key(|value| value.to_string());
    assert_eq!(seen, expected);
    run(&mut core, server).expect("the raw server's script ran to its end");
}

#[test]
fn dropping_every_handle_closes_the_connection_once_answers_are_in() {
    let (addr, server) = raw_server(|mut peer| {
        let req = peer.recv();
        assert_eq!(req, wire::request(0, "slow", vec![]));
        // The client dropped its handle, but still waits for this answer.
        peer.send_value(&notification("ignored", vec![]));
        peer.send_value(&ok_response(0, "done".into()));
        assert!(
            peer.read_until_closed().is_empty(),
            "the client closes after the answer"
        );
    });
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, addr);
    let call = client.request("slow", vec![]);
    drop(client);
    assert_eq!(run(&mut core, call).unwrap(), Value::from("done"));
    run(&mut core, server).expect("the raw server's script ran to its end");
}

#[test]
fn a_caller_giving_up_after_every_handle_is_gone_closes_the_connection() {
    let (addr, server) = raw_server(|mut peer| {
        assert_eq!(peer.recv(), wire::request(0, "slow", vec![]));
        // No answer: the client gives up, and closes the connection.
        assert!(peer.read_until_closed().is_empty());
    });
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, addr);
    let call = client
        .with_timeout(Duration::from_millis(20))
        .request("slow", vec![]);
    // Every handle is gone; only the call keeps the connection open.
    drop(client);
    match run(&mut core, call) {
        Err(CallError::Timeout(_)) => {}
        other => panic!("unexpected {:?}", other),
    }
    run(&mut core, server).expect("the raw server saw the connection close");
}

#[test]
fn bytes_that_are_not_messagepack_fail_pending_calls_with_a_protocol_error() {
    let (addr, server) = raw_server(|mut peer| {
        assert_eq!(peer.recv(), wire::request(0, "add", vec![]));
        peer.send(&[0xc1]).expect("send 0xc1");
        let _ = peer.read_until_closed();
    });
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, addr);
    match run(&mut core, client.request("add", vec![])) {
        Err(CallError::ConnectionClosed(ClosedReason::Protocol(err))) => match *err {
            rmp_rpc_demo::errors::CodecError::NotMessagePack {
                byte: 0xc1,
                offset: 0,
            } => {}
            ref other => panic!("unexpected {:?}", other),
        },
        other => panic!("unexpected {:?}", other),
    }
    assert!(matches!(
        client.closed_reason(),
        Some(ClosedReason::Protocol(_))
    ));
    run(&mut core, server).unwrap();
}

/// Logs when each notification's future completes; `slow` ones wait 100 ms first.
struct CompletionLog {
    log: mpsc::UnboundedSender<String>,
    handle: tokio_core::reactor::Handle,
}

impl Service for CompletionLog {
    type Output = Value;
    type Error = Value;
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = BoxFuture<(), ()>;
    fn handle_request(&mut self, _: &str, _: Params) -> Self::RequestFuture {
        future::err(Value::Nil)
    }
    fn handle_notification(&mut self, method: &str, _: Params) -> Self::NotificationFuture {
        let log = self.log.clone();
        let name = method.to_owned();
        let wait = if method == "slow" { 100 } else { 0 };
        let timer =
            tokio_core::reactor::Timeout::new(Duration::from_millis(wait), &self.handle).unwrap();
        Box::new(
            timer
                .map_err(|_| ())
                .map(move |()| log.unbounded_send(name).unwrap()),
        )
    }
}

fn notification_completion_order(ordered: bool) -> Vec<String> {
    let (addr, server) = raw_server(|mut peer| {
        peer.notify("slow", vec![]);
        peer.notify("fast", vec![]);
        let _ = peer.read_until_closed();
    });
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let (log, completions) = mpsc::unbounded();
    let config = rmp_rpc_demo::Config {
        ordered_notifications: ordered,
        ..Default::default()
    };
    let connect = Client::builder()
        .config(config)
        .handler(move |_peer: Client| CompletionLog {
            log: log.clone(),
            handle: handle.clone(),
        })
        .connect(&addr, &core.handle());
    let client = run(&mut core, connect).unwrap();
    let order = run(&mut core, completions.take(2).collect()).unwrap();
    drop(client);
    run(&mut core, server).unwrap();
    order
}

#[test]
fn notification_futures_run_concurrently_by_default() {
    assert_eq!(notification_completion_order(false), vec!["fast", "slow"]);
}

#[test]
fn ordered_notifications_complete_in_arrival_order() {
    assert_eq!(notification_completion_order(true), vec!["slow", "fast"]);
}

#[test]
fn client_handles_can_move_to_other_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<Client>();
    assert_send::<rmp_rpc_demo::ResponseFuture>();
    assert_send::<CallError>();
}

#[test]
fn max_outgoing_depth_refuses_calls_nested_too_deep_before_they_leave() {
    let (addr, server) = raw_server(|mut peer| {
        // Only the call that fits arrives.
        assert_eq!(
            peer.recv(),
            wire::request(0, "fits", vec![nested(30, Value::Nil)])
        );
        peer.send_value(&ok_response(0, Value::Nil));
        assert!(peer.read_until_closed().is_empty());
    });
    let mut core = Core::new().unwrap();
    let config = rmp_rpc_demo::Config {
        max_outgoing_depth: Some(32),
        ..Default::default()
    };
    let connect = Client::builder()
        .config(config)
        .connect(&addr, &core.handle());
    let client = run(&mut core, connect).unwrap();
    // [0, id, "m", [x]]: the message is level 1, the params level 2, so x may nest 30.
    match run(
        &mut core,
        client.request("too_deep", vec![nested(31, Value::Nil)]),
    ) {
        Err(CallError::Unsendable(why)) => assert_eq!(
            why,
            "it nests 33 levels deep, more than Config::max_outgoing_depth (32)"
        ),
        other => panic!("unexpected {:?}", other),
    }
    assert!(matches!(
        client.notify("too_deep", vec![nested(31, Value::Nil)]),
        Err(CallError::Unsendable(_))
    ));
    assert_eq!(
        run(
            &mut core,
            client.request("fits", vec![nested(30, Value::Nil)])
        )
        .unwrap(),
        Value::Nil
    );
    drop(client);
    run(&mut core, server).unwrap();
}
