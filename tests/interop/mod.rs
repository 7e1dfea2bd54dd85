//! Shared by the interoperability tests (`tests/neovim.rs`, `tests/python.rs`): the real
//! example binaries as child processes, external programs that must be installed (and fail
//! the test with a clear message when they are not), a recording TCP proxy, and bounded
//! waits on a reactor.
//!
//! Everything listens on 127.0.0.1 on a port the system picks, and every wait is bounded.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::future::{Either, Future};
use rmp_rpc_demo::codec::{Codec, Incoming};
use rmp_rpc_demo::message::Message;
use tokio_core::reactor::{Core, Timeout};
use tokio_io::codec::Decoder;

/// The longest any single step of a test may take before we call it a hang.
pub const STEP: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// The example binaries
// ---------------------------------------------------------------------------------------

/// Builds `examples/<name>.rs` with the cargo that runs the tests (a no-op when it is up to
/// date) and returns the path of the binary. Built once per test binary.
///
/// `cargo test` builds the examples, but `cargo test --test neovim` does not: asking cargo
/// is the only way to be sure we run the example as it is now, not a stale build.
pub fn example_binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let cache = built.get_or_insert_with(HashMap::new);
    if let Some(path) = cache.get(name) {
        return path.clone();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let manifest = library_manifest();
    let output = Command::new(&cargo)
        .args(["build", "--quiet", "--message-format=json"])
        .args(["-p", "rmp-rpc-demo", "--example", name])
        .arg("--manifest-path")
        .arg(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|err| panic!("cannot run `{} build --example {}`: {}", cargo, name, err));
    assert!(
        output.status.success(),
        "`cargo build --example {}` failed (its errors are above)",
        name
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = stdout
        .lines()
        .filter(|line| line.contains("\"reason\":\"compiler-artifact\""))
        .filter(|line| line.contains(&format!("\"name\":\"{}\"", name)))
        .find_map(|line| json_string_field(line, "executable"))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("cargo did not report the binary of example `{}`", name));
    cache.insert(name.to_string(), path.clone());
    path
}

/// The Cargo.toml of `rmp-rpc-demo`: this crate's, or, for the interop crates that include
/// this module, the nearest one above theirs.
fn library_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("Cargo.toml"))
        .find(|manifest| {
            std::fs::read_to_string(manifest)
                .map(|text| text.contains("name = \"rmp-rpc-demo\""))
                .unwrap_or(false)
        })
        .expect("the Cargo.toml of rmp-rpc-demo, in this folder or above")
}

/// The string value of `"field":"..."` in one line of cargo's JSON output (paths only, so
/// the one escape we may meet is a backslash).
fn json_string_field(line: &str, field: &str) -> Option<String> {
    let start = line.find(&format!("\"{}\":\"", field))? + field.len() + 4;
    let rest = &line[start..];
    let end = rest.find('"')?;
    Some(rest[..end].replace("\\\\", "\\"))
}

/// A child process that is killed (and reaped) when dropped, so that a failing test
/// leaves nothing running.
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// Waits for the process to exit by itself, within `limit`; kills it otherwise.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads a child's output line by line on a thread, so that tests can wait for a line
/// with a time limit.
pub struct Lines {
    receiver: mpsc::Receiver<String>,
}

impl Lines {
    pub fn new<R: Read + Send + 'static>(output: R) -> Lines {
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(output).lines() {
                match line {
                    Ok(line) => {
                        if sender.send(line).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        Lines { receiver }
    }

    /// The next line, or `None` if the output ended or nothing came within `limit`.
    pub fn next_within(&self, limit: Duration) -> Option<String> {
        self.receiver.recv_timeout(limit).ok()
    }

    /// Every line until the output ends (bounded by `limit`).
    pub fn rest_within(&self, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receiver.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(_) => return lines,
            }
        }
    }
}

/// `examples/server.rs`, running as a child process on a port the system picked.
pub struct ExampleServer {
    pub process: KillOnDrop,
    pub addr: SocketAddr,
}

impl ExampleServer {
    pub fn start() -> ExampleServer {
        let path = example_binary("server");
        let mut child = Command::new(&path)
            .arg("127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {}", path.display(), err));
        let stdout = child.stdout.take().expect("stdout is piped");
        let process = KillOnDrop(child);
        let line = Lines::new(stdout)
            .next_within(STEP)
            .expect("the example server printed no line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the example server: {:?}", line));
        ExampleServer { process, addr }
    }
}

// ---------------------------------------------------------------------------------------
// Programs that must be installed
// ---------------------------------------------------------------------------------------

