//! The requests we sent that still wait for an answer, shared by every handle of a
//! connection and by the connection itself.
//!
//! A caller registers its request here *before* the request is queued for the wire, and
//! gets a msgid no other request in flight uses plus a oneshot receiver for the answer.
//! The connection completes the entry when the response arrives; a caller that gives up
//! (timeout, or the request future dropped) removes its own entry, so a late answer finds
//! nobody and is ignored. When the connection ends, every entry is failed with the reason
//! and the map refuses new entries: nobody waits forever.

use std::collections::hash_map::{Entry, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard};

use futures::sync::oneshot;
use futures::task::AtomicTask;
use rmpv::Value;

use crate::errors::{CallError, ClosedReason};

/// What a caller eventually receives.
pub(crate) type Answer = Result<Value, CallError>;

/// Whether an answer found its caller.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completed {
    /// The caller has it.
    Delivered,
    /// Nobody waits for that msgid: the caller gave up, or the peer answered an id we
    /// never used.
    NobodyWaits,
}

/// The in-flight map of one connection.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    state: Mutex<State>,
    /// The connection's task, woken when a caller gives up: a client connection whose
    /// handles are all gone closes once nobody waits, and must hear about it.
    connection: AtomicTask,
}

#[derive(Debug, Default)]
struct State {
    /// The next msgid to try; it wraps around after `u32::MAX`.
    next_id: u32,
    /// Who waits for the answer to each msgid in flight.
    waiting: HashMap<u32, oneshot::Sender<Answer>, BuildHasherDefault<IdHasher>>,
    /// Set once the connection takes no more calls; later registrations fail with it.
    closed: Option<ClosedReason>,
    /// The connection is gone.
    ended: bool,
    /// Who waits for the connection to be gone (`Client::closed`).
    end_watchers: Vec<oneshot::Sender<ClosedReason>>,
}

impl Pending {
    /// Reserves a msgid that no request in flight uses, with the receiver of its answer.
    pub(crate) fn register(&self) -> Result<(u32, oneshot::Receiver<Answer>), ClosedReason> {
        let mut state = self.lock();
        if let Some(ref reason) = state.closed {
            return Err(reason.clone());
        }
        // At most `waiting.len()` ids are taken, far fewer than 2^32: this ends quickly.
        let mut id = state.next_id;
        loop {
            match state.waiting.entry(id) {
                Entry::Occupied(_) => id = id.wrapping_add(1),
                Entry::Vacant(slot) => {
                    let (tx, rx) = oneshot::channel();
                    slot.insert(tx);
                    state.next_id = id.wrapping_add(1);
                    return Ok((id, rx));
                }
            }
        }
    }

    /// Hands the peer's answer to whoever waits for `id`.
    pub(crate) fn complete(&self, id: u32, answer: Answer) -> Completed {
        let waiter = self.lock().waiting.remove(&id);
        match waiter.map(|tx| tx.send(answer)) {
            Some(Ok(())) => Completed::Delivered,
            // The receiver may be gone in between; that is the same as giving up.
            Some(Err(_)) | None => Completed::NobodyWaits,
        }
    }

    // ANCHOR: cancel
    /// Forgets `id`: its caller no longer waits.
    pub(crate) fn cancel(&self, id: u32) {
        self.lock().waiting.remove(&id);
        self.connection.notify();
    }
    // ANCHOR_END: cancel

    /// Called by the connection in each poll, so that `cancel` can wake it.
    pub(crate) fn watch(&self) {
        self.connection.register();
    }

    // ANCHOR: close
    /// Fails every waiting caller with `reason` and refuses new registrations.
    /// Only the first reason is kept.
    pub(crate) fn close(&self, reason: ClosedReason) {
        let waiting = {
            let mut state = self.lock();
            if state.closed.is_none() {
                state.closed = Some(reason);
            }
            std::mem::take(&mut state.waiting)
        };
        let reason = self.closed().unwrap_or(ClosedReason::ShutDown);
        for (_, tx) in waiting {
            let _ = tx.send(Err(CallError::ConnectionClosed(reason.clone())));
        }
    }
    // ANCHOR_END: close

    /// Why the connection ended, once it has.
    pub(crate) fn closed(&self) -> Option<ClosedReason> {
        self.lock().closed.clone()
    }

