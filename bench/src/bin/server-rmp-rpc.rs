//! The example server's contract (`add`, `sub`, `sleep`, `ping` -> `pong`) on rmp-rpc 0.3
//! (tokio 0.1), on a single-threaded runtime like ours, or with `--pool` on `tokio::run`'s
//! thread pool (one worker per core, work stealing), as rmp-rpc's own examples run.
//!
//! `server-rmp-rpc [ADDR] [--pool]` (default 127.0.0.1:0) prints `listening on ADDR`.

use std::time::{Duration, Instant};

use futures::future::{self, Either, FutureResult};
use futures::{Async, Future, Poll, Stream};
use rmp_rpc::{Client, Endpoint, ServiceWithClient, Value};
use rmp_rpc_demo_bench::contract;
use tokio01::net::TcpListener;
use tokio01::runtime::current_thread;
use tokio01::timer::Delay;

struct Calculator;

/// `sleep`: answers `ms` when the timer fires.
struct Sleep {
    delay: Delay,
    ms: u64,
}

impl Future for Sleep {
    type Item = Value;
    type Error = Value;

    fn poll(&mut self) -> Poll<Value, Value> {
        match self.delay.poll() {
            Ok(Async::Ready(())) => Ok(Async::Ready(Value::from(self.ms))),
            Ok(Async::NotReady) => Ok(Async::NotReady),
            Err(err) => Err(format!("the timer failed: {}", err).into()),
        }
    }
}

type Reply = Either<FutureResult<Value, Value>, Sleep>;

fn now(result: Result<i64, String>) -> Reply {
    Either::A(future::result(result.map(Value::from).map_err(Value::from)))
}

impl ServiceWithClient for Calculator {
    type RequestFuture = Reply;

    fn handle_request(&mut self, _: &mut Client, method: &str, params: &[Value]) -> Reply {
        let int = |i: usize| params.get(i).and_then(Value::as_i64);
        match method {
            "add" => now(contract::arithmetic(
                method,
                int(0),
                int(1),
                params.len(),
                || contract::shown(params),
                i64::checked_add,
            )),
            "sub" => now(contract::arithmetic(
                method,
                int(0),
                int(1),
                params.len(),
                || contract::shown(params),
                i64::checked_sub,
            )),
            "sleep" => {
                let ms = params.first().and_then(Value::as_u64);
                match contract::sleep_ms(ms, params.len(), || contract::shown(params)) {
                    Ok(ms) => Either::B(Sleep {
                        delay: Delay::new(Instant::now() + Duration::from_millis(ms)),
                        ms,
                    }),
                    Err(err) => Either::A(future::err(err.into())),
                }
            }
            other => Either::A(future::err(contract::unknown_method(other).into())),
        }
    }

    fn handle_notification(&mut self, client: &mut Client, method: &str, params: &[Value]) {
        if method == "ping" {
            // The Ack only says the notification was written; nobody needs it.
            let _ = client.notify("pong", params);
        }
    }
}

fn main() {
    let addr = contract::listen_addr();
    let listener = TcpListener::bind(&addr).unwrap_or_else(|err| {
        eprintln!("error: cannot listen on {}: {}", addr, err);
        std::process::exit(1)
    });
    let pool = !contract::flags(&["--pool"]).is_empty();
    contract::announce(listener.local_addr().expect("local address"));
    let incoming = listener
        .incoming()
        .map_err(|err| eprintln!("accept failed: {}", err));
    if pool {
        tokio01::run(incoming.for_each(|stream| {
            let _ = stream.set_nodelay(true);
            tokio01::spawn(Endpoint::new(stream, Calculator).map_err(|_| ()));
            Ok(())
        }));
        return;
    }
    let server = incoming.for_each(|stream| {
        let _ = stream.set_nodelay(true);
        current_thread::spawn(Endpoint::new(stream, Calculator).map_err(|_| ()));
        Ok(())
    });
    let mut runtime = current_thread::Runtime::new().expect("runtime");
    let _ = runtime.block_on(server);
}
