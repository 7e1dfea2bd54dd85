//! The handle to a connection's peer: [`Client`], and the future of each call.
//!
//! A [`Client`] is a sender into the connection's queue of outgoing messages plus the
//! connection's map of requests in flight. [`Client::request`] registers the request
//! (which picks its msgid), queues it and returns a [`ResponseFuture`] that resolves
//! when the connection routes the answer back. Both sides hold one: the user of a client
//! connection, and the service of every connection (to call its peer back). This module
//! sits below [`service`](crate::service), which hands it to services, and below
//! everything that starts a connection.

use std::convert::Infallible;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::sync::{mpsc, oneshot};
use futures::{try_ready, Async, Future, Poll};
use rmpv::Value;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_core::reactor::{Remote, Timeout};

use crate::encode::{depth, write_value};
use crate::errors::{CallError, ClosedReason};
use crate::message::{Message, Notification, Request};
use crate::params::{decode, short_type_name, values_of};
use crate::pending::{Answer, Pending};

/// A handle to a MessagePack-RPC connection, to send requests and notifications.
///
/// Clone it freely (clones share the connection) and use it from any task on the
/// reactor; it is `Send`, so other threads can send requests and notifications too (but
/// see [`Client::request`] for requests with a timeout). The connection closes once every
/// handle made by [`Client::connect`] or [`ClientBuilder`](crate::client::ClientBuilder)
/// is dropped and every request in flight has been answered. The handle a
/// [`ServiceBuilder`](crate::service::ServiceBuilder) receives does not keep its
/// connection open.
#[derive(Clone)]
pub struct Client {
    /// Queues messages for the connection to write.
    sender: mpsc::UnboundedSender<Message>,
    /// The requests in flight on this connection.
    pending: Arc<Pending>,
    /// Arms request timers on the reactor.
    remote: Remote,
    /// The timeout of each request made through this handle.
    timeout: Option<Duration>,
    /// `Config::max_outgoing_depth` of the connection.
    max_depth: Option<usize>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("pending_requests", &self.pending_requests())
            .field("closed_reason", &self.closed_reason())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Client {
    /// A handle that queues its messages into `sender`, for the connection whose
    /// requests in flight are `pending`.
    pub(crate) fn new_handle(
        sender: mpsc::UnboundedSender<Message>,
        pending: Arc<Pending>,
        remote: Remote,
        max_depth: Option<usize>,
    ) -> Client {
        Client {
            sender,
            pending,
            remote,
            timeout: None,
            max_depth,
        }
    }

    /// A handle to the same connection that queues into `sender` and times its requests
    /// out after `timeout`.
    pub(crate) fn with_queue(
        &self,
        sender: mpsc::UnboundedSender<Message>,
        timeout: Option<Duration>,
    ) -> Client {
        Client {
            sender,
            timeout,
            ..self.clone()
        }
    }

    /// Sends a request and returns its answer as a future, which has no timeout unless
    /// one is set ([`Client::with_timeout`], [`ClientBuilder::timeout`]): it waits as
    /// long as the connection lives.
    ///
    /// The future resolves to the peer's result, or fails with the peer's error value
    /// ([`CallError::Remote`]) or with why no answer can come (the connection ended, the
    /// answer was not a valid response...). There is no default timeout because only
    /// the caller knows how long a method may take: a Neovim request can wait for the
    /// user to type, for minutes. A call never outlives its connection, so without a
    /// timeout the only wait without end is a live peer that never answers.
    ///
    /// The request is queued at once, even if the future is never polled. Dropping the
    /// future before the answer forgets the request: the answer is ignored when it comes.
    ///
    /// **With a timeout, poll the future on the reactor's thread**, from a task that
    /// `Core::run` runs (the timer needs that reactor). Polled anywhere else, for instance
    /// with `wait()` on another thread, it fails with [`CallError::NoReactor`] instead of
    /// timing out. Without a timeout it can be polled from any thread.
    ///
    /// [`ClientBuilder::timeout`]: crate::client::ClientBuilder::timeout
    pub fn request(&self, method: &str, params: Vec<Value>) -> ResponseFuture {
        if let Err(err) = self.check_depth(&params) {
            return ResponseFuture::failed(err);
        }
        let (id, answer) = match self.pending.register() {
            Ok(registered) => registered,
            Err(reason) => return ResponseFuture::failed(CallError::ConnectionClosed(reason)),
        };
        let msg = Message::Request(Request {
            id,
            method: method.to_owned(),
            params,
        });
        if self.sender.unbounded_send(msg).is_err() {
            self.pending.cancel(id);
            return ResponseFuture::failed(CallError::ConnectionClosed(self.reason_or_shut_down()));
        }
        // A timeout too long to count from now (`Duration::from_secs(u64::MAX)`) is no
        // timeout: it would never fire.
        let timeout = self.timeout.and_then(|after| {
            let deadline = Instant::now().checked_add(after)?;
            Some(RequestTimer {
                after,
                deadline,
                timer: None,
                remote: self.remote.clone(),
            })
        });
        ResponseFuture {
            state: State::Waiting {
                id,
                answer,
                pending: self.pending.clone(),
                timeout,
            },
        }
    }

    /// Sends a notification. It fails only when the connection is closed.
    pub fn notify(&self, method: &str, params: Vec<Value>) -> Result<(), CallError> {
        self.check_depth(&params)?;
        if let Some(reason) = self.pending.closed() {
            return Err(CallError::ConnectionClosed(reason));
        }
        let msg = Message::Notification(Notification {
            method: method.to_owned(),
            params,
        });
        self.sender
            .unbounded_send(msg)
            .map_err(|_| CallError::ConnectionClosed(self.reason_or_shut_down()))
    }

    /// Sends a request with typed params and decodes its result as an `R`: the typed
    /// counterpart of [`request`](Client::request), with the same queueing, timeout and
    /// cancellation.
    ///
    /// `params` must encode as a MessagePack array: a tuple (`(1, 2)`, or `(x,)` for one
    /// param), a `Vec` or slice, or a struct (encoded as the array of its fields). A
    /// value that encodes as anything else fails at once with
    /// [`CallError::Unsendable`], and nothing is sent. A result that does not fit `R`
    /// fails with [`CallError::UnexpectedResult`], which holds what arrived.
    ///
    /// ```no_run
    /// # use rmp_rpc_demo::Client;
    /// # use tokio_core::reactor::Core;
    /// # let mut core = Core::new().unwrap();
    /// # let addr = "127.0.0.1:54321".parse().unwrap();
    /// # let client = core.run(Client::connect(&addr, &core.handle())).unwrap();
    /// let sum: i64 = core.run(client.call("add", (40, 2))).unwrap();
    /// assert_eq!(sum, 42);
    /// ```
    pub fn call<R, P>(&self, method: &str, params: P) -> CallFuture<R>
    where
        R: DeserializeOwned,
        P: Serialize,
    {
        let response = match encode_params(&params) {
            Ok(values) => self.request(method, values),
            Err(err) => ResponseFuture::failed(err),
        };
        CallFuture {
            response,
            result: PhantomData,
        }
    }

    /// Sends a notification with typed params: the typed counterpart of
    /// [`notify`](Client::notify). `params` must encode as a MessagePack array, as for
    /// [`call`](Client::call).
    pub fn cast<P: Serialize>(&self, method: &str, params: P) -> Result<(), CallError> {
        self.notify(method, encode_params(&params)?)
    }

    /// A handle to the same connection whose requests time out after `timeout`.
    ///
    /// Poll the futures of its requests on the reactor's thread: see [`Client::request`].
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Client {
            timeout: Some(timeout),
            ..self.clone()
        }
    }

