//! `--memory`: the resident memory of each server, empty, with many idle connections,
//! and with many requests in flight.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::Duration;

use rmp_rpc_demo_bench::wire::{parse_response, put_add_request, put_uint, Parsed};

use crate::building::{ours_versions, tree_state, TREE};
use crate::options::{Options, Server};
use crate::processes::Running;

/// The server's resident memory, in bytes (VmRSS of /proc/PID/status).
pub fn rss(pid: u32) -> u64 {
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
pub fn settled_rss(pid: u32) -> u64 {
    thread::sleep(Duration::from_millis(500));
    rss(pid)
}

/// Raises the soft limit on open files to the hard limit; returns it.
pub fn raise_nofile() -> u64 {
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
pub fn round_trip(stream: &mut TcpStream, id: u32) -> Result<(), String> {
    let mut req = Vec::new();
    put_add_request(&mut req, id, 1, 2);
    stream.write_all(&req).map_err(|e| e.to_string())?;
    read_responses(stream, 1)
}

/// Reads `n` responses (any content) from a blocking stream.
pub fn read_responses(stream: &mut TcpStream, mut n: usize) -> Result<(), String> {
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
pub fn open_connections(
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

pub struct MemoryReport {
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

pub fn memory(bin_dir: &Path, o: &Options) {
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

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub fn flight_connections(k: usize) -> usize {
    // Our server runs at most 1024 handlers per connection by default.
    k.div_ceil(1000)
}

pub fn memory_of(bin_dir: &Path, server: Server, idle: usize, in_flight: usize) -> MemoryReport {
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
    let running = Running::start(&server.program(bin_dir), server.args(), Some("0"));
    if let Err(err) = idle_phase(&running, &mut report) {
        report.error = Some(format!("{}{}", err, running.errors()));
        return report;
    }
    drop(running);
    let running = Running::start(&server.program(bin_dir), server.args(), Some("0"));
    if let Err(err) = in_flight_phase(&running, &mut report) {
        report.error = Some(format!("{}{}", err, running.errors()));
    }
    report
}

/// RSS empty, with N idle connections never used, the same after one request each, and
/// once they are closed.
pub fn idle_phase(running: &Running, r: &mut MemoryReport) -> Result<(), String> {
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
pub fn in_flight_phase(running: &Running, r: &mut MemoryReport) -> Result<(), String> {
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
