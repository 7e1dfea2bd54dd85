//! The connection core: one future per connection, the same on both sides.
//!
//! In part 2 of the book, tokio-proto owns this loop; we write it by hand so that
//! requests *and* notifications can flow both ways. A [`Connection`] has two halves and
//! a lifecycle:
//!
//! - the **transport** ([`transport`]): the byte stream, the codec, the read buffer
//!   and the write buffer; it reads, decodes, writes and flushes, and says whether there
//!   is room to write;
//! - the **dispatch** ([`dispatch`]): the service, the running handlers, the message
//!   parked while we can take on no more work, our handles' channels and our calls
//!   waiting for an answer; it runs the user's code through [`handler`], where a
//!   panic costs one call;
//! - the **lifecycle** ([`Lifecycle`]): open, released by its handles, draining for a
//!   shutdown, or closed by the peer; it decides whether to read and when to stop.
//!
//! Each call to [`Connection::poll`] does, in order:
//!
//! 1. **read**: read bytes, decode messages, and dispatch them: a request starts a
//!    handler, a notification starts a notification handler, a response goes to the
//!    caller waiting for it;
//! 2. **drive handlers**: poll the handler futures that were woken, and queue the
//!    response of each one that completed;
//! 3. **send outgoing**: move the requests and notifications our handles queued onto
//!    the write buffer;
//! 4. **flush**: write the buffer to the transport, once per poll;
//!
//! and repeats while one of the steps made progress, up to a budget, then checks whether
//! the connection is done. Backpressure falls out of the order: when the write buffer is
//! full or too many handlers run, step 1 stops reading, the peer's messages wait in the
//! kernel, and TCP flow control slows the peer down.

mod dispatch;
mod handler;
mod idle;
mod transport;

use std::sync::Arc;

use futures::sync::{mpsc, oneshot};
use futures::{task, Async, Future, Poll};
use tokio_core::reactor::{Handle, Timeout};

use self::dispatch::{Dispatch, Outgoing, STEP_BUDGET};
use self::idle::IdleTimer;
use self::transport::{Decode, Progress, Read, Transport};
use crate::config::Config;
use crate::errors::ClosedReason;
use crate::message::Message;
use crate::pending::Pending;
use crate::service::Service;
use crate::shutdown::ShutdownSignal;

pub(crate) use self::transport::{Duplex, Halves, Io};

// ANCHOR: budgets
/// How many times one poll repeats the steps before yielding to other tasks.
const MAX_ROUNDS: usize = 4;
/// How many undecoded bytes we read while a message is parked: enough to see the end of
/// the stream of a peer that has gone, too little to matter for memory.
const PARKED_READ_LIMIT: usize = 64 * 1024;
// ANCHOR_END: budgets

/// How a connection is tied to its handles, and to its server if it has one.
pub(crate) struct Wiring {
    /// Our requests waiting for the peer's answer, shared with the handles.
    pub(crate) pending: Arc<Pending>,
    /// What the user's client handles send; `None` on a server connection.
    pub(crate) from_handles: Option<mpsc::UnboundedReceiver<Message>>,
    /// What the service's own handle sends.
    pub(crate) from_service: mpsc::UnboundedReceiver<Message>,
    /// The shutdown signal the connection listens to, if any.
    pub(crate) shutdown: Option<ShutdownSignal>,
    /// The reactor the connection runs on (to arm its timers).
    pub(crate) handle: Handle,
}

// ANCHOR: lifecycle
/// Where a connection is in its life. Every state but `Open` is on the way out.
enum Lifecycle {
    /// Reading, answering, and sending what the handles queue.
    Open,
    /// A client connection whose user handles are all dropped: it still reads (answers
    /// to our calls must get through) and closes once nothing runs, nothing waits to be
    /// written and no call of ours waits for an answer.
    Released,
    /// Shutting down: read nothing more, let the running handlers finish and their
    /// answers leave, then close; or close anyway when `grace` fires.
    Draining {
        /// Fires at the end of the grace period (`None`: a grace too long to count, or
        /// no timer could be armed).
        grace: Option<Timeout>,
    },
    /// The peer closed its side: nothing more will arrive. From our side, a peer that
    /// half-closed (`shutdown(SHUT_WR)`: "that was my last request") looks the same as
    /// one that has gone, so read nothing more, but handle every message already
    /// received, let the handlers finish and every answer leave, then close. Only a
    /// failed write, or a shutdown's grace running out, closes it earlier.
    PeerClosed {
        /// What is left in the read buffer holds no whole message: all was dispatched.
        drained: bool,
    },
}

