//! The connection core: one future per connection, the same on both sides.
//!
//! tokio-proto used to own this loop; we write it by hand so that requests *and*
//! notifications can flow both ways. Each call to [`Connection::poll`] does, in order:
//!
//! 1. **read**: read bytes, decode messages, and dispatch them: a request starts a
//!    handler, a notification starts a notification handler, a response goes to the
//!    caller waiting for it;
//! 2. **drive handlers**: poll the handler futures that were woken, and queue the
//!    response of each one that completed;
//! 3. **send outgoing**: move the requests and notifications our handles queued onto
//!    the write buffer;
//! 4. **flush**: write the buffer to the transport, once per poll;
//!
//! and repeats while one of the steps made progress, up to a budget, then checks whether
//! the connection is done. Backpressure falls out of the order: when the write buffer is
//! full or too many handlers run, step 1 stops reading, the peer's messages wait in the
//! kernel, and TCP flow control slows the peer down.

use std::cmp;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::mem;
use std::sync::Arc;
use std::time::Instant;

use bytes::{BufMut, BytesMut};
use futures::stream::FuturesUnordered;
use futures::sync::{mpsc, oneshot};
use futures::{task, Async, Future, Poll, Stream};
use rmpv::Value;
use tokio_core::reactor::{Handle, Timeout};
use tokio_io::{AsyncRead, AsyncWrite};

use crate::codec::{Codec, Received};
use crate::config::{Config, MAX_IDLE_BUFFER};
use crate::errors::{CallError, ClosedReason, CodecError};
use crate::message::{depth, Frame, Message, Response};
use crate::outbox::Outbox;
use crate::pending::Pending;
use crate::service::Service;

// ANCHOR: budgets
/// How many messages, handler completions or outgoing messages one step handles
/// before letting the other steps (and the other connections on the reactor) run.
const STEP_BUDGET: usize = 128;
/// How many times one poll repeats the steps before yielding to other tasks.
const MAX_ROUNDS: usize = 4;
/// The free space we make in the read buffer before reading: large enough to take
/// many small messages in one system call.
const READ_CHUNK: usize = 16 * 1024;
/// How many undecoded bytes we read while a message is parked: enough to see the end of
/// the stream of a peer that has gone, too little to matter for memory.
const PARKED_READ_LIMIT: usize = 64 * 1024;
// ANCHOR_END: budgets

// ANCHOR: request_task
/// A request from the peer whose handler is running, tagged with the msgid to answer.
struct RequestTask<F> {
    id: u32,
    future: F,
}

impl<F> Future for RequestTask<F>
where
    F: Future,
    F::Item: Into<Value>,
    F::Error: Into<Value>,
{
    type Item = Response;
    type Error = Infallible;

    fn poll(&mut self) -> Poll<Response, Infallible> {
        let result = match self.future.poll() {
            Ok(Async::Ready(value)) => Ok(value.into()),
            Ok(Async::NotReady) => return Ok(Async::NotReady),
            Err(error) => Err(error.into()),
        };
        Ok(Async::Ready(Response {
            id: self.id,
            result,
        }))
    }
}
// ANCHOR_END: request_task

/// What a server connection needs to shut down gracefully.
pub(crate) struct ShutdownSignal {
    /// Fires with the deadline of the grace period.
    pub(crate) deadline: oneshot::Receiver<Instant>,
    /// Dropped when the connection ends, so the server knows when all are gone.
    pub(crate) alive: mpsc::UnboundedSender<()>,
}

/// How a connection is tied to its handles, and to its server if it has one.
pub(crate) struct Wiring {
    /// Our requests waiting for the peer's answer, shared with the handles.
    pub(crate) pending: Arc<Pending>,
    /// What the user's client handles send; `None` on a server connection.
    pub(crate) from_handles: Option<mpsc::UnboundedReceiver<Message>>,
    /// What the service's own handle sends.
    pub(crate) from_service: mpsc::UnboundedReceiver<Message>,
    /// Server connections: how the server asks for a graceful shutdown.
    pub(crate) shutdown: Option<ShutdownSignal>,
    /// The reactor the connection runs on (to arm its timers).
    pub(crate) handle: Handle,
}

