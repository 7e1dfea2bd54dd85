//! The user's handlers, run so that a panic costs one call.
//!
//! Everything the dispatch half runs of the user's code goes through here: the call
//! into the service, every poll of the futures it returns (their `Into<Reply>`
//! conversions included), and their drops. Each runs inside [`catch`]; a request whose
//! handler panicked is answered with an error that names its method, a notification's
//! panic is logged, and the connection goes on with the same service (see the
//! documentation of `Service` for what that service may have been left with).

use std::convert::Infallible;

use futures::stream::FuturesUnordered;
use futures::{Async, Future, Poll};
use rmpv::Value;

use crate::catch::catch;
use crate::params::Params;
use crate::reply::Reply;
use crate::service::Service;

// ANCHOR: handler
/// The future of one handler, in a slot that is emptied as soon as the future has
/// answered or panicked: it is then dropped where a panic in its `drop` is caught too,
/// and never polled again.
pub(super) struct Handler<F>(Option<F>);

impl<F> Drop for Handler<F> {
    fn drop(&mut self) {
        // Still running when its connection ends, or left by a panic.
        if let Some(future) = self.0.take() {
            if let Err(panic) = catch(move || drop(future)) {
                log::error!("dropping a handler's future panicked: {}", panic);
            }
        }
    }
}

/// Calls the handler of request `id` and polls its future once: most handlers answer
/// at once, and one `catch` covers both. Returns the answer if there is one now (the
/// error its panic earned included); otherwise the handler joins `running`.
#[inline]
pub(super) fn start_request<S: Service>(
    service: &mut S,
    running: &mut FuturesUnordered<RequestTask<S::RequestFuture>>,
    id: u32,
    method: &str,
    params: Params<'_>,
) -> Option<Result<Reply, Reply>> {
    // Outside the closure, so that a future that panicked is not dropped while the panic
    // unwinds (a second panic, in its `drop`, would abort the process).
    let mut slot = None;
    let answered = catch(|| {
        let future = slot.insert(service.handle_request(method, params));
        let answer = poll_answer(future)?;
        slot = None;
        Some(answer)
    });
    match answered {
        Ok(None) => {
            // The set polls a newly pushed future on its next poll, which registers it.
            running.push(RequestTask {
                id,
                method: method.into(),
                handler: Handler(slot),
            });
            None
        }
        Ok(answer) => answer,
        Err(panic) => {
            drop(Handler(slot));
            Some(Err(request_panicked(id, method, &panic)))
        }
    }
}

/// Polls a request's future; its answer, as MessagePack values, once it has one.
#[inline]
fn poll_answer<F>(future: &mut F) -> Option<Result<Reply, Reply>>
where
    F: Future,
    F::Item: Into<Reply>,
    F::Error: Into<Reply>,
{
    match future.poll() {
        Ok(Async::Ready(value)) => Some(Ok(value.into())),
        Ok(Async::NotReady) => None,
        Err(error) => Some(Err(error.into())),
    }
}

/// A request from the peer whose handler is running, tagged with the msgid to answer.
pub(super) struct RequestTask<F> {
    id: u32,
    /// To name the method in the answer, should the handler panic: boxed only for the
    /// handlers that do not answer at once.
    method: Box<str>,
    handler: Handler<F>,
}

/// A handler's answer to the request with msgid `id`.
pub(super) struct Answered {
    pub(super) id: u32,
    pub(super) answer: Result<Reply, Reply>,
}

impl<F> Future for RequestTask<F>
where
    F: Future,
    F::Item: Into<Reply>,
    F::Error: Into<Reply>,
{
    type Item = Answered;
    type Error = Infallible;

    fn poll(&mut self) -> Poll<Answered, Infallible> {
        let slot = &mut self.handler.0;
        let answered = catch(|| {
            // Empty only once it has answered, and then the set polls it no more.
            let answer = poll_answer(slot.as_mut()?)?;
            *slot = None;
            Some(answer)
        });
        let answer = match answered {
            Ok(Some(answer)) => answer,
            // The handler will wake us.
            Ok(None) => return Ok(Async::NotReady),
            Err(panic) => Err(request_panicked(self.id, &self.method, &panic)),
        };
        Ok(Async::Ready(Answered {
            id: self.id,
            answer,
        }))
    }
}

/// Logs the panic of a request's handler and makes the error the peer gets. The panic's
/// own text is for the program's author, not for the peer.
#[cold]
fn request_panicked(id: u32, method: &str, panic: &str) -> Reply {
    log::error!(
        "the handler of request `{}` (msgid {}) panicked: {}; answering with an error",
        method,
        id,
        panic
    );
    Value::from(format!("internal error in {}", method)).into()
}
// ANCHOR_END: handler

/// A notification's handler, running. Once it has panicked it counts as done: nobody
/// waits for an answer.
pub(super) struct NotificationTask<F>(Handler<F>);

/// Calls the handler of a notification; `None` if it panicked (and was logged).
#[inline]
pub(super) fn start_notification<S: Service>(
    service: &mut S,
    method: &str,
    params: Params<'_>,
) -> Option<NotificationTask<S::NotificationFuture>> {
    match catch(|| service.handle_notification(method, params)) {
        Ok(future) => Some(NotificationTask(Handler(Some(future)))),
        Err(panic) => {
            log::error!(
                "the handler of notification `{}` panicked: {}",
                method,
                panic
            );
            None
        }
    }
}

impl<F: Future<Item = (), Error = ()>> Future for NotificationTask<F> {
    type Item = ();
    type Error = ();

    fn poll(&mut self) -> Poll<(), ()> {
        let slot = &mut (self.0).0;
        let polled = catch(|| {
            let polled = match slot.as_mut() {
                Some(future) => future.poll(),
                // Done: never polled again.
                None => return Ok(Async::Ready(())),
            };
            if !matches!(polled, Ok(Async::NotReady)) {
                *slot = None;
            }
            polled
        });
        polled.unwrap_or_else(|panic| {
            // Running notifications do not keep their method: say what we know.
            log::error!("the handler of a notification panicked: {}", panic);
            Ok(Async::Ready(()))
        })
    }
}
