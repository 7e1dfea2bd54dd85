//! The runner: starts the servers pinned to CPU 0, runs every scenario against every
//! server with the load generator, and every client driver against the limit server, in
//! two pinning modes, alternating the order between rounds; prints the medians and the
//! ratios ours / peer. With `--memory`, measures our server's memory instead.
//!
//! ```text
//! cargo run --release --bin bench -- [--quick] [--rounds N] [--duration SECS] [--mode same|split]
//! cargo run --release --bin bench -- --memory [--idle N] [--in-flight K]
//! ```
//!
//! See bench/README.md for what it measures and how to read the output.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use rmp_rpc_demo_bench::scenario::{Measurement, Scenario};
use rmp_rpc_demo_bench::wire::{parse_response, put_add_request, put_uint, Parsed};

/// The servers, in the order of the table's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Server {
    Ours,
    RmpRpc,
    MsgpackRpc,
    Limit,
    /// A server given with `--server LABEL=PATH`, to compare builds (index in EXTRA).
    Extra(usize),
}

/// The servers given with `--server LABEL=PATH`.
static EXTRA: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();

/// The library's commit (and whether src/ had local changes) when the runner started,
/// before it builds: a commit made by someone else during the run must not be named.
static TREE: OnceLock<String> = OnceLock::new();

fn extra_servers() -> &'static [(String, PathBuf)] {
    EXTRA.get().map(Vec::as_slice).unwrap_or(&[])
}

impl Server {
    /// Every server, the extra ones last.
    fn all() -> Vec<Server> {
        let mut all = vec![
            Server::Ours,
            Server::RmpRpc,
            Server::MsgpackRpc,
            Server::Limit,
        ];
        all.extend((0..extra_servers().len()).map(Server::Extra));
        all
    }

    fn program(self, bin_dir: &Path) -> PathBuf {
        let name = match self {
            Server::Ours => "server-ours",
            Server::RmpRpc => "server-rmp-rpc",
            Server::MsgpackRpc => "server-msgpack-rpc",
            Server::Limit => "server-limit",
            Server::Extra(i) => return extra_servers()[i].1.clone(),
        };
        bin_dir.join(name)
    }

    fn label(self) -> String {
        match self {
            Server::Ours => "ours",
            Server::RmpRpc => "rmp-rpc 0.3",
            Server::MsgpackRpc => "msgpack-rpc 0.4",
            Server::Limit => "limit",
            Server::Extra(i) => return extra_servers()[i].0.clone(),
        }
        .to_owned()
    }
}

/// The client drivers, all run against the limit server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ClientLib {
    Ours,
    RmpRpc,
    MsgpackRpc,
}

impl ClientLib {
    const ALL: [ClientLib; 3] = [ClientLib::Ours, ClientLib::RmpRpc, ClientLib::MsgpackRpc];

    fn binary(self) -> &'static str {
        match self {
            ClientLib::Ours => "client-ours",
            ClientLib::RmpRpc => "client-rmp-rpc",
            ClientLib::MsgpackRpc => "client-msgpack-rpc",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ClientLib::Ours => "ours",
            ClientLib::RmpRpc => "rmp-rpc 0.3",
            ClientLib::MsgpackRpc => "msgpack-rpc 0.4",
        }
    }
}

/// Where the load runs relative to the server (always on CPU 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    /// Load generator on CPU 0 too: no cross-core wake-ups, the two share one core.
    Same,
    /// Load generator on CPU 1: each has a core, every message crosses cores.
    Split,
}

impl Mode {
    fn load_cpu(self) -> &'static str {
        match self {
            Mode::Same => "0",
            Mode::Split => "1",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Mode::Same => "SAME CORE: server and load both pinned to CPU 0 (taskset -c 0)",
            Mode::Split => "ONE CORE EACH: server on CPU 0, load on CPU 1",
        }
    }
}

/// Who is measured in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Subject {
    Server(Server),
    Client(ClientLib),
}

type Key = (Mode, Subject, ScenarioKey);

/// One run: what the driver measured, plus the CPU time and the context switches of the
/// measured side (the server, or the client driver) per request, over the whole run.
#[derive(Debug, Clone, Copy)]
struct Run {
    m: Measurement,
    cpu_us: f64,
    switches: f64,
}

type Runs = Vec<Result<Run, String>>;

/// CPU seconds and context switches of a process (all its threads) so far.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    cpu: f64,
    switches: u64,
}

impl Run {
    fn new(m: Measurement, before: Usage, after: Usage) -> Run {
        let n = m.total.max(1) as f64;
        Run {
            m,
            cpu_us: (after.cpu - before.cpu).max(0.0) * 1e6 / n,
            switches: after.switches.saturating_sub(before.switches) as f64 / n,
        }
    }
}

