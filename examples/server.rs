//! The example server: `add`, `sub`, `sleep`, and `ping` answered by a `pong`.
//!
//! Run it with
//!
//! ```console
//! $ cargo run --example server -- 127.0.0.1:54321
//! listening on 127.0.0.1:54321
//! ```
//!
//! (the address is optional; that one is the default), then run the client beside it
//! (`cargo run --example client`). An address with a `/` in it is the path of a Unix
//! domain socket, which only your own user can connect to:
//!
//! ```console
//! $ cargo run --example server -- /tmp/demo.sock
//! listening on /tmp/demo.sock
//! ```
//!
//! `--threads N` serves TCP on N reactors, one thread each (default 1);
//! `--max-connections N` closes new connections at once while N are open (default: the
//! library's, 10,000). What it answers:
//!
//! - request `add [a, b]` -> `a + b`, and `sub [a, b]` -> `a - b`, on 64-bit signed
//!   integers; wrong arity, non-integers or an overflow get an error response;
//! - request `sleep [ms]` -> `ms`, after `ms` milliseconds, without holding up the other
//!   requests (so responses can come back out of order);
//! - any other method gets an error response that names it;
//! - notification `ping [args...]` -> notification `pong [args...]` back to the sender.

use std::env;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process;
use std::time::Duration;

use futures::future::{self, FutureResult};
use futures::{Async, Future, Poll};
use rmp_rpc_demo::{Client, Params, Server, Service, Value};
use tokio_core::reactor::{Core, Handle, Timeout};

/// Where the server listens when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:54321";
/// The command line, for error messages.
const USAGE: &str = "usage: server [ADDR] [--threads N] [--max-connections N]
  ADDR                 host:port (default 127.0.0.1:54321), or the path of a Unix socket (any ADDR with a /)
  --threads N          serve TCP on N reactors, one thread each (default 1)
  --max-connections N  close new connections at once while N are open (default 10000)";
/// The longest `sleep` we accept: a peer must not be able to park a handler for ever
/// (or overflow the timer with a huge number).
const MAX_SLEEP_MS: u64 = 10 * 60 * 1000;

// ANCHOR: service
/// The service of one connection.
struct Calculator {
    /// The connection's own client, to send `pong` back to the peer.
    peer: Client,
    /// Arms the timers of `sleep`.
    handle: Handle,
}

impl Service for Calculator {
    type Output = Value;
    type Error = Value;
    type RequestFuture = Reply;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Params) -> Reply {
        let params = params.into_values();
        match method {
            "add" => Reply::Now(future::result(arithmetic(&params, i64::checked_add))),
            "sub" => Reply::Now(future::result(arithmetic(&params, i64::checked_sub))),
            "sleep" => match sleep_ms(&params).and_then(|ms| self.start_timer(ms)) {
                Ok((timer, ms)) => Reply::Later(timer, ms),
                Err(err) => Reply::Now(future::err(err)),
            },
            other => Reply::Now(future::err(format!("unknown method `{}`", other).into())),
        }
    }

    fn handle_notification(&mut self, method: &str, params: Params) -> FutureResult<(), ()> {
        let params = params.into_values();
        if method == "ping" {
            // Fails only if the connection is closing; then nobody is there to hear it.
            let _ = self.peer.notify("pong", params);
        }
        future::ok(())
    }
}
// ANCHOR_END: service

impl Calculator {
    fn start_timer(&self, ms: u64) -> Result<(Timeout, u64), Value> {
        Timeout::new(Duration::from_millis(ms), &self.handle)
            .map(|timer| (timer, ms))
            .map_err(|err| format!("cannot start a timer: {}", err).into())
    }
}

// ANCHOR: arguments
/// `op(a, b)` for `params = [a, b]`, with a readable error for anything else.
fn arithmetic(params: &[Value], op: fn(i64, i64) -> Option<i64>) -> Result<Value, Value> {
    let (a, b) = match params {
        [a, b] => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err("expected two integers between -2^63 and 2^63 - 1".into()),
        },
        _ => {
            return Err(format!("expected 2 arguments, got {}", params.len()).into());
        }
    };
    op(a, b)
        .map(Value::from)
        .ok_or_else(|| format!("{} and {}: the result does not fit in 64 bits", a, b).into())
}

