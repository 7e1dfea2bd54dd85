//! Futures on a tokio-core reactor, every wait bounded by [`HANG`].

use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::future::{Either, Future};
use tokio_core::reactor::{Core, Timeout};

use super::HANG;

/// Runs `future` on `core`; fails the test if it takes longer than [`HANG`].
pub fn run<F: Future>(core: &mut Core, future: F) -> Result<F::Item, F::Error> {
    let guard = Timeout::new(HANG, &core.handle()).expect("a timer");
    match core.run(future.select2(guard)) {
        Ok(Either::A((item, _))) => Ok(item),
        Err(Either::A((err, _))) => Err(err),
        Ok(Either::B(_)) => panic!("the future did not complete within {:?}", HANG),
        Err(Either::B((err, _))) => panic!("the hang guard's timer failed: {}", err),
    }
}

/// Turns the reactor until `receiver` yields something (what a handler saw); fails the
/// test if nothing comes within [`HANG`].
pub fn recv_on<T>(core: &mut Core, receiver: &mpsc::Receiver<T>) -> T {
    let deadline = Instant::now() + HANG;
    loop {
        if let Ok(item) = receiver.try_recv() {
            return item;
        }
        assert!(
            Instant::now() < deadline,
            "nothing arrived within {:?}",
            HANG
        );
        core.turn(Some(Duration::from_millis(20)));
    }
}

/// Turns the reactor for `duration` (lets messages go and come).
pub fn turn_for(core: &mut Core, duration: Duration) {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        core.turn(Some(deadline.saturating_duration_since(Instant::now())));
    }
}
