//! Talking to Neovim 0.7: its rules, as helpers.
//!
//! Neovim is the most used MessagePack-RPC peer, and it has rules of its own (the book's
//! "Talking to Neovim" chapter shows each one failing):
//!
//! - its errors are `[type, message]` arrays (0: exception, 1: validation), and it reads
//!   our error answers only as a string or such an array: [`error`] builds one;
//! - it aborts (the whole editor) on a message nested deeper than 32 levels: set
//!   [`Config::max_outgoing_depth`](crate::Config::max_outgoing_depth) to
//!   [`MAX_DEPTH`];
//! - when several of its requests to us are open at once they are nested, and it takes
//!   only the answer to the innermost one: [`ReverseOrder`] releases answers that way.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use futures::task::{self, Task};
use futures::{Async, Future, Poll};
use rmpv::Value;

use crate::peer::{Client, ResponseFuture};

/// The deepest message Neovim 0.7 accepts: deeper ones make it abort.
pub const MAX_DEPTH: usize = 32;

/// An error value as Neovim writes them and reads them best: `[0, message]` (0 means
/// "exception"; Neovim uses 1 for "validation", wrong arguments).
pub fn error(message: &str) -> Value {
    Value::Array(vec![Value::from(0), Value::from(message)])
}

// ANCHOR: reverse_order
/// Releases the answers to Neovim's requests the way Neovim 0.7 takes them.
///
/// Each `rpcrequest` blocks Neovim until its answer comes, so when several of its requests
/// are open at once they are nested, and Neovim takes only the answer to the innermost
/// one; any other answer makes it close the channel. Two rules follow:
///
/// 1. answer in reverse order of arrival: an answer waits until every request that
///    arrived after it has been answered;
/// 2. after answering an inner request, wait until Neovim has returned from it before
///    sending the next answer. Neovim does not say when; but it runs an ordinary API
///    request from us only once it has, so we send `nvim_eval("0")` and wait for its
///    answer (not a "fast" method like `nvim_get_api_info`, answered at once, nor
///    `nvim_get_mode`, held until Neovim waits for keys). Without that, two answers that leave in the same write reach Neovim
///    together, and it checks the second against the request it has not yet returned from.
#[derive(Clone)]
pub struct ReverseOrder {
    stack: Rc<RefCell<OpenRequests>>,
    /// Our connection to Neovim, for the round trips; `None` to skip them (to show why
    /// they are needed).
    peer: Option<Client>,
}

#[derive(Default)]
struct OpenRequests {
    /// One entry per request not answered yet, in arrival order: its ticket, and the
    /// task to wake when it reaches the top.
    open: Vec<(u64, Option<Task>)>,
    next_ticket: u64,
    /// How many answers have been released so far.
    released: u64,
}

impl ReverseOrder {
    /// Answers through `peer`, the handle the [`ServiceBuilder`](crate::ServiceBuilder)
    /// received for the connection to Neovim (it makes the round trips).
    pub fn new(peer: Client) -> ReverseOrder {
        ReverseOrder {
            stack: Rc::default(),
            peer: Some(peer),
        }
    }

    /// Rule 1 only, without the round trips. Not enough for Neovim 0.7 (the book shows
    /// why); useful with a peer that only needs the order.
    pub fn without_round_trips() -> ReverseOrder {
        ReverseOrder {
            stack: Rc::default(),
            peer: None,
        }
    }

    /// Wraps the future of one request's answer. Call it in `handle_request`, which
    /// sees the requests in arrival order.
    pub fn wrap<F: Future>(&self, answer: F) -> InReverseOrder<F> {
        let mut stack = self.stack.borrow_mut();
        stack.next_ticket += 1;
        let ticket = stack.next_ticket;
        stack.open.push((ticket, None));
        InReverseOrder {
            order: self.clone(),
            ticket,
            answer,
            result: None,
            synced: stack.released,
            round_trip: None,
        }
    }

