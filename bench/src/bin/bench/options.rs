//! What the runner can measure (our server and the peers' servers, the client drivers,
//! the two pinning modes) and the command line that chooses among them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The servers, in the order of the table's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Server {
    Ours,
    /// The same example server with `--typed`: its `Router` of typed handlers.
    OursTyped,
    /// Ours on two reactors, one thread each (`--threads 2`).
    OursThreads,
    RmpRpc,
    /// rmp-rpc 0.3 on `tokio::run`'s thread pool (`--pool`).
    RmpRpcPool,
    MsgpackRpc,
    /// msgpack-rpc 0.4 on tokio 1's multi-threaded runtime (`--multi-thread`).
    MsgpackRpcMulti,
    Limit,
    /// The limit server with a thread per connection (`--thread-per-connection`).
    LimitThreads,
    /// A server given with `--server LABEL=PATH`, to compare builds (index in EXTRA).
    Extra(usize),
}

/// The servers given with `--server LABEL=PATH`.
pub static EXTRA: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();

pub fn extra_servers() -> &'static [(String, PathBuf)] {
    EXTRA.get().map(Vec::as_slice).unwrap_or(&[])
}

impl Server {
    /// Every server, the extra ones last.
    pub fn all() -> Vec<Server> {
        let mut all = Server::for_mode(Mode::Same);
        all.extend(Server::for_mode(Mode::Free));
        all.sort();
        all.dedup();
        all
    }

    /// The servers measured in `mode`, the extra ones last: single-threaded ones when
    /// pinned to one CPU; unpinned, where the scheduler places them, every server on
    /// one thread and on several, to see what more threads buy each of them.
    pub fn for_mode(mode: Mode) -> Vec<Server> {
        let mut servers = match mode {
            Mode::Same | Mode::Split => vec![
                Server::Ours,
                Server::OursTyped,
                Server::RmpRpc,
                Server::MsgpackRpc,
                Server::Limit,
            ],
            Mode::Free => vec![
                Server::Ours,
                Server::OursThreads,
                Server::RmpRpc,
                Server::RmpRpcPool,
                Server::MsgpackRpc,
                Server::MsgpackRpcMulti,
                Server::Limit,
                Server::LimitThreads,
            ],
        };
        servers.extend((0..extra_servers().len()).map(Server::Extra));
        servers
    }

    /// The server the ratio columns of `mode` compare with the others.
    pub fn reference(mode: Mode) -> Server {
        match mode {
            Mode::Same | Mode::Split => Server::Ours,
            Mode::Free => Server::OursThreads,
        }
    }

    pub fn program(self, bin_dir: &Path) -> PathBuf {
        let name = match self {
            Server::Ours | Server::OursTyped | Server::OursThreads => "server-ours",
            Server::RmpRpc | Server::RmpRpcPool => "server-rmp-rpc",
            Server::MsgpackRpc | Server::MsgpackRpcMulti => "server-msgpack-rpc",
            Server::Limit | Server::LimitThreads => "server-limit",
            Server::Extra(i) => return extra_servers()[i].1.clone(),
        };
        bin_dir.join(name)
    }

    /// The arguments the server takes after its address.
    pub fn args(self) -> &'static [&'static str] {
        match self {
            Server::OursTyped => &["--typed"],
            Server::OursThreads => &["--threads", "2"],
            Server::RmpRpcPool => &["--pool"],
            Server::MsgpackRpcMulti => &["--multi-thread"],
            Server::LimitThreads => &["--thread-per-connection"],
            _ => &[],
        }
    }

    pub fn label(self) -> String {
        match self {
            Server::Ours => "ours",
            Server::OursTyped => "ours typed",
            Server::OursThreads => "ours 2 threads",
            Server::RmpRpc => "rmp-rpc 0.3",
            Server::RmpRpcPool => "rmp-rpc pool",
            Server::MsgpackRpc => "msgpack-rpc 0.4",
            Server::MsgpackRpcMulti => "msgpack-rpc mt",
            Server::Limit => "limit",
            Server::LimitThreads => "limit thr/conn",
            Server::Extra(i) => return extra_servers()[i].0.clone(),
        }
        .to_owned()
    }

    /// The name in a ratio column's header.
    pub fn short(self) -> String {
        match self {
            Server::Ours => "ours",
            Server::OursTyped => "typed",
            Server::OursThreads => "ours2",
            Server::RmpRpc => "rmp-rpc",
            Server::RmpRpcPool => "rmp-pool",
            Server::MsgpackRpc => "msgpack-rpc",
            Server::MsgpackRpcMulti => "msgpack-mt",
            Server::Limit => "limit",
            Server::LimitThreads => "limit-thr",
            Server::Extra(i) => return extra_servers()[i].0.clone(),
        }
        .to_owned()
    }
}

