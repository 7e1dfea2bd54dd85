//! Shared by the hardening tests (tests/hostile.rs, tests/faults.rs, tests/soak.rs) and
//! by examples/soak.rs: the example server as a child process with its memory and file
//! descriptors read from /proc, a blocking MessagePack peer written with rmpv only, an
//! in-memory pipe, a fault-injecting transport and the soak driver.
#![allow(dead_code)]

pub mod faults;
pub mod pipe;
pub mod soak;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rmpv::Value;

/// Longest a blocking read may wait before we call it a hang. A guard so that every
/// test stops by itself, never a measurement: a passing run never comes near it.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// `<target>/<profile>/examples/<name>`: the example binaries sit next to the `deps`
/// folder of test binaries, and next to the other examples.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the path of this binary");
    let dir = exe.parent().expect("this binary is in a folder");
    let profile_dir = if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.parent().expect("target/<profile>")
    } else {
        dir
    };
    profile_dir
        .join("examples")
        .join(format!("{}{}", name, std::env::consts::EXE_SUFFIX))
}

/// What /proc says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStats {
    /// Resident memory now, KiB.
    pub rss_kib: u64,
    /// The most resident memory the process ever had, KiB.
    pub peak_kib: u64,
    /// Open file descriptors (sockets included).
    pub fds: usize,
}

pub fn proc_stats(pid: u32) -> ProcStats {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid))
        .unwrap_or_else(|err| panic!("cannot read /proc/{}/status: {}", pid, err));
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {} line in /proc/{}/status", name, pid))
    };
    let fds = std::fs::read_dir(format!("/proc/{}/fd", pid))
        .map(|dir| dir.count())
        .unwrap_or_else(|err| panic!("cannot list /proc/{}/fd: {}", pid, err));
    ProcStats {
        rss_kib: field("VmRSS:"),
        peak_kib: field("VmHWM:"),
        fds,
    }
}

/// The example server (`examples/server.rs`) as a child process, on a port the system
/// picked. A separate process gives a clean memory reading, and proves that nothing a
/// peer sends takes the process down: it would show as an exit status. Killed on drop.
pub struct ExampleServer {
    child: Child,
    pub addr: SocketAddr,
}

impl ExampleServer {
    pub fn start() -> ExampleServer {
        let path = example_binary("server");
        if !path.exists() {
            panic!(
                "{} is missing: build it first with `cargo build --example server` \
                 (`cargo test --workspace` builds it)",
                path.display()
            );
        }
        let mut child = Command::new(&path)
            .arg("127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {}", path.display(), err));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the server's first line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the server: {:?}", line))
            .parse()
            .expect("a socket address after `listening on`");
        ExampleServer { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stats(&self) -> ProcStats {
        proc_stats(self.pid())
    }

    /// Panics if the process has exited (crashed, aborted, was killed).
    pub fn assert_alive(&mut self) {
        match self.child.try_wait() {
            Ok(None) => {}
            Ok(Some(status)) => panic!("the server process exited: {}", status),
            Err(err) => panic!("cannot check the server process: {}", err),
        }
    }
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Encodes any value with rmpv (which trusts us: it is our own output).
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).expect("writing to a Vec cannot fail");
    out
}

pub fn request(id: u64, method: &str, params: Vec<Value>) -> Value {
    Value::Array(vec![
        0.into(),
        id.into(),
        method.into(),
        Value::Array(params),
    ])
}

pub fn notification(method: &str, params: Vec<Value>) -> Value {
    Value::Array(vec![2.into(), method.into(), Value::Array(params)])
}

/// A response as a peer sees it: msgid, then `Ok(result)` or `Err(error)`.
pub fn parse_response(value: &Value) -> Option<(u64, Result<Value, Value>)> {
    match value.as_array().map(|items| &items[..]) {
        Some([kind, id, error, result]) if kind.as_u64() == Some(1) => {
            let id = id.as_u64()?;
            Some(if error.is_nil() {
                (id, Ok(result.clone()))
            } else {
                (id, Err(error.clone()))
            })
        }
        _ => None,
    }
}

/// A blocking MessagePack-RPC peer over TCP that uses rmpv only, none of the crate's
/// code, so that what it checks does not depend on what it tests.
pub struct RawPeer {
    pub stream: TcpStream,
    next_id: u64,
}

impl RawPeer {
    pub fn connect(addr: SocketAddr) -> RawPeer {
        let stream = TcpStream::connect(addr).expect("connect to the server");
        stream
            .set_read_timeout(Some(HANG_GUARD))
            .expect("set the hang guard");
        stream
            .set_write_timeout(Some(HANG_GUARD))
            .expect("set the hang guard");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        RawPeer { stream, next_id: 0 }
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The next value from the server, skipping notifications.
    pub fn recv_response(&mut self) -> (u64, Result<Value, Value>) {
        loop {
            let value = rmpv::decode::read_value(&mut self.stream)
                .unwrap_or_else(|err| panic!("no response from the server: {}", err));
            if let Some(response) = parse_response(&value) {
                return response;
            }
        }
    }

    /// Makes a call and waits for its answer.
    pub fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&encode(&request(id, method, params)))
            .expect("send a request");
        let (got, result) = self.recv_response();
        assert_eq!(got, id, "the response carries the msgid of the request");
        result
    }

    /// `add [a, b]` answers `a + b`: this connection is being served correctly.
    pub fn check(&mut self) {
        let a = self.next_id as i64;
        assert_eq!(
            self.call("add", vec![a.into(), 1000.into()]),
            Ok(Value::from(a + 1000)),
            "the bystander got a wrong answer"
        );
    }

    /// Reads until the server closes the connection (end of stream or reset) and
    /// returns what came before. Panics after [`HANG_GUARD`] without either.
    pub fn read_until_closed(&mut self) -> Vec<u8> {
        let mut got = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return got,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err)
                    if err.kind() == io::ErrorKind::WouldBlock
                        || err.kind() == io::ErrorKind::TimedOut =>
                {
                    panic!("the server did not close the connection")
                }
                // Reset: the server closed with our bytes still unread on its side.
                Err(_) => return got,
            }
        }
    }

    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Decodes every complete value in `bytes` with rmpv.
pub fn decode_all(bytes: &[u8]) -> Vec<Value> {
    let mut rd = bytes;
    let mut values = Vec::new();
    while !rd.is_empty() {
        match rmpv::decode::read_value(&mut rd) {
            Ok(value) => values.push(value),
            Err(_) => break,
        }
    }
    values
}

/// `1 MiB` written the way people read it.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
