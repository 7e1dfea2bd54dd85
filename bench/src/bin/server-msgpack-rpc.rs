//! The example server's contract (`add`, `sub`, `sleep`, `ping` -> `pong`) on msgpack-rpc
//! 0.4 (tokio 1), on a single-threaded (current_thread) runtime like ours, or with
//! `--multi-thread` on tokio 1's multi-threaded runtime (one worker per core, work
//! stealing).
//!
//! `server-msgpack-rpc [ADDR] [--multi-thread]` (default 127.0.0.1:0) prints
//! `listening on ADDR`.

use std::pin::Pin;
use std::time::Duration;

use futures03::future::{self, Either, Ready};
use futures03::{Future, FutureExt};
use msgpack_rpc::{Client, Endpoint, ServiceWithClient, Value};
use rmp_rpc_demo_bench::contract;
use tokio1::net::TcpListener;
use tokio_util::compat::TokioAsyncReadCompatExt;

struct Calculator;

type Later = Pin<Box<dyn Future<Output = Result<Value, Value>> + Send>>;
type Reply = Either<Ready<Result<Value, Value>>, Later>;

fn now(result: Result<i64, String>) -> Reply {
    Either::Left(future::ready(result.map(Value::from).map_err(Value::from)))
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
                    Ok(ms) => Either::Right(
                        tokio1::time::sleep(Duration::from_millis(ms))
                            .map(move |()| Ok(Value::from(ms)))
                            .boxed(),
                    ),
                    Err(err) => Either::Left(future::ready(Err(err.into()))),
                }
            }
            other => Either::Left(future::ready(Err(contract::unknown_method(other).into()))),
        }
    }

    fn handle_notification(&mut self, client: &mut Client, method: &str, params: &[Value]) {
        if method == "ping" {
            // Queued at once; the Ack only says when it was written, and nobody needs it.
            drop(client.notify("pong", params));
        }
    }
}

fn main() {
    let addr = contract::listen_addr();
    let multi_thread = !contract::flags(&["--multi-thread"]).is_empty();
    let runtime = if multi_thread {
        tokio1::runtime::Builder::new_multi_thread()
    } else {
        tokio1::runtime::Builder::new_current_thread()
    }
    .enable_all()
    .build()
    .expect("runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr).await.unwrap_or_else(|err| {
            eprintln!("error: cannot listen on {}: {}", addr, err);
            std::process::exit(1)
        });
        contract::announce(listener.local_addr().expect("local address"));
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio1::spawn(Endpoint::new(stream.compat(), Calculator));
                }
                Err(err) => {
                    eprintln!("accept failed: {}", err);
                    tokio1::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
}
