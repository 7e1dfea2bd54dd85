//! A service whose handlers panic on demand, and a server of it on its own thread: the
//! example server's handlers never panic, so the tests of panicking handlers bring
//! their own.
//!
//! Requests: `add [a, b]` answers `a + b` at once, `add_later [a, b]` after one more
//! poll; `panic_now [..]` panics in `handle_request`, `panic_later [..]` in the second
//! poll of its future. Notifications `panic_now` and `panic_later` panic the same way;
//! `count` adds one to a counter the test can read.

use std::cell::Cell;
use std::net::SocketAddr;
use std::panic;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};

use futures::future::Future;
use futures::{task, Async, Poll};
use rmp_rpc_demo::{Client, Config, Params, Service, Value};
use tokio_core::reactor::Handle;

use super::served::ServerThread;

/// How the panics made on purpose by the tests begin: see [`quiet_deliberate_panics`].
pub const DELIBERATE: &str = "deliberate panic:";

/// Keeps the panics the tests make on purpose (their message begins with
/// [`DELIBERATE`]) off stderr, and reports every other one as the default hook does:
/// thousands of expected panics would bury the one that matters. What a program does
/// when it wants the same (the library installs no hook).
pub fn quiet_deliberate_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let report = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if !message.is_some_and(|text| text.starts_with(DELIBERATE)) {
                report(info);
            }
        }));
    });
}

/// A future that waits for one poll (waking itself), then answers, or panics.
pub struct Later<T> {
    polled: bool,
    outcome: Option<T>,
    panics: bool,
}

impl<T> Later<T> {
    pub fn answer(outcome: T) -> Later<T> {
        Later {
            polled: false,
            outcome: Some(outcome),
            panics: false,
        }
    }

    pub fn panic() -> Later<T> {
        Later {
            polled: false,
            outcome: None,
            panics: true,
        }
    }
}

impl<T, E> Future for Later<Result<T, E>> {
    type Item = T;
    type Error = E;

    fn poll(&mut self) -> Poll<T, E> {
        if !self.polled {
            self.polled = true;
            // Nothing else will wake us: we are our own event.
            task::current().notify();
            return Ok(Async::NotReady);
        }
        if self.panics {
            panic!("{} a handler panicked while it was polled", DELIBERATE);
        }
        match self.outcome.take() {
            Some(outcome) => outcome.map(Async::Ready),
            None => panic!("Later polled after it completed"),
        }
    }
}

/// See the module documentation.
pub struct Panicky {
    /// Notifications `count` received, on this connection and every other.
    pub counted: Rc<Cell<usize>>,
}

impl Service for Panicky {
    type Output = Value;
    type Error = Value;
    type RequestFuture = Later<Result<Value, Value>>;
    type NotificationFuture = Later<Result<(), ()>>;

    fn handle_request(&mut self, method: &str, params: Params<'_>) -> Self::RequestFuture {
        let params = params.into_values();
        let sum = || {
            let arg = |i: usize| params.get(i).and_then(Value::as_i64).unwrap_or(0);
            Value::from(arg(0) + arg(1))
        };
        match method {
            "add" => Later {
                polled: true,
                ..Later::answer(Ok(sum()))
            },
            "add_later" => Later::answer(Ok(sum())),
            "panic_now" => panic!("{} a handler panicked when it was called", DELIBERATE),
            "panic_later" => Later::panic(),
            other => Later::answer(Err(Value::from(format!("no method {}", other)))),
        }
    }

    fn handle_notification(&mut self, method: &str, _: Params<'_>) -> Self::NotificationFuture {
        match method {
            "panic_now" => panic!(
                "{} a notification handler panicked when it was called",
                DELIBERATE
            ),
            "panic_later" => Later::panic(),
            _ => {
                self.counted.set(self.counted.get() + 1);
                Later::answer(Ok(()))
            }
        }
    }
}

/// A server of [`Panicky`] on a thread of its own (see [`ServerThread`]).
pub struct PanickyServer {
    pub addr: SocketAddr,
    /// Connections whose builder ran.
    pub built: Arc<AtomicUsize>,
    _thread: ServerThread,
}

impl PanickyServer {
    /// Starts it. The builder of connection number `panic_on_build` (counting from 1)
    /// panics, if any.
    pub fn start(panic_on_build: Option<usize>) -> PanickyServer {
        quiet_deliberate_panics();
        let built = Arc::new(AtomicUsize::new(0));
        let counter = built.clone();
        let thread = ServerThread::start(Config::default(), move |_: &Handle| {
            let counted = Rc::new(Cell::new(0));
            move |_peer: Client| {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                if Some(n) == panic_on_build {
                    panic!("{} the builder panicked on connection {}", DELIBERATE, n);
                }
                Panicky {
                    counted: counted.clone(),
                }
            }
        });
        PanickyServer {
            addr: thread.addr,
            built,
            _thread: thread,
        }
    }
}
