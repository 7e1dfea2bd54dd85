//! Runs the example programs of chapter 2.3 and checks they print what the book shows.
//!
//! The book includes the files under `output/`; this test compares them with what the
//! programs print today. The server listens on a free port chosen by the system, and
//! its address is written as the default address before comparing.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The address the book shows: the programs' default.
const BOOK_ADDR: &str = "127.0.0.1:54321";
/// How long a program may take before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(30);

fn expected(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("output")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {}", path.display(), err))
}

/// Kills the server when the test ends, even when it fails.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a program to its end, or fails the test after `PATIENCE`.
fn run_bounded(mut command: Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("{:?} did not finish within {:?}", command, PATIENCE);
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn start_server() -> (Running, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Running(child);
    let mut first_line = String::new();
    BufReader::new(stdout).read_line(&mut first_line).unwrap();
    let addr = first_line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {:?}", first_line))
        .to_owned();
    let shown = first_line.replace(&addr, BOOK_ADDR);
    (server, addr, shown)
}

#[test]
fn the_server_and_the_client_print_what_the_book_shows() {
    let (_server, addr, server_output) = start_server();
    assert_eq!(server_output, expected("server.txt"));

    let mut client = Command::new(env!("CARGO_BIN_EXE_client"));
    client.arg(&addr);
    let output = run_bounded(client);
    assert!(output.status.success(), "client failed: {:?}", output);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        expected("client.txt")
    );
}

#[test]
fn the_client_without_a_server_prints_what_the_book_shows() {
    let (addr, _held, _accepted) = address_nobody_listens_on();
    let mut client = Command::new(env!("CARGO_BIN_EXE_client"));
    client.arg(&addr);
    let output = run_bounded(client);
    assert_eq!(output.status.code(), Some(1));
    let mut stderr = String::new();
    output
        .stderr
        .as_slice()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(
        stderr.replace(&addr, BOOK_ADDR),
        expected("client-no-server.txt")
    );
}

/// An address nothing listens on, and nothing can start listening on while the two
/// returned sockets live: the local port of a connected socket. (A port that was merely
/// free a moment ago can be handed to the server another test starts meanwhile.)
fn address_nobody_listens_on() -> (String, TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let held = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    (held.local_addr().unwrap().to_string(), held, accepted)
}
