// ANCHOR: all
//! The example client: calls the example server and prints its answers.
//!
//! ```text
//! cargo run --bin client -- [ADDR]
//! ```
//!
//! It connects to ADDR (default 127.0.0.1:54321), sends three requests at once, prints
//! each answer and exits with status 0; with status 1 when it cannot connect.

use std::env;
use std::error::Error;
use std::net::SocketAddr;
use std::process;

use futures::future;
use minirpc::client::Client;
use rmpv::Value;
use tokio_core::reactor::Core;

/// Where the client connects when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:54321";

fn main() {
    let addr = env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    if let Err(err) = run(&addr) {
        eprintln!("client: {}", err);
        process::exit(1);
    }
}

fn run(addr: &str) -> Result<(), Box<dyn Error>> {
    let addr: SocketAddr = addr.parse()?;
    let mut core = Core::new()?;
    let handle = core.handle();
    let client = core
        .run(Client::connect(&addr, &handle))
        .map_err(|err| format!("cannot connect to {}: {}", addr, err))?;

    // ANCHOR: calls
    let calls = [("add", 1, 2), ("sub", 40, 2), ("mul", 6, 7)];
    // All three are sent before any answer comes back: one connection, three requests
    // in flight, told apart by their msgid.
    let answers = core.run(future::join_all(calls.iter().map(|&(method, a, b)| {
        client.request(method, vec![Value::from(a), Value::from(b)])
    })))?;
    for (&(method, a, b), answer) in calls.iter().zip(answers) {
        match answer {
            Ok(result) => println!("{} [{}, {}] = {}", method, a, b, result),
            Err(error) => println!("{} [{}, {}] failed: {}", method, a, b, text(&error)),
        }
    }
    // ANCHOR_END: calls
    Ok(())
}

/// An error value as a person reads it: strings without their quotes.
fn text(value: &Value) -> String {
    match value.as_str() {
        Some(text) => text.to_owned(),
        None => value.to_string(),
    }
}
// ANCHOR_END: all
