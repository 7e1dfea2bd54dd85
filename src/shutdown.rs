//! The graceful-shutdown signal: one [`ShutdownHandle`], any number of servers and
//! connections listening to it.
//!
//! A connection that listens gets a [`ShutdownSignal`]: a one-shot receiver that fires
//! with the deadline of the grace period. The handle keeps the sending ends, and
//! [`ShutdownHandle::shutdown`] fires them all. A [`Server`](crate::server::Server)
//! listens too, to stop accepting. This module sits below the connection, which only
//! knows the receiving end.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::sync::{mpsc, oneshot};

/// How many listeners the handle keeps before it first looks for ones that are gone;
/// after that, it looks each time their number doubles, so keeping the list costs
/// O(1) per listener, amortised.
const FIRST_CLEAN_UP: usize = 32;

// ANCHOR: shutdown_handle
/// Shuts down gracefully every [`Server`](crate::server::Server) and every connection
/// that listens to it: they stop accepting and reading, give the running handlers the
/// grace period to finish and send their answers, then close.
///
/// Make one with [`ShutdownHandle::new`] and give it to
/// [`ServerBuilder::shutdown_handle`](crate::server::ServerBuilder::shutdown_handle) to
/// share it, or take the one a server made for itself with
/// [`Server::shutdown_handle`](crate::server::Server::shutdown_handle). Cloneable and
/// `Send`: the code that decides to stop need not run on the reactor. Dropping every
/// handle does not shut anything down.
#[derive(Clone, Default)]
pub struct ShutdownHandle {
    listeners: Arc<Mutex<Listeners>>,
}

/// When the grace period of a shutdown ends: `None` for a grace too long to count
/// from now (`Duration::from_secs(u64::MAX)`), which never ends.
pub(crate) type Deadline = Option<Instant>;

#[derive(Default)]
struct Listeners {
    /// The deadline, once a shutdown was asked for.
    deadline: Option<Deadline>,
    /// One sender per listener, until the shutdown.
    senders: Vec<oneshot::Sender<Deadline>>,
    /// How many senders were left after the last clean-up.
    kept: usize,
}

impl ShutdownHandle {
    /// A handle that nothing listens to yet.
    pub fn new() -> Self {
        ShutdownHandle::default()
    }

    /// Asks every listener to stop: servers stop accepting, connections stop reading,
    /// the running handlers get `grace` to finish and send their answers, then every
    /// connection closes. A server's future completes once all its connections are
    /// closed. Only the first call counts; a listener that comes later stops at once,
    /// with the same deadline. A grace too long to count (`Duration::from_secs(u64::MAX)`)
    /// never runs out: connections close once their handlers are done.
    pub fn shutdown(&self, grace: Duration) {
        let mut listeners = self.lock();
        if listeners.deadline.is_some() {
            return;
        }
        log::info!(
            "shutting down: {} ms of grace for running handlers",
            grace.as_millis()
        );
        Self::fire(&mut listeners, Instant::now().checked_add(grace));
    }

    /// Like [`shutdown`](ShutdownHandle::shutdown), with the grace period ending at
    /// `deadline`: how a server passes on the signal it received to its connections.
    pub(crate) fn shutdown_at(&self, deadline: Deadline) {
        let mut listeners = self.lock();
        if listeners.deadline.is_none() {
            Self::fire(&mut listeners, deadline);
        }
    }

    fn fire(listeners: &mut Listeners, deadline: Deadline) {
        listeners.deadline = Some(deadline);
        for sender in listeners.senders.drain(..) {
            // A listener that already ended has nothing to stop.
            let _ = sender.send(deadline);
        }
    }

    /// A new listener's end: fires with the deadline when the shutdown comes.
    pub(crate) fn listen(&self) -> oneshot::Receiver<Deadline> {
        let (sender, receiver) = oneshot::channel();
        let mut listeners = self.lock();
        if let Some(deadline) = listeners.deadline {
            // Too late to run: stop at once.
            let _ = sender.send(deadline);
            return receiver;
        }
        if listeners.senders.len() >= 2 * listeners.kept.max(FIRST_CLEAN_UP) {
            listeners.senders.retain(|sender| !sender.is_canceled());
            listeners.kept = listeners.senders.len();
        }
        listeners.senders.push(sender);
        receiver
    }

    /// The state, even if a thread panicked while holding the lock: every update above
    /// leaves it consistent.
    fn lock(&self) -> MutexGuard<'_, Listeners> {
        self.listeners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
// ANCHOR_END: shutdown_handle

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listeners = self.lock();
        f.debug_struct("ShutdownHandle")
            .field("shut_down", &listeners.deadline.is_some())
            .field("listeners", &listeners.senders.len())
            .finish()
    }
}

/// What a connection needs to shut down gracefully.
pub(crate) struct ShutdownSignal {
    /// Fires with the deadline of the grace period.
    pub(crate) deadline: oneshot::Receiver<Deadline>,
    /// Never read: dropped with the connection. `None` for a connection no server
    /// waits for.
    pub(crate) _alive: Option<Alive>,
}

// ANCHOR: slot
/// What ties a connection to the server that accepted it; dropped with the connection.
pub(crate) struct Alive {
    /// Never sent on: the reactor running the connection waits for the last clone to go,
    /// to know when every connection it started has ended.
    pub(crate) _ended: mpsc::UnboundedSender<()>,
    /// The connection's place in its reactor's count of open connections.
    pub(crate) _slot: Slot,
}

/// One open connection, in the count of a reactor's open connections that the server
/// reads to spread connections and to enforce `ServerBuilder::max_connections`. Taken
/// when the server accepts a socket; given back when dropped, with the connection, or
/// with the socket if no reactor adopted it.
#[derive(Debug)]
pub(crate) struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// Counts one more connection in `open`.
    pub(crate) fn take(open: &Arc<AtomicUsize>) -> Slot {
        open.fetch_add(1, Ordering::AcqRel);
        Slot(open.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
// ANCHOR_END: slot
