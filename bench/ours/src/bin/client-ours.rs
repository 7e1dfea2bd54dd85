//! Our client (rmp-rpc-demo, tokio-core) driving a server: see `drive.rs`.
//!
//! `client-ours --addr ADDR --scenario seq|pipe|conns|big [--duration SECS] [--warmup SECS]`

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use futures::future::{join_all, Future};
use rmp_rpc_demo::{CallError, Client, Value};
use rmp_rpc_demo_bench::drive::{Outcome, Params, Stats, Window};
use rmp_rpc_demo_bench::scenario::{fail, DriverArgs, BIG_PAYLOAD};
use tokio_core::reactor::Core;

fn main() {
    let args = DriverArgs::from_env();
    let mut core = Core::new().unwrap_or_else(|err| fail(&format!("no reactor: {}", err)));
    let handle = core.handle();
    let clients: Vec<Client> = (0..args.scenario.connections())
        .map(|_| {
            core.run(Client::connect(&args.addr, &handle))
                .unwrap_or_else(|err| fail(&format!("cannot connect to {}: {}", args.addr, err)))
        })
        .collect();
    let payload = Value::Binary(vec![0x5a; BIG_PAYLOAD]);
    let start = Instant::now();
    let stats = Rc::new(RefCell::new(Stats::new(
        start + args.warmup,
        start + args.warmup + args.duration,
    )));
    let windows = clients.iter().map(|client| {
        let payload = payload.clone();
        let call = move |params: Params| {
            let params = match params {
                Params::Add(a, b) => vec![Value::from(a), Value::from(b)],
                // The caller owns the params it sends: one copy per request.
                Params::Big => vec![payload.clone(), Value::from(0)],
            };
            client
                .request("add", params)
                .then(|answer| -> Result<Outcome, String> {
                    match answer {
                        Ok(value) => Ok(Ok(value.as_i64())),
                        Err(CallError::Remote(_)) => Ok(Err(())),
                        Err(err) => Err(err.to_string()),
                    }
                })
        };
        Window::new(call, args.scenario, stats.clone())
    });
    let stopped = match core.run(join_all(windows)) {
        Ok(ends) => ends.into_iter().max().unwrap_or_else(Instant::now),
        Err(err) => fail(&err),
    };
    let measurement = stats.borrow_mut().finish(stopped);
    println!("{}", measurement);
}
