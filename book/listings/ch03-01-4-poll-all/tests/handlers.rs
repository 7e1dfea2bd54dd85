//! How often the running handlers are polled when they finish one at a time.

use std::cell::Cell;
use std::rc::Rc;

use futures::sync::oneshot;
use futures::{future, Future, Poll};
use minirpc::poll_all::PollAll;

/// How many handlers the tests run.
const HANDLERS: usize = 1000;

/// A future that counts how many times it is polled.
struct Counted<F> {
    future: F,
    polls: Rc<Cell<usize>>,
}

impl<F: Future> Future for Counted<F> {
    type Item = F::Item;
    type Error = F::Error;

    fn poll(&mut self) -> Poll<F::Item, F::Error> {
        self.polls.set(self.polls.get() + 1);
        self.future.poll()
    }
}

/// `HANDLERS` futures that wait for a signal, and the senders of those signals.
fn handlers(
    polls: &Rc<Cell<usize>>,
) -> (
    Vec<Counted<oneshot::Receiver<()>>>,
    Vec<oneshot::Sender<()>>,
) {
    (0..HANDLERS)
        .map(|_| {
            let (signal, wait) = oneshot::channel();
            let polls = polls.clone();
            (
                Counted {
                    future: wait,
                    polls,
                },
                signal,
            )
        })
        .unzip()
}

#[test]
fn poll_all_polls_every_handler_at_every_wake_up() {
    let polls = Rc::new(Cell::new(0));
    let (futures, signals) = handlers(&polls);
    let mut set = PollAll::default();
    for future in futures {
        set.push(future);
    }
    // Polling needs a task to register; `lazy` runs the closure inside one.
    future::lazy(move || {
        assert!(set.poll_all().is_empty());
        for signal in signals {
            signal.send(()).unwrap();
            assert_eq!(set.poll_all().len(), 1);
        }
        Ok::<(), ()>(())
    })
    .wait()
    .unwrap();
    // 1000 polls to start them, then 1000 + 999 + ... + 1.
    assert_eq!(polls.get(), 501_500);
}
