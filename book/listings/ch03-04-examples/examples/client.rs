// ANCHOR: all
//! The example client: calls the example server, and pings it.
//!
//! Start the server first (`cargo run --example server`), then:
//!
//! ```console
//! $ cargo run --example client -- 127.0.0.1:54321
//! ```
//!
//! The address is optional (that one is the default). Without a server, the client says
//! so and exits with status 1.

use std::env;
use std::net::SocketAddr;
use std::process;
use std::time::Duration;

use futures::future::{self, Either, FutureResult};
use futures::sync::mpsc;
use futures::{Future, Stream};
use minirpc::client::{connect, CallError, Client};
use minirpc::service::Service;
use rmpv::Value;
use tokio_core::reactor::{Core, Timeout};

/// Where the client connects when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:54321";
/// How long to wait for the server's `pong`.
const PONG_TIMEOUT: Duration = Duration::from_secs(5);

// ANCHOR: pongs
/// What the server sends this client: `pong`s go to `main`, requests are refused.
struct Pongs {
    pongs: mpsc::UnboundedSender<Vec<Value>>,
}

impl Service for Pongs {
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, _params: Vec<Value>) -> Self::RequestFuture {
        future::err(format!("this client answers no requests (got `{}`)", method).into())
    }

    fn handle_notification(&mut self, method: &str, params: Vec<Value>) -> FutureResult<(), ()> {
        if method == "pong" {
            // `main` may have stopped waiting: then the pong is of no use.
            let _ = self.pongs.unbounded_send(params);
        }
        future::ok(())
    }
}
// ANCHOR_END: pongs

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

    // ANCHOR: connect
    let (pongs_sent, pongs) = mpsc::unbounded();
    let connecting = connect(&addr, &handle, move |_server: Client| Pongs {
        pongs: pongs_sent,
    });
    let client = core.run(connecting).unwrap_or_else(|err| {
        fail(&format!(
            "cannot connect to {}: {} (is the server running? start it with `cargo run --example server`)",
            addr, err
        ))
    });
    // ANCHOR_END: connect

    // ANCHOR: calls
    let sum = core.run(client.request("add", vec![Value::from(1), Value::from(2)]));
    println!("add [1, 2] = {}", answer(sum));
    let difference = core.run(client.request("sub", vec![Value::from(10), Value::from(4)]));
    println!("sub [10, 4] = {}", answer(difference));
    match core.run(client.request("add", vec![Value::from("one"), Value::from(2)])) {
        Err(err @ CallError::Remote(_)) => println!("add [\"one\", 2] failed as expected: {}", err),
        other => fail(&format!(
            "add [\"one\", 2] should have failed, got {:?}",
            other
        )),
    }
    // ANCHOR_END: calls

    // ANCHOR: ping
    let args = vec![Value::from(1), Value::from("hello")];
    if let Err(err) = client.notify("ping", args.clone()) {
        fail(&err.to_string());
    }
    let timeout = Timeout::new(PONG_TIMEOUT, &handle)
        .unwrap_or_else(|err| fail(&format!("cannot start a timer: {}", err)));
    let first_pong = pongs.into_future().map_err(|_| ());
    match core.run(first_pong.select2(timeout)) {
        Ok(Either::A(((Some(pong), _), _))) => {
            println!("ping {} -> pong {}", Value::from(args), Value::from(pong))
        }
        _ => fail(&format!("no pong within {} s", PONG_TIMEOUT.as_secs())),
    }
    // ANCHOR_END: ping
}

/// The result of a call, or the end of the program.
fn answer(result: Result<Value, CallError>) -> Value {
    result.unwrap_or_else(|err| fail(&err.to_string()))
}

/// Prints `message` and ends the program with status 1.
fn fail(message: &str) -> ! {
    eprintln!("error: {}", message);
    process::exit(1);
}
// ANCHOR_END: all
