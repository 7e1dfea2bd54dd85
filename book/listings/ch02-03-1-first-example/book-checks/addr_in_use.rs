//! Chapter 2.3 shows what the first example server does when its port is taken: it
//! panics inside tokio-proto's `TcpServer`. Run it on a port this test holds, and check
//! that the chapter shows the panic as it is.

use std::fs;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long the server may take to fail before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn the_first_example_panics_on_a_taken_port_as_chapter_2_3_shows() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_ch02-03-1-server"))
        .arg(addr.to_string())
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while server.try_wait().unwrap().is_none() {
        if started.elapsed() > PATIENCE {
            let _ = server.kill();
            let _ = server.wait();
            panic!("the server ran on a taken port for {:?}", PATIENCE);
        }
        thread::sleep(Duration::from_millis(20));
    }
    let output = server.wait_with_output().unwrap();
    drop(taken);
    assert_eq!(output.status.code(), Some(101), "a panic exits with 101");

    let stderr = String::from_utf8(output.stderr).unwrap();
    // thread 'main' (1234) panicked at /home/.../tokio-proto-0.1.1/src/tcp_server.rs:187:54:
    // called `Result::unwrap()` on an `Err` value: Os { ... kind: AddrInUse ... }
    let mut lines = stderr
        .lines()
        .skip_while(|line| !line.contains("panicked at"));
    let location = lines.next().unwrap_or_default();
    let message = lines.next().unwrap_or_default();
    assert!(message.contains("AddrInUse"), "{}", stderr);

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../src/ch02-03-service.md");
    let chapter = fs::read_to_string(path).unwrap();
    // The chapter elides the registry's path: compare from the crate's folder on.
    let from_crate = location
        .find("tokio-proto-")
        .map_or(location, |at| &location[at..]);
    for shown in &[from_crate, message] {
        assert!(
            chapter.contains(shown),
            "chapter 2.3 should show the server's panic `{}`",
            shown
        );
    }
}