/// From /proc: utime + stime of the whole process, and the context switches of each thread.
fn process_usage(pid: u32) -> Usage {
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid)).unwrap_or_default();
    // Fields after the command name, which ends with the last ')': state is field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    let mut switches = 0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", pid)) {
        for task in tasks.flatten() {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            for line in status.lines() {
                if line.starts_with("voluntary_ctxt_switches:")
                    || line.starts_with("nonvoluntary_ctxt_switches:")
                {
                    switches += line
                        .split_whitespace()
                        .nth(1)
                        .and_then(|n| n.parse::<u64>().ok())
                        .unwrap_or(0);
                }
            }
        }
    }
    Usage {
        cpu: ticks as f64 / hz,
        switches,
    }
}

/// The same for every child we have reaped: a client driver, once it has finished.
fn children_usage() -> Usage {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Usage {
        cpu: secs(usage.ru_utime) + secs(usage.ru_stime),
        switches: (usage.ru_nvcsw + usage.ru_nivcsw) as u64,
    }
}

/// `Scenario` with an order, for the result map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct ScenarioKey(usize);

impl ScenarioKey {
    fn of(sc: Scenario) -> Self {
        ScenarioKey(Scenario::ALL.iter().position(|&s| s == sc).unwrap_or(0))
    }
}

struct Options {
    rounds: usize,
    duration: f64,
    warmup: f64,
    modes: Vec<Mode>,
    build: bool,
    memory: bool,
    idle: usize,
    in_flight: usize,
    /// Run the client drivers too (`--no-clients` skips them).
    clients: bool,
    /// `--server LABEL=PATH`: more servers to measure, as extra columns.
    extra: Vec<(String, PathBuf)>,
    /// `--csv FILE`: also write every median there, machine-readable (for chart.py).
    csv: Option<PathBuf>,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench [--quick] [--rounds N] [--duration SECS] [--mode same|split] [--no-build] [--no-clients] [--server LABEL=PATH]... [--csv FILE]\n       bench --memory [--idle N] [--in-flight K] [--no-build]"
    );
    std::process::exit(1);
}

fn parse_options() -> Options {
    let mut o = Options {
        rounds: 3,
        duration: 2.0,
        warmup: 0.3,
        modes: vec![Mode::Same, Mode::Split],
        build: true,
        memory: false,
        idle: 10_000,
        in_flight: 10_000,
        extra: Vec::new(),
        clients: true,
        csv: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--quick" => {
                o.duration = 0.5;
                o.warmup = 0.1;
            }
            "--rounds" => {
                o.rounds = value()
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| usage())
            }
            "--duration" => {
                o.duration = value()
                    .parse()
                    .ok()
                    .filter(|&s: &f64| s > 0.0)
                    .unwrap_or_else(|| usage())
            }
            "--mode" => {
                o.modes = match value().as_str() {
                    "same" => vec![Mode::Same],
                    "split" => vec![Mode::Split],
                    _ => usage(),
                }
            }
            "--no-build" => o.build = false,
            "--no-clients" => o.clients = false,
            "--server" => {
                let spec = value();
                match spec.split_once('=') {
                    Some((label, path)) if !label.is_empty() && !path.is_empty() => {
                        o.extra.push((label.to_owned(), PathBuf::from(path)))
                    }
                    _ => usage(),
                }
            }
            "--csv" => o.csv = Some(PathBuf::from(value())),
            "--memory" => o.memory = true,
            "--idle" => o.idle = value().parse().unwrap_or_else(|_| usage()),
            "--in-flight" => o.in_flight = value().parse().unwrap_or_else(|_| usage()),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    o
}

fn main() {
    let mut options = parse_options();
    let _ = EXTRA.set(std::mem::take(&mut options.extra));
    let _ = TREE.set(tree_state());
    let bin_dir = match std::env::current_exe() {
        Ok(exe) => exe.parent().map(Path::to_path_buf).unwrap_or_default(),
        Err(err) => die(&format!("cannot find my own binary: {}", err)),
    };
    if options.build {
        build_siblings(&bin_dir);
    }
    for program in Server::all()
        .iter()
        .map(|s| s.program(&bin_dir))
        .chain(ClientLib::ALL.iter().map(|c| bin_dir.join(c.binary())))
        .chain([bin_dir.join("loadgen")])
    {
        if !program.exists() {
            die(&format!(
                "{} is missing: run `cargo build --release` in bench/",
                program.display()
            ));
        }
    }
    if Command::new("taskset").arg("-V").output().is_err() {
        die("taskset is missing (Debian: apt-get install util-linux)");
    }
    if options.memory {
        memory(&bin_dir, &options);
    } else {
        speed(&bin_dir, &options);
    }
}

fn die(message: &str) -> ! {
    eprintln!("bench: {}", message);
    std::process::exit(1);
}

/// Builds every binary of this crate next to the runner, so that `cargo run --bin bench`
/// is the one command.
fn build_siblings(bin_dir: &Path) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    // bin_dir is TARGET/release.
    let target_dir = bin_dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("bench: building the servers and drivers (cargo build --release --bins)");
    let status = Command::new(cargo)
        .args(["build", "--release", "--bins", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => die(&format!("cargo build failed ({})", s)),
        Err(err) => die(&format!("cannot run cargo: {}", err)),
    }
    // Our server and client driver: the workspace in ours/, with the root Cargo.lock's
    // versions (tokio-core 0.1.12), built into the same target directory.
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("ours/Cargo.toml");
    eprintln!("bench: building ours in bench/ours/ ({})", ours_versions());
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["build", "--release", "--bins", "--quiet", "--manifest-path"])
        .arg(&ours)
        .arg("--target-dir")
        .arg(&target_dir)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => die(&format!("cargo build of bench/ours failed ({})", s)),
        Err(err) => die(&format!("cannot run cargo: {}", err)),
    }
}

