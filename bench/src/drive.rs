//! The client drivers' common part: keep `window` requests in flight per connection,
//! check every answer, record latencies. The futures 0.1 version serves our client and
//! rmp-rpc 0.3's; the msgpack-rpc 0.4 driver has the same loop in async/await.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use futures::stream::FuturesUnordered;
use futures::{Async, Future, Poll, Stream};

use crate::scenario::{add_params, fail, Measurement, Scenario, BIG_PAYLOAD};

/// What a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Params {
    /// `add [a, b]`, expecting `a + b`.
    Add(i64, i64),
    /// `add [<1 MiB binary>, 0]`, expecting an error.
    Big,
}

impl Params {
    /// The params of the `seq`-th request of a connection.
    pub fn nth(scenario: Scenario, seq: u32) -> Params {
        if scenario == Scenario::Big {
            Params::Big
        } else {
            let (a, b) = add_params(seq);
            Params::Add(a, b)
        }
    }
}

/// An answer, reduced to what the check needs: `Ok(Some(n))` an integer result,
/// `Ok(None)` another result, `Err(())` an error response.
pub type Outcome = Result<Option<i64>, ()>;

/// Latencies and byte counts, shared by the connections of one run.
#[derive(Debug)]
pub struct Stats {
    pub measure_from: Instant,
    pub end: Instant,
    pub latencies: Vec<u32>,
    pub bytes: u64,
    /// Every answer, warm-up included.
    pub total: u64,
}

impl Stats {
    pub fn new(measure_from: Instant, end: Instant) -> Self {
        Stats {
            measure_from,
            end,
            latencies: Vec::with_capacity(1 << 20),
            bytes: 0,
            total: 0,
        }
    }

    /// Checks one answer and records it.
    pub fn record(&mut self, params: Params, sent: Instant, outcome: Outcome, now: Instant) {
        match (params, outcome) {
            (Params::Add(a, b), Ok(Some(sum))) if sum == a + b => {}
            (Params::Big, Err(())) => {}
            (params, outcome) => fail(&format!("{:?} answered with {:?}", params, outcome)),
        }
        self.total += 1;
        if now >= self.measure_from {
            let ns = now.duration_since(sent).as_nanos();
            self.latencies.push(ns.min(u128::from(u32::MAX)) as u32);
            if params == Params::Big {
                self.bytes += BIG_PAYLOAD as u64;
            }
        }
    }

    pub fn finish(&mut self, stopped: Instant) -> Measurement {
        let seconds = stopped.duration_since(self.measure_from).as_secs_f64();
        let bytes = self.bytes;
        Measurement::from_latencies(&mut self.latencies, seconds, bytes, self.total)
    }
}

/// A request in flight, with what it asked and when.
struct Timed<F> {
    params: Params,
    sent: Instant,
    future: F,
}

impl<F: Future<Item = Outcome, Error = String>> Future for Timed<F> {
    type Item = (Params, Instant, Outcome);
    type Error = String;

    fn poll(&mut self) -> Poll<Self::Item, String> {
        let outcome = futures::try_ready!(self.future.poll());
        Ok(Async::Ready((self.params, self.sent, outcome)))
    }
}

/// One connection's loop, for futures 0.1 clients. `call` sends a request and returns
/// the future of its outcome.
pub struct Window<C, F> {
    call: C,
    scenario: Scenario,
    window: usize,
    seq: u32,
    in_flight: FuturesUnordered<Timed<F>>,
    stats: Rc<RefCell<Stats>>,
}

impl<C, F> Window<C, F>
where
    C: FnMut(Params) -> F,
    F: Future<Item = Outcome, Error = String>,
{
    pub fn new(call: C, scenario: Scenario, stats: Rc<RefCell<Stats>>) -> Self {
        Window {
            call,
            scenario,
            window: scenario.window(),
            seq: 0,
            in_flight: FuturesUnordered::new(),
            stats,
        }
    }

    fn fill(&mut self, now: Instant) {
        while self.in_flight.len() < self.window {
            let params = Params::nth(self.scenario, self.seq);
            self.seq = self.seq.wrapping_add(1);
            let future = (self.call)(params);
            self.in_flight.push(Timed {
                params,
                sent: now,
                future,
            });
        }
    }
}

impl<C, F> Future for Window<C, F>
where
    C: FnMut(Params) -> F,
    F: Future<Item = Outcome, Error = String>,
{
    type Item = Instant;
    type Error = String;

    fn poll(&mut self) -> Poll<Instant, String> {
        let mut now = Instant::now();
        let end = self.stats.borrow().end;
        loop {
            if now >= end {
                return Ok(Async::Ready(now));
            }
            self.fill(now);
            let mut done = 0;
            loop {
                match self.in_flight.poll()? {
                    Async::Ready(Some((params, sent, outcome))) => {
                        if done == 0 {
                            now = Instant::now();
                        }
                        done += 1;
                        self.stats.borrow_mut().record(params, sent, outcome, now);
                    }
                    Async::Ready(None) => break,
                    Async::NotReady => break,
                }
            }
            if done == 0 {
                return Ok(Async::NotReady);
            }
        }
    }
}
