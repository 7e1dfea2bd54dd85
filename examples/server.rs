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
//! library's, 10,000); `--idle-timeout SECS` closes a connection on which no whole
//! message has arrived and nothing has been in flight for SECS seconds (default: never,
//! the library's); `--typed` serves the same contract with typed handlers (a `Router`)
//! instead of the untyped `Calculator` service. What it answers:
//!
//! - request `add [a, b]` -> `a + b`, and `sub [a, b]` -> `a - b`, on 64-bit signed
//!   integers; params that do not fit get an error response that names the method and
//!   what it expects, `add expects two 64-bit signed integers, got [1.5, 2]`, and an
//!   overflow one that says so;
//! - request `sleep [ms]` -> `ms`, after `ms` milliseconds, without holding up the other
//!   requests (so responses can come back out of order);
//! - any other method gets an error response that names it;
//! - notification `ping [args...]` -> notification `pong [args...]` back to the sender.

use std::convert::TryFrom;
use std::env;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process;
use std::time::Duration;

use futures::future::{self, Either, FutureResult};
use futures::{Async, Future, Poll};
use rmp_rpc_demo::errors::ServerError;
use rmp_rpc_demo::server::ServerBuilder;
use rmp_rpc_demo::{Client, Config, Params, Router, Server, Service, ServiceBuilder, Value};
use serde::Deserialize;
use tokio_core::reactor::{Core, Handle, Timeout};

/// Where the server listens when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:54321";
/// The command line, for error messages.
const USAGE: &str = "usage: server [ADDR] [--threads N] [--max-connections N] [--idle-timeout SECS] [--typed]
  ADDR                 host:port (default 127.0.0.1:54321), or the path of a Unix socket (any ADDR with a /)
  --threads N          serve TCP on N reactors, one thread each (default 1)
  --max-connections N  close new connections at once while N are open (default 10000)
  --idle-timeout SECS  close a connection idle for SECS seconds: no whole message, nothing in flight (default: never)
  --typed              serve with typed handlers (a Router) instead of the Calculator service";
/// The longest `sleep` we accept: a peer must not be able to park a handler for ever
/// (or overflow the timer with a huge number).
const MAX_SLEEP_MS: u64 = 10 * 60 * 1000;
/// What `add` and `sub` expect, in the error for params that do not fit.
const TWO_INTEGERS: &str = "two 64-bit signed integers";

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
        match method {
            "add" => Reply::Now(future::result(arithmetic(method, params, i64::checked_add))),
            "sub" => Reply::Now(future::result(arithmetic(method, params, i64::checked_sub))),
            "sleep" => match sleep_ms(params).and_then(|ms| self.start_timer(ms)) {
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

/// `op(a, b)` for params `[a, b]`, with a readable error for anything else.
fn arithmetic(
    method: &str,
    params: Params,
    op: fn(i64, i64) -> Option<i64>,
) -> Result<Value, Value> {
    let (a, b) = match params.into_values()[..] {
        [ref a, ref b] => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err(refusal(method, TWO_INTEGERS, params)),
        },
        _ => return Err(refusal(method, TWO_INTEGERS, params)),
    };
    op(a, b)
        .map(Value::from)
        .ok_or_else(|| format!("{} and {}: the result does not fit in 64 bits", a, b).into())
}

/// The duration asked by `sleep [ms]`.
fn sleep_ms(params: Params) -> Result<u64, Value> {
    match params.into_values()[..] {
        [ref ms] => match ms.as_u64() {
            Some(ms) if ms <= MAX_SLEEP_MS => Ok(ms),
            _ => Err(refusal("sleep", &milliseconds(), params)),
        },
        _ => Err(refusal("sleep", &milliseconds(), params)),
    }
}

/// The error for params that do not fit, as the router words it:
/// "add expects two 64-bit signed integers, got [1.5, 2]".
fn refusal(method: &str, expects: &str, params: Params) -> Value {
    format!("{} expects {}, got {}", method, expects, params).into()
}

/// What `sleep` expects.
fn milliseconds() -> String {
    format!("a number of milliseconds from 0 to {}", MAX_SLEEP_MS)
}

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

// ANCHOR: router
/// The same contract with typed handlers: each takes its params as a tuple, decoded
/// straight from the read buffer, and answers with a `Result`; the router refuses
/// params that do not fit, in the words of `expects`.
fn router(handle: &Handle) -> Router {
    let timers = handle.clone();
    Router::new()
        .method("add", |(a, b): (i64, i64)| checked(a, b, a.checked_add(b)))
        .expects(TWO_INTEGERS)
        .method("sub", |(a, b): (i64, i64)| checked(a, b, a.checked_sub(b)))
        .expects(TWO_INTEGERS)
        .method("sleep", move |(Millis(ms),): (Millis,)| sleep(&timers, ms))
        .expects(&milliseconds())
        .notification_with_peer("ping", |peer: &Client, args: Vec<Value>| {
            peer.cast("pong", args)
        })
}

/// The result of `a op b`, or the error of an overflow.
fn checked(a: i64, b: i64, result: Option<i64>) -> Result<i64, String> {
    result.ok_or_else(|| format!("{} and {}: the result does not fit in 64 bits", a, b))
}

/// A `sleep` duration: decoding refuses one longer than `MAX_SLEEP_MS`, so the router
/// answers it like any other params that do not fit.
#[derive(Deserialize)]
#[serde(try_from = "u64")]
struct Millis(u64);

impl TryFrom<u64> for Millis {
    type Error = String;

    fn try_from(ms: u64) -> Result<Millis, String> {
        if ms <= MAX_SLEEP_MS {
            Ok(Millis(ms))
        } else {
            Err(format!("{} ms is more than {}", ms, MAX_SLEEP_MS))
        }
    }
}

/// Answers `ms` after `ms` milliseconds.
fn sleep(
    handle: &Handle,
    ms: u64,
) -> Either<impl Future<Item = u64, Error = String>, FutureResult<u64, String>> {
    match Timeout::new(Duration::from_millis(ms), handle) {
        Ok(timer) => Either::A(
            timer
                .map(move |()| ms)
                .map_err(|err| format!("the timer failed: {}", err)),
        ),
        Err(err) => Either::B(future::err(format!("cannot start a timer: {}", err))),
    }
}
// ANCHOR_END: router

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
    /// Serve with the typed `Router` (`--typed`).
    typed: bool,
    /// Close connections idle this long (`--idle-timeout`); never without it.
    idle_timeout: Option<Duration>,
}