    // ANCHOR: ended
    /// The connection is gone (its future was dropped): tells everyone who waits for
    /// that why, and everyone who asks later.
    pub(crate) fn ended(&self) {
        let (watchers, reason) = {
            let mut state = self.lock();
            state.ended = true;
            let reason = state.closed.clone().unwrap_or(ClosedReason::ShutDown);
            (std::mem::take(&mut state.end_watchers), reason)
        };
        for watcher in watchers {
            let _ = watcher.send(reason.clone());
        }
    }

    /// Why the connection ended, once it is gone: at once if it is.
    pub(crate) fn when_ended(&self) -> Result<ClosedReason, oneshot::Receiver<ClosedReason>> {
        let mut state = self.lock();
        if state.ended {
            return Ok(state.closed.clone().unwrap_or(ClosedReason::ShutDown));
        }
        // Forget the watchers that gave up, so that asking often costs no memory.
        state.end_watchers.retain(|watcher| !watcher.is_canceled());
        let (watcher, receiver) = oneshot::channel();
        state.end_watchers.push(watcher);
        Err(receiver)
    }
    // ANCHOR_END: ended

    /// How many requests wait for an answer.
    pub(crate) fn len(&self) -> usize {
        self.lock().waiting.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The state, even if a thread panicked while holding the lock: every update
    /// above leaves the map consistent, so there is nothing to repair.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg(test)]
    fn set_next_id(&self, id: u32) {
        self.lock().next_id = id;
    }
}

/// Hashes msgids with one multiplication. The map's keys are ids we chose ourselves,
/// not input a peer could pick to collide, so std's SipHash, which is slow on purpose to
/// resist such input, buys nothing here.
#[derive(Debug, Default)]
pub(crate) struct IdHasher(u64);

/// 2^64 divided by the golden ratio: multiplying by it spreads consecutive ids over the
/// high bits, which hashbrown uses to pick a group (Fibonacci hashing).
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u32` is used; this keeps the hasher correct for anything else.
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(GOLDEN);
        }
    }

    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id).wrapping_mul(GOLDEN);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::Future;

    #[test]
    fn ids_wrap_past_u32_max_and_skip_ids_in_flight() {
        let pending = Pending::default();
        let (zero, _rx0) = pending.register().unwrap();
        assert_eq!(zero, 0);
        pending.set_next_id(u32::MAX);
        let (max, _rx1) = pending.register().unwrap();
        assert_eq!(max, u32::MAX);
        // 0 is still in flight, so the allocator skips it.
        let (next, _rx2) = pending.register().unwrap();
        assert_eq!(next, 1);
    }

    #[test]
    fn closing_fails_every_waiter_and_later_registrations() {
        let pending = Pending::default();
        let (_, rx) = pending.register().unwrap();
        pending.close(ClosedReason::PeerClosed);
        match rx.wait() {
            Ok(Err(CallError::ConnectionClosed(ClosedReason::PeerClosed))) => {}
            other => panic!("unexpected {:?}", other),
        }
        assert!(pending.is_empty());
        match pending.register() {
            Err(ClosedReason::PeerClosed) => {}
            other => panic!("unexpected {:?}", other),
        }
    }

    #[test]
    fn the_end_reaches_every_watcher_and_watchers_that_gave_up_are_forgotten() {
        let pending = Pending::default();
        for _ in 0..1000 {
            drop(pending.when_ended());
        }
        let kept = pending.when_ended().expect_err("not ended yet");
        assert_eq!(pending.lock().end_watchers.len(), 1);
        pending.close(ClosedReason::PeerClosed);
        pending.ended();
        assert!(matches!(kept.wait(), Ok(ClosedReason::PeerClosed)));
        // Asked after the end: answered at once, with the first reason.
        assert!(matches!(pending.when_ended(), Ok(ClosedReason::PeerClosed)));
    }

    #[test]
    fn an_answer_for_a_cancelled_id_finds_nobody() {
        let pending = Pending::default();
        let (id, _rx) = pending.register().unwrap();
        pending.cancel(id);
        assert_eq!(pending.complete(id, Ok(Value::Nil)), Completed::NobodyWaits);
        assert!(pending.is_empty());
    }
}
