//! The soak: many clients connecting to the example server and disconnecting, with
//! requests in flight, for a bounded time and a bounded number of connections.
//!
//! Most clients are our own [`Client`] over a TCP stream wrapped in a [`Killable`], so
//! that the soak can cut a connection in the middle of its calls, as a failing network
//! would. Some are raw peers that send their requests and half-close at once, as
//! `nc -N` does: every one of their requests must still be answered. The books must
//! balance at the end: every request sent was either answered with the right value or
//! failed with a connection error (never one of a half-closing peer's); none is lost,
//! none answered wrongly, none still waiting.

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::future::{self, Either, Loop};
use futures::task::{self, Task};
use futures::{Future, Poll};
use rmp_rpc_demo::{CallError, Client, Value};
use tokio_core::net::TcpStream;
use tokio_core::reactor::{Core, Handle, Timeout};
use tokio_io::{AsyncRead, AsyncWrite};

use super::faults::XorShift;
use super::half_close::{send_then_half_close, HalfClosing};
use super::process::{mib, proc_stats, ProcStats};
use super::wire::{decode_values, encode, parse_response, request};
use super::{ExampleServer, RawPeer, HANG};

/// The longest `sleep` a soak call asks for.
const MAX_SLEEP_MS: u64 = 20;

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Stop starting connections after this long.
    pub duration: Duration,
    /// Stop starting connections after this many, whatever the time.
    pub max_connections: u64,
    /// Clients connected at once.
    pub workers: usize,
    /// Calls per connection: 1 to this many, all in flight at once.
    pub max_calls: u64,
    /// In how many connections out of 1000 the soak cuts the transport mid-way.
    pub kill_per_mille: u32,
    /// How many connections out of 1000 are raw peers that half-close after sending.
    pub half_close_per_mille: u32,
    pub seed: u64,
}

/// The figures of a soak.
#[derive(Debug, Default, Clone)]
pub struct SoakReport {
    pub elapsed: Duration,
    pub connections: u64,
    /// Connections the soak cut with calls in flight.
    pub cut: u64,
    /// Connections of raw peers that half-closed after sending their requests.
    pub half_closed: u64,
    pub sent: u64,
    pub answered: u64,
    /// Failed with `CallError::ConnectionClosed`.
    pub failed: u64,
    /// Answered with a wrong value, or failed any other way: must be 0.
    pub wrong: u64,
    /// Still waiting when the soak gave up winding down: must be 0.
    pub stuck: u64,
    pub server_start: Option<ProcStats>,
    pub server_warm: Option<ProcStats>,
    pub server_end: Option<ProcStats>,
}

impl SoakReport {
    /// Does every figure say what it must?
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.sent != self.answered + self.failed + self.wrong + self.stuck {
            problems.push(format!(
                "sent {} != answered {} + failed {} + wrong {} + stuck {}",
                self.sent, self.answered, self.failed, self.wrong, self.stuck
            ));
        }
        if self.wrong > 0 {
            problems.push(format!("{} calls got a wrong answer or error", self.wrong));
        }
        if self.stuck > 0 {
            problems.push(format!("{} calls never resolved", self.stuck));
        }
        if let (Some(start), Some(end)) = (self.server_start, self.server_end) {
            // Fewer is fine (the runtime may close a descriptor it opened at start-up);
            // more means connections that were never let go.
            if end.fds > start.fds {
                problems.push(format!(
                    "the server had {} file descriptors open at the start, {} at the end",
                    start.fds, end.fds
                ));
            }
        }
        problems
    }

    pub fn print(&self) {
        println!("soak: {:.1} s", self.elapsed.as_secs_f64());
        println!(
            "  connections {} (cut with calls in flight: {}; half-closed after sending: {})",
            self.connections, self.cut, self.half_closed
        );
        println!(
            "  requests sent {} = answered {} + failed with a connection error {} (wrong: {}, stuck: {})",
            self.sent, self.answered, self.failed, self.wrong, self.stuck
        );
        let show = |label: &str, stats: Option<ProcStats>| {
            if let Some(stats) = stats {
                println!(
                    "  server {:<6} RSS {:>9}  peak {:>9}  fds {}",
                    label,
                    mib(stats.rss_kib),
                    mib(stats.peak_kib),
                    stats.fds
                );
            }
        };
        show("start", self.server_start);
        show("warm", self.server_warm);
        show("end", self.server_end);
    }
}

/// A switch that makes a [`Killable`] transport fail from now on, as a reset would.
#[derive(Default)]
pub struct KillSwitch {
    killed: Cell<bool>,
    /// The connection task, to wake it so that it sees the failure.
    task: RefCell<Option<Task>>,
}

impl KillSwitch {
    pub fn kill(&self) {
        self.killed.set(true);
        if let Some(task) = self.task.borrow_mut().take() {
            task.notify();
        }
    }