/// The tokio-core and tokio-io versions locked in bench/ours/Cargo.lock, which "ours" is
/// built with.
fn ours_versions() -> String {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("ours/Cargo.lock");
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let version = |name: &str| {
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim() == format!("name = \"{}\"", name) {
                if let Some(v) = lines.next().and_then(|l| l.trim().strip_prefix("version = ")) {
                    return v.trim_matches('"').to_owned();
                }
            }
        }
        "?".to_owned()
    };
    format!(
        "tokio-core {}, tokio-io {}",
        version("tokio-core"),
        version("tokio-io")
    )
}

// ---------------------------------------------------------------------------------------
// Processes

/// A command that dies with the runner (SIGKILL when the runner exits, whatever the cause).
fn command(program: &Path, cpu: Option<&str>) -> Command {
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu).arg(program);
            c
        }
        None => Command::new(program),
    };
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd
}

/// A running server; killed when dropped, even on error or panic.
struct Running {
    server: String,
    child: Child,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
}

impl Running {
    fn start(program: &Path, cpu: Option<&str>) -> Running {
        let binary = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let binary = binary.as_str();
        let mut cmd = command(program, cpu);
        cmd.arg("127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|err| die(&format!("cannot start {}: {}", binary, err)));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (line_tx, line_rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = line_tx.send(line);
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let (err_tx, err_rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let mut running = Running {
            server: binary.to_owned(),
            child,
            addr: "127.0.0.1:0".parse().expect("address"),
            stderr: err_rx,
        };
        let line = match line_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => die(&format!(
                "{} did not print `listening on ADDR` within 20 s{}",
                binary,
                running.errors()
            )),
        };
        running.addr = line
            .split_whitespace()
            .skip_while(|w| *w != "on")
            .nth(1)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                die(&format!(
                    "{} printed `{}`, not `listening on ADDR`",
                    binary, line
                ))
            });
        running
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote on stderr so far, for error messages.
    fn errors(&self) -> String {
        let lines: Vec<String> = self.stderr.try_iter().collect();
        if lines.is_empty() {
            String::new()
        } else {
            format!("; its stderr: {}", lines.join(" | "))
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one driver to completion (or kills it after `limit`); returns its measurement.
fn run_driver(
    bin_dir: &Path,
    binary: &str,
    cpu: &str,
    addr: SocketAddr,
    sc: Scenario,
    o: &Options,
) -> Result<Measurement, String> {
    // The driver must be reaped before this returns, so that its usage is counted.
    let mut cmd = command(&bin_dir.join(binary), Some(cpu));
    cmd.arg("--addr")
        .arg(addr.to_string())
        .arg("--scenario")
        .arg(sc.name())
        .arg("--duration")
        .arg(o.duration.to_string())
        .arg("--warmup")
        .arg(o.warmup.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .map_err(|err| format!("cannot start {}: {}", binary, err))?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let limit = Duration::from_secs_f64(o.duration + o.warmup + 20.0);
    let output = match rx.recv_timeout(limit) {
        Ok(Ok(output)) => output,
        Ok(Err(err)) => return Err(format!("{}: {}", binary, err)),
        Err(_) => {
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            return Err(format!("{} did not finish within {:?}", binary, limit));
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().find(|l| l.starts_with("RESULT ")) {
        Some(line) if output.status.success() => line.parse(),
        _ => Err(format!(
            "{} failed ({}): {}",
            binary,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}

// ---------------------------------------------------------------------------------------
// CPU accounting, to tell whether something else used the machine during the run

/// Busy jiffies of the whole machine, from /proc/stat.
fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu = stat.lines().next().unwrap_or("");
    let fields: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let at = |i: usize| fields.get(i).copied().unwrap_or(0);
    at(0) + at(1) + at(2) + at(5) + at(6) + at(7)
}

/// CPU time of this process and its reaped children, in jiffies.
fn own_ticks() -> u64 {
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut total = 0.0;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe {
            libc::getrusage(who, &mut usage);
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        total += secs(usage.ru_utime) + secs(usage.ru_stime);
    }
    (total * hz) as u64
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

// ---------------------------------------------------------------------------------------
// Speed

fn speed(bin_dir: &Path, o: &Options) {
    let clients = if o.clients { ClientLib::ALL.len() } else { 0 };
    let runs_per_round = Scenario::ALL.len() * (Server::all().len() + clients);
    let estimate =
        (o.duration + o.warmup + 0.25) * (runs_per_round * o.rounds * o.modes.len()) as f64;
    eprintln!(
        "bench: {} round(s) x {} mode(s) x {} runs of {:.1} s (+{:.1} s warm-up): about {:.0} s",
        o.rounds,
        o.modes.len(),
        runs_per_round,
        o.duration,
        o.warmup,
        estimate
    );
    let load_before = load_average();
    let busy_before = machine_busy_ticks();
    let own_before = own_ticks();
    let started = Instant::now();
    let mut results: BTreeMap<Key, Runs> = BTreeMap::new();
    for &mode in &o.modes {
        let mut servers: Vec<(Server, Running)> = Server::all()
            .into_iter()
            .map(|s| (s, Running::start(&s.program(bin_dir), Some("0"))))
            .collect();
        for round in 0..o.rounds {
            for &sc in &Scenario::ALL {
                // Alternate the order between rounds.
                let mut order: Vec<usize> = (0..servers.len()).collect();
                if round % 2 == 1 {
                    order.reverse();
                }
                for i in order {
                    let (server, ref mut running) = servers[i];
                    let outcome = if running.alive() {
                        let before = process_usage(running.pid());
                        run_driver(bin_dir, "loadgen", mode.load_cpu(), running.addr, sc, o)
                            .map(|m| Run::new(m, before, process_usage(running.pid())))
                    } else {
                        Err(format!(
                            "{} is not running{}",
                            running.server,
                            running.errors()
                        ))
                    };
                    progress(
                        mode,
                        round,
                        o.rounds,
                        sc,
                        &server.label(),
                        "server",
                        &outcome,
                    );
                    results
                        .entry((mode, Subject::Server(server), ScenarioKey::of(sc)))
                        .or_default()
                        .push(outcome);
                    thread::sleep(Duration::from_millis(100));
                }
                let limit_addr = servers
                    .iter()
                    .find(|(s, _)| *s == Server::Limit)
                    .map(|(_, r)| r.addr)
                    .expect("the limit server");
                let mut clients = if o.clients {
                    ClientLib::ALL.to_vec()
                } else {
                    Vec::new()
                };
                if round % 2 == 1 {
                    clients.reverse();
                }
                for lib in clients {
                    let before = children_usage();
                    let outcome =
                        run_driver(bin_dir, lib.binary(), mode.load_cpu(), limit_addr, sc, o)
                            .map(|m| Run::new(m, before, children_usage()));
                    progress(mode, round, o.rounds, sc, lib.label(), "client", &outcome);
                    results
                        .entry((mode, Subject::Client(lib), ScenarioKey::of(sc)))
                        .or_default()
                        .push(outcome);
                    thread::sleep(Duration::from_millis(100));
                }
            }
        }
        // Dropping `servers` kills them.
    }
    let elapsed = started.elapsed().as_secs_f64();
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpus = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let busy = machine_busy_ticks().saturating_sub(busy_before) as f64 / hz;
    let own = own_ticks().saturating_sub(own_before) as f64 / hz;
    let others = ((busy - own) / (elapsed * cpus) * 100.0).max(0.0);
    print_speed(&results, o);
    if let Some(path) = &o.csv {
        write_csv(path, &results);
    }
    println!();
    println!(
        "Run: {:.0} s; load average before {} / after {}; other processes used about {:.0}% of the {} CPUs meanwhile{}",
        elapsed,
        load_before,
        load_average(),
        others,
        cpus,
        if others > 5.0 {
            " -- figures are disturbed, compare ratios within a round or rerun on a quiet machine"
        } else {
            ""
        }
    );
}

/// `--csv FILE`: one line per median, `mode,kind,who,scenario,metric,median,spread`.
fn write_csv(path: &Path, results: &BTreeMap<Key, Runs>) {
    let mut out = String::from("mode,kind,who,scenario,metric,median,spread\n");
    for ((mode, who, sc), runs) in results {
        let (kind, label) = match who {
            Subject::Server(s) => ("server", s.label()),
            Subject::Client(c) => ("client", c.label().to_owned()),
        };
        let scenario = Scenario::ALL[sc.0];
        for (row_sc, metric) in rows() {
            if row_sc != scenario {
                continue;
            }
            if let Some((x, spread)) = median(Some(runs), |r| metric.value(r)) {
                out += &format!(
                    "{},{},{},{},{},{},{:.4}\n",
                    match mode {
                        Mode::Same => "same",
                        Mode::Split => "split",
                    },
                    kind,
                    label.replace(',', ";"),
                    scenario.name(),
                    metric.unit(),
                    x,
                    spread
                );
            }
        }
    }
    if let Err(err) = std::fs::write(path, out) {
        eprintln!("bench: cannot write {}: {}", path.display(), err);
    }
}

fn progress(
    mode: Mode,
    round: usize,
    rounds: usize,
    sc: Scenario,
    who: &str,
    kind: &str,
    outcome: &Result<Run, String>,
) {
    let text = match outcome {
        Ok(r) if sc == Scenario::Big => format!(
            "{:.0} MiB/s, {:.0} us CPU/req",
            r.m.mib_per_second(),
            r.cpu_us
        ),
        Ok(r) => format!(
            "{:.1} k req/s, p50 {:.1} us, {:.2} us CPU/req",
            r.m.per_second() / 1e3,
            r.m.p50_ns as f64 / 1e3,
            r.cpu_us
        ),
        Err(err) => format!("FAILED: {}", err),
    };
    eprintln!(
        "  [{:?} {}/{}] {:<6} {:<7} {:<16} {}",
        mode,
        round + 1,
        rounds,
        sc.name(),
        kind,
        who,
        text
    );
}

/// The median of the successful rounds, and the spread (max - min) / median.
fn median(runs: Option<&Runs>, f: impl Fn(&Run) -> f64) -> Option<(f64, f64)> {
    let mut xs: Vec<f64> = runs?
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(f)
        .collect();
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = xs.len();
    let mid = if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    };
    let spread = if mid > 0.0 {
        (xs[n - 1] - xs[0]) / mid
    } else {
        0.0
    };
    Some((mid, spread))
}

fn first_error(runs: Option<&Runs>) -> Option<&String> {
    runs?.iter().find_map(|r| r.as_ref().err())
}

/// What a table row shows.
#[derive(Clone, Copy)]
enum Metric {
    Rate,
    P50,
    P99,
    MiBs,
    Cpu,
    Switches,
}

impl Metric {
    fn value(self, r: &Run) -> f64 {
        match self {
            Metric::Rate => r.m.per_second(),
            Metric::P50 => r.m.p50_ns as f64 / 1e3,
            Metric::P99 => r.m.p99_ns as f64 / 1e3,
            Metric::MiBs => r.m.mib_per_second(),
            Metric::Cpu => r.cpu_us,
            Metric::Switches => r.switches,
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Metric::Rate => "req/s",
            Metric::P50 => "p50 us",
            Metric::P99 => "p99 us",
            Metric::MiBs => "MiB/s",
            Metric::Cpu => "CPU us/req",
            Metric::Switches => "ctx sw/req",
        }
    }

    /// Ratios are "ours is faster" when > 1: inverted for latencies.
    fn ratio(self, ours: f64, peer: f64) -> f64 {
        match self {
            Metric::P50 | Metric::P99 | Metric::Cpu | Metric::Switches => peer / ours,
            _ => ours / peer,
        }
    }

    fn format(self, x: f64) -> String {
        match self {
            Metric::Rate if x >= 1e6 => format!("{:.2} M", x / 1e6),
            Metric::Rate => format!("{:.1} k", x / 1e3),
            Metric::P50 | Metric::P99 => format!("{:.1}", x),
            Metric::MiBs => format!("{:.0}", x),
            Metric::Cpu if x >= 100.0 => format!("{:.0}", x),
            Metric::Cpu => format!("{:.2}", x),
            Metric::Switches => format!("{:.3}", x),
        }
    }
}

fn rows() -> Vec<(Scenario, Metric)> {
    vec![
        (Scenario::Sequential, Metric::Rate),
        (Scenario::Sequential, Metric::P50),
        (Scenario::Sequential, Metric::P99),
        (Scenario::Sequential, Metric::Cpu),
        (Scenario::Sequential, Metric::Switches),
        (Scenario::Pipelined, Metric::Rate),
        (Scenario::Pipelined, Metric::P50),
        (Scenario::Pipelined, Metric::Cpu),
        (Scenario::Pipelined, Metric::Switches),
        (Scenario::Connections, Metric::Rate),
        (Scenario::Connections, Metric::P50),
        (Scenario::Connections, Metric::Cpu),
        (Scenario::Big, Metric::MiBs),
        (Scenario::Big, Metric::Cpu),
    ]
}

fn print_speed(results: &BTreeMap<Key, Runs>, o: &Options) {
    let get =
        |mode: Mode, who: Subject, sc: Scenario| results.get(&(mode, who, ScenarioKey::of(sc)));
    let mut max_spread = (0.0, String::new());
    println!();
    println!(
        "Medians of {} round(s), {:.1} s each after {:.1} s of warm-up. Ratios are ours / peer, > 1 = ours faster",
        o.rounds, o.duration, o.warmup
    );
    println!("(for latencies the ratio is peer / ours, so > 1 still means ours is better).");
    println!(
        "`ours` = examples/server.rs itself (server-ours) and our client driver (client-ours), built in bench/ours/ with the root Cargo.lock's {}; {}.",
        ours_versions(),
        TREE.get().cloned().unwrap_or_else(tree_state)
    );
    for &mode in &o.modes {
        println!();
        println!("== {} ==", mode.title());
        println!();
        println!("Servers, driven by the neutral load generator (loadgen):");
        let mut header = format!("{:<31}", "scenario");
        let all = Server::all();
        for s in &all {
            header += &format!("{:>16}", s.label());
        }
        for s in &all[1..] {
            header += &format!("{:>14}", format!("/{}", short(&s.label())));
        }
        println!("{}", header);
        for (sc, metric) in rows() {
            let mut line = format!("{:<31}", format!("{} {}", sc.title(), metric.unit()));
            let ours = median(get(mode, Subject::Server(Server::Ours), sc), |m| {
                metric.value(m)
            });
            for &s in &all {
                let runs = get(mode, Subject::Server(s), sc);
                let cell = match median(runs, |m| metric.value(m)) {
                    Some((x, spread)) => {
                        let throughput = matches!(metric, Metric::Rate | Metric::MiBs);
                        if throughput && spread > max_spread.0 {
                            max_spread = (
                                spread,
                                format!(
                                    "{:?} / {} / {} {}",
                                    mode,
                                    s.label(),
                                    sc.title(),
                                    metric.unit()
                                ),
                            );
                        }
                        metric.format(x)
                    }
                    None => "FAILED".to_owned(),
                };
                line += &format!("{:>16}", cell);
            }
            for &s in &all[1..] {
                let peer = median(get(mode, Subject::Server(s), sc), |m| metric.value(m));
                line += &format!("{:>14}", ratio_cell(metric, ours, peer));
            }
            println!("{}", line);
        }
        if o.clients {
            println!();
            println!("Clients, against the limit server:");
            let mut header = format!("{:<31}", "scenario");
            for c in &ClientLib::ALL {
                header += &format!("{:>16}", c.label());
            }
            for c in &ClientLib::ALL[1..] {
                header += &format!("{:>14}", format!("/{}", short(c.label())));
            }
            println!("{}", header);
            for (sc, metric) in rows() {
                let mut line = format!("{:<31}", format!("{} {}", sc.title(), metric.unit()));
                let ours = median(get(mode, Subject::Client(ClientLib::Ours), sc), |m| {
                    metric.value(m)
                });
                for &c in &ClientLib::ALL {
                    let cell = match median(get(mode, Subject::Client(c), sc), |m| metric.value(m))
                    {
                        Some((x, _)) => metric.format(x),
                        None => "FAILED".to_owned(),
                    };
                    line += &format!("{:>16}", cell);
                }
                for &c in &ClientLib::ALL[1..] {
                    let peer = median(get(mode, Subject::Client(c), sc), |m| metric.value(m));
                    line += &format!("{:>14}", ratio_cell(metric, ours, peer));
                }
                println!("{}", line);
            }
        }
        let mut errors = Vec::new();
        for (key, runs) in results.iter().filter(|((m, _, _), _)| *m == mode) {
            if let Some(err) = first_error(Some(runs)) {
                errors.push(format!(
                    "  {:?} {}: {}",
                    key.1,
                    Scenario::ALL[(key.2).0].title(),
                    err
                ));
            }
        }
        if !errors.is_empty() {
            println!();
            println!("Failures:");
            for e in errors {
                println!("{}", e);
            }
        }
    }
    if o.modes.contains(&Mode::Same) {
        print_targets(results);
    }
    if max_spread.0 > 0.0 {
        println!();
        println!(
            "Largest spread of a throughput between rounds (max - min) / median: {:.0}% ({})",
            max_spread.0 * 100.0,
            max_spread.1
        );
    }
}

/// Which commit of the library was measured, and whether src/ or examples/ had local changes.
fn tree_state() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(head) => {
            let dirty = git(&[
                "status",
                "--porcelain",
                "--",
                "src",
                "examples",
                "Cargo.toml",
            ])
            .map(|s| !s.is_empty())
            .unwrap_or(false);
            format!(
                "library at commit {}{}",
                head,
                if dirty {
                    " plus uncommitted changes in src/ or examples/"
                } else {
                    ""
                }
            )
        }
        None => "library commit unknown (no git)".to_owned(),
    }
}

/// A column header for a ratio: the peers' names without their versions.
fn short(label: &str) -> &str {
    match label {
        "rmp-rpc 0.3" | "msgpack-rpc 0.4" => label.split_whitespace().next().unwrap_or(label),
        _ => label,
    }
}

fn ratio_cell(metric: Metric, ours: Option<(f64, f64)>, peer: Option<(f64, f64)>) -> String {
    match (ours, peer) {
        (Some((o, _)), Some((p, _))) if o > 0.0 && p > 0.0 => format!("{:.2}", metric.ratio(o, p)),
        _ => "-".to_owned(),
    }
}

/// The targets of issue 7, same-core mode.
fn print_targets(results: &BTreeMap<Key, Runs>) {
    let value = |who: Subject, sc: Scenario, metric: Metric| {
        median(results.get(&(Mode::Same, who, ScenarioKey::of(sc))), |m| {
            metric.value(m)
        })
        .map(|(x, _)| x)
    };
    let server = |s: Server, sc: Scenario| {
        let metric = if sc == Scenario::Big {
            Metric::MiBs
        } else {
            Metric::Rate
        };
        value(Subject::Server(s), sc, metric)
    };
    let check = |what: String, ours: Option<f64>, peer: Option<f64>, target: f64| match (ours, peer)
    {
        (Some(o), Some(p)) if p > 0.0 => {
            let r = o / p;
            println!(
                "  {:<54} {:>5.2}   target >= {:<4}  {}",
                what,
                r,
                target,
                if r >= target { "met" } else { "MISSED" }
            );
        }
        _ => println!(
            "  {:<54} {:>5}   target >= {:<4}  no data",
            what, "-", target
        ),
    };
    println!();
    println!("Targets (issue 7), same-core mode:");
    let o = |sc| server(Server::Ours, sc);
    check(
        "pipelined: ours / rmp-rpc 0.3".into(),
        o(Scenario::Pipelined),
        server(Server::RmpRpc, Scenario::Pipelined),
        1.5,
    );
    check(
        "pipelined: ours / limit".into(),
        o(Scenario::Pipelined),
        server(Server::Limit, Scenario::Pipelined),
        0.6,
    );
    check(
        "16 conns: ours / rmp-rpc 0.3".into(),
        o(Scenario::Connections),
        server(Server::RmpRpc, Scenario::Connections),
        1.1,
    );
    check(
        "16 conns: ours / limit".into(),
        o(Scenario::Connections),
        server(Server::Limit, Scenario::Connections),
        0.85,
    );
    check(
        "sequential: ours / limit".into(),
        o(Scenario::Sequential),
        server(Server::Limit, Scenario::Sequential),
        0.9,
    );
    if let (Some(r), Some(l)) = (
        server(Server::RmpRpc, Scenario::Sequential),
        server(Server::Limit, Scenario::Sequential),
    ) {
        println!(
            "  {:<54} {:>5.2}   (for reference)",
            "sequential: rmp-rpc 0.3 / limit",
            r / l
        );
    }
    check(
        "1 MiB: ours / limit".into(),
        o(Scenario::Big),
        server(Server::Limit, Scenario::Big),
        0.9,
    );
    for &sc in &Scenario::ALL {
        let metric = if sc == Scenario::Big {
            Metric::MiBs
        } else {
            Metric::Rate
        };
        check(
            format!("client, {}: ours / rmp-rpc 0.3", sc.title()),
            value(Subject::Client(ClientLib::Ours), sc, metric),
            value(Subject::Client(ClientLib::RmpRpc), sc, metric),
            1.0,
        );
    }
}

// ---------------------------------------------------------------------------------------
// Memory

/// The server's resident memory, in bytes (VmRSS of /proc/PID/status).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid)).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Lets the server settle, then reads its RSS.
fn settled_rss(pid: u32) -> u64 {
    thread::sleep(Duration::from_millis(500));
    rss(pid)
}

/// Raises the soft limit on open files to the hard limit; returns it.
fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

/// One blocking round trip of `add [1, 2]`.
fn round_trip(stream: &mut TcpStream, id: u32) -> Result<(), String> {
    let mut req = Vec::new();
    put_add_request(&mut req, id, 1, 2);
    stream.write_all(&req).map_err(|e| e.to_string())?;
    read_responses(stream, 1)
}

/// Reads `n` responses (any content) from a blocking stream.
fn read_responses(stream: &mut TcpStream, mut n: usize) -> Result<(), String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while n > 0 {
        let got = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if got == 0 {
            return Err("the server closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..got]);
        let mut at = 0;
        while n > 0 {
            match parse_response(&buf[at..]) {
                Parsed::Done(_, len) => {
                    at += len;
                    n -= 1;
                }
                Parsed::Incomplete => break,
                Parsed::Invalid(why) => return Err(why.into()),
            }
        }
        buf.drain(..at);
    }
    Ok(())
}

/// Opens `n` connections in batches; after each batch, a round trip on the batch's last
/// connection makes sure the server has accepted (and started) the whole batch.
fn open_connections(
    addr: SocketAddr,
    n: usize,
    touched: &mut usize,
) -> Result<Vec<TcpStream>, String> {
    let mut conns = Vec::with_capacity(n);
    while conns.len() < n {
        let batch = (n - conns.len()).min(500);
        for _ in 0..batch {
            let s = TcpStream::connect(addr)
                .map_err(|e| format!("connection {}: {}", conns.len() + 1, e))?;
            s.set_read_timeout(Some(Duration::from_secs(20)))
                .map_err(|e| e.to_string())?;
            conns.push(s);
        }
        let last = conns.last_mut().expect("a connection");
        round_trip(last, 0)?;
        *touched += 1;
    }
    Ok(conns)
}

struct MemoryReport {
    server: String,
    base: u64,
    idle_n: usize,
    idle_fresh: u64,
    idle_used: u64,
    closed: u64,
    flight_k: usize,
    flight_base: u64,
    flight: u64,
    error: Option<String>,
}

fn memory(bin_dir: &Path, o: &Options) {
    let nofile = raise_nofile();
    let wanted = o.idle as u64 + 200;
    let idle = if nofile < wanted {
        let n = nofile.saturating_sub(200) as usize;
        eprintln!(
            "bench: RLIMIT_NOFILE is {}: measuring {} idle connections instead of {}",
            nofile, n, o.idle
        );
        n
    } else {
        o.idle
    };
    let mut reports = Vec::new();
    for &server in &[Server::Ours, Server::RmpRpc, Server::MsgpackRpc] {
        eprintln!("bench: memory of {}", server.label());
        reports.push(memory_of(bin_dir, server, idle, o.in_flight));
    }
    println!();
    println!(
        "Memory (VmRSS of the server process; ours = examples/server.rs built in bench/ours/ with {}; {}):",
        ours_versions(),
        TREE.get().cloned().unwrap_or_else(tree_state)
    );
    println!(
        "{:<16}{:>10}{:>16}{:>12}{:>16}{:>12}{:>13}{:>12}{:>12}",
        "server",
        "empty",
        format!("{} idle", idle),
        "per conn",
        "same, used",
        "per conn",
        "after close",
        "in flight",
        "per req"
    );
    for r in &reports {
        if let Some(ref err) = r.error {
            println!("{:<16} FAILED: {}", r.server, err);
            continue;
        }
        let per = |after: u64, before: u64, n: usize| {
            format!("{:.0} B", (after as f64 - before as f64) / n.max(1) as f64)
        };
        println!(
            "{:<16}{:>10}{:>16}{:>12}{:>16}{:>12}{:>13}{:>12}{:>12}",
            r.server,
            mib(r.base),
            mib(r.idle_fresh),
            per(r.idle_fresh, r.base, r.idle_n),
            mib(r.idle_used),
            per(r.idle_used, r.base, r.idle_n),
            mib(r.closed),
            mib(r.flight),
            per(r.flight, r.flight_base, r.flight_k),
        );
    }
    println!();
    println!(
        "Idle: {} connections open, never used, then after one `add` each (`same, used`); per conn = (RSS - empty) / {}.",
        idle, idle
    );
    println!();
    println!(
        "In flight: {} `sleep [60000]` requests over {} connections, measured against the same connections with nothing in flight.",
        reports.first().map(|r| r.flight_k).unwrap_or(0),
        flight_connections(reports.first().map(|r| r.flight_k).unwrap_or(0))
    );
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn flight_connections(k: usize) -> usize {
    // Our server runs at most 1024 handlers per connection by default.
    k.div_ceil(1000)
}

fn memory_of(bin_dir: &Path, server: Server, idle: usize, in_flight: usize) -> MemoryReport {
    let mut report = MemoryReport {
        server: server.label(),
        base: 0,
        idle_n: idle,
        idle_fresh: 0,
        idle_used: 0,
        closed: 0,
        flight_k: in_flight,
        flight_base: 0,
        flight: 0,
        error: None,
    };
    // Each phase on a fresh server: memory freed by one phase would hide the next one's.
    let running = Running::start(&server.program(bin_dir), Some("0"));
    if let Err(err) = idle_phase(&running, &mut report) {
        report.error = Some(format!("{}{}", err, running.errors()));
        return report;
    }
    drop(running);
    let running = Running::start(&server.program(bin_dir), Some("0"));
    if let Err(err) = in_flight_phase(&running, &mut report) {
        report.error = Some(format!("{}{}", err, running.errors()));
    }
    report
}

/// RSS empty, with N idle connections never used, the same after one request each, and
/// once they are closed.
fn idle_phase(running: &Running, r: &mut MemoryReport) -> Result<(), String> {
    let pid = running.pid();
    let addr = running.addr;
    // A first connection warms up the allocator and the reactor.
    {
        let mut warm = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        round_trip(&mut warm, 0)?;
    }
    r.base = settled_rss(pid);
    let mut touched = 0;
    let mut conns = open_connections(addr, r.idle_n, &mut touched)?;
    r.idle_fresh = settled_rss(pid);
    for (i, c) in conns.iter_mut().enumerate() {
        let mut req = Vec::new();
        put_add_request(&mut req, i as u32, 1, 2);
        c.write_all(&req).map_err(|e| e.to_string())?;
    }
    for c in conns.iter_mut() {
        read_responses(c, 1)?;
    }
    r.idle_used = settled_rss(pid);
    drop(conns);
    r.closed = settled_rss(pid);
    Ok(())
}

/// RSS with K `sleep` requests in flight, against the same connections with none.
fn in_flight_phase(running: &Running, r: &mut MemoryReport) -> Result<(), String> {
    let pid = running.pid();
    let addr = running.addr;
    let n = flight_connections(r.flight_k);
    let mut conns = Vec::new();
    for _ in 0..n {
        let mut c = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        c.set_read_timeout(Some(Duration::from_secs(20)))
            .map_err(|e| e.to_string())?;
        round_trip(&mut c, 0)?;
        conns.push(c);
    }
    r.flight_base = settled_rss(pid);
    let per_conn = r.flight_k / n.max(1);
    r.flight_k = per_conn * n;
    for c in conns.iter_mut() {
        let mut buf = Vec::new();
        for id in 0..per_conn as u32 {
            // [0, id, "sleep", [60000]]
            buf.extend_from_slice(&[0x94, 0x00]);
            put_uint(&mut buf, u64::from(id + 1));
            buf.extend_from_slice(&[0xa5, b's', b'l', b'e', b'e', b'p', 0x91]);
            put_uint(&mut buf, 60_000);
        }
        c.write_all(&buf).map_err(|e| e.to_string())?;
    }
    // An `add` after the sleeps is answered once the server has read (and started) them all.
    for c in conns.iter_mut() {
        round_trip(c, 1_000_000)?;
    }
    r.flight = settled_rss(pid);
    Ok(())
}
