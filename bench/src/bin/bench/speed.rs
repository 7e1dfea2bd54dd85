//! The speed runs: every scenario against every server, and every client driver against
//! the limit server, round after round.

use std::collections::BTreeMap;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rmp_rpc_demo_bench::scenario::{Measurement, Scenario};

use crate::cpu::{
    children_usage, load_average, machine_busy_ticks, own_ticks, process_usage, Usage,
};
use crate::options::{ClientLib, Mode, Options, Server};
use crate::processes::{run_driver, Running};
use crate::report::{print_speed, write_csv};

/// Who is measured in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    Server(Server),
    Client(ClientLib),
}

pub type Key = (Mode, Subject, ScenarioKey);

/// One run: what the driver measured, plus the CPU time and the context switches of the
/// measured side (the server, or the client driver) per request, over the whole run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub m: Measurement,
    pub cpu_us: f64,
    pub switches: f64,
}

pub type Runs = Vec<Result<Run, String>>;

impl Run {
    pub fn new(m: Measurement, before: Usage, after: Usage) -> Run {
        let n = m.total.max(1) as f64;
        Run {
            m,
            cpu_us: (after.cpu - before.cpu).max(0.0) * 1e6 / n,
            switches: after.switches.saturating_sub(before.switches) as f64 / n,
        }
    }
}

/// `Scenario` with an order, for the result map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScenarioKey(pub usize);

impl ScenarioKey {
    pub fn of(sc: Scenario) -> Self {
        ScenarioKey(Scenario::ALL.iter().position(|&s| s == sc).unwrap_or(0))
    }
}

pub fn speed(bin_dir: &Path, o: &Options) {
    let runs_per_round: usize = o
        .modes
        .iter()
        .map(|&mode| Scenario::ALL.len() * (Server::for_mode(mode).len() + clients(o, mode).len()))
        .sum();
    let estimate = (o.duration + o.warmup + 0.25) * (runs_per_round * o.rounds) as f64;
    eprintln!(
        "bench: {} round(s) x {} runs of {:.1} s (+{:.1} s warm-up) over {} mode(s): about {:.0} s",
        o.rounds,
        runs_per_round,
        o.duration,
        o.warmup,
        o.modes.len(),
        estimate
    );
    let load_before = load_average();
    let busy_before = machine_busy_ticks();
    let own_before = own_ticks();
    let started = Instant::now();
    let mut results: BTreeMap<Key, Runs> = BTreeMap::new();
    for &mode in &o.modes {
        let mut servers: Vec<(Server, Running)> = Server::for_mode(mode)
            .into_iter()
            .map(|s| {
                let running = Running::start(&s.program(bin_dir), s.args(), mode.server_cpu());
                (s, running)
            })
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
                let mut clients = clients(o, mode);
                let limit_addr = match servers.iter().find(|(s, _)| *s == Server::Limit) {
                    Some((_, running)) => running.addr,
                    None => continue,
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

/// The client drivers run in `mode`: all of them in the pinned modes (unless
/// `--no-clients`), none unpinned, where the servers are the subject.
fn clients(o: &Options, mode: Mode) -> Vec<ClientLib> {
    if o.clients && mode != Mode::Free {
        ClientLib::ALL.to_vec()
    } else {
        Vec::new()
    }
}

pub fn progress(
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
