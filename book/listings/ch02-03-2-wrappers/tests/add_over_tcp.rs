// ANCHOR: all
//! The server API and the client, talking to each other over 127.0.0.1.

use std::time::Duration;

use futures::future::{self, Either};
use futures::Future;
use minirpc::client::Client;
use minirpc::server::{serve, Handler, Reply};
use rmpv::Value;
use tokio_core::net::TcpListener;
use tokio_core::reactor::{Core, Timeout};

/// Answers `add` with the sum of two small integers; fails every other method.
struct Adder;

impl Handler for Adder {
    fn handle_request(&self, method: &str, params: &[Value]) -> Reply {
        let sum = match (method, params) {
            ("add", [a, b]) => a.as_i64().zip(b.as_i64()).map(|(a, b)| a + b),
            _ => None,
        };
        Box::new(future::result(
            sum.map(Value::from)
                .ok_or_else(|| Value::from(format!("cannot {}", method))),
        ))
    }
}

#[test]
fn the_client_gets_the_result_or_the_error_the_handler_chose() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap(), &handle).unwrap();
    let addr = listener.local_addr().unwrap();
    handle.spawn(serve(listener, &handle, || Adder).map_err(|err| panic!("server: {}", err)));

    let calls = Client::connect(&addr, &handle).and_then(|client| {
        client
            .request("add", vec![Value::from(20), Value::from(22)])
            .join(client.request("div", vec![]))
    });
    let deadline = Timeout::new(Duration::from_secs(10), &handle).unwrap();
    let answers = match core.run(calls.select2(deadline)) {
        Ok(Either::A((answers, _))) => answers,
        Ok(Either::B(_)) => panic!("no answer within 10 s"),
        Err(Either::A((err, _))) | Err(Either::B((err, _))) => panic!("{}", err),
    };
    assert_eq!(
        answers,
        (Ok(Value::from(42)), Err(Value::from("cannot div")))
    );
}
// ANCHOR_END: all