/// Reads the command line: `[ADDR]` and the flags.
fn parse_args() -> Result<Args, String> {
    let mut addr = None;
    let mut threads = 1;
    let mut max_connections = None;
    let mut typed = false;
    let mut idle_timeout = None;
    let mut args = env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => threads = number(&arg, args.next())?,
            "--max-connections" => max_connections = Some(number(&arg, args.next())?),
            "--typed" => typed = true,
            "--idle-timeout" => match number(&arg, args.next())? {
                0 => {
                    return Err(
                        "`--idle-timeout` needs at least 1 second (leave it out for none)".into(),
                    )
                }
                secs => idle_timeout = Some(Duration::from_secs(secs as u64)),
            },
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
        typed,
        idle_timeout,
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
    let config = Config {
        idle_timeout: args.idle_timeout,
        ..Config::default()
    };
    let mut settings = Server::builder().threads(args.threads).config(config);
    if let Some(max) = args.max_connections {
        settings = settings.max_connections(max);
    }
    let ran = if args.typed {
        serve(&mut core, settings, args.addr, router)
    } else {
        // Each reactor (one per thread) gets a builder of its own, whose services arm
        // their `sleep` timers on that reactor.
        serve(&mut core, settings, args.addr, |handle: &Handle| {
            let timers = handle.clone();
            move |peer: Client| Calculator {
                peer,
                handle: timers.clone(),
            }
        })
    };
    if let Err(err) = ran {
        fail(&err.to_string());
    }
}

// ANCHOR: main
/// Serves `addr` until the server stops, with the builder that `per_reactor` makes for
/// each reactor.
fn serve<B, F>(
    core: &mut Core,
    settings: ServerBuilder,
    addr: Addr,
    per_reactor: F,
) -> Result<(), ServerError>
where
    B: ServiceBuilder,
    F: Fn(&Handle) -> B + Send + Sync + 'static,
{
    let handle = core.handle();
    match addr {
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
    }
}
// ANCHOR_END: main

fn fail(message: &str) -> ! {
    eprintln!("error: {}", message);
    process::exit(1);
}
