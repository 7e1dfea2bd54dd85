//! The neutral load generator: plain std sockets, the same bytes for every server.
//!
//! `loadgen --addr ADDR --scenario seq|pipe|conns|big [--duration SECS] [--warmup SECS]`
//!
//! Keeps `window` requests in flight on each connection and checks every response: its
//! msgid must be one in flight, and its result the right sum (`add [a, b]`), or an error
//! with a nil result for the 1 MiB requests (`add [<bin>, 0]` breaks the contract of
//! `add`: the servers answer with the "expected two integers" error). Prints one
//! `RESULT ...` line; a wrong response exits with status 2 and says why.
//!
//! One connection: blocking socket, `write` all the requests a round frees, then one
//! `read`. Several connections: non-blocking sockets and one `poll` loop on one thread.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

use rmp_rpc_demo_bench::scenario::{
    add_params, fail, DriverArgs, Measurement, Scenario, BIG_PAYLOAD,
};
use rmp_rpc_demo_bench::wire::{
    parse_response, put_add_request, put_big_request_head, Parsed, BIG_REQUEST_TAIL,
};

/// A request in flight, in the slot its msgid points to (`id % window`).
#[derive(Clone, Copy)]
struct Slot {
    busy: bool,
    id: u32,
    /// `Some(sum)` for `add`, `None` for a big request (an error is expected).
    expect: Option<i64>,
    sent: Instant,
}

struct Conn {
    stream: TcpStream,
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// Requests sent on this connection so far.
    seq: u32,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    big: bool,
}

struct Stats {
    measure_from: Instant,
    latencies: Vec<u32>,
    bytes: u64,
    /// Every response, warm-up included.
    total: u64,
}

fn main() {
    let args = DriverArgs::from_env();
    let sc = args.scenario;
    let mut conns: Vec<Conn> = (0..sc.connections()).map(|_| connect(&args, sc)).collect();
    let start = Instant::now();
    let mut stats = Stats {
        measure_from: start + args.warmup,
        latencies: Vec::with_capacity(1 << 20),
        bytes: 0,
        total: 0,
    };
    let end = stats.measure_from + args.duration;
    let payload = vec![0x5a_u8; BIG_PAYLOAD];
    let stopped = if conns.len() == 1 {
        run_blocking(&mut conns[0], &mut stats, end, &payload)
    } else {
        run_poll(&mut conns, &mut stats, end)
    };
    let seconds = stopped.duration_since(stats.measure_from).as_secs_f64();
    let bytes = stats.bytes;
    println!(
        "{}",
        Measurement::from_latencies(&mut stats.latencies, seconds, bytes, stats.total)
    );
}

fn connect(args: &DriverArgs, sc: Scenario) -> Conn {
    let stream = TcpStream::connect(args.addr)
        .unwrap_or_else(|err| fail(&format!("cannot connect to {}: {}", args.addr, err)));
    let _ = stream.set_nodelay(true);
    let window = sc.window();
    assert!(window.is_power_of_two());
    let now = Instant::now();
    Conn {
        stream,
        slots: vec![
            Slot {
                busy: false,
                id: 0,
                expect: None,
                sent: now
            };
            window
        ],
        free: (0..window).rev().collect(),
        seq: 0,
        rbuf: vec![0; 256 * 1024],
        rstart: 0,
        rend: 0,
        wbuf: Vec::with_capacity(64 * 1024),
        wpos: 0,
        big: sc == Scenario::Big,
    }
}

impl Conn {
    /// Encodes a request into every free slot (not for big requests).
    fn fill(&mut self, now: Instant) {
        let window = self.slots.len() as u32;
        while let Some(slot) = self.free.pop() {
            let seq = self.seq;
            self.seq = self.seq.wrapping_add(1);
            let id = seq.wrapping_mul(window).wrapping_add(slot as u32);
            let (a, b) = add_params(seq);
            put_add_request(&mut self.wbuf, id, a, b);
            self.slots[slot] = Slot {
                busy: true,
                id,
                expect: Some(a + b),
                sent: now,
            };
        }
    }

    /// Takes the next big request's slot; returns its header.
    fn fill_big(&mut self, now: Instant) -> Option<Vec<u8>> {
        let slot = self.free.pop()?;
        let window = self.slots.len() as u32;
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let id = seq.wrapping_mul(window).wrapping_add(slot as u32);
        let mut head = Vec::with_capacity(16);
        put_big_request_head(&mut head, id, BIG_PAYLOAD as u32);
        self.slots[slot] = Slot {
            busy: true,
            id,
            expect: None,
            sent: now,
        };
        Some(head)
    }

    /// Makes room at the end of the read buffer and reads once into it.
    fn read_some(&mut self) -> io::Result<usize> {
        if self.rstart == self.rend {
            self.rstart = 0;
            self.rend = 0;
        } else if self.rend == self.rbuf.len() {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
            if self.rend == self.rbuf.len() {
                let len = self.rbuf.len() * 2;
                self.rbuf.resize(len, 0);
            }
        }
        let n = self.stream.read(&mut self.rbuf[self.rend..])?;
        self.rend += n;
        Ok(n)
    }