    /// How many requests on this connection wait for an answer.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// Why the connection takes no more calls, once it does not: it has ended, or it is
    /// draining for a shutdown (finishing the peer's requests, its own calls already
    /// failed). `None` while calls can be made. [`closed`](Client::closed) waits for the
    /// end.
    pub fn closed_reason(&self) -> Option<ClosedReason> {
        self.pending.closed()
    }

    // ANCHOR: closed
    /// A future that resolves once the connection is gone, with why: the peer closed
    /// it, or exited ([`ClosedReason::Exited`]), or broke the protocol, or we shut it
    /// down. A program that serves one peer waits on it to exit cleanly when the peer
    /// goes away. It cannot fail, and it does not keep the connection open.
    pub fn closed(&self) -> Closed {
        Closed {
            state: match self.pending.when_ended() {
                Ok(reason) => ClosedState::Ended(Some(reason)),
                Err(receiver) => ClosedState::Waiting(receiver),
            },
        }
    }
    // ANCHOR_END: closed

    /// Refuses params that would nest the message deeper than `Config::max_outgoing_depth`.
    fn check_depth(&self, params: &[Value]) -> Result<(), CallError> {
        let max = match self.max_depth {
            Some(max) => max,
            None => return Ok(()),
        };
        // The message array is level 1, the params array level 2.
        let depth = 2 + params.iter().map(depth).max().unwrap_or(0);
        if depth > max {
            return Err(CallError::Unsendable(format!(
                "it nests {} levels deep, more than Config::max_outgoing_depth ({})",
                depth, max
            )));
        }
        Ok(())
    }

