// ANCHOR: all
//! The example server of chapter 2.3: `add` and `sub` over MessagePack-RPC.
//!
//! ```text
//! cargo run -p ch02-03-service --bin server -- [ADDR]
//! ```
//!
//! It listens on ADDR (default 127.0.0.1:54321), prints `listening on ADDR`, and serves
//! until you stop it with Ctrl-C.

use std::env;
use std::error::Error;
use std::net::SocketAddr;
use std::process;

use ch02_03_service::server::{serve, Handler, Reply};
use futures::future;
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
        let result = match method {
            "add" => two_integers(method, params)
                .and_then(|(a, b)| a.checked_add(b).ok_or_else(|| overflow(method))),
            "sub" => two_integers(method, params)
                .and_then(|(a, b)| a.checked_sub(b).ok_or_else(|| overflow(method))),
            _ => Err(format!("unknown method {:?}", method)),
        };
        Box::new(future::result(result.map(Value::from).map_err(Value::from)))
    }
}

fn two_integers(method: &str, params: &[Value]) -> Result<(i64, i64), String> {
    match params {
        [a, b] => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(format!("{} takes two integers", method)),
        },
        _ => Err(format!("{} takes 2 params, not {}", method, params.len())),
    }
}

fn overflow(method: &str) -> String {
    format!("{}: the result does not fit in 64 bits", method)
}
// ANCHOR_END: calculator

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
// ANCHOR_END: all
