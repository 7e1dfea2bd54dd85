//! A set of futures that polls every one of them: the first, naive version.

use futures::{Async, Future};

/// Futures that run side by side.
pub struct PollAll<F> {
    futures: Vec<F>,
}

impl<F> Default for PollAll<F> {
    fn default() -> Self {
        PollAll {
            futures: Vec::new(),
        }
    }
}

impl<F: Future> PollAll<F> {
    /// Adds `future` to the set.
    pub fn push(&mut self, future: F) {
        self.futures.push(future);
    }

    /// True when no future is running.
    pub fn is_empty(&self) -> bool {
        self.futures.is_empty()
    }

    /// Polls every future in the set, and takes out those that are done.
    pub fn poll_all(&mut self) -> Vec<Result<F::Item, F::Error>> {
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.futures.len() {
            let outcome = match self.futures[i].poll() {
                // Still running: it registered its own wake-up.
                Ok(Async::NotReady) => {
                    i += 1;
                    continue;
                }
                Ok(Async::Ready(item)) => Ok(item),
                Err(err) => Err(err),
            };
            // The last future takes its place; the order does not matter.
            self.futures.swap_remove(i);
            done.push(outcome);
        }
        done
    }
}