    fn check(&self) -> io::Result<()> {
        if self.killed.get() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "cut by the soak",
            ));
        }
        *self.task.borrow_mut() = Some(task::current());
        Ok(())
    }
}

/// A transport that works until its [`KillSwitch`] is thrown.
pub struct Killable<T> {
    inner: T,
    switch: Rc<KillSwitch>,
}

impl<T> Killable<T> {
    pub fn new(inner: T) -> (Killable<T>, Rc<KillSwitch>) {
        let switch = Rc::new(KillSwitch::default());
        (
            Killable {
                inner,
                switch: switch.clone(),
            },
            switch,
        )
    }
}

impl<T: Read> Read for Killable<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.switch.check()?;
        self.inner.read(buf)
    }
}

impl<T: Write> Write for Killable<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.switch.check()?;
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.switch.check()?;
        self.inner.flush()
    }
}

impl<T: AsyncRead> AsyncRead for Killable<T> {
    unsafe fn prepare_uninitialized_buffer(&self, buf: &mut [u8]) -> bool {
        self.inner.prepare_uninitialized_buffer(buf)
    }
}

impl<T: AsyncWrite> AsyncWrite for Killable<T> {
    fn shutdown(&mut self) -> Poll<(), io::Error> {
        self.inner.shutdown()
    }
}

/// The soak's shared state on the reactor thread.
struct Shared {
    config: SoakConfig,
    deadline: Instant,
    report: RefCell<SoakReport>,
    started: Cell<u64>,
    rng: RefCell<XorShift>,
}

impl Shared {
    /// May a worker start another connection?
    fn go_on(&self) -> bool {
        if Instant::now() >= self.deadline || self.started.get() >= self.config.max_connections {
            return false;
        }
        self.started.set(self.started.get() + 1);
        true
    }

    fn below(&self, n: u64) -> u64 {
        self.rng.borrow_mut().below(n)
    }

    /// A call and its right answer: `sleep` one time in four, `add` otherwise.
    fn random_call(&self) -> (&'static str, Vec<Value>, Value) {
        if self.below(4) == 0 {
            let ms = self.below(MAX_SLEEP_MS + 1);
            ("sleep", vec![Value::from(ms)], Value::from(ms))
        } else {
            let a = self.below(1 << 40) as i64;
            let b = self.below(1 << 40) as i64;
            ("add", vec![a.into(), b.into()], Value::from(a + b))
        }
    }
}

/// One connection's worth of work: connect, make calls, maybe cut it, count outcomes.
fn one_connection(
    shared: Rc<Shared>,
    addr: SocketAddr,
    handle: Handle,
) -> Box<dyn Future<Item = (), Error = ()>> {
    let connect = TcpStream::connect(&addr, &handle);
    Box::new(
        connect
            .map_err(|err| panic!("the soak cannot connect to the server: {}", err))
            .and_then(move |stream| {
                let (transport, switch) = Killable::new(stream);
                let client = Client::new(transport, &handle);
                let calls = 1 + shared.below(shared.config.max_calls);
                let mut pending = Vec::new();
                for _ in 0..calls {
                    let (method, params, expected) = shared.random_call();
                    shared.report.borrow_mut().sent += 1;
                    let shared = shared.clone();
                    pending.push(client.request(method, params).then(move |outcome| {
                        let mut report = shared.report.borrow_mut();
                        match outcome {
                            Ok(ref value) if *value == expected => report.answered += 1,
                            Err(CallError::ConnectionClosed(_)) => report.failed += 1,
                            _ => report.wrong += 1,
                        }
                        Ok::<(), ()>(())
                    }));
                }
                if shared.below(1000) < u64::from(shared.config.kill_per_mille) {
                    // Cut it after a few milliseconds, with some of the calls in flight.
                    shared.report.borrow_mut().cut += 1;
                    let after = Duration::from_millis(shared.below(MAX_SLEEP_MS));
                    match Timeout::new(after, &handle) {
                        Ok(timer) => handle.spawn(timer.then(move |_| {
                            switch.kill();
                            Ok(())
                        })),
                        Err(_) => switch.kill(),
                    }
                }
                // Dropping the handle lets the connection close once every call is done.
                drop(client);
                future::join_all(pending).map(move |_| {
                    shared.report.borrow_mut().connections += 1;
                })
            }),
    )
}

