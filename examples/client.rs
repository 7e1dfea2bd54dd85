//! The example client: talks to the example server.
//!
//! Start the server first (`cargo run --example server`), then, in a second terminal:
//!
//! ```console
//! $ cargo run --example client -- 127.0.0.1:54321
//! add [1, 2] = 3
//! sub [10, 4] = 6
//! add ["one", 2] failed as expected: the peer answered with an error: "add expects two 64-bit signed integers, got [\"one\", 2]"
//! ping [1, "hello"] -> pong [1, "hello"]
//! ```
//!
//! The address is optional (that one is the default); one with a `/` in it is the path of
//! a Unix domain socket (`cargo run --example server -- /tmp/demo.sock`, then
//! `cargo run --example client -- /tmp/demo.sock`). Without a server, it prints what
//! went wrong and exits with status 1.

use std::env;
use std::net::SocketAddr;
use std::process;
use std::time::Duration;

use futures::future::{self, FutureResult};
use futures::sync::mpsc;
use futures::{Future, Stream};
use rmp_rpc_demo::{CallError, Client, Params, Service, Value};
use tokio_core::reactor::{Core, Timeout};

/// Where the client connects when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:54321";
/// How long to wait for the server's `pong` before giving up.
const PONG_TIMEOUT: Duration = Duration::from_secs(5);

/// Handles what the server sends us: passes each `pong` on to `main`.
struct PongHandler {
    pongs: mpsc::UnboundedSender<Vec<Value>>,
}

impl Service for PongHandler {
    type Output = Value;
    type Error = Value;
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, _params: Params) -> Self::RequestFuture {
        future::err(format!("this client answers no requests (got `{}`)", method).into())
    }

    fn handle_notification(&mut self, method: &str, params: Params) -> Self::NotificationFuture {
        let params = params.into_values();
        if method == "pong" {
            // `main` may have stopped listening; then the pong is of no use.
            let _ = self.pongs.unbounded_send(params);
        }
        future::ok(())
    }
}

fn main() {
    let arg = env::args().nth(1);
    let addr = arg.as_deref().unwrap_or(DEFAULT_ADDR);
    let tcp_addr: Option<SocketAddr> = match addr.parse() {
        Ok(tcp_addr) => Some(tcp_addr),
        // A path: a Unix socket.
        Err(_) if addr.contains('/') => None,
        Err(_) => fail(&format!(
            "`{}` is neither host:port nor a socket path; give one like {}",
            addr, DEFAULT_ADDR
        )),
    };
    let mut core =
        Core::new().unwrap_or_else(|err| fail(&format!("cannot start the reactor: {}", err)));
    let handle = core.handle();

    let (pongs_sender, pongs) = mpsc::unbounded();
    let builder = Client::builder().handler(move |_peer: Client| PongHandler {
        pongs: pongs_sender.clone(),
    });
    let connect = match tcp_addr {
        Some(tcp_addr) => builder.connect(&tcp_addr, &handle),
        None => builder.connect_unix(addr, &handle),
    };
    let client = core.run(connect).unwrap_or_else(|err| {
        fail(&format!(
            "cannot connect to {}: {} (is the server running? start it with `cargo run --example server -- {}`)",
            addr, err, addr
        ))
    });

    let sum = core.run(client.request("add", vec![1.into(), 2.into()]));
    println!("add [1, 2] = {}", show(sum));
    let difference = core.run(client.request("sub", vec![10.into(), 4.into()]));
    println!("sub [10, 4] = {}", show(difference));
    match core.run(client.request("add", vec!["one".into(), 2.into()])) {
        Err(err @ CallError::Remote(_)) => println!("add [\"one\", 2] failed as expected: {}", err),
        other => fail(&format!(
            "add [\"one\", 2] should have failed, got {:?}",
            other
        )),
    }

    let args = vec![Value::from(1), Value::from("hello")];
    if let Err(err) = client.notify("ping", args.clone()) {
        fail(&err.to_string());
    }
    let timeout = Timeout::new(PONG_TIMEOUT, &handle)
        .unwrap_or_else(|err| fail(&format!("cannot start a timer: {}", err)));
    let first_pong = pongs.into_future().map(|(pong, _)| pong).map_err(|_| ());
    match core.run(first_pong.select2(timeout)) {
        Ok(future::Either::A((Some(pong), _))) => {
            println!("ping {} -> pong {}", Value::from(args), Value::from(pong))
        }
        _ => fail(&format!("no pong within {} s", PONG_TIMEOUT.as_secs())),
    }
}

/// A result as the user wants to read it, or the end of the program.
fn show(result: Result<Value, CallError>) -> Value {
    result.unwrap_or_else(|err| fail(&err.to_string()))
}

fn fail(message: &str) -> ! {
    eprintln!("error: {}", message);
    process::exit(1);
}
