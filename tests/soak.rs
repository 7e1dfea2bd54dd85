//! A short soak in the default test run: 400 connections to the example server, 8 at a
//! time, each with up to 16 calls in flight, one in four cut by the client mid-way, one
//! in ten a raw peer that half-closes as soon as it has sent its requests. Every request
//! sent must be answered correctly or fail with a connection error (a half-closing
//! peer's must all be answered); the server must end with the file descriptors it
//! started with.
//!
//! The long soak is `examples/soak.rs` (`cargo run --release --example soak -- --seconds 60`).

mod common;

use std::time::Duration;

use common::soak::{soak, SoakConfig};
use common::ExampleServer;

// ANCHOR: soak_test
#[test]
fn every_request_is_answered_or_failed_while_clients_come_and_go() {
    let mut server = ExampleServer::start();
    let report = soak(
        &mut server,
        SoakConfig {
            // The count bounds this run; the duration is only a ceiling.
            duration: Duration::from_secs(600),
            max_connections: 400,
            workers: 8,
            max_calls: 16,
            kill_per_mille: 250,
            half_close_per_mille: 100,
            seed: 8,
        },
    );
    report.print();
    assert_eq!(report.problems(), Vec::<String>::new());
    assert_eq!(report.connections, 400);
    assert!(report.cut > 0 && report.failed > 0 && report.answered > 0);
    assert!(report.half_closed > 0);
}
// ANCHOR_END: soak_test
