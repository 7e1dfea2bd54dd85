//! msgpack-rpc 0.4's client (tokio 1, current_thread runtime) driving a server: the same
//! loop as `drive.rs`, in async/await.
//!
//! `client-msgpack-rpc --addr ADDR --scenario seq|pipe|conns|big [--duration SECS] [--warmup SECS]`

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use futures03::stream::{FuturesUnordered, StreamExt};
use futures03::FutureExt;
use msgpack_rpc::{Client, Value};
use rmp_rpc_demo_bench::drive::{Outcome, Params, Stats};
use rmp_rpc_demo_bench::scenario::{fail, DriverArgs, Scenario, BIG_PAYLOAD};
use tokio1::net::TcpStream;
use tokio_util::compat::TokioAsyncReadCompatExt;

async fn window(
    client: Client,
    scenario: Scenario,
    big: Rc<[Value; 2]>,
    stats: Rc<RefCell<Stats>>,
) -> Instant {
    let end = stats.borrow().end;
    let mut in_flight = FuturesUnordered::new();
    let mut seq = 0u32;
    let mut now = Instant::now();
    while now < end {
        while in_flight.len() < scenario.window() {
            let params = Params::nth(scenario, seq);
            seq = seq.wrapping_add(1);
            let response = match params {
                Params::Add(a, b) => client.request("add", &[Value::from(a), Value::from(b)]),
                // msgpack-rpc takes the params by reference and copies them itself.
                Params::Big => client.request("add", &big[..]),
            };
            let sent = now;
            in_flight.push(response.map(move |answer| (params, sent, answer)));
        }
        let (params, sent, answer) = match in_flight.next().await {
            Some(done) => done,
            None => continue,
        };
        now = Instant::now();
        let outcome: Outcome = match answer {
            Ok(value) => Ok(value.as_i64()),
            // msgpack-rpc reports a closed connection as an error of Nil.
            Err(Value::Nil) => fail("the connection closed"),
            Err(_) => Err(()),
        };
        stats.borrow_mut().record(params, sent, outcome, now);
    }
    now
}

fn main() {
    let args = DriverArgs::from_env();
    let runtime = tokio1::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|err| fail(&format!("no runtime: {}", err)));
    let local = tokio1::task::LocalSet::new();
    let measurement = local.block_on(&runtime, async move {
        let mut clients = Vec::new();
        for _ in 0..args.scenario.connections() {
            let stream = TcpStream::connect(args.addr)
                .await
                .unwrap_or_else(|err| fail(&format!("cannot connect to {}: {}", args.addr, err)));
            let _ = stream.set_nodelay(true);
            clients.push(Client::new(stream.compat()));
        }
        let big = Rc::new([Value::Binary(vec![0x5a; BIG_PAYLOAD]), Value::from(0)]);
        let start = Instant::now();
        let stats = Rc::new(RefCell::new(Stats::new(
            start + args.warmup,
            start + args.warmup + args.duration,
        )));
        let ends = futures03::future::join_all(
            clients
                .into_iter()
                .map(|client| window(client, args.scenario, big.clone(), stats.clone())),
        )
        .await;
        let stopped = ends.into_iter().max().unwrap_or_else(Instant::now);
        let measurement = stats.borrow_mut().finish(stopped);
        measurement
    });
    println!("{}", measurement);
}