impl Lifecycle {
    /// Do we read the peer's bytes in this state?
    fn reads(&self) -> bool {
        matches!(self, Lifecycle::Open | Lifecycle::Released)
    }

    /// Do we dispatch the messages already read? Also once the peer closed its side:
    /// they were sent before it did.
    fn dispatches(&self) -> bool {
        matches!(
            self,
            Lifecycle::Open | Lifecycle::Released | Lifecycle::PeerClosed { .. }
        )
    }
}
// ANCHOR_END: lifecycle

// ANCHOR: connection
/// One connection, from either side. See the module documentation.
pub(crate) struct Connection<I, S: Service> {
    /// Bytes in and out: the stream, the codec, the buffers.
    transport: Transport<I>,
    /// Messages in, answers and calls out: the service, the handlers, our calls.
    dispatch: Dispatch<S>,
    /// Where the connection is in its life.
    lifecycle: Lifecycle,
    /// The shutdown signal, until every handle that could send it is gone. Dropped with
    /// the connection, which tells a server waiting for it that it is gone.
    shutdown: Option<ShutdownSignal>,
    /// The reactor, to arm the grace timer.
    handle: Handle,
    /// Why the connection is over, while the transport finds out more (a child
    /// process's exit status).
    ending: Option<ClosedReason>,
    /// Closes the connection once idle for `Config::idle_timeout`, if set.
    idle: Option<IdleTimer>,
    /// A message was dispatched since the last look at `idle`.
    delivered: bool,
}
// ANCHOR_END: connection