// ANCHOR: connection
/// One connection, from either side. See the module documentation.
pub(crate) struct Connection<T, S: Service> {
    /// The byte stream to the peer.
    io: T,
    /// Frames messages, enforcing the limits.
    codec: Codec,
    /// Bytes read from the peer and not yet decoded.
    read_buf: BytesMut,
    /// Encoded messages not yet written to the peer.
    write_buf: Outbox,
    /// The transport took bytes since its last flush.
    needs_flush: bool,
    /// The transport answered `NotReady` to a read in this call of `drive`: it will wake
    /// us when bytes arrive, and asking again before would only register us again.
    read_blocked: bool,
    /// Answers the peer's requests and notifications.
    service: S,
    /// Handlers of the peer's requests still running; only woken ones are polled.
    requests: FuturesUnordered<RequestTask<S::RequestFuture>>,
    /// Notification handlers still running, when they run concurrently.
    notifications: FuturesUnordered<S::NotificationFuture>,
    /// Notification handlers in arrival order, when they run one at a time (the front).
    queued_notifications: VecDeque<S::NotificationFuture>,
    /// What the user's client handles want to send; `None` on a server connection, and
    /// once every handle is gone.
    from_handles: Option<mpsc::UnboundedReceiver<Message>>,
    /// What the service's own handle wants to send.
    from_service: mpsc::UnboundedReceiver<Message>,
    /// Our requests waiting for the peer's answer, shared with the handles.
    pending: Arc<Pending>,
    config: Config,
    /// The peer closed its side: nothing more will arrive.
    peer_closed: bool,
    /// A request or notification read while we could take on no more work; it is
    /// dispatched, and reading resumes, once a handler finishes or the peer reads.
    parked: Option<Received<'static>>,
    /// Server connections: fires with the deadline of the grace period when the
    /// server shuts down.
    shutdown: Option<oneshot::Receiver<Instant>>,
    /// Arms the grace timer.
    handle: Handle,
    /// Server connections: dropped when the connection ends, so the server can tell
    /// when every connection is gone.
    _alive: Option<mpsc::UnboundedSender<()>>,
    /// Shutting down: read nothing more, finish the running handlers, then close.
    draining: bool,
    /// Fires at the end of the grace period while draining.
    grace: Option<Timeout>,
    /// This connection was started by a client, which closes it once every user handle
    /// is dropped and every answer has come.
    client_side: bool,
}
// ANCHOR_END: connection