    /// Why a message could not be queued: the channel only closes with the connection.
    fn reason_or_shut_down(&self) -> ClosedReason {
        self.pending.closed().unwrap_or(ClosedReason::ShutDown)
    }
}

/// The end of a connection, as a future: see [`Client::closed`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Closed {
    state: ClosedState,
}

#[derive(Debug)]
enum ClosedState {
    Waiting(oneshot::Receiver<ClosedReason>),
    /// `None` once handed out.
    Ended(Option<ClosedReason>),
}

impl Future for Closed {
    type Item = ClosedReason;
    type Error = Infallible;

    fn poll(&mut self) -> Poll<ClosedReason, Infallible> {
        let reason = match self.state {
            ClosedState::Waiting(ref mut receiver) => match receiver.poll() {
                Ok(Async::Ready(reason)) => reason,
                // Not expected: a connection says why before it goes. Gone it is.
                Err(oneshot::Canceled) => ClosedReason::ShutDown,
                // The connection will wake us when it is gone.
                Ok(Async::NotReady) => return Ok(Async::NotReady),
            },
            ClosedState::Ended(ref mut reason) => reason.take().unwrap_or(ClosedReason::ShutDown),
        };
        self.state = ClosedState::Ended(None);
        Ok(Async::Ready(reason))
    }
}

/// `params` encoded by rmp-serde, as the params array of a message.
fn encode_params<P: Serialize>(params: &P) -> Result<Vec<Value>, CallError> {
    let bytes = rmp_serde::to_vec(params)
        .map_err(|err| CallError::Unsendable(format!("cannot encode the params: {}", err)))?;
    match bytes.first() {
        Some(0x90..=0x9f) | Some(0xdc) | Some(0xdd) => Ok(values_of(&bytes)),
        marker => Err(CallError::Unsendable(format!(
            "the params must encode as a MessagePack array (a tuple, a Vec or a struct), and {} encodes as {}",
            short_type_name::<P>(),
            marker.map_or("nothing", |&marker| kind_of(marker))
        ))),
    }
}

/// What a MessagePack marker starts, in words.
fn kind_of(marker: u8) -> &'static str {
    match marker {
        0x00..=0x7f | 0xcc..=0xd3 | 0xe0..=0xff => "an integer",
        0x80..=0x8f | 0xde | 0xdf => "a map",
        0xa0..=0xbf | 0xd9..=0xdb => "a string",
        0xc0 => "nil",
        0xc2 | 0xc3 => "a boolean",
        0xc4..=0xc6 => "a binary",
        0xca | 0xcb => "a float",
        _ => "an ext",
    }
}

/// The result of a typed call, as a future: see [`Client::call`].
#[must_use = "futures do nothing unless polled; dropping this one abandons the request"]
pub struct CallFuture<R> {
    response: ResponseFuture,
    result: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> Future for CallFuture<R> {
    type Item = R;
    type Error = CallError;

    fn poll(&mut self) -> Poll<R, CallError> {
        // The connection (or the timer) will wake us.
        let value = try_ready!(self.response.poll());
        // The result arrived as a `Value`: encode it again for rmp-serde, the same
        // decoder as the server's typed params.
        let mut bytes = Vec::new();
        if let Err(err) = write_value(&mut bytes, &value) {
            return Err(CallError::UnexpectedResult {
                expected: short_type_name::<R>(),
                got: value,
                reason: err.to_string(),
            });
        }
        decode(&bytes)
            .map(Async::Ready)
            .map_err(|reason| CallError::UnexpectedResult {
                expected: short_type_name::<R>(),
                got: value,
                reason,
            })
    }
}

impl<R> fmt::Debug for CallFuture<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallFuture")
            .field("response", &self.response)
            .field("result", &short_type_name::<R>())
            .finish()
    }
}

