//! A soak of the example server: many clients connect, make calls, and disconnect, some
//! cut in the middle of their calls; at the end the books must balance.
//!
//! Build the server beside it, then run the soak (60 s by default):
//!
//! ```console
//! $ cargo build --release --example server
//! $ cargo run --release --example soak -- --seconds 60
//! soak: 60.0 s
//!   connections ... (cut with calls in flight: ...)
//!   requests sent N = answered A + failed with a connection error F (wrong: 0, stuck: 0)
//!   server start  RSS ...
//! ```
//!
//! Options: `--seconds S` (how long to start new connections), `--connections N` (at
//! most this many; default unlimited), `--workers W` (clients at once, default 16),
//! `--calls C` (at most C calls per connection, default 16), `--cut P` (cut P connections
//! in 1000, default 250), `--half-close P` (P connections in 1000 are raw peers that send
//! their requests and half-close at once, and must get every answer; default 100),
//! `--seed X`. It starts `target/<profile>/examples/server` on a
//! free loopback port and stops it at the end. Exit status 0 when every request sent was
//! answered correctly or failed with a connection error and the server let go of every
//! connection; 1 otherwise.

#[path = "../tests/common/mod.rs"]
mod common;

use std::env;
use std::process;
use std::time::Duration;

use common::soak::{soak, SoakConfig};
use common::ExampleServer;

fn main() {
    let mut config = SoakConfig {
        duration: Duration::from_secs(60),
        max_connections: u64::MAX,
        workers: 16,
        max_calls: 16,
        kill_per_mille: 250,
        half_close_per_mille: 100,
        seed: 1,
    };
    let args: Vec<String> = env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).and_then(|value| value.parse::<u64>().ok());
        let value = match value {
            Some(value) => value,
            None => fail(&format!("`{}` needs a number after it", pair[0])),
        };
        match pair[0].as_str() {
            "--seconds" => config.duration = Duration::from_secs(value),
            "--connections" => config.max_connections = value,
            "--workers" => config.workers = value.max(1) as usize,
            "--calls" => config.max_calls = value.max(1),
            "--cut" => config.kill_per_mille = value.min(1000) as u32,
            "--half-close" => config.half_close_per_mille = value.min(1000) as u32,
            "--seed" => config.seed = value,
            other => fail(&format!("unknown option `{}`", other)),
        }
    }
    let mut server = ExampleServer::start();
    println!(
        "soaking the example server at {} (pid {}) with {:?}",
        server.addr,
        server.pid(),
        config
    );
    let report = soak(&mut server, config);
    report.print();
    let problems = report.problems();
    if !problems.is_empty() {
        for problem in problems {
            eprintln!("error: {}", problem);
        }
        process::exit(1);
    }
    println!("ok: every request was answered or failed with a connection error");
}

fn fail(message: &str) -> ! {
    eprintln!("error: {}", message);
    process::exit(2);
}
