//! Runs the example programs, as child processes, for the tests.

use std::env;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a test waits for a program before calling it a hang.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Builds the example `name` if it is not up to date, and returns the path of the
/// program. (`cargo test` builds the examples, `cargo test --test examples` does not.)
pub fn example(name: &str) -> PathBuf {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let built = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--example",
            name,
            "--manifest-path",
            manifest,
        ])
        .status()
        .expect("run cargo build");
    assert!(built.success(), "cannot build the example `{}`", name);
    // This test runs from `<target>/debug/deps/`; the examples are in `<target>/debug/examples/`.
    let deps = env::current_exe().unwrap().parent().unwrap().to_owned();
    deps.with_file_name("examples").join(name)
}

/// The example server, running on a port of its own. Killed when dropped, so that a
/// failing test leaves nothing running.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: String,
}

impl Server {
    /// Starts the example server on 127.0.0.1, on a port the system picks, and waits for
    /// it to say where it listens.
    pub fn start() -> Server {
        let mut child = Command::new(example("server"))
            .arg("127.0.0.1:0")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the example server");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("the server's output");
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = match line.trim_end().strip_prefix("listening on ") {
            Some(addr) => addr.to_owned(),
            None => panic!("the server said {:?}, not `listening on ADDR`", line),
        };
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `program` with `args` to its end, or kills it after `PATIENCE`.
pub fn run_to_end(program: PathBuf, args: &[&str]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the program");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("the program still runs after {:?}", PATIENCE);
        }
        thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// An address nobody listens on, and nobody can start listening on while the returned
/// sockets live: the local port of a connected socket.
pub fn nobody_listens() -> (String, TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let held = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    (held.local_addr().unwrap().to_string(), held, accepted)
}