impl<T, S> Connection<T, S>
where
    T: AsyncRead + AsyncWrite,
    S: Service,
{
    pub(crate) fn new(io: T, service: S, config: Config, wiring: Wiring) -> Self {
        let Wiring {
            pending,
            from_handles,
            from_service,
            shutdown,
            handle,
        } = wiring;
        let client_side = from_handles.is_some();
        let (shutdown, alive) = match shutdown {
            Some(signal) => (Some(signal.deadline), Some(signal.alive)),
            None => (None, None),
        };
        Connection {
            io,
            codec: Codec::new(config.limits),
            read_buf: BytesMut::new(),
            write_buf: Outbox::default(),
            needs_flush: false,
            read_blocked: false,
            service,
            requests: FuturesUnordered::new(),
            notifications: FuturesUnordered::new(),
            queued_notifications: VecDeque::new(),
            from_handles,
            from_service,
            pending,
            config,
            peer_closed: false,
            parked: None,
            shutdown,
            handle,
            _alive: alive,
            draining: false,
            grace: None,
            client_side,
        }
    }

    // ANCHOR: drive
    /// Runs the four steps until none makes progress; returns why the connection is
    /// over, once it is.
    fn drive(&mut self) -> Result<Async<ClosedReason>, ClosedReason> {
        if self.client_side {
            // A caller giving up will wake us (see `finished`).
            self.pending.watch();
        }
        self.poll_shutdown()?;
        // Once the channels of our handles are found empty, this task is registered with
        // them and a later message wakes us: no need to poll them again in this call.
        let mut outgoing_drained = false;
        // A wake-up may mean new bytes: read again.
        self.read_blocked = false;
        for _ in 0..MAX_ROUNDS {
            let mut progress = match self.read_incoming() {
                Ok(progress) => progress,
                Err(reason @ ClosedReason::Protocol(_)) => {
                    // Still send what we owe for the valid requests read before the bad
                    // bytes: one attempt, since this peer broke the protocol.
                    let _ = self.flush();
                    return Err(reason);
                }
                Err(reason) => return Err(reason),
            };
            progress |= self.drive_requests();
            progress |= self.drive_notifications();
            if !outgoing_drained {
                let (sent, drained) = self.send_outgoing();
                progress |= sent;
                outgoing_drained = drained;
            }
            progress |= self.flush()?;
            if let Some(reason) = self.finished() {
                return Ok(Async::Ready(reason));
            }
            if !progress {
                // Every step stopped on an inner NotReady (which registered this task
                // with the transport, the handler futures or the channels) or on
                // backpressure that only those can lift.
                return Ok(Async::NotReady);
            }
        }
        // Still busy after the budget: let the other tasks run, then come back.
        task::current().notify();
        Ok(Async::NotReady)
    }
    // ANCHOR_END: drive

    // ANCHOR: can_read
    /// May we read more of the peer's bytes now? Answers to our own requests must always
    /// get through (holding them back can deadlock two peers that both wait for the other
    /// to read), so only the peer's end, a shutdown, or a parked message with a full read
    /// buffer stop reading. While a message is parked we still read a little, without
    /// decoding, so that we notice a peer that has gone.
    fn can_read(&self) -> bool {
        !self.peer_closed
            && !self.draining
            && (self.parked.is_none() || self.read_buf.len() < PARKED_READ_LIMIT)
    }

    /// May we take on one more of the peer's requests or notifications? Not while too
    /// many handlers run, nor while the peer is slow to read what we already owe it.
    fn can_start_work(&self) -> bool {
        let running =
            self.requests.len() + self.notifications.len() + self.queued_notifications.len();
        running < self.config.max_in_flight && self.write_buf.len() < self.config.max_write_buffer
    }
    // ANCHOR_END: can_read

    // ANCHOR: read_incoming
    /// Step 1: reads from the transport and dispatches each decoded message.
    fn read_incoming(&mut self) -> Result<bool, ClosedReason> {
        let mut progress = false;
        for _ in 0..STEP_BUDGET {
            if self.parked.is_some() {
                if self.can_start_work() {
                    if let Some(received) = self.parked.take() {
                        self.dispatch(received);
                    }
                    progress = true;
                    continue;
                }
                // A handler finishing, or the transport taking our bytes, lets it go.
            } else if !self.peer_closed && !self.draining {
                match self.decode_next() {
                    Ok(true) => {
                        progress = true;
                        continue;
                    }
                    Ok(false) => {}
                    Err(err) => return Err(ClosedReason::Protocol(Arc::new(err))),
                }
            }
            if !self.can_read() || self.read_blocked {
                break;
            }
            self.make_read_room();
            match AsyncRead::read_buf(&mut self.io, &mut self.read_buf) {
                Ok(Async::Ready(0)) => {
                    if !self.read_buf.is_empty() {
                        log::debug!(
                            "peer closed the connection in the middle of a message ({} bytes dropped)",
                            self.read_buf.len()
                        );
                    }
                    self.peer_closed = true;
                    return Ok(true);
                }
                Ok(Async::Ready(_)) => progress = true,
                // The transport will wake us when there is more to read.
                Ok(Async::NotReady) => {
                    self.read_blocked = true;
                    break;
                }
                Err(err) => return Err(ClosedReason::Io(Arc::new(err))),
            }
        }
        if self.read_buf.is_empty() && self.read_buf.capacity() > MAX_IDLE_BUFFER {
            self.read_buf = BytesMut::new();
        }
        Ok(progress)
    }
    // ANCHOR_END: read_incoming

    // ANCHOR: decode_next
    /// Decodes the message at the front of the read buffer, if one is whole, and
    /// dispatches it, or parks it when we can take on no more work. Returns whether
    /// there was one.
    fn decode_next(&mut self) -> Result<bool, CodecError> {
        // The message borrows its method name from the read buffer while it is handled:
        // take the buffer out of `self` meanwhile, so that handling can have `&mut self`,
        // and consume the bytes once the message is gone.
        let mut buf = mem::take(&mut self.read_buf);
        let result = match self.codec.decode_borrowed(&buf) {
            Ok((received, len)) => {
                let found = received.is_some();
                if let Some(received) = received {
                    if creates_work(&received) && !self.can_start_work() {
                        // Hold it, and soon read nothing more: the peer's bytes wait
                        // in the kernel, and TCP flow control slows the peer down.
                        self.parked = Some(received.into_owned());
                    } else {
                        self.dispatch(received);
                    }
                }
                buf.advance(len);
                Ok(found)
            }
            Err(err) => Err(err),
        };
        self.read_buf = buf;
        result
    }
    // ANCHOR_END: decode_next

    /// Makes sure the read buffer has room for a useful read: at least `READ_CHUNK`,
    /// or what the message being received still needs (it was checked against the size
    /// limit already), so a large message is read in few system calls.
    fn make_read_room(&mut self) {
        if self.read_buf.remaining_mut() < READ_CHUNK {
            let wanted = self.codec.bytes_wanted(&self.read_buf);
            self.read_buf.reserve(cmp::max(READ_CHUNK, wanted));
        }
    }

    // ANCHOR: dispatch
    /// Sends one decoded message where it belongs.
    fn dispatch(&mut self, received: Received<'_>) {
        match received {
            Received::Frame(Frame::Request { id, method, params }) => {
                self.start_request(id, &method, params)
            }
            Received::Frame(Frame::Notification { method, params }) => {
                self.start_notification(&method, params)
            }
            Received::Frame(Frame::Response(resp)) => self.route_response(resp),
            Received::InvalidRequest { id, reason } => {
                log::warn!("answering invalid request {} with an error: {}", id, reason);
                let error = Value::from(format!("invalid request: {}", reason));
                self.queue_response(Response {
                    id,
                    result: Err(error),
                });
            }
        }
    }
    // ANCHOR_END: dispatch

    // ANCHOR: start_request
    /// Calls the handler of a request. Most handlers answer at once: try that before
    /// paying for a place among the running handlers.
    fn start_request(&mut self, id: u32, method: &str, params: Vec<Value>) {
        let future = self.service.handle_request(method, params);
        let mut task = RequestTask { id, future };
        match task.poll() {
            Ok(Async::Ready(response)) => self.queue_response(response),
            // The set polls a newly pushed future on its next poll, which registers it.
            Ok(Async::NotReady) => self.requests.push(task),
            Err(never) => match never {},
        }
    }
    // ANCHOR_END: start_request

    // ANCHOR: start_notification
    /// Calls the handler of a notification.
    fn start_notification(&mut self, method: &str, params: Vec<Value>) {
        let mut future = self.service.handle_notification(method, params);
        if self.config.ordered_notifications {
            self.queued_notifications.push_back(future);
        } else if let Ok(Async::NotReady) = future.poll() {
            self.notifications.push(future);
        }
    }
    // ANCHOR_END: start_notification

    // ANCHOR: route_response
    /// Hands a response to the caller waiting for it, if any.
    fn route_response(&mut self, resp: Response) {
        let id = resp.id;
        let answer = resp.result.map_err(CallError::Remote);
        if !self.pending.complete(id, answer) {
            log::warn!(
                "ignoring a response to msgid {}: no request with that id is waiting (it may have timed out)",
                id
            );
        }
    }
    // ANCHOR_END: route_response

    // ANCHOR: drive_requests
    /// Step 2: polls the request handlers that were woken; queues their responses.
    fn drive_requests(&mut self) -> bool {
        let mut progress = false;
        for _ in 0..STEP_BUDGET {
            if self.write_buf.len() >= self.config.max_write_buffer {
                // Let the peer read what we have before producing more.
                break;
            }
            if self.requests.is_empty() {
                // Nothing runs, so nothing can wake us: polling the empty set would only
                // re-register this task, which costs more than the rest of a small request.
                break;
            }
            match self.requests.poll() {
                Ok(Async::Ready(Some(response))) => {
                    self.queue_response(response);
                    progress = true;
                }
                // NotReady: each running handler will wake us when it can progress.
                Ok(Async::Ready(None)) | Ok(Async::NotReady) => break,
                Err(never) => match never {},
            }
        }
        progress
    }
    // ANCHOR_END: drive_requests

    // ANCHOR: drive_notifications
    /// Step 2, for notifications: polls their handlers (all the woken ones, or only the
    /// oldest when they run in order).
    fn drive_notifications(&mut self) -> bool {
        let mut progress = false;
        for _ in 0..STEP_BUDGET {
            let done = if let Some(front) = self.queued_notifications.front_mut() {
                !matches!(front.poll(), Ok(Async::NotReady))
            } else if self.notifications.is_empty() {
                // As for requests: polling the empty set would only re-register us.
                break;
            } else {
                matches!(
                    self.notifications.poll(),
                    Ok(Async::Ready(Some(()))) | Err(())
                )
            };
            if !done {
                // The handler we polled will wake us.
                break;
            }
            self.queued_notifications.pop_front();
            progress = true;
        }
        progress
    }
    // ANCHOR_END: drive_notifications

    // ANCHOR: queue_response
    /// Encodes a response onto the write buffer.
    fn queue_response(&mut self, mut response: Response) {
        let id = response.id;
        if let Some(max) = self.config.max_outgoing_depth {
            let depth = 1 + match response.result {
                Ok(ref value) | Err(ref value) => depth(value),
            };
            if depth > max {
                log::error!(
                    "the answer to msgid {} nests {} levels deep, more than {}",
                    id,
                    depth,
                    max
                );
                let error = format!(
                    "the answer nests {} levels deep, more than this server sends ({})",
                    depth, max
                );
                response.result = Err(Value::from(error));
            }
        }
        if let Err(err) = self.write_buf.push(Message::Response(response)) {
            log::error!("cannot encode the response to msgid {}: {}", id, err);
            let error = Value::from(format!("the response could not be encoded: {}", err));
            let fallback = Message::Response(Response {
                id,
                result: Err(error),
            });
            // A short string always encodes.
            let _ = self.write_buf.push(fallback);
        }
    }
    // ANCHOR_END: queue_response

    // ANCHOR: outgoing
    /// Step 3: moves what our handles queued (requests, notifications) onto the write
    /// buffer. Returns whether it moved anything, and whether it emptied the channels
    /// (then they will wake us when a handle queues something).
    fn send_outgoing(&mut self) -> (bool, bool) {
        let mut progress = false;
        for _ in 0..STEP_BUDGET {
            if self.write_buf.len() >= self.config.max_write_buffer {
                return (progress, false);
            }
            let msg = match self.next_outgoing() {
                Some(msg) => msg,
                // The channels will wake us when a handle queues something.
                None => return (progress, true),
            };
            progress = true;
            let request_id = match msg {
                Message::Request(ref req) => Some(req.id),
                _ => None,
            };
            if let Err(err) = self.write_buf.push(msg) {
                log::error!("cannot encode an outgoing message: {}", err);
                if let Some(id) = request_id {
                    let why = format!("it could not be encoded: {}", err);
                    self.pending.complete(id, Err(CallError::Unsendable(why)));
                }
            }
        }
        (progress, false)
    }

    /// The next message from the service's handle, else from the user's handles.
    fn next_outgoing(&mut self) -> Option<Message> {
        if let Ok(Async::Ready(Some(msg))) = self.from_service.poll() {
            return Some(msg);
        }
        let handles = self.from_handles.as_mut()?;
        match handles.poll() {
            Ok(Async::Ready(Some(msg))) => Some(msg),
            Ok(Async::Ready(None)) | Err(()) => {
                // Every user handle is gone.
                self.from_handles = None;
                None
            }
            Ok(Async::NotReady) => None,
        }
    }
    // ANCHOR_END: outgoing

    // ANCHOR: flush
    /// Step 4: writes the buffer to the transport, then flushes it once.
    fn flush(&mut self) -> Result<bool, ClosedReason> {
        let mut progress = false;
        while !self.write_buf.is_empty() {
            // One piece, the usual case: a plain write. Around a moved payload, up to
            // four pieces (header, payload, what follows) in one vectored write.
            let written = match self.write_buf.contiguous() {
                Some(bytes) => poll_io(io::Write::write(&mut self.io, bytes)),
                None => self.io.write_buf(&mut self.write_buf.unsent_parts()),
            };
            match written {
                Ok(Async::Ready(0)) => {
                    let err =
                        io::Error::new(io::ErrorKind::WriteZero, "the transport accepted no bytes");
                    return Err(ClosedReason::Io(Arc::new(err)));
                }
                Ok(Async::Ready(n)) => {
                    self.write_buf.consumed(n);
                    self.needs_flush = true;
                    progress = true;
                }
                // The transport will wake us when it can take more.
                Ok(Async::NotReady) => break,
                Err(err) => return Err(ClosedReason::Io(Arc::new(err))),
            }
        }
        if self.needs_flush {
            match poll_io(io::Write::flush(&mut self.io)) {
                Ok(Async::Ready(())) => self.needs_flush = false,
                // The transport will wake us when the flush can go on.
                Ok(Async::NotReady) => {}
                Err(err) => return Err(ClosedReason::Io(Arc::new(err))),
            }
        }
        Ok(progress)
    }
    // ANCHOR_END: flush

    // ANCHOR: poll_shutdown
    /// Watches for the server's shutdown signal, then for the end of the grace period.
    fn poll_shutdown(&mut self) -> Result<(), ClosedReason> {
        let signal = self.shutdown.as_mut().map(|signal| signal.poll());
        match signal {
            Some(Ok(Async::Ready(deadline))) => {
                self.shutdown = None;
                self.draining = true;
                self.grace = Timeout::new_at(deadline, &self.handle).ok();
                // We stop reading, so no answer to our own requests can arrive.
                self.pending.close(ClosedReason::ShutDown);
            }
            // The server went away without shutting down: keep serving this peer.
            Some(Err(oneshot::Canceled)) => self.shutdown = None,
            // The server will wake us if it shuts down.
            Some(Ok(Async::NotReady)) | None => {}
        }
        if let Some(ref mut grace) = self.grace {
            match grace.poll() {
                // The timer will wake us at the deadline.
                Ok(Async::NotReady) => {}
                Ok(Async::Ready(())) | Err(_) => {
                    log::info!(
                        "grace period over: closing a connection with handlers still running"
                    );
                    return Err(ClosedReason::ShutDown);
                }
            }
        }
        Ok(())
    }
    // ANCHOR_END: poll_shutdown

    // ANCHOR: finished
    /// Is the connection over, and why?
    fn finished(&self) -> Option<ClosedReason> {
        if self.peer_closed {
            return Some(ClosedReason::PeerClosed);
        }
        let idle = self.requests.is_empty()
            && self.notifications.is_empty()
            && self.queued_notifications.is_empty()
            && self.write_buf.is_empty()
            && !self.needs_flush;
        if self.draining && idle {
            return Some(ClosedReason::ShutDown);
        }
        if self.client_side && self.from_handles.is_none() && idle && self.pending.is_empty() {
            return Some(ClosedReason::ShutDown);
        }
        None
    }
    // ANCHOR_END: finished
}