impl<I, S> Connection<I, S>
where
    I: Io,
    S: Service,
{
    pub(crate) fn new(io: I, service: S, config: Config, wiring: Wiring) -> Self {
        let Wiring {
            pending,
            from_handles,
            from_service,
            shutdown,
            handle,
        } = wiring;
        let idle = config
            .idle_timeout
            .and_then(|after| IdleTimer::new(after, &handle));
        Connection {
            transport: Transport::new(io, &config),
            dispatch: Dispatch::new(service, &config, pending, from_handles, from_service),
            lifecycle: Lifecycle::Open,
            shutdown,
            handle,
            ending: None,
            idle,
            delivered: false,
        }
    }

    // ANCHOR: drive
    /// Runs the four steps until none makes progress; returns why the connection is
    /// over, once it is.
    fn drive(&mut self) -> Poll<ClosedReason, ClosedReason> {
        self.poll_lifecycle()?;
        // A wake-up may mean new bytes, or new messages from our handles: ask again.
        self.transport.woken();
        self.dispatch.woken();
        // Whether this wake-up did something, for the idle timeout: raw bytes that make
        // no message do not count, so a peer that trickles bytes is idle.
        let mut active = Progress::Nothing;
        for _ in 0..MAX_ROUNDS {
            let mut progress = match self.read_incoming() {
                Ok(progress) => progress,
                Err(reason @ ClosedReason::Protocol(_)) => {
                    // Still send what we owe for the valid requests read before the bad
                    // bytes: one attempt, since this peer broke the protocol.
                    let _ = self.transport.flush();
                    return Err(reason);
                }
                Err(reason) => return Err(reason),
            };
            let mut worked = self.drive_handlers();
            worked |= self.send_outgoing();
            worked |= self.flush()?;
            active |= worked;
            progress |= worked;
            if let Some(reason) = self.finished() {
                return Ok(Async::Ready(reason));
            }
            if progress == Progress::Nothing {
                // Every step stopped on an inner NotReady (which registered this task
                // with the transport, the handler futures or the channels) or on
                // backpressure that only those can lift.
                return self.poll_idle(active);
            }
        }
        // Still busy after the budget: let the other tasks run, then come back.
        task::current().notify();
        self.poll_idle(active)
    }
    // ANCHOR_END: drive

    // ANCHOR: can_read
    /// May we read more of the peer's bytes now? Answers to our own requests must always
    /// get through (holding them back can deadlock two peers that both wait for the other
    /// to read), so only the lifecycle, or a parked message with a full read buffer, stop
    /// reading. While a message is parked we still read a little, without decoding, so
    /// that we notice a peer that has gone.
    fn can_read(&self) -> bool {
        self.lifecycle.reads()
            && (!self.dispatch.is_parked() || self.transport.buffered() < PARKED_READ_LIMIT)
    }
    // ANCHOR_END: can_read

    /// Step 1: reads from the transport and dispatches each decoded message.
    fn read_incoming(&mut self) -> Result<Progress, ClosedReason> {
        let mut progress = Progress::Nothing;
        for _ in 0..STEP_BUDGET {
            if self.dispatch.is_parked() {
                if self.dispatch.resume_parked(self.transport.write_buffer()) == Progress::Made {
                    progress = Progress::Made;
                    self.delivered = true;
                    continue;
                }
            } else if self.lifecycle.dispatches() {
                let dispatch = &mut self.dispatch;
                let decoded = self
                    .transport
                    .decode_next(|received, out| dispatch.accept(received, out))
                    .map_err(|err| ClosedReason::Protocol(Arc::new(err)))?;
                if decoded == Decode::Delivered {
                    progress = Progress::Made;
                    self.delivered = true;
                    continue;
                }
                if let Lifecycle::PeerClosed { ref mut drained } = self.lifecycle {
                    if !*drained {
                        // Nothing more will arrive: what is left will never be whole.
                        *drained = true;
                        self.transport.drop_incomplete();
                    }
                }
            }
            if !self.can_read() {
                break;
            }
            match self.transport.read() {
                Ok(Read::Bytes) => progress = Progress::Made,
                // The transport will wake us when there is more to read.
                Ok(Read::Blocked) => break,
                Ok(Read::End) => {
                    // Dispatch what is still in the read buffer, then read no more.
                    self.lifecycle = Lifecycle::PeerClosed { drained: false };
                    progress = Progress::Made;
                }
                Err(err) => return Err(ClosedReason::Io(Arc::new(err))),
            }
        }
        self.transport.shrink_read_buffer();
        Ok(progress)
    }

    /// Step 2: polls the handlers that were woken, and queues the answers of those that
    /// completed, while the write buffer has room.
    fn drive_handlers(&mut self) -> Progress {
        let mut progress = self.dispatch.drive_requests(self.transport.write_buffer());
        progress |= self.dispatch.drive_notifications();
        progress
    }

    /// Step 3: moves what our handles queued onto the write buffer.
    fn send_outgoing(&mut self) -> Progress {
        match self.dispatch.send_outgoing(self.transport.write_buffer()) {
            Outgoing::Sent(progress) => progress,
            Outgoing::HandlesDropped => {
                if let Lifecycle::Open = self.lifecycle {
                    self.lifecycle = Lifecycle::Released;
                    // From now on a caller giving up may be what lets us close.
                    self.dispatch.watch_callers();
                }
                Progress::Made
            }
        }
    }

    /// Step 4: writes what waits, and flushes.
    fn flush(&mut self) -> Result<Progress, ClosedReason> {
        self.transport
            .flush()
            .map_err(|err| ClosedReason::Io(Arc::new(err)))
    }

    // ANCHOR: poll_idle
    /// At the end of a wake-up that leaves the connection open: closes it if it has been
    /// idle for `Config::idle_timeout`. `active` says whether this wake-up did something
    /// besides reading bytes.
    fn poll_idle(&mut self, mut active: Progress) -> Poll<ClosedReason, ClosedReason> {
        let idle = match self.idle {
            Some(ref mut idle) => idle,
            None => return Ok(Async::NotReady),
        };
        if std::mem::take(&mut self.delivered) {
            active = Progress::Made;
        }
        let quiet = self.dispatch.is_idle() && self.dispatch.no_calls_waiting();
        match idle.expired(active == Progress::Made, quiet) {
            Some(after) => Ok(Async::Ready(ClosedReason::Idle(after))),
            // The idle timer, or what woke us before it, will wake us.
            None => Ok(Async::NotReady),
        }
    }
    // ANCHOR_END: poll_idle

    // ANCHOR: poll_lifecycle
    /// Moves the lifecycle on from outside events: the server's shutdown signal, the end
    /// of the grace period, a caller giving up.
    fn poll_lifecycle(&mut self) -> Result<(), ClosedReason> {
        match self.lifecycle {
            Lifecycle::Draining {
                grace: Some(ref mut grace),
            } => match grace.poll() {
                // The timer will wake us at the deadline.
                Ok(Async::NotReady) => Ok(()),
                Ok(Async::Ready(())) | Err(_) => {
                    log::info!(
                        "grace period over: closing a connection with handlers still running"
                    );
                    Err(ClosedReason::ShutDown)
                }
            },
            Lifecycle::Draining { grace: None } => Ok(()),
            Lifecycle::Released => {
                // A caller giving up will wake us (see `finished`).
                self.dispatch.watch_callers();
                self.poll_shutdown()
            }
            // A shutdown also ends the wait for the handlers of a peer that has gone.
            Lifecycle::Open | Lifecycle::PeerClosed { .. } => self.poll_shutdown(),
        }
    }

    /// Watches for the shutdown signal; once it fires, starts draining.
    fn poll_shutdown(&mut self) -> Result<(), ClosedReason> {
        let signal = match self.shutdown {
            Some(ref mut signal) => signal.deadline.poll(),
            None => return Ok(()),
        };
        match signal {
            Ok(Async::Ready(deadline)) => {
                let grace = deadline.and_then(|at| Timeout::new_at(at, &self.handle).ok());
                self.lifecycle = Lifecycle::Draining { grace };
                // We stop reading, so no answer to our own requests can arrive.
                self.dispatch.fail_calls(ClosedReason::ShutDown);
                // Poll the timer once, so that it wakes us at the deadline.
                self.poll_lifecycle()
            }
            // Every shutdown handle is gone without a shutdown: keep serving this peer.
            Err(oneshot::Canceled) => {
                self.shutdown = None;
                Ok(())
            }
            // The shutdown handle will wake us if it fires.
            Ok(Async::NotReady) => Ok(()),
        }
    }
    // ANCHOR_END: poll_lifecycle

    // ANCHOR: finished
    /// Is the connection over, and why? Every state but `Open` ends once nothing runs
    /// and nothing waits to be sent; a client released by its handles also waits for
    /// the answers to its calls, which can still come.
    fn finished(&self) -> Option<ClosedReason> {
        let idle = || {
            self.dispatch.is_idle()
                && self.dispatch.nothing_to_send()
                && self.transport.is_flushed()
        };
        match self.lifecycle {
            Lifecycle::Open => None,
            Lifecycle::PeerClosed { drained: true } if idle() => Some(ClosedReason::PeerClosed),
            Lifecycle::Draining { .. } if idle() => Some(ClosedReason::ShutDown),
            Lifecycle::Released if idle() && self.dispatch.no_calls_waiting() => {
                Some(ClosedReason::ShutDown)
            }
            Lifecycle::PeerClosed { .. } | Lifecycle::Draining { .. } | Lifecycle::Released => None,
        }
    }
    // ANCHOR_END: finished
}

