// ANCHOR: all
//! How often the running handlers are polled when they finish one at a time.

use std::cell::Cell;
use std::rc::Rc;

use futures::stream::FuturesUnordered;
use futures::sync::oneshot;
use futures::{future, Async, Future, Poll, Stream};

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
fn futures_unordered_polls_only_the_handlers_that_were_woken() {
    let polls = Rc::new(Cell::new(0));
    let (futures, signals) = handlers(&polls);
    let mut set: FuturesUnordered<_> = futures.into_iter().collect();
    future::lazy(move || {
        assert_eq!(set.poll(), Ok(Async::NotReady));
        for signal in signals {
            signal.send(()).unwrap();
            assert_eq!(set.poll(), Ok(Async::Ready(Some(()))));
        }
        Ok::<(), ()>(())
    })
    .wait()
    .unwrap();
    // 1000 polls to start them, then one per handler that was woken.
    assert_eq!(polls.get(), 2_000);
}
// ANCHOR_END: all
