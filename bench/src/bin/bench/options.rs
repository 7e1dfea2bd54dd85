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
    RmpRpc,
    MsgpackRpc,
    Limit,
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
        let mut all = vec![
            Server::Ours,
            Server::OursTyped,
            Server::RmpRpc,
            Server::MsgpackRpc,
            Server::Limit,
        ];
        all.extend((0..extra_servers().len()).map(Server::Extra));
        all
    }

    pub fn program(self, bin_dir: &Path) -> PathBuf {
        let name = match self {
            Server::Ours | Server::OursTyped => "server-ours",
            Server::RmpRpc => "server-rmp-rpc",
            Server::MsgpackRpc => "server-msgpack-rpc",
            Server::Limit => "server-limit",
            Server::Extra(i) => return extra_servers()[i].1.clone(),
        };
        bin_dir.join(name)
    }

    /// The arguments the server takes after its address.
    pub fn args(self) -> &'static [&'static str] {
        match self {
            Server::OursTyped => &["--typed"],
            _ => &[],
        }
    }

    pub fn label(self) -> String {
        match self {
            Server::Ours => "ours",
            Server::OursTyped => "ours typed",
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

/// Where the load runs relative to the server (always on CPU 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Load generator on CPU 0 too: no cross-core wake-ups, the two share one core.
    Same,
    /// Load generator on CPU 1: each has a core, every message crosses cores.
    Split,
}

impl Mode {
    pub fn load_cpu(self) -> &'static str {
        match self {
            Mode::Same => "0",
            Mode::Split => "1",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Mode::Same => "SAME CORE: server and load both pinned to CPU 0 (taskset -c 0)",
            Mode::Split => "ONE CORE EACH: server on CPU 0, load on CPU 1",
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
        "usage: bench [--quick] [--rounds N] [--duration SECS] [--mode same|split] [--no-build] [--no-clients] [--server LABEL=PATH]... [--csv FILE]\n       bench --memory [--idle N] [--in-flight K] [--no-build]"
    );
    std::process::exit(1);
}

pub fn parse_options() -> Options {
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