/// The answer to a request, as a future: see [`Client::request`].
#[must_use = "futures do nothing unless polled; dropping this one abandons the request"]
pub struct ResponseFuture {
    state: State,
}

enum State {
    Waiting {
        /// Our msgid, to forget it if we give up.
        id: u32,
        answer: oneshot::Receiver<Answer>,
        pending: Arc<Pending>,
        timeout: Option<RequestTimer>,
    },
    /// The request could not be sent.
    Failed(CallError),
    Done,
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("ResponseFuture");
        match self.state {
            State::Waiting {
                id, ref timeout, ..
            } => out
                .field("msgid", &id)
                .field("timeout", &timeout.as_ref().map(|t| t.after)),
            State::Failed(ref err) => out.field("failed", err),
            State::Done => out.field("done", &true),
        };
        out.finish()
    }
}

// ANCHOR: request_timer
struct RequestTimer {
    after: Duration,
    deadline: Instant,
    /// Armed at the first poll, on the reactor thread.
    timer: Option<Timeout>,
    remote: Remote,
}

impl RequestTimer {
    /// Has the deadline passed? Arms the timer (which then wakes us) on first use.
    fn expired(&mut self) -> Result<bool, CallError> {
        if self.timer.is_none() {
            let handle = self.remote.handle().ok_or(CallError::NoReactor)?;
            let timer =
                Timeout::new_at(self.deadline, &handle).map_err(|_| CallError::NoReactor)?;
            self.timer = Some(timer);
        }
        match self.timer.as_mut().map(Future::poll) {
            Some(Ok(Async::NotReady)) => Ok(false),
            _ => Ok(true),
        }
    }
}
// ANCHOR_END: request_timer

impl ResponseFuture {
    fn failed(err: CallError) -> Self {
        ResponseFuture {
            state: State::Failed(err),
        }
    }
}

// ANCHOR: response_poll
impl Future for ResponseFuture {
    type Item = Value;
    type Error = CallError;

    fn poll(&mut self) -> Poll<Value, CallError> {
        let outcome = match self.state {
            State::Waiting {
                id,
                ref mut answer,
                ref pending,
                ref mut timeout,
            } => match answer.poll() {
                Ok(Async::Ready(Ok(value))) => Ok(value),
                Ok(Async::Ready(Err(err))) => Err(err),
                Err(oneshot::Canceled) => Err(CallError::ConnectionClosed(
                    pending.closed().unwrap_or(ClosedReason::ShutDown),
                )),
                // The connection will wake us when it routes the answer.
                Ok(Async::NotReady) => match timeout.as_mut().map(RequestTimer::expired) {
                    // The timer, if any, will wake us at the deadline.
                    None | Some(Ok(false)) => return Ok(Async::NotReady),
                    Some(Ok(true)) => {
                        pending.cancel(id);
                        let after = timeout.as_ref().map(|t| t.after).unwrap_or_default();
                        Err(CallError::Timeout(after))
                    }
                    Some(Err(err)) => {
                        pending.cancel(id);
                        Err(err)
                    }
                },
            },
            State::Failed(ref err) => Err(err.clone()),
            // Polling a completed future breaks the futures 0.1 contract: a bug in the
            // caller's code, never something a peer can cause (futures' own combinators
            // panic the same way).
            State::Done => panic!("ResponseFuture polled after it completed"),
        };
        self.state = State::Done;
        outcome.map(Async::Ready)
    }
}
// ANCHOR_END: response_poll

// ANCHOR: response_drop
impl Drop for ResponseFuture {
    fn drop(&mut self) {
        if let State::Waiting {
            id, ref pending, ..
        } = self.state
        {
            pending.cancel(id);
        }
    }
}
// ANCHOR_END: response_drop
