// ANCHOR: all
//! The example server: `add`, `sub`, `sleep`, and a `pong` for each `ping`.
//!
//! ```console
//! $ cargo run --example server -- 127.0.0.1:54321
//! listening on 127.0.0.1:54321
//! ```
//!
//! The address is optional (that one is the default). Then run the client beside it:
//! `cargo run --example client`.

use std::env;
use std::net::SocketAddr;
use std::process;
use std::time::Duration;

use futures::future::{self, FutureResult};
use futures::Future;
use minirpc::client::Client;
use minirpc::server::serve;
use minirpc::service::Service;
use rmpv::Value;
use tokio_core::net::TcpListener;
use tokio_core::reactor::{Core, Handle, Timeout};

/// Where the server listens when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:54321";
/// The longest `sleep`: a peer must not park a handler for ever, or overflow the timer.
const MAX_SLEEP_MS: u64 = 10 * 60 * 1000;

// ANCHOR: service
/// An answer, now or later.
type Reply = Box<dyn Future<Item = Value, Error = Value>>;

/// The service of one connection.
struct Calculator {
    /// The client at the other end, to send it `pong`s.
    peer: Client,
    /// Arms the timers of `sleep`.
    handle: Handle,
}

impl Service for Calculator {
    type RequestFuture = Reply;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Vec<Value>) -> Reply {
        match method {
            "add" => Box::new(future::result(arithmetic("add", &params, i64::checked_add))),
            "sub" => Box::new(future::result(arithmetic("sub", &params, i64::checked_sub))),
            "sleep" => self.sleep(&params),
            _ => Box::new(future::err(format!("unknown method `{}`", method).into())),
        }
    }

    fn handle_notification(&mut self, method: &str, params: Vec<Value>) -> FutureResult<(), ()> {
        if method == "ping" {
            // Fails only when the connection is closing: then nobody hears the pong.
            let _ = self.peer.notify("pong", params);
        }
        future::ok(())
    }
}
// ANCHOR_END: service

// ANCHOR: sleep
impl Calculator {
    /// Answers `sleep [ms]` with `ms`, `ms` milliseconds from now.
    fn sleep(&self, params: &[Value]) -> Reply {
        let ms = match params {
            [ms] => ms.as_u64().filter(|&ms| ms <= MAX_SLEEP_MS),
            _ => None,
        };
        let ms = match ms {
            Some(ms) => ms,
            None => {
                let expected = format!(
                    "sleep: expected one number of milliseconds up to {}",
                    MAX_SLEEP_MS
                );
                return Box::new(future::err(expected.into()));
            }
        };
        match Timeout::new(Duration::from_millis(ms), &self.handle) {
            Ok(timer) => Box::new(
                timer
                    .map(move |()| Value::from(ms))
                    .map_err(|err| format!("sleep: the timer failed: {}", err).into()),
            ),
            Err(err) => Box::new(future::err(format!("sleep: no timer: {}", err).into())),
        }
    }
}
// ANCHOR_END: sleep

// ANCHOR: arithmetic
/// `op(a, b)` for `params = [a, b]`, or an error that says what `method` expects.
fn arithmetic(
    method: &str,
    params: &[Value],
    op: fn(i64, i64) -> Option<i64>,
) -> Result<Value, Value> {
    let (a, b) = match params {
        [a, b] => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => (a, b),
            _ => {
                return Err(format!(
                    "{}: expected two integers between -2^63 and 2^63 - 1",
                    method
                )
                .into())
            }
        },
        _ => return Err(format!("{}: expected 2 arguments, got {}", method, params.len()).into()),
    };
    match op(a, b) {
        Some(result) => Ok(Value::from(result)),
        None => Err(format!(
            "{} {} and {}: the result does not fit in 64 bits",
            method, a, b
        )
        .into()),
    }
}
// ANCHOR_END: arithmetic

// ANCHOR: main
fn main() {
    let arg = env::args().nth(1);
    let addr_text = arg.as_deref().unwrap_or(DEFAULT_ADDR);
    let addr: SocketAddr = match addr_text.parse() {
        Ok(addr) => addr,
        Err(_) => fail(&format!(
            "`{}` is not a socket address; give one like {}",
            addr_text, DEFAULT_ADDR
        )),
    };
    let mut core =
        Core::new().unwrap_or_else(|err| fail(&format!("cannot start the reactor: {}", err)));
    let handle = core.handle();
    let listener = TcpListener::bind(&addr, &handle)
        .unwrap_or_else(|err| fail(&format!("cannot listen on {}: {}", addr, err)));
    let local_addr = listener
        .local_addr()
        .unwrap_or_else(|err| fail(&err.to_string()));
    println!("listening on {}", local_addr);

    let timers = handle.clone();
    let server = serve(listener, &handle, move |peer| Calculator {
        peer,
        handle: timers.clone(),
    });
    if let Err(err) = core.run(server) {
        fail(&format!("the server stopped: {}", err));
    }
}

/// Prints `message` and ends the program with status 1.
fn fail(message: &str) -> ! {
    eprintln!("error: {}", message);
    process::exit(1);
}
// ANCHOR_END: main
// ANCHOR_END: all
