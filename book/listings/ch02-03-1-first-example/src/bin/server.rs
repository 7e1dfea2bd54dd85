// ANCHOR: all
//! A first example server: `add` and `sub`, as a tokio-service `Service` that
//! tokio-proto's `TcpServer` runs.
//!
//! ```text
//! cargo run --bin server -- [ADDR]
//! ```
//!
//! It serves on ADDR (default 127.0.0.1:54321) until you stop it with Ctrl-C. It
//! prints nothing: `TcpServer` does not tell when it is listening.

use std::env;
use std::io;
use std::net::SocketAddr;
use std::process;

use futures::future::{self, FutureResult};
use minirpc::message::{Request, Response};
use minirpc::protocol::Proto;
use rmpv::Value;
use tokio_proto::TcpServer;
use tokio_service::Service;

/// Where the server listens when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:54321";

// ANCHOR: calculator
/// Adds and subtracts 64-bit signed integers.
struct Calculator;

impl Service for Calculator {
    type Request = Request;
    type Response = Response;
    type Error = io::Error;
    type Future = FutureResult<Response, io::Error>;

    fn call(&self, request: Request) -> Self::Future {
        let result = calculate(&request.method, &request.params);
        future::ok(Response {
            id: request.id,
            result: result.map(Value::from).map_err(Value::from),
        })
    }
}
// ANCHOR_END: calculator

// ANCHOR: calculate
/// `add` or `sub` of two 64-bit signed integers, or why not.
fn calculate(method: &str, params: &[Value]) -> Result<i64, String> {
    let operation: fn(i64, i64) -> Option<i64> = match method {
        "add" => i64::checked_add,
        "sub" => i64::checked_sub,
        _ => return Err(format!("unknown method {:?}", method)),
    };
    match params {
        [a, b] => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => operation(a, b)
                .ok_or_else(|| format!("{}: the result does not fit in 64 bits", method)),
            _ => Err(format!("{} takes two integers", method)),
        },
        _ => Err(format!("{} takes 2 params, not {}", method, params.len())),
    }
}
// ANCHOR_END: calculate

// ANCHOR: main
fn main() {
    let addr = env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let addr: SocketAddr = match addr.parse() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("server: {}: {}", addr, err);
            process::exit(1);
        }
    };
    // A new `Calculator` for each connection; this call never returns.
    TcpServer::new(Proto, addr).serve(|| Ok(Calculator));
}
// ANCHOR_END: main

// ANCHOR: tests
#[cfg(test)]
mod tests {
    use super::*;
    use futures::Future;

    /// Calls the service directly, without any network, and checks the id comes back.
    fn call(method: &str, params: Vec<Value>) -> Result<Value, Value> {
        let request = Request {
            id: 7,
            method: method.to_owned(),
            params,
        };
        let response = Calculator.call(request).wait().unwrap();
        assert_eq!(response.id, 7);
        response.result
    }

    #[test]
    fn calculator_adds_and_subtracts() {
        assert_eq!(
            call("add", vec![Value::from(40), Value::from(2)]),
            Ok(Value::from(42))
        );
        assert_eq!(
            call("sub", vec![Value::from(40), Value::from(2)]),
            Ok(Value::from(38))
        );
    }

    #[test]
    fn calculator_answers_what_it_cannot_do_with_an_error() {
        let error = |text: &str| Err(Value::from(text));
        assert_eq!(
            call("mul", vec![Value::from(6), Value::from(7)]),
            error("unknown method \"mul\"")
        );
        assert_eq!(
            call("add", vec![Value::from(i64::MAX), Value::from(1)]),
            error("add: the result does not fit in 64 bits")
        );
        assert_eq!(
            call("sub", vec![Value::from("x"), Value::from(1)]),
            error("sub takes two integers")
        );
        assert_eq!(call("add", vec![]), error("add takes 2 params, not 0"));
    }
}
// ANCHOR_END: tests
// ANCHOR_END: all
