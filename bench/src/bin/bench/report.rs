//! The report of the speed runs: medians and spreads, the tables, the ratios ours /
//! peer, the targets, and the CSV file.

use std::collections::BTreeMap;
use std::path::Path;

use rmp_rpc_demo_bench::scenario::Scenario;

use crate::building::{ours_versions, tree_state, TREE};
use crate::options::{ClientLib, Mode, Options, Server};
use crate::speed::{Key, Run, Runs, ScenarioKey, Subject};

/// `--csv FILE`: one line per median, `mode,kind,who,scenario,metric,median,spread`.
pub fn write_csv(path: &Path, results: &BTreeMap<Key, Runs>) {
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
                    mode.name(),
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

/// The median of the successful rounds, and the spread (max - min) / median.
/// The median over rounds of `a / b`, each ratio taken within one round (both lists hold
/// one run per round, in order).
fn paired_ratio(a: Option<&Runs>, b: Option<&Runs>, metric: Metric) -> Option<f64> {
    let mut ratios: Vec<f64> = a?
        .iter()
        .zip(b?.iter())
        .filter_map(|(a, b)| match (a, b) {
            (Ok(a), Ok(b)) if metric.value(b) > 0.0 => Some(metric.value(a) / metric.value(b)),
            _ => None,
        })
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(|x, y| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal));
    ratios.get(ratios.len() / 2).copied()
}