/// The client drivers, all run against the limit server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientLib {
    Ours,
    RmpRpc,
    MsgpackRpc,
}

impl ClientLib {
    pub const ALL: [ClientLib; 3] = [ClientLib::Ours, ClientLib::RmpRpc, ClientLib::MsgpackRpc];

    pub fn binary(self) -> &'static str {
        match self {
            ClientLib::Ours => "client-ours",
            ClientLib::RmpRpc => "client-rmp-rpc",
            ClientLib::MsgpackRpc => "client-msgpack-rpc",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ClientLib::Ours => "ours",
            ClientLib::RmpRpc => "rmp-rpc 0.3",
            ClientLib::MsgpackRpc => "msgpack-rpc 0.4",
        }
    }
}

/// Where the server and the load run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Server and load generator on CPU 0: no cross-core wake-ups, the two share one core.
    Same,
    /// Server on CPU 0, load generator on CPU 1: each has a core, every message crosses
    /// cores.
    Split,
    /// No pinning: the scheduler places the server's threads and the load generator.
    Free,
}

impl Mode {
    /// The CPU of the server, if pinned.
    pub fn server_cpu(self) -> Option<&'static str> {
        match self {
            Mode::Same | Mode::Split => Some("0"),
            Mode::Free => None,
        }
    }

    /// The CPU of the load generator or client driver, if pinned.
    pub fn load_cpu(self) -> Option<&'static str> {
        match self {
            Mode::Same => Some("0"),
            Mode::Split => Some("1"),
            Mode::Free => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Same => "same",
            Mode::Split => "split",
            Mode::Free => "free",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Mode::Same => "SAME CORE: server and load both pinned to CPU 0 (taskset -c 0)",
            Mode::Split => "ONE CORE EACH: server on CPU 0, load on CPU 1",
            Mode::Free => {
                "UNPINNED: no taskset, the scheduler places the server's threads and the load"
            }
        }
    }
}

pub struct Options {
    pub rounds: usize,
    pub duration: f64,
    pub warmup: f64,
    pub modes: Vec<Mode>,
    pub build: bool,
    pub memory: bool,
    pub idle: usize,
    pub in_flight: usize,
    /// Run the client drivers too (`--no-clients` skips them).
    pub clients: bool,
    /// `--server LABEL=PATH`: more servers to measure, as extra columns.
    pub extra: Vec<(String, PathBuf)>,
    /// `--csv FILE`: also write every median there, machine-readable (for chart.py).
    pub csv: Option<PathBuf>,
}

pub fn usage() -> ! {
    eprintln!(
        "usage: bench [--quick] [--rounds N] [--duration SECS] [--mode same|split|free] [--no-build] [--no-clients] [--server LABEL=PATH]... [--csv FILE]\n       bench --memory [--idle N] [--in-flight K] [--no-build]"
    );
    std::process::exit(1);
}

pub fn parse_options() -> Options {
    let mut o = Options {
        rounds: 3,
        duration: 2.0,
        warmup: 0.3,
        modes: vec![Mode::Same, Mode::Split, Mode::Free],
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
                    "free" => vec![Mode::Free],
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
