//! Child processes: the example binaries, the example server, programs that must be
//! installed, and what /proc says about a process. Every child is killed on drop, so that
//! a failing test leaves nothing running.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::HANG;

// ---------------------------------------------------------------------------------------
// The example binaries
// ---------------------------------------------------------------------------------------

/// The binary of `examples/<name>.rs`, built by the cargo that runs us with the profile of
/// the running binary (a no-op when it is up to date). Asked once per process.
///
/// Asking cargo is the one way that works everywhere: `cargo test` builds the examples but
/// `cargo test --test neovim` does not, the interop crate has a target directory of its
/// own, and `cargo run --release --example soak` wants the release server beside it.
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
    let profile = own_profile();
    let output = Command::new(&cargo)
        .args(["build", "--quiet", "--message-format=json"])
        .args(["--profile", &profile])
        .args(["-p", "rmp-rpc-demo", "--example", name])
        .arg("--manifest-path")
        .arg(library_manifest())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|err| panic!("cannot run `{} build --example {}`: {}", cargo, name, err));
    assert!(
        output.status.success(),
        "`cargo build --profile {} --example {}` failed (its errors are above)",
        profile,
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

/// The cargo profile the running binary was built with, read from where it sits:
/// `<target>/debug/deps/` for a test, `<target>/release/examples/` for an example run
/// with `--release`.
fn own_profile() -> String {
    let exe = std::env::current_exe().expect("the path of this binary");
    let dir = exe.parent().expect("this binary is in a folder");
    let profile_dir = if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    match profile_dir.file_name().and_then(|name| name.to_str()) {
        // The dev profile (and the test profile, which inherits it) builds into debug/.
        Some("debug") | None => "dev".to_string(),
        Some(other) => other.to_string(),
    }
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

// ---------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------

/// A child process that is killed (and reaped) when dropped.
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// Waits for the process to exit by itself, within `limit`; `None` if it is still
    /// running then (it is killed when dropped).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
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

    /// Panics if the process has exited (crashed, aborted, was killed).
    pub fn assert_running(&mut self, what: &str) {
        match self.0.try_wait() {
            Ok(None) => {}
            Ok(Some(status)) => panic!("{} exited: {}", what, status),
            Err(err) => panic!("cannot check {}: {}", what, err),
        }
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads a child's output line by line on a thread, so that a test can wait for a line
/// with a time limit, and the child never blocks on a full pipe.
pub struct Lines {
    receiver: mpsc::Receiver<String>,
}

impl Lines {
    pub fn new<R: Read + Send + 'static>(output: R) -> Lines {
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(output).lines() {
                match line {
                    // Read on when nobody listens any more: the child must not block,
                    // nor fail, writing to a pipe nobody empties.
                    Ok(line) => {
                        let _ = sender.send(line);
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

/// An example binary started with `args`, its stdout and stderr read line by line.
/// Killed on drop.
pub struct RunningExample {
    pub process: KillOnDrop,
    pub stdout: Lines,
    pub stderr: Lines,
}

impl RunningExample {
    pub fn start(name: &str, args: &[&str]) -> RunningExample {
        let mut command = Command::new(example_binary(name));
        command.args(args);
        RunningExample::spawn(&mut command)
    }

    /// Starts `command` (an example binary with its arguments and environment), its
    /// stdin empty.
    pub fn spawn(command: &mut Command) -> RunningExample {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {:?}: {}", command, err));
        RunningExample {
            stdout: Lines::new(child.stdout.take().expect("stdout is piped")),
            stderr: Lines::new(child.stderr.take().expect("stderr is piped")),
            process: KillOnDrop(child),
        }
    }

    /// Its next line of standard output; fails the test, with what it wrote to stderr,
    /// if none comes within [`HANG`].
    pub fn next_line(&self) -> String {
        self.stdout.next_within(HANG).unwrap_or_else(|| {
            panic!(
                "no line within {:?}; stderr: {:?}",
                HANG,
                self.stderr.rest_within(Duration::from_millis(100))
            )
        })
    }

    /// Waits for it to exit by itself (within [`HANG`]) and returns how, with the rest of
    /// its output.
    pub fn finish(mut self) -> Finished {
        let status = self
            .process
            .wait_exit(HANG)
            .unwrap_or_else(|| panic!("still running after {:?}", HANG));
        Finished {
            status,
            stdout: self.stdout.rest_within(HANG),
            stderr: self.stderr.rest_within(HANG),
        }
    }
}

/// How a program ended, and what it printed.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

/// Runs an example binary to its end (within [`HANG`]).
pub fn run_example(name: &str, args: &[&str]) -> Finished {
    RunningExample::start(name, args).finish()
}

// ---------------------------------------------------------------------------------------
// The example server
// ---------------------------------------------------------------------------------------

/// The example server (`examples/server.rs`) as a child process, on a port the system
/// picked. A separate process gives a clean memory reading, and proves that nothing a
/// peer sends takes the process down: it would show as an exit status. Its stderr is
/// ours, so that a crash says why. Killed on drop.
pub struct ExampleServer {
    pub process: KillOnDrop,
    pub addr: SocketAddr,
    /// The rest of its standard output, read so that it never blocks on the pipe.
    _stdout: Lines,
}

impl ExampleServer {
    /// Starts it and waits (within [`HANG`]) for its `listening on ADDR` line.
    pub fn start() -> ExampleServer {
        ExampleServer::start_with(&[])
    }

    /// Starts it with `flags` after the address (`--threads 2`, ...).
    pub fn start_with(flags: &[&str]) -> ExampleServer {
        let mut command = Command::new(example_binary("server"));
        command.arg("127.0.0.1:0").args(flags);
        ExampleServer::launch(command)
    }

    /// Starts it with `flags`, allowed at most `open_files` file descriptors
    /// (`RLIMIT_NOFILE`, set by the shell's `ulimit -n` before it runs the server).
    pub fn start_with_open_files_limit(open_files: usize, flags: &[&str]) -> ExampleServer {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {} && exec \"$0\" \"$@\"", open_files))
            .arg(example_binary("server"))
            .arg("127.0.0.1:0")
            .args(flags);
        ExampleServer::launch(command)
    }

    /// Starts it with `flags`, its address space (`RLIMIT_AS`) limited to `bytes` by
    /// util-linux's `prlimit`: an allocation past it fails, and Rust's allocator aborts
    /// the process, which the tests see as an exit.
    pub fn start_with_address_space_limit(bytes: u64, flags: &[&str]) -> ExampleServer {
        require(
            "prlimit",
            &["--version"],
            "prlimit is part of util-linux (Debian: apt-get install -y util-linux)",
        );
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--as={}", bytes))
            .arg("--")
            .arg(example_binary("server"))
            .arg("127.0.0.1:0")
            .args(flags);
        ExampleServer::launch(command)
    }

    fn launch(mut command: Command) -> ExampleServer {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {:?}: {}", command, err));
        let stdout = Lines::new(child.stdout.take().expect("stdout is piped"));
        let process = KillOnDrop(child);
        let line = stdout
            .next_within(HANG)
            .unwrap_or_else(|| panic!("the example server printed no line within {:?}", HANG));
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the example server: {:?}", line));
        ExampleServer {
            process,
            addr,
            _stdout: stdout,
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Its memory and open file descriptors now.
    pub fn stats(&self) -> ProcStats {
        proc_stats(self.pid())
    }

    /// Panics if the server has exited (crashed, aborted, was killed).
    pub fn assert_alive(&mut self) {
        self.process.assert_running("the server process");
    }

    pub fn kill(&mut self) {
        self.process.kill();
    }
}

// ---------------------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------------------

/// What /proc says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStats {
    /// Resident memory now, KiB.
    pub rss_kib: u64,
    /// The most resident memory the process ever had, KiB.
    pub peak_kib: u64,
    /// Open file descriptors (sockets included).
    pub fds: usize,
    /// Address space now (`VmSize`), KiB: what the process reserved, touched or not.
    pub vm_kib: u64,
    /// The largest address space the process ever had (`VmPeak`), KiB.
    pub vm_peak_kib: u64,
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
        vm_kib: field("VmSize:"),
        vm_peak_kib: field("VmPeak:"),
    }
}

/// `1.0 MiB`, from KiB, written the way people read it.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
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
            "`{} {}` failed ({}): {}\n{}",
            program,
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            install
        ),
        Err(err) => panic!("cannot run `{}`: {}\n{}", program, err, install),
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
