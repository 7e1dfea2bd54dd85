//! rmp-rpc 0.3's client (tokio 0.1, single-threaded runtime) driving a server: see `drive.rs`.
//!
//! `client-rmp-rpc --addr ADDR --scenario seq|pipe|conns|big [--duration SECS] [--warmup SECS]`

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use futures::future::{join_all, Future};
use rmp_rpc::{Client, Value};
use rmp_rpc_demo_bench::drive::{Outcome, Params, Stats, Window};
use rmp_rpc_demo_bench::scenario::{fail, DriverArgs, BIG_PAYLOAD};
use tokio01::net::TcpStream;
use tokio01::runtime::current_thread::Runtime;

fn main() {
    let args = DriverArgs::from_env();
    let mut runtime = Runtime::new().unwrap_or_else(|err| fail(&format!("no runtime: {}", err)));
    let clients: Vec<Client> = (0..args.scenario.connections())
        .map(|_| {
            let stream = runtime
                .block_on(TcpStream::connect(&args.addr))
                .unwrap_or_else(|err| fail(&format!("cannot connect to {}: {}", args.addr, err)));
            let _ = stream.set_nodelay(true);
            // Client::new spawns its connection on the runtime it runs in.
            runtime
                .block_on(futures::future::lazy(move || {
                    Ok::<_, ()>(Client::new(stream))
                }))
                .unwrap_or_else(|()| fail("cannot start the client"))
        })
        .collect();
    // rmp-rpc takes the params by reference and copies them itself.
    let big = [Value::Binary(vec![0x5a; BIG_PAYLOAD]), Value::from(0)];
    let start = Instant::now();
    let stats = Rc::new(RefCell::new(Stats::new(
        start + args.warmup,
        start + args.warmup + args.duration,
    )));
    let windows = clients.iter().map(|client| {
        let big = &big;
        let call = move |params: Params| {
            let response = match params {
                Params::Add(a, b) => client.request("add", &[Value::from(a), Value::from(b)]),
                Params::Big => client.request("add", big),
            };
            response.then(|answer| -> Result<Outcome, String> {
                match answer {
                    Ok(Ok(value)) => Ok(Ok(value.as_i64())),
                    Ok(Err(_)) => Ok(Err(())),
                    Err(()) => Err("the connection closed".to_owned()),
                }
            })
        };
        Window::new(call, args.scenario, stats.clone())
    });
    let stopped = match runtime.block_on(join_all(windows)) {
        Ok(ends) => ends.into_iter().max().unwrap_or_else(Instant::now),
        Err(err) => fail(&err),
    };
    let measurement = stats.borrow_mut().finish(stopped);
    println!("{}", measurement);
}
