//! Fault injection: a transport wrapper that, driven by a seeded PRNG, makes reads and
//! writes return `WouldBlock`, move fewer bytes than asked, or fail.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;

use futures::{task, Async, Poll};
use tokio_io::{AsyncRead, AsyncWrite};

/// xorshift64*: tiny, fast, and the same sequence on every machine for a given seed.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        // The state must not be 0; mix the seed so that nearby seeds diverge at once.
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// How often each fault happens, per I/O call.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultPlan {
    /// Return `WouldBlock` without touching the inner transport (and ask to be polled
    /// again, as a real readiness event would), in thousandths.
    pub would_block: u32,
    /// Move between 1 byte and a few bytes only, in thousandths.
    pub short: u32,
    /// Fail with an I/O error, in hundred-thousandths; the transport stays broken
    /// afterwards, like a reset socket.
    pub error: u32,
}

impl FaultPlan {
    /// A plan drawn from `rng`: every kind of fault at some rate; errors never on about
    /// a third of the plans, rarely or often on the others, so that conversations end
    /// both ways and get cut at every stage.
    pub fn random(rng: &mut XorShift) -> FaultPlan {
        FaultPlan {
            would_block: rng.below(400) as u32,
            short: rng.below(600) as u32,
            error: match rng.below(3) {
                0 => 0,
                1 => 1 + rng.below(20) as u32,
                _ => 20 + rng.below(500) as u32,
            },
        }
    }
}

/// I/O calls one transport may see before we call it a livelock: far more than any
/// conversation of the fault tests needs, so reaching it means something spins.
pub const MAX_IO_CALLS: u64 = 5_000_000;

/// What a [`Faulty`] transport did, shared with the test.
#[derive(Debug, Default, Clone)]
pub struct FaultLog {
    pub would_blocks: u64,
    pub short_ops: u64,
    pub errors: u64,
    /// Every read, write and flush, faulty or not.
    pub calls: u64,
    /// Every byte the wrapped side read, in order.
    pub read: Vec<u8>,
    /// Every byte the wrapped side wrote, in order.
    pub written: Vec<u8>,
}

/// A transport that misbehaves according to a [`FaultPlan`], reproducibly for a seed.
pub struct Faulty<T> {
    inner: T,
    rng: XorShift,
    plan: FaultPlan,
    /// Set by the first injected error: every later call fails too.
    broken: bool,
    log: Rc<RefCell<FaultLog>>,
}

impl<T> Faulty<T> {
    pub fn new(inner: T, seed: u64, plan: FaultPlan) -> (Faulty<T>, Rc<RefCell<FaultLog>>) {
        let log = Rc::new(RefCell::new(FaultLog::default()));
        let faulty = Faulty {
            inner,
            rng: XorShift::new(seed),
            plan,
            broken: false,
            log: log.clone(),
        };
        (faulty, log)
    }

    // ANCHOR: roll
    /// Decides the fate of one call: `Err` to return at once, or how many bytes of
    /// `len` the inner transport may move.
    fn roll(&mut self, len: usize) -> Result<usize, io::Error> {
        let calls = {
            let mut log = self.log.borrow_mut();
            log.calls += 1;
            log.calls
        };
        assert!(
            calls <= MAX_IO_CALLS,
            "livelock: {} I/O calls on one transport",
            calls
        );
        if self.broken {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "injected: transport already broken",
            ));
        }
        if self.rng.below(100_000) < u64::from(self.plan.error) {
            self.broken = true;
            self.log.borrow_mut().errors += 1;
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "injected: connection reset",
            ));
        }
        if self.rng.chance(self.plan.would_block) {
            self.log.borrow_mut().would_blocks += 1;
            // A real transport registers the task with the reactor before saying
            // WouldBlock; we have no readiness event, so ask to be polled again.
            task::current().notify();
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if len > 1 && self.rng.chance(self.plan.short) {
            self.log.borrow_mut().short_ops += 1;
            let most = len.min(7) as u64;
            return Ok(1 + self.rng.below(most) as usize);
        }
        Ok(len)
    }
    // ANCHOR_END: roll
}

impl<T: Read> Read for Faulty<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let allowed = self.roll(buf.len())?;
        let n = self.inner.read(&mut buf[..allowed])?;
        self.log.borrow_mut().read.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl<T: Write> Write for Faulty<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let allowed = self.roll(buf.len())?;
        let n = self.inner.write(&buf[..allowed])?;
        self.log.borrow_mut().written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.roll(0)?;
        self.inner.flush()
    }
}

impl<T: AsyncRead> AsyncRead for Faulty<T> {
    unsafe fn prepare_uninitialized_buffer(&self, buf: &mut [u8]) -> bool {
        self.inner.prepare_uninitialized_buffer(buf)
    }
}

impl<T: AsyncWrite> AsyncWrite for Faulty<T> {
    fn shutdown(&mut self) -> Poll<(), io::Error> {
        if self.broken {
            return Ok(Async::Ready(()));
        }
        self.inner.shutdown()
    }
}