/// The duration asked by `sleep [ms]`.
fn sleep_ms(params: &[Value]) -> Result<u64, Value> {
    match params {
        [ms] => match ms.as_u64() {
            Some(ms) if ms <= MAX_SLEEP_MS => Ok(ms),
            _ => Err(format!(
                "expected a number of milliseconds from 0 to {}",
                MAX_SLEEP_MS
            )
            .into()),
        },
        _ => Err(format!("expected 1 argument, got {}", params.len()).into()),
    }
}
// ANCHOR_END: arguments

// ANCHOR: reply
/// The answer to a request: ready now, or when a `sleep` timer fires.
enum Reply {
    Now(FutureResult<Value, Value>),
    Later(Timeout, u64),
}

impl Future for Reply {
    type Item = Value;
    type Error = Value;

    fn poll(&mut self) -> Poll<Value, Value> {
        match self {
            Reply::Now(result) => result.poll(),
            Reply::Later(timer, ms) => match timer.poll() {
                Ok(Async::Ready(())) => Ok(Async::Ready(Value::from(*ms))),
                // The timer will wake us.
                Ok(Async::NotReady) => Ok(Async::NotReady),
                Err(err) => Err(format!("the timer failed: {}", err).into()),
            },
        }
    }
}
// ANCHOR_END: reply

/// Where to listen.
enum Addr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// What the command line asks for.
struct Args {
    addr: Addr,
    /// Reactors, one thread each (`--threads`).
    threads: usize,
    /// The cap on open connections (`--max-connections`); the library's default without it.
    max_connections: Option<usize>,
}

/// Reads the command line: `[ADDR]` and the flags.
fn parse_args() -> Result<Args, String> {
    let mut addr = None;
    let mut threads = 1;
    let mut max_connections = None;
    let mut args = env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => threads = number(&arg, args.next())?,
            "--max-connections" => max_connections = Some(number(&arg, args.next())?),
            flag if flag.starts_with("--") => return Err(format!("unknown flag `{}`", flag)),
            _ if addr.is_none() => addr = Some(arg),
            _ => return Err(format!("unexpected argument `{}`", arg)),
        }
    }
    let text = addr.unwrap_or_else(|| DEFAULT_ADDR.to_string());
    let addr = if text.contains('/') {
        Addr::Unix(PathBuf::from(text))
    } else {
        Addr::Tcp(text.parse().map_err(|_| {
            format!(
                "`{}` is neither host:port nor a socket path; give one like {}",
                text, DEFAULT_ADDR
            )
        })?)
    };
    Ok(Args {
        addr,
        threads,
        max_connections,
    })
}

/// The number that follows `flag`.
fn number(flag: &str, value: Option<String>) -> Result<usize, String> {
    let value = value.ok_or_else(|| format!("`{}` needs a number", flag))?;
    value
        .parse()
        .map_err(|_| format!("`{}` needs a number, not `{}`", flag, value))
}

fn main() {
    let args = parse_args().unwrap_or_else(|err| fail(&format!("{}\n{}", err, USAGE)));
    let mut core =
        Core::new().unwrap_or_else(|err| fail(&format!("cannot start the reactor: {}", err)));
    let handle = core.handle();
    let mut settings = Server::builder().threads(args.threads);
    if let Some(max) = args.max_connections {
        settings = settings.max_connections(max);
    }
    // ANCHOR: main
    // Each reactor (one per thread) gets a builder of its own, whose services arm their
    // `sleep` timers on that reactor.
    let per_reactor = |handle: &Handle| {
        let timers = handle.clone();
        move |peer: Client| Calculator {
            peer,
            handle: timers.clone(),
        }
    };
    let ran = match args.addr {
        Addr::Tcp(addr) => {
            let server = settings
                .bind_per_reactor(&addr, per_reactor, &handle)
                .unwrap_or_else(|err| fail(&err.to_string()));
            println!("listening on {}", server.local_addr());
            core.run(server)
        }
        Addr::Unix(path) => {
            let server = settings
                .bind_unix(&path, per_reactor(&handle), &handle)
                .unwrap_or_else(|err| fail(&err.to_string()));
            println!("listening on {}", server.local_addr().display());
            core.run(server)
        }
    };
    // ANCHOR_END: main
    if let Err(err) = ran {
        fail(&err.to_string());
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {}", message);
    process::exit(1);
}
