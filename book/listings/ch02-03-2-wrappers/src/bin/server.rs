// ANCHOR: all
//! The example server: `add` and `sub` over MessagePack-RPC.
//!
//! ```text
//! cargo run --bin server -- [ADDR]
//! ```
//!
//! It listens on ADDR (default 127.0.0.1:54321), prints `listening on ADDR`, and serves
//! until you stop it with Ctrl-C.

use std::env;
use std::error::Error;
use std::net::SocketAddr;
use std::process;

use futures::future;
use minirpc::server::{serve, Handler, Reply};
use rmpv::Value;
use tokio_core::net::TcpListener;
use tokio_core::reactor::Core;

/// Where the server listens when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:54321";

// ANCHOR: calculator
/// Adds and subtracts 64-bit signed integers.
struct Calculator;

impl Handler for Calculator {
    fn handle_request(&self, method: &str, params: &[Value]) -> Reply {
        let result = calculate(method, params);
        Box::new(future::result(result.map(Value::from).map_err(Value::from)))
    }
}
// ANCHOR_END: calculator

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

// ANCHOR: main
fn main() {
    let addr = env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    if let Err(err) = run(&addr) {
        eprintln!("server: {}", err);
        process::exit(1);
    }
}

fn run(addr: &str) -> Result<(), Box<dyn Error>> {
    let addr: SocketAddr = addr.parse()?;
    let mut core = Core::new()?;
    let handle = core.handle();
    let listener = TcpListener::bind(&addr, &handle)?;
    println!("listening on {}", listener.local_addr()?);
    core.run(serve(listener, &handle, || Calculator))?;
    Ok(())
}
// ANCHOR_END: main

// ANCHOR: tests
#[cfg(test)]
mod tests {
    use super::*;
    use futures::Future;

    #[test]
    fn calculator_answers_with_a_result_or_an_error() {
        let answer = |method: &str, a: i64, b: i64| {
            Calculator
                .handle_request(method, &[Value::from(a), Value::from(b)])
                .wait()
        };
        assert_eq!(answer("add", 40, 2), Ok(Value::from(42)));
        assert_eq!(answer("sub", 40, 2), Ok(Value::from(38)));
        assert_eq!(
            answer("mul", 6, 7),
            Err(Value::from("unknown method \"mul\""))
        );
    }
}
// ANCHOR_END: tests
// ANCHOR_END: all