    /// Checks and retires every complete response in the read buffer.
    fn consume(&mut self, now: Instant, stats: &mut Stats) {
        let window = self.slots.len() as u32;
        loop {
            let view = match parse_response(&self.rbuf[self.rstart..self.rend]) {
                Parsed::Done(view, len) => {
                    self.rstart += len;
                    view
                }
                Parsed::Incomplete => return,
                Parsed::Invalid(why) => fail(&format!("bad response from the server: {}", why)),
            };
            let slot = (view.id % window) as usize;
            let entry = self.slots[slot];
            if !entry.busy || entry.id != view.id {
                fail(&format!(
                    "response to msgid {}, which is not in flight",
                    view.id
                ));
            }
            match (entry.expect, view.result) {
                (Some(sum), Ok(Some(got))) if got == sum => {}
                (None, Err(())) => {}
                (expect, got) => fail(&format!(
                    "msgid {}: expected {}, got {:?}",
                    view.id,
                    match expect {
                        Some(sum) => format!("result {}", sum),
                        None => "an error".to_owned(),
                    },
                    got
                )),
            }
            self.slots[slot].busy = false;
            self.free.push(slot);
            stats.total += 1;
            if now >= stats.measure_from {
                let ns = now.duration_since(entry.sent).as_nanos();
                stats.latencies.push(ns.min(u128::from(u32::MAX)) as u32);
                if self.big {
                    stats.bytes += BIG_PAYLOAD as u64;
                }
            }
        }
    }
}

/// One connection, blocking I/O.
fn run_blocking(conn: &mut Conn, stats: &mut Stats, end: Instant, payload: &[u8]) -> Instant {
    if let Err(err) = conn.stream.set_read_timeout(Some(Duration::from_secs(10))) {
        fail(&format!("cannot set a read timeout: {}", err));
    }
    let mut now = Instant::now();
    while now < end {
        if conn.big {
            if let Some(head) = conn.fill_big(now) {
                let sent = conn
                    .stream
                    .write_all(&head)
                    .and_then(|()| conn.stream.write_all(payload))
                    .and_then(|()| conn.stream.write_all(&BIG_REQUEST_TAIL));
                if let Err(err) = sent {
                    fail(&format!("write failed: {}", err));
                }
            }
        } else {
            conn.fill(now);
            if !conn.wbuf.is_empty() {
                if let Err(err) = conn.stream.write_all(&conn.wbuf) {
                    fail(&format!("write failed: {}", err));
                }
                conn.wbuf.clear();
            }
        }
        match conn.read_some() {
            Ok(0) => fail("the server closed the connection"),
            Ok(_) => {}
            Err(ref err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => fail(&format!("read failed: {}", err)),
        }
        now = Instant::now();
        conn.consume(now, stats);
    }
    now
}

/// Several connections, non-blocking I/O and one poll loop.
fn run_poll(conns: &mut [Conn], stats: &mut Stats, end: Instant) -> Instant {
    for conn in conns.iter_mut() {
        if let Err(err) = conn.stream.set_nonblocking(true) {
            fail(&format!("cannot make a socket non-blocking: {}", err));
        }
    }
    let mut fds: Vec<libc::pollfd> = conns
        .iter()
        .map(|c| libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut now = Instant::now();
    for conn in conns.iter_mut() {
        conn.fill(now);
        write_some(conn);
    }
    while now < end {
        for (fd, conn) in fds.iter_mut().zip(conns.iter()) {
            fd.events = if conn.wpos < conn.wbuf.len() {
                libc::POLLIN | libc::POLLOUT
            } else {
                libc::POLLIN
            };
        }
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 5000) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            fail(&format!("poll failed: {}", err));
        }
        if n == 0 {
            fail("no response for 5 s");
        }
        now = Instant::now();
        for (fd, conn) in fds.iter().zip(conns.iter_mut()) {
            if fd.revents == 0 {
                continue;
            }
            if fd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                match conn.read_some() {
                    Ok(0) => fail("the server closed the connection"),
                    Ok(_) => {}
                    Err(ref err)
                        if err.kind() == io::ErrorKind::WouldBlock
                            || err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => fail(&format!("read failed: {}", err)),
                }
                conn.consume(now, stats);
            }
            if conn.wpos == conn.wbuf.len() {
                conn.fill(now);
            }
            write_some(conn);
        }
    }
    now
}

/// Writes what the socket takes now.
fn write_some(conn: &mut Conn) {
    while conn.wpos < conn.wbuf.len() {
        match conn.stream.write(&conn.wbuf[conn.wpos..]) {
            Ok(n) => conn.wpos += n,
            Err(ref err) if err.kind() == io::ErrorKind::WouldBlock => break,
            Err(ref err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => fail(&format!("write failed: {}", err)),
        }
    }
    if conn.wpos == conn.wbuf.len() {
        conn.wbuf.clear();
        conn.wpos = 0;
    }
}