/// Runs `program args` and returns its standard output; fails the test with `install`
/// (what to do about it) when the program is missing or fails.
pub fn require(program: &str, args: &[&str], install: &str) -> String {
    match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
        Ok(output) => panic!(
            "`{} {}` failed ({}): {}\nThese interoperability tests need it: {}",
            program,
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            install
        ),
        Err(err) => panic!(
            "cannot run `{}`: {}\nThese interoperability tests need it: {}",
            program, err, install
        ),
    }
}

/// A fresh, empty directory under the system's temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "rmp-rpc-demo-{}-{}-{}",
            what,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|err| panic!("cannot create {}: {}", path.display(), err));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// A recording proxy
// ---------------------------------------------------------------------------------------

/// A TCP proxy on 127.0.0.1 that forwards one connection to `target` and records the
/// bytes going each way, so a test can check what two other programs said to each other.
pub struct Proxy {
    pub addr: SocketAddr,
    /// Bytes from the side that connected to the proxy.
    pub from_client: Arc<Mutex<Vec<u8>>>,
    /// Bytes from `target`.
    pub from_server: Arc<Mutex<Vec<u8>>>,
}

impl Proxy {
    pub fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let from_client = Arc::new(Mutex::new(Vec::new()));
        let from_server = Arc::new(Mutex::new(Vec::new()));
        let (up_record, down_record) = (from_client.clone(), from_server.clone());
        thread::spawn(move || {
            // One connection, accepted within the step limit (the test fails otherwise).
            listener
                .set_nonblocking(true)
                .expect("nonblocking listener");
            let deadline = Instant::now() + STEP;
            let client = loop {
                match listener.accept() {
                    Ok((stream, _)) => break stream,
                    Err(ref err) if err.kind() == io::ErrorKind::WouldBlock => {
                        if Instant::now() > deadline {
                            return;
                        }
                        thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => return,
                }
            };
            client.set_nonblocking(false).expect("blocking stream");
            let server = match TcpStream::connect(target) {
                Ok(server) => server,
                Err(_) => return,
            };
            let (client2, server2) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            thread::spawn(move || pump(client2, server2, up_record));
            pump(server, client, down_record);
        });
        Proxy {
            addr,
            from_client,
            from_server,
        }
    }

    /// The messages recorded so far in one direction, decoded with our codec.
    pub fn messages(record: &Arc<Mutex<Vec<u8>>>) -> Vec<Message> {
        let bytes = record.lock().unwrap_or_else(|p| p.into_inner()).clone();
        decode_stream(&bytes)
    }
}

/// Copies `from` to `to`, recording the bytes, until either side closes.
fn pump(mut from: TcpStream, mut to: TcpStream, record: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                record
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Every message in `bytes`, decoded by our codec; panics on a stream error.
pub fn decode_stream(bytes: &[u8]) -> Vec<Message> {
    let mut codec = Codec::default();
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(item) = codec
        .decode(&mut buf)
        .expect("a valid MessagePack-RPC stream")
    {
        match item {
            Incoming::Message(msg) => out.push(msg),
            Incoming::InvalidRequest { id, reason } => {
                panic!("invalid request {} on the wire: {}", id, reason)
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Bounded waits on a reactor
// ---------------------------------------------------------------------------------------

/// Runs `future` on `core`, failing the test if it takes longer than `limit`.
pub fn run_within<F: Future>(
    core: &mut Core,
    limit: Duration,
    future: F,
) -> Result<F::Item, F::Error> {
    let guard = Timeout::new(limit, &core.handle()).expect("timer");
    match core.run(future.select2(guard)) {
        Ok(Either::A((item, _))) => Ok(item),
        Err(Either::A((err, _))) => Err(err),
        Ok(Either::B(_)) | Err(Either::B(_)) => {
            panic!("the future did not complete within {:?}", limit)
        }
    }
}

/// Runs `future` on `core` within [`STEP`].
pub fn run<F: Future>(core: &mut Core, future: F) -> Result<F::Item, F::Error> {
    run_within(core, STEP, future)
}

/// Turns the reactor until `receiver` yields something (what the handlers saw), within
/// [`STEP`].
pub fn recv_on<T>(core: &mut Core, receiver: &mpsc::Receiver<T>) -> T {
    let deadline = Instant::now() + STEP;
    loop {
        if let Ok(item) = receiver.try_recv() {
            return item;
        }
        assert!(
            Instant::now() < deadline,
            "nothing arrived within {:?}",
            STEP
        );
        core.turn(Some(Duration::from_millis(20)));
    }
}

/// Turns the reactor for `duration` (lets messages go and come).
pub fn turn_for(core: &mut Core, duration: Duration) {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        core.turn(Some(deadline.saturating_duration_since(Instant::now())));
    }
}