// ANCHOR: future
impl<I, S> Future for Connection<I, S>
where
    I: Io,
    S: Service,
{
    type Item = ();
    type Error = ();

    fn poll(&mut self) -> Poll<(), ()> {
        let reason = match self.ending.take() {
            Some(reason) => reason,
            None => match self.drive() {
                Ok(Async::NotReady) => return Ok(Async::NotReady),
                Ok(Async::Ready(reason)) | Err(reason) => reason,
            },
        };
        let reason = match self.transport.explain_end(&reason) {
            Async::Ready(explained) => explained.unwrap_or(reason),
            // The transport will wake us when it knows.
            Async::NotReady => {
                self.ending = Some(reason);
                return Ok(Async::NotReady);
            }
        };
        match reason {
            ClosedReason::PeerClosed
            | ClosedReason::ShutDown
            | ClosedReason::Exited(_)
            | ClosedReason::Idle(_) => log::debug!("connection closed: {}", reason),
            ClosedReason::Io(_) | ClosedReason::Protocol(_) | ClosedReason::BuilderPanicked(_) => {
                log::warn!("connection closed: {}", reason)
            }
        }
        self.dispatch.fail_calls(reason);
        Ok(Async::Ready(()))
    }
}
// ANCHOR_END: future

// ANCHOR: drop
impl<I, S: Service> Drop for Connection<I, S> {
    fn drop(&mut self) {
        // Dropped without finishing (the reactor went away): still, nobody waits forever.
        self.dispatch.fail_calls(ClosedReason::ShutDown);
        self.dispatch.ended();
    }
}
// ANCHOR_END: drop
