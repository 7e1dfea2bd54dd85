//! Runs the example server and client (`examples/server.rs`, `examples/client.rs`) and
//! checks that they print what chapter 3.4 shows, which includes the files of `output/`.
//!
//! The server listens on a port the system picks; its address is replaced by the
//! default one, which the book shows, before comparing.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The examples' default address, which the book shows.
const BOOK_ADDR: &str = "127.0.0.1:54321";
/// How long the client may run before the test calls it a hang.
const PATIENCE: Duration = Duration::from_secs(30);

fn shown(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("output")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {}", path.display(), err))
}

/// The server process, killed when the test ends, whatever happens.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the example server on a free port; returns it, its address and its first line.
fn start_server() -> (Server, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ch03-04-server"))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the example server");
    let stdout = child.stdout.take().expect("piped stdout");
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {:?}", line))
        .to_owned();
    (server, addr, line)
}

/// Runs the example client against `addr` to its end, within `PATIENCE`.
fn run_client(addr: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ch03-04-client"))
        .arg(addr)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example client");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("the client did not finish within {:?}", PATIENCE);
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn the_example_server_and_client_print_what_the_book_shows() {
    let (_server, addr, first_line) = start_server();
    assert_eq!(first_line.replace(&addr, BOOK_ADDR), shown("server.txt"));
    let output = run_client(&addr);
    assert!(output.status.success(), "the client failed: {:?}", output);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        shown("client.txt")
    );
}

#[test]
fn the_example_client_without_a_server_prints_what_the_book_shows() {
    let (addr, _held, _accepted) = address_nobody_listens_on();
    let output = run_client(&addr);
    assert_eq!(output.status.code(), Some(1), "{:?}", output);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.replace(&addr, BOOK_ADDR),
        shown("client-no-server.txt")
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