pub fn median(runs: Option<&Runs>, f: impl Fn(&Run) -> f64) -> Option<(f64, f64)> {
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

pub fn first_error(runs: Option<&Runs>) -> Option<&String> {
    runs?.iter().find_map(|r| r.as_ref().err())
}

/// What a table row shows.
#[derive(Clone, Copy)]
pub enum Metric {
    Rate,
    P50,
    P99,
    MiBs,
    Cpu,
    Switches,
}

impl Metric {
    pub fn value(self, r: &Run) -> f64 {
        match self {
            Metric::Rate => r.m.per_second(),
            Metric::P50 => r.m.p50_ns as f64 / 1e3,
            Metric::P99 => r.m.p99_ns as f64 / 1e3,
            Metric::MiBs => r.m.mib_per_second(),
            Metric::Cpu => r.cpu_us,
            Metric::Switches => r.switches,
        }
    }

    pub fn unit(self) -> &'static str {
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
    pub fn ratio(self, ours: f64, peer: f64) -> f64 {
        match self {
            Metric::P50 | Metric::P99 | Metric::Cpu | Metric::Switches => peer / ours,
            _ => ours / peer,
        }
    }

    pub fn format(self, x: f64) -> String {
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

pub fn rows() -> Vec<(Scenario, Metric)> {
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

pub fn print_speed(results: &BTreeMap<Key, Runs>, o: &Options) {
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
        // The typed server has a table of its own, below.
        let all: Vec<Server> = Server::for_mode(mode)
            .into_iter()
            .filter(|s| *s != Server::OursTyped)
            .collect();
        let reference = Server::reference(mode);
        let others: Vec<Server> = all.iter().copied().filter(|&s| s != reference).collect();
        println!(
            "Servers, driven by the neutral load generator (loadgen); ratios are {} / the column's server:",
            reference.short()
        );
        let mut header = format!("{:<31}", "scenario");
        for s in &all {
            header += &format!("{:>16}", s.label());
        }
        for s in &others {
            header += &format!("{:>14}", format!("/{}", s.short()));
        }
        println!("{}", header);
        for (sc, metric) in rows() {
            let mut line = format!("{:<31}", format!("{} {}", sc.title(), metric.unit()));
            let ours = median(get(mode, Subject::Server(reference), sc), |m| {
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
            for &s in &others {
                let peer = median(get(mode, Subject::Server(s), sc), |m| metric.value(m));
                line += &format!("{:>14}", ratio_cell(metric, ours, peer));
            }
            println!("{}", line);
        }
        // The typed server is measured in the pinned modes only.
        if mode != Mode::Free {
            println!();
            println!("Typed handlers: the same server with --typed (its Router), against the untyped one and the limit:");
            println!(
                "{:<31}{:>16}{:>16}{:>16}{:>14}{:>14}",
                "scenario", "ours typed", "ours", "limit", "/ours", "/limit"
            );
            for (sc, metric) in rows() {
                let value =
                    |s: Server| median(get(mode, Subject::Server(s), sc), |m| metric.value(m));
                let cell = |v: Option<(f64, f64)>| {
                    v.map_or("FAILED".to_owned(), |(x, _)| metric.format(x))
                };
                let typed = value(Server::OursTyped);
                println!(
                    "{:<31}{:>16}{:>16}{:>16}{:>14}{:>14}",
                    format!("{} {}", sc.title(), metric.unit()),
                    cell(typed),
                    cell(value(Server::Ours)),
                    cell(value(Server::Limit)),
                    ratio_cell(metric, typed, value(Server::Ours)),
                    ratio_cell(metric, typed, value(Server::Limit)),
                );
            }
        }
        if o.clients && mode != Mode::Free {
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
    if o.modes.contains(&Mode::Free) {
        print_core_targets(results);
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

/// A column header for a ratio: the peers' names without their versions.
pub fn short(label: &str) -> &str {
    match label {
        "rmp-rpc 0.3" | "msgpack-rpc 0.4" => label.split_whitespace().next().unwrap_or(label),
        _ => label,
    }
}

pub fn ratio_cell(metric: Metric, ours: Option<(f64, f64)>, peer: Option<(f64, f64)>) -> String {
    match (ours, peer) {
        (Some((o, _)), Some((p, _))) if o > 0.0 && p > 0.0 => format!("{:.2}", metric.ratio(o, p)),
        _ => "-".to_owned(),
    }
}

/// The targets of issue 15, unpinned: ours on two reactors against ours on one, the
/// thread-per-connection limit server and the peers on their multi-threaded runtimes
/// (16 connections), and no worse than one reactor on one connection (within the
/// noise: the larger spread between rounds of the two, at least 3%).
pub fn print_core_targets(results: &BTreeMap<Key, Runs>) {
    let rate = |s: Server, sc: Scenario| {
        median(
            results.get(&(Mode::Free, Subject::Server(s), ScenarioKey::of(sc))),
            |m| Metric::Rate.value(m),
        )
    };
    let cpu = |s: Server, sc: Scenario| {
        median(
            results.get(&(Mode::Free, Subject::Server(s), ScenarioKey::of(sc))),
            |m| Metric::Cpu.value(m),
        )
        .map(|(x, _)| x)
    };
    println!();
    println!("Targets (issue 15), unpinned mode (CPU per request: ours 2 threads / the other):");
    let two = Server::OursThreads;
    let conns = Scenario::Connections;
    for (other, target) in [
        (Server::Ours, 1.5),
        (Server::LimitThreads, 0.8),
        (Server::RmpRpcPool, 1.5),
        (Server::MsgpackRpcMulti, 1.5),
    ] {
        let what = format!("16 conns: {} / {}", two.label(), other.label());
        match (rate(two, conns), rate(other, conns)) {
            (Some((o, _)), Some((p, _))) if p > 0.0 => println!(
                "  {:<54} {:>5.2}   target >= {:<4}  {:<7} CPU us/req {} / {}",
                what,
                o / p,
                target,
                if o / p >= target { "met" } else { "MISSED" },
                cpu(two, conns).map_or("-".into(), |x| Metric::Cpu.format(x)),
                cpu(other, conns).map_or("-".into(), |x| Metric::Cpu.format(x)),
            ),
            _ => println!(
                "  {:<54} {:>5}   target >= {:<4}  no data",
                what, "-", target
            ),
        }
    }
    // What more threads buy each server, for reference.
    for (many, one) in [
        (Server::OursThreads, Server::Ours),
        (Server::RmpRpcPool, Server::RmpRpc),
        (Server::MsgpackRpcMulti, Server::MsgpackRpc),
        (Server::LimitThreads, Server::Limit),
    ] {
        if let (Some((m, _)), Some((o, _))) = (rate(many, conns), rate(one, conns)) {
            println!(
                "  {:<54} {:>5.2}   (reference: threads against one thread)  CPU us/req {} / {}",
                format!("16 conns: {} / {}", many.label(), one.label()),
                m / o,
                cpu(many, conns).map_or("-".into(), |x| Metric::Cpu.format(x)),
                cpu(one, conns).map_or("-".into(), |x| Metric::Cpu.format(x)),
            );
        }
    }
    for sc in [Scenario::Sequential, Scenario::Pipelined] {
        let what = format!("{}: {} / ours", sc.title(), two.label());
        match (rate(two, sc), rate(Server::Ours, sc)) {
            (Some((o, o_spread)), Some((p, p_spread))) if p > 0.0 => {
                let noise = o_spread.max(p_spread).max(0.03);
                println!(
                    "  {:<54} {:>5.2}   target >= {:.2} (1 - noise)  {:<7} CPU us/req {} / {}",
                    what,
                    o / p,
                    1.0 - noise,
                    if o / p >= 1.0 - noise {
                        "met"
                    } else {
                        "MISSED"
                    },
                    cpu(two, sc).map_or("-".into(), |x| Metric::Cpu.format(x)),
                    cpu(Server::Ours, sc).map_or("-".into(), |x| Metric::Cpu.format(x)),
                );
            }
            _ => println!("  {:<54} {:>5}   no data", what, "-"),
        }
    }
}

/// The targets of issue 7, same-core mode.
pub fn print_targets(results: &BTreeMap<Key, Runs>) {
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
    println!();
    println!("Targets (issue 16, typed handlers), same-core mode:");
    for &sc in &Scenario::ALL {
        check(
            format!("{}: ours typed / ours", sc.title()),
            server(Server::OursTyped, sc),
            o(sc),
            1.0,
        );
    }
    // The two run one after the other in each round: the ratio within a round is spared
    // the drift between rounds that other processes cause.
    for &sc in &Scenario::ALL {
        let metric = if sc == Scenario::Big {
            Metric::MiBs
        } else {
            Metric::Rate
        };
        let runs = |s: Server| results.get(&(Mode::Same, Subject::Server(s), ScenarioKey::of(sc)));
        if let Some(r) = paired_ratio(runs(Server::OursTyped), runs(Server::Ours), metric) {
            println!(
                "  {:<54} {:>5.2}   (median of the ratios within each round)",
                format!("{}: ours typed / ours", sc.title()),
                r
            );
        }
    }
    check(
        "pipelined: ours typed / limit".into(),
        server(Server::OursTyped, Scenario::Pipelined),
        server(Server::Limit, Scenario::Pipelined),
        0.6,
    );
    check(
        "16 conns: ours typed / limit".into(),
        server(Server::OursTyped, Scenario::Connections),
        server(Server::Limit, Scenario::Connections),
        0.9,
    );
    println!();
    println!("Targets (issue 7), clients, same-core mode:");
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