/// An I/O result as a poll: `WouldBlock` means the transport has registered this task to
/// be woken when it is ready. (tokio-io 0.1.5, which tokio-core 0.1.12 needs, has no
/// `poll_write`/`poll_flush`; this works with every 0.1 release.)
fn poll_io<T>(result: io::Result<T>) -> Poll<T, io::Error> {
    match result {
        Ok(value) => Ok(Async::Ready(value)),
        Err(ref err) if err.kind() == io::ErrorKind::WouldBlock => Ok(Async::NotReady),
        Err(err) => Err(err),
    }
}

/// Does handling this message start a handler or owe the peer an answer? (A response
/// only completes a call of ours.)
fn creates_work(received: &Received<'_>) -> bool {
    !matches!(received, Received::Frame(Frame::Response(_)))
}

// ANCHOR: future
impl<T, S> Future for Connection<T, S>
where
    T: AsyncRead + AsyncWrite,
    S: Service,
{
    type Item = ();
    type Error = ();

    fn poll(&mut self) -> Poll<(), ()> {
        let reason = match self.drive() {
            Ok(Async::NotReady) => return Ok(Async::NotReady),
            Ok(Async::Ready(reason)) | Err(reason) => reason,
        };
        match reason {
            ClosedReason::PeerClosed | ClosedReason::ShutDown => {
                log::debug!("connection closed: {}", reason)
            }
            ClosedReason::Io(_) | ClosedReason::Protocol(_) => {
                log::warn!("connection closed: {}", reason)
            }
        }
        self.pending.close(reason);
        Ok(Async::Ready(()))
    }
}
// ANCHOR_END: future

// ANCHOR: drop
impl<T, S: Service> Drop for Connection<T, S> {
    fn drop(&mut self) {
        // Dropped without finishing (the reactor went away): still, nobody waits forever.
        self.pending.close(ClosedReason::ShutDown);
    }
}
// ANCHOR_END: drop
