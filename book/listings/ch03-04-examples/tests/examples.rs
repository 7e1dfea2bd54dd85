// ANCHOR: all
//! The example server and client keep their contract, over TCP on 127.0.0.1.

mod support;

use std::net::SocketAddr;

use futures::future::{self, Either, FutureResult};
use futures::sync::mpsc;
use futures::{Future, Stream};
use minirpc::client::{connect, CallError, Client};
use minirpc::service::Service;
use rmpv::Value;
use support::{example, nobody_listens, run_to_end, Server, PATIENCE};
use tokio_core::reactor::{Core, Timeout};

// ANCHOR: helpers
/// Passes on the `pong`s the server sends.
struct Pongs(mpsc::UnboundedSender<Vec<Value>>);

impl Service for Pongs {
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, _params: Vec<Value>) -> Self::RequestFuture {
        future::err(format!("no method `{}`", method).into())
    }

    fn handle_notification(&mut self, method: &str, params: Vec<Value>) -> FutureResult<(), ()> {
        if method == "pong" {
            let _ = self.0.unbounded_send(params);
        }
        future::ok(())
    }
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

/// Calls `method(params)` on the server at the other end of `client`.
fn call(
    core: &mut Core,
    client: &Client,
    method: &str,
    params: Vec<i64>,
) -> Result<Value, CallError> {
    let params = params.into_iter().map(Value::from).collect();
    run(core, client.request(method, params))
}

/// What the server answers with an error.
fn remote(error: &str) -> Result<Value, CallError> {
    Err(CallError::Remote(Value::from(error)))
}
// ANCHOR_END: helpers

// ANCHOR: test_contract
#[test]
fn the_server_answers_as_the_contract_says() {
    let server = Server::start();
    let addr: SocketAddr = server.addr.parse().unwrap();
    let mut core = Core::new().unwrap();
    let (pongs_sent, pongs) = mpsc::unbounded();
    let connecting = connect(&addr, &core.handle(), |_server| Pongs(pongs_sent));
    let client = run(&mut core, connecting).unwrap();
    let c = &client;

    assert_eq!(call(&mut core, c, "add", vec![1, 2]), Ok(Value::from(3)));
    assert_eq!(call(&mut core, c, "sub", vec![10, 4]), Ok(Value::from(6)));
    assert_eq!(
        call(&mut core, c, "sub", vec![i64::MIN, 0]),
        Ok(Value::from(i64::MIN))
    );
    let overflow = "add 9223372036854775807 and 1: the result does not fit in 64 bits";
    assert_eq!(
        call(&mut core, c, "add", vec![i64::MAX, 1]),
        remote(overflow)
    );
    let arity = "sub: expected 2 arguments, got 1";
    assert_eq!(call(&mut core, c, "sub", vec![1]), remote(arity));
    let not_integers = client.request("add", vec![Value::from("one"), Value::from(2)]);
    let expected = "add: expected two integers between -2^63 and 2^63 - 1";
    assert_eq!(run(&mut core, not_integers), remote(expected));
    assert_eq!(
        call(&mut core, c, "mul", vec![2, 3]),
        remote("unknown method `mul`")
    );

    // A slow request does not hold up a fast one: their answers come out of order.
    let slow = client.request("sleep", vec![Value::from(300)]);
    let fast = client.request("add", vec![Value::from(1), Value::from(1)]);
    match run(&mut core, slow.select2(fast)) {
        Ok(Either::B((sum, slow))) => {
            assert_eq!(sum, Value::from(2));
            assert_eq!(run(&mut core, slow), Ok(Value::from(300)));
        }
        _ => panic!("`sleep [300]` was answered before `add [1, 1]`"),
    }

    client
        .notify("ping", vec![Value::from("x"), Value::from(7)])
        .unwrap();
    let (pong, _) = run(&mut core, pongs.into_future()).map_err(|_| ()).unwrap();
    assert_eq!(pong, Some(vec![Value::from("x"), Value::from(7)]));
}
// ANCHOR_END: test_contract

// ANCHOR: test_client
#[test]
fn the_client_calls_the_server_and_gets_its_pong() {
    let server = Server::start();
    let output = run_to_end(example("client"), &[&server.addr]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "the client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.lines().next(), Some("add [1, 2] = 3"));
    assert_eq!(
        stdout.lines().last(),
        Some(r#"ping [1, "hello"] -> pong [1, "hello"]"#)
    );
}

#[test]
fn the_client_says_when_nobody_listens() {
    let (addr, _held, _accepted) = nobody_listens();
    let output = run_to_end(example("client"), &[&addr]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.starts_with(&format!("error: cannot connect to {}", addr)),
        "{}",
        stderr
    );
}
// ANCHOR_END: test_client
// ANCHOR_END: all
