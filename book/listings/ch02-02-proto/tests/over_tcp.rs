// ANCHOR: all
//! The protocol, driven by tokio-proto over a real TCP connection.

use std::io;
use std::time::Duration;

use futures::future::{self, Either, FutureResult};
use futures::{Future, Stream};
use minirpc::message::{Request, Response};
use minirpc::protocol::Proto;
use rmpv::Value;
use tokio_core::net::TcpListener;
use tokio_core::reactor::{Core, Timeout};
use tokio_proto::{BindServer, TcpClient};
use tokio_service::Service;

// ANCHOR: service
/// Answers every request with the sum of its two integer params.
struct Adder;

impl Service for Adder {
    type Request = Request;
    type Response = Response;
    type Error = io::Error;
    type Future = FutureResult<Response, io::Error>;

    fn call(&self, request: Request) -> Self::Future {
        let sum = match request.params.as_slice() {
            [a, b] => a
                .as_i64()
                .zip(b.as_i64())
                .and_then(|(a, b)| a.checked_add(b)),
            _ => None,
        };
        let result = sum
            .map(Value::from)
            .ok_or_else(|| Value::from("add takes two integers"));
        future::ok(Response {
            id: request.id,
            result,
        })
    }
}
// ANCHOR_END: service

// ANCHOR: test
fn add(a: i64, b: i64) -> Request {
    Request {
        // tokio-proto replaces it with an id of its own.
        id: 0,
        method: "add".into(),
        params: vec![Value::from(a), Value::from(b)],
    }
}

#[test]
fn requests_sent_at_once_each_get_their_own_answer() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap(), &handle).unwrap();
    let addr = listener.local_addr().unwrap();

    let server_handle = handle.clone();
    let server = listener.incoming().for_each(move |(socket, _)| {
        Proto.bind_server(&server_handle, socket, Adder);
        Ok(())
    });
    handle.spawn(server.map_err(|err| panic!("accept failed: {}", err)));

    let calls = TcpClient::new(Proto)
        .connect(&addr, &handle)
        .and_then(|client| {
            // Three requests in flight on one connection.
            let calls = vec![
                client.call(add(1, 2)),
                client.call(add(40, 2)),
                client.call(add(i64::MAX, 1)),
            ];
            future::join_all(calls)
        });
    let deadline = Timeout::new(Duration::from_secs(10), &handle).unwrap();
    let responses = match core.run(calls.select2(deadline)) {
        Ok(Either::A((responses, _))) => responses,
        Ok(Either::B(_)) => panic!("no answer within 10 s"),
        Err(Either::A((err, _))) | Err(Either::B((err, _))) => panic!("{}", err),
    };
    let results: Vec<_> = responses.into_iter().map(|r| r.result).collect();
    assert_eq!(
        results,
        vec![
            Ok(Value::from(3)),
            Ok(Value::from(42)),
            Err(Value::from("add takes two integers"))
        ]
    );
}
// ANCHOR_END: test
// ANCHOR_END: all
