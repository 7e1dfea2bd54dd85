//! The idle timeout of a connection ([`Config::idle_timeout`](crate::Config::idle_timeout)).
//!
//! One reactor `Timeout` per connection, set to the moment the connection would have
//! been idle long enough. Activity does not touch the timer, which would cost a message
//! to the reactor per request: it only records when it happened, one clock read per
//! wake-up that did something. When the timer fires, the connection looks: idle since
//! long enough, it closes; otherwise the timer is set again, to the new moment. A busy
//! connection pays one clock read per wake-up and one timer reset per timeout period.

use std::time::{Duration, Instant};

use futures::Future;
use tokio_core::reactor::{Handle, Timeout};

// ANCHOR: idle_timer
/// When a connection was last active, and the timer that checks.
pub(super) struct IdleTimer {
    /// `Config::idle_timeout`.
    after: Duration,
    /// The end of the last wake-up that did something.
    last_active: Instant,
    /// When `timer` fires.
    deadline: Instant,
    timer: Timeout,
    /// The timer has been polled since it was set: it will wake the connection.
    armed: bool,
}

impl IdleTimer {
    /// A timer for `after`, from now; `None` for a duration too long to count (never)
    /// or when the reactor is gone.
    pub(super) fn new(after: Duration, handle: &Handle) -> Option<IdleTimer> {
        let now = Instant::now();
        let deadline = now.checked_add(after)?;
        let timer = Timeout::new_at(deadline, handle).ok()?;
        Some(IdleTimer {
            after,
            last_active: now,
            deadline,
            timer,
            armed: false,
        })
    }

    /// Called at the end of each wake-up that leaves the connection open: `active`
    /// says whether it did something, `quiet` whether nothing is in flight (no handler,
    /// no call of ours waiting). Returns how long the connection was idle, once that is
    /// `Config::idle_timeout`.
    pub(super) fn expired(&mut self, active: bool, quiet: bool) -> Option<Duration> {
        let now = Instant::now();
        if active {
            self.last_active = now;
        }
        if now >= self.deadline {
            // Quiet, it is idle since its last activity; busy, it is not idle yet.
            let since = if quiet { self.last_active } else { now };
            let next = since.checked_add(self.after)?;
            if next <= now {
                return Some(self.after);
            }
            self.deadline = next;
            self.timer.reset(next);
            self.armed = false;
        }
        if !self.armed {
            // Registers this task with the timer: it will wake us at the deadline.
            self.armed = true;
            if let Ok(futures::Async::Ready(())) = self.timer.poll() {
                // Due already (the clock moved on): look again at once.
                futures::task::current().notify();
            }
        }
        None
    }
}
// ANCHOR_END: idle_timer