    /// Takes `ticket` off the stack and wakes the request that is now on top. `answered`:
    /// an answer is leaving (not a request abandoned because the connection closed).
    fn release(&self, ticket: u64, answered: bool) {
        let mut stack = self.stack.borrow_mut();
        let before = stack.open.len();
        stack.open.retain(|(t, _)| *t != ticket);
        if stack.open.len() == before {
            return;
        }
        if answered {
            stack.released += 1;
        }
        if let Some((_, Some(waiter))) = stack.open.last_mut() {
            waiter.notify();
        }
    }

    /// Is `ticket` the innermost open request? If not, wake us when it becomes so.
    fn on_top(&self, ticket: u64) -> bool {
        let mut stack = self.stack.borrow_mut();
        if stack.open.last().map(|(t, _)| *t) == Some(ticket) {
            return true;
        }
        if let Some(entry) = stack.open.iter_mut().find(|(t, _)| *t == ticket) {
            entry.1 = Some(task::current());
        }
        false
    }
}

/// A request's answer that completes only when Neovim can take it: see [`ReverseOrder`].
pub struct InReverseOrder<F: Future> {
    order: ReverseOrder,
    ticket: u64,
    answer: F,
    result: Option<Result<F::Item, F::Error>>,
    /// Neovim has returned from every answer released before this count.
    synced: u64,
    /// The round trip in flight, and the release count it will vouch for.
    round_trip: Option<(u64, ResponseFuture)>,
}

impl<F: Future> Future for InReverseOrder<F> {
    type Item = F::Item;
    type Error = F::Error;

    fn poll(&mut self) -> Poll<F::Item, F::Error> {
        if self.result.is_none() {
            self.result = match self.answer.poll() {
                Ok(Async::Ready(value)) => Some(Ok(value)),
                // The handler's future will wake us.
                Ok(Async::NotReady) => return Ok(Async::NotReady),
                Err(error) => Some(Err(error)),
            };
        }
        loop {
            if !self.order.on_top(self.ticket) {
                // `release` wakes us when the requests above ours are answered.
                return Ok(Async::NotReady);
            }
            let released = self.order.stack.borrow().released;
            let peer = match self.order.peer {
                Some(ref peer) if released > self.synced => peer,
                _ => break,
            };
            // An answer left since we last knew Neovim was in step: make sure it has
            // returned from it before we answer.
            let (vouches_for, round_trip) = self
                .round_trip
                .get_or_insert_with(|| (released, peer.request("nvim_eval", vec!["0".into()])));
            match round_trip.poll() {
                // The connection will wake us when the answer comes.
                Ok(Async::NotReady) => return Ok(Async::NotReady),
                // Even an error proves that Neovim read what came before.
                Ok(Async::Ready(_)) | Err(_) => {
                    self.synced = *vouches_for;
                    self.round_trip = None;
                }
            }
        }
        self.order.release(self.ticket, true);
        match self.result.take() {
            Some(Ok(value)) => Ok(Async::Ready(value)),
            Some(Err(error)) => Err(error),
            None => Ok(Async::NotReady),
        }
    }
}

impl<F: Future> Drop for InReverseOrder<F> {
    fn drop(&mut self) {
        // Abandoned (the connection closed): do not hold up the others.
        self.order.release(self.ticket, false);
    }
}
// ANCHOR_END: reverse_order

impl fmt::Debug for ReverseOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("ReverseOrder");
        // Never borrowed across a call that could format it; still, never panic here.
        if let Ok(stack) = self.stack.try_borrow() {
            out.field("open_requests", &stack.open.len())
                .field("released", &stack.released);
        }
        out.field("round_trips", &self.peer.is_some()).finish()
    }
}

impl<F: Future> fmt::Debug for InReverseOrder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InReverseOrder")
            .field("ticket", &self.ticket)
            .field("answered", &self.result.is_some())
            .field("round_trip", &self.round_trip.is_some())
            .finish()
    }
}