/// A raw peer: sends its requests, half-closes, and reads until the server closes.
/// Every request must be answered, rightly: the end of its stream is no excuse.
fn one_half_closing_connection(
    shared: Rc<Shared>,
    addr: SocketAddr,
    handle: Handle,
) -> Box<dyn Future<Item = (), Error = ()>> {
    let calls = 1 + shared.below(shared.config.max_calls);
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for id in 0..calls {
        let (method, params, answer) = shared.random_call();
        bytes.extend(encode(&request(id, method, params)));
        expected.push(Some(answer));
    }
    shared.report.borrow_mut().sent += calls;
    Box::new(
        TcpStream::connect(&addr, &handle)
            .and_then(move |stream| send_then_half_close(HalfClosing(stream), bytes))
            .then(move |read| {
                let mut report = shared.report.borrow_mut();
                let read = read.unwrap_or_default();
                for value in decode_values(&read) {
                    let answer = parse_response(&value)
                        .and_then(|(id, result)| Some((expected.get_mut(id as usize)?, result)));
                    match answer {
                        Some((slot, Ok(value))) if slot.as_ref() == Some(&value) => {
                            *slot = None;
                            report.answered += 1;
                        }
                        _ => report.wrong += 1,
                    }
                }
                // A request without its answer is lost: the server must not drop them.
                report.wrong += expected.iter().filter(|slot| slot.is_some()).count() as u64;
                report.half_closed += 1;
                report.connections += 1;
                Ok(())
            }),
    )
}

/// A worker: one connection after the other until the soak is over.
fn worker(
    shared: Rc<Shared>,
    addr: SocketAddr,
    handle: Handle,
) -> impl Future<Item = (), Error = ()> {
    future::loop_fn((), move |()| {
        if !shared.go_on() {
            return Either::A(future::ok(Loop::Break(())));
        }
        let connection = if shared.below(1000) < u64::from(shared.config.half_close_per_mille) {
            one_half_closing_connection(shared.clone(), addr, handle.clone())
        } else {
            one_connection(shared.clone(), addr, handle.clone())
        };
        Either::B(connection.map(|()| Loop::Continue(())))
    })
}

/// Runs the soak against `server`.
pub fn soak(server: &mut ExampleServer, config: SoakConfig) -> SoakReport {
    let started = Instant::now();
    let mut core = Core::new().expect("a reactor");
    let handle = core.handle();
    let start = proc_stats(server.pid());
    let shared = Rc::new(Shared {
        deadline: started + config.duration,
        report: RefCell::new(SoakReport::default()),
        started: Cell::new(0),
        rng: RefCell::new(XorShift::new(config.seed)),
        config: config.clone(),
    });

    // A warm-up tenth first (of the time and of the connections), to read the server's
    // memory once its allocator has settled; then the rest.
    let warm_up = SoakConfig {
        max_connections: (config.max_connections / 10).max(1),
        duration: config.duration / 10,
        ..config.clone()
    };
    let mut warm = None;
    for phase in [warm_up, config.clone()].iter() {
        let phase_shared = Rc::new(Shared {
            config: phase.clone(),
            deadline: started + phase.duration,
            report: RefCell::new(SoakReport::default()),
            started: Cell::new(shared.started.get()),
            rng: RefCell::new(XorShift::new(shared.below(u64::MAX))),
        });
        let workers: Vec<_> = (0..phase.workers)
            .map(|_| worker(phase_shared.clone(), server.addr, handle.clone()))
            .collect();
        // Winding down takes at most a few `sleep`s of MAX_SLEEP_MS when all is well.
        let guard_at = phase_shared.deadline + HANG;
        let guard = Timeout::new_at(guard_at, &handle).expect("a timer");
        let finished = core.run(future::join_all(workers).select2(guard));
        {
            let phase_report = phase_shared.report.borrow();
            let mut report = shared.report.borrow_mut();
            report.connections += phase_report.connections;
            report.cut += phase_report.cut;
            report.half_closed += phase_report.half_closed;
            report.sent += phase_report.sent;
            report.answered += phase_report.answered;
            report.failed += phase_report.failed;
            report.wrong += phase_report.wrong;
            if let Ok(Either::B(_)) | Err(Either::B(_)) = finished {
                let resolved = phase_report.answered + phase_report.failed + phase_report.wrong;
                report.stuck += phase_report.sent - resolved;
            }
        }
        shared.started.set(phase_shared.started.get());
        server.assert_alive();
        if warm.is_none() {
            warm = Some(proc_stats(server.pid()));
        }
    }

    // Every client is gone: the server must let go of every connection. We watch
    // through one more connection of our own, whose calls are turns of the server's
    // event loop: a bounded number of them, not a wait.
    let mut bystander = RawPeer::connect(server.addr);
    let mut end = proc_stats(server.pid());
    for _ in 0..1000 {
        if end.fds <= start.fds + 1 {
            break;
        }
        bystander.check();
        end = proc_stats(server.pid());
    }
    // Not counting the bystander's own socket.
    end.fds -= 1;

    let mut report = shared.report.borrow().clone();
    report.elapsed = started.elapsed();
    report.server_start = Some(start);
    report.server_warm = warm;
    report.server_end = Some(end);
    report
}
