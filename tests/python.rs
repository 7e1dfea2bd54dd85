//! Interoperability with a peer written in Python on PyPI's `msgpack` (raw sockets, none
//! of our code): `tests/peers/client.py` as a client of our example server, and
//! `tests/peers/server.py` as a server for our client, each with pipelined requests
//! answered out of order.
//!
//! They run the `python3` found first on PATH. `./test.sh` puts one with msgpack there
//! (a virtualenv under target/py); without it, the tests fail with a message that says so.

mod common;

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::process::{KillOnDrop, Lines};
use common::python::{peer_script, require_python_msgpack};
use common::reactor::{recv_on, turn_for};
use common::{run, ExampleServer, HANG};
use futures::future::{self, FutureResult};
use rmp_rpc_demo::{CallError, Client, Params, Service, Value};
use tokio_core::reactor::Core;

// ---------------------------------------------------------------------------------------
// Python is the client of our example server
// ---------------------------------------------------------------------------------------

#[test]
fn python_client_pipelines_requests_to_our_example_server_and_gets_answers_out_of_order() {
    require_python_msgpack();
    let server = ExampleServer::start();
    let output = Command::new("python3")
        .arg(peer_script("client.py"))
        .arg(server.addr.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client.py failed ({}): {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        stdout
    );
    let mut lines: Vec<&str> = stdout.lines().collect();
    // The pong answers at once; where it falls among the other immediate answers depends
    // on how the server's reads were cut. It comes before both sleeps.
    let pong = lines
        .iter()
        .position(|l| *l == r#"notification pong ["from python", 7]"#)
        .unwrap_or_else(|| panic!("no pong in {:?}", lines));
    lines.remove(pong);
    assert!(pong < 7, "the pong came after a sleep: {:?}", stdout);
    assert_eq!(
        lines,
        vec![
            "response 3 ok 3",
            "response 4 ok -3",
            r#"response 5 error "unknown method `frobnicate`""#,
            r#"response 6 error "add expects two 64-bit signed integers, got [\"x\", 1]""#,
            r#"response 7 error "4611686018427387904 and 4611686018427387904: the result does not fit in 64 bits""#,
            "response 8 ok -9223372036854775808",
            // The two sleeps were sent first, and are answered last, shortest first.
            "response 2 ok 100",
            "response 1 ok 300",
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Python is the server of our client
// ---------------------------------------------------------------------------------------

/// Our client's handler: answers `double [n]`, passes notifications to the test.
struct Doubler {
    notifications: mpsc::Sender<(String, Vec<Value>)>,
}

impl Service for Doubler {
    type Output = Value;
    type Error = Value;
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Params) -> Self::RequestFuture {
        let params = params.into_values();
        match (method, params.as_slice()) {
            ("double", [n]) => match n.as_i64().and_then(|n| n.checked_mul(2)) {
                Some(doubled) => future::ok(doubled.into()),
                None => future::err("expected an integer".into()),
            },
            _ => future::err(format!("no method {}", method).into()),
        }
    }

    fn handle_notification(&mut self, method: &str, params: Params) -> FutureResult<(), ()> {
        let params = params.into_values();
        let _ = self.notifications.send((method.to_string(), params));
        future::ok(())
    }
}

#[test]
fn our_client_talks_to_a_python_server() {
    require_python_msgpack();
    let mut child = Command::new("python3")
        .arg(peer_script("server.py"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    let stdout = Lines::new(child.stdout.take().expect("piped"));
    let stderr = Lines::new(child.stderr.take().expect("piped"));
    let mut python = KillOnDrop(child);
    let first = stdout.next_within(HANG).unwrap_or_else(|| {
        panic!(
            "server.py printed nothing; stderr: {:?}",
            stderr.rest_within(Duration::from_millis(500))
        )
    });
    let addr = first
        .strip_prefix("listening on ")
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {:?}", first));

    let mut core = Core::new().expect("reactor");
    let (notifications, received) = mpsc::channel();
    let connect = Client::builder()
        .timeout(HANG)
        .handler(move |_peer: Client| Doubler {
            notifications: notifications.clone(),
        })
        .connect(&addr, &core.handle());
    let client = run(&mut core, connect).expect("connect to server.py");

    // Every MessagePack type survives the trip through Python and back.
    let value = Value::Map(vec![
        ("nil".into(), Value::Nil),
        ("bool".into(), true.into()),
        ("small".into(), (-5).into()),
        ("big".into(), u64::MAX.into()),
        ("min".into(), i64::MIN.into()),
        ("float".into(), 2.5.into()),
        ("text".into(), "héllo".into()),
        ("bytes".into(), Value::Binary(vec![0, 159, 255])),
        (
            "list".into(),
            Value::Array(vec![1.into(), Value::Array(vec![])]),
        ),
        ("ext".into(), Value::Ext(5, vec![1, 2, 3])),
    ]);
    let echoed = run(&mut core, client.request("echo", vec![value.clone()]));
    assert_eq!(echoed.unwrap(), value);
    // A 1 MiB string crosses in many reads, both ways.
    let long = Value::from("x".repeat(1 << 20));
    let echoed = run(&mut core, client.request("echo", vec![long.clone()]));
    assert_eq!(echoed.unwrap(), long);

    match run(&mut core, client.request("fail", vec![])) {
        Err(CallError::Remote(error)) => assert_eq!(error, Value::from("python says no")),
        other => panic!("expected an error, got {:?}", other),
    }
    match run(&mut core, client.request("frobnicate", vec![])) {
        Err(CallError::Remote(error)) => assert_eq!(error, Value::from("no method frobnicate")),
        other => panic!("expected an error, got {:?}", other),
    }

    // Three requests in flight; Python answers once it has all three, last one first.
    let answers = future::join_all(
        ["a", "b", "c"]
            .iter()
            .map(|tag| client.request("later", vec![(*tag).into()])),
    );
    let answers = run(&mut core, answers).expect("three answers");
    assert_eq!(answers, vec![Value::from("a"), "b".into(), "c".into()]);

    // Python asks us while we wait for its answer.
    let call = client.request(
        "call_me_back",
        vec!["double".into(), Value::Array(vec![21.into()])],
    );
    assert_eq!(run(&mut core, call).unwrap(), Value::from(42));
    let call = client.request(
        "call_me_back",
        vec!["triple".into(), Value::Array(vec![1.into()])],
    );
    let expected = Value::Map(vec![("error".into(), "no method triple".into())]);
    assert_eq!(run(&mut core, call).unwrap(), expected);

    // Notifications both ways, in order.
    client.notify("notify_me", vec![3.into()]).unwrap();
    for i in 0..3 {
        assert_eq!(
            recv_on(&mut core, &received),
            ("tick".to_string(), vec![Value::from(i)])
        );
    }

    // Closing our last handle closes the connection; Python then exits by itself.
    drop(client);
    turn_for(&mut core, Duration::from_millis(100));
    let status = python.wait_exit(HANG).expect("server.py exited");
    let transcript = stdout.rest_within(Duration::from_secs(1));
    assert!(
        status.success(),
        "server.py failed ({}): {:?}",
        status,
        stderr.rest_within(Duration::from_millis(500))
    );

    // What Python saw and sent, for the parts where order matters.
    let lines: Vec<&str> = transcript
        .iter()
        .map(String::as_str)
        .filter(|line| !line.contains("xxxxxxxx"))
        .collect();
    let later_ids: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("got [0,") && l.contains("\"later\""))
        .copied()
        .collect();
    assert_eq!(later_ids.len(), 3, "{:#?}", lines);
    let sent_later: Vec<&str> = lines
        .iter()
        .filter(|l| {
            l.starts_with("sent [1,")
                && (l.ends_with("\"a\"]") || l.ends_with("\"b\"]") || l.ends_with("\"c\"]"))
        })
        .copied()
        .collect();
    assert_eq!(sent_later.len(), 3, "{:#?}", lines);
    assert!(
        sent_later[0].ends_with("\"c\"]") && sent_later[2].ends_with("\"a\"]"),
        "{:#?}",
        sent_later
    );
    assert!(
        lines.contains(&r#"got [1, 1000, null, 42]"#),
        "our answer to Python's request: {:#?}",
        lines
    );
    assert!(
        lines.contains(&r#"got [1, 1001, "no method triple", null]"#),
        "our error answer to Python's request: {:#?}",
        lines
    );
    assert!(
        lines.contains(&r#"got [2, "notify_me", [3]]"#),
        "{:#?}",
        lines
    );
}
