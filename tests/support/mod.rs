//! Shared by the server and client integration tests: the example server as a child
//! process, a raw MessagePack peer written with rmpv only (none of the crate's code), and
//! a bounded way to run futures on a reactor.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::future::{Either, Future};
use rmpv::Value;
use tokio_core::reactor::{Core, Timeout};

/// Longest any single step of a test may take before we call it a hang.
pub const HANG: Duration = Duration::from_secs(30);

/// The example server (`examples/server.rs`), running as a child process on a port the
/// system picked. Killed when dropped.
pub struct ExampleServer {
    child: Child,
    pub addr: SocketAddr,
}

/// `target/<profile>/examples/<name>`, next to this test binary's `deps` folder.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary is in target/<profile>/deps");
    profile_dir.join("examples").join(name)
}

impl ExampleServer {
    pub fn start() -> ExampleServer {
        let path = example_binary("server");
        let mut child = Command::new(&path)
            .arg("127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start {}: {} (plain `cargo test` builds the examples; with --test filters, run `cargo build --examples` first)",
                    path.display(),
                    err
                )
            });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the server's first line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {:?}", line))
            .parse()
            .expect("a socket address");
        ExampleServer { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS line")
    }

    /// Is the process still running?
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A MessagePack peer over a blocking socket, using rmpv directly.
pub struct RawPeer {
    pub stream: TcpStream,
}

impl RawPeer {
    pub fn connect(addr: SocketAddr) -> RawPeer {
        let stream = TcpStream::connect(addr).expect("connect");
        RawPeer::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> RawPeer {
        // A guard against hangs, not a synchronisation: every read expects data.
        stream.set_read_timeout(Some(HANG)).expect("read timeout");
        stream.set_nodelay(true).expect("nodelay");
        RawPeer { stream }
    }

    pub fn send_value(&mut self, value: &Value) {
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, value).expect("encode");
        self.send_bytes(&bytes);
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn request(&mut self, id: u64, method: &str, params: Vec<Value>) {
        self.send_value(&request(id, method, params));
    }

    pub fn notify(&mut self, method: &str, params: Vec<Value>) {
        self.send_value(&Value::Array(vec![
            2.into(),
            method.into(),
            Value::Array(params),
        ]));
    }

    /// The next value on the wire; panics on EOF or error.
    pub fn recv(&mut self) -> Value {
        rmpv::decode::read_value(&mut self.stream).expect("a value from the peer")
    }

    /// The next value, or `None` once the peer has closed the connection.
    pub fn try_recv(&mut self) -> Option<Value> {
        rmpv::decode::read_value(&mut self.stream).ok()
    }

    /// Reads until the peer closes the connection, returning what came before.
    pub fn read_to_end(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        let _ = self.stream.read_to_end(&mut rest);
        rest
    }

    /// Sends `add [a, b]` and checks the answer: the connection works.
    pub fn check_add(&mut self, id: u64, a: i64, b: i64) {
        self.request(id, "add", vec![a.into(), b.into()]);
        assert_eq!(self.recv(), ok_response(id, Value::from(a + b)));
    }
}

pub fn request(id: u64, method: &str, params: Vec<Value>) -> Value {
    Value::Array(vec![
        0.into(),
        id.into(),
        method.into(),
        Value::Array(params),
    ])
}

pub fn ok_response(id: u64, result: Value) -> Value {
    Value::Array(vec![1.into(), id.into(), Value::Nil, result])
}

pub fn err_response(id: u64, error: Value) -> Value {
    Value::Array(vec![1.into(), id.into(), error, Value::Nil])
}

pub fn notification(method: &str, params: Vec<Value>) -> Value {
    Value::Array(vec![2.into(), method.into(), Value::Array(params)])
}

/// Runs `future` on `core`, failing the test if it takes longer than [`HANG`].
pub fn run<F: Future>(core: &mut Core, future: F) -> Result<F::Item, F::Error>
where
    F::Error: std::fmt::Debug,
{
    let guard = Timeout::new(HANG, &core.handle()).expect("timer");
    match core.run(future.select2(guard)) {
        Ok(Either::A((item, _))) => Ok(item),
        Err(Either::A((err, _))) => Err(err),
        Ok(Either::B(_)) | Err(Either::B(_)) => {
            panic!("the future did not complete within {:?}", HANG)
        }
    }
}
