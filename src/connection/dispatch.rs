//! The dispatch half of a connection: messages in, answers and calls out.
//!
//! It owns the service and everything that runs on its behalf: the handlers of the
//! peer's requests and notifications, the message parked while we can take on no more
//! work, the channels our handles queue calls into, and the map of our calls waiting
//! for an answer. It never touches the byte stream: it takes decoded messages from the
//! transport half and queues what it sends in the transport's [`WriteBuffer`], as long
//! as that has room.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::stream::FuturesUnordered;
use futures::sync::mpsc;
use futures::{Async, Future, Stream};
use rmpv::Value;

use super::handler::{self, Answered, NotificationTask, RequestTask};
use super::transport::{Progress, WriteBuffer};
use crate::codec::Received;
use crate::config::Config;
use crate::errors::{CallError, ClosedReason};
use crate::message::{Frame, Message, Response};
use crate::params::Params;
use crate::pending::{Completed, Pending};
use crate::service::Service;

// ANCHOR: budgets
/// How many messages, handler completions or outgoing messages one step handles
/// before letting the other steps (and the other connections on the reactor) run.
pub(crate) const STEP_BUDGET: usize = 128;
// ANCHOR_END: budgets

/// What the handles' channels gave.
enum Next {
    Message(Message),
    /// Nothing now: the channels will wake us.
    Empty,
    /// Every user handle is gone.
    HandlesDropped,
}

/// What the outgoing step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outgoing {
    /// Moved what it could, within its budget and the room to write.
    Sent(Progress),
    /// Every user handle of a client connection is gone: nothing more will be queued.
    HandlesDropped,
}

// ANCHOR: dispatch_struct
/// The service of one connection and everything that runs on its behalf.
pub(crate) struct Dispatch<S: Service> {
    /// Answers the peer's requests and notifications.
    service: S,
    /// Handlers of the peer's requests still running; only woken ones are polled.
    requests: FuturesUnordered<RequestTask<S::RequestFuture>>,
    /// Notification handlers still running, when they run concurrently.
    notifications: FuturesUnordered<NotificationTask<S::NotificationFuture>>,
    /// Notification handlers in arrival order, when they run one at a time (the front).
    queued_notifications: VecDeque<NotificationTask<S::NotificationFuture>>,
    /// A request or notification read while we could take on no more work; it is
    /// dispatched, and reading resumes, once a handler finishes or the peer reads.
    parked: Option<Received<'static>>,
    /// What the user's client handles want to send; `None` on a server connection, and
    /// once every handle is gone.
    from_handles: Option<mpsc::UnboundedReceiver<Message>>,
    /// What the service's own handle wants to send.
    from_service: mpsc::UnboundedReceiver<Message>,
    /// The channels were found empty since the last wake-up: they will wake us when a
    /// handle queues something, and polling them again before would only register us
    /// again.
    outgoing_blocked: bool,
    /// Our requests waiting for the peer's answer, shared with the handles.
    pending: Arc<Pending>,
    /// `Config::max_in_flight`.
    max_in_flight: usize,
    /// `Config::ordered_notifications`.
    ordered_notifications: bool,
    /// `Config::max_outgoing_depth`.
    max_outgoing_depth: Option<usize>,
}
// ANCHOR_END: dispatch_struct

impl<S: Service> Dispatch<S> {
    pub(crate) fn new(
        service: S,
        config: &Config,
        pending: Arc<Pending>,
        from_handles: Option<mpsc::UnboundedReceiver<Message>>,
        from_service: mpsc::UnboundedReceiver<Message>,
    ) -> Self {
        Dispatch {
            service,
            requests: FuturesUnordered::new(),
            notifications: FuturesUnordered::new(),
            queued_notifications: VecDeque::new(),
            parked: None,
            from_handles,
            from_service,
            outgoing_blocked: false,
            pending,
            max_in_flight: config.max_in_flight,
            ordered_notifications: config.ordered_notifications,
            max_outgoing_depth: config.max_outgoing_depth,
        }
    }

    /// We were woken: a handle may have queued something.
    #[inline]
    pub(crate) fn woken(&mut self) {
        self.outgoing_blocked = false;
    }

    // ANCHOR: can_start_work
    /// May we take on one more of the peer's requests or notifications? Not while too
    /// many handlers run, nor while the peer is slow to read what we already owe it.
    #[inline]
    pub(crate) fn can_start_work(&self, out: &WriteBuffer) -> bool {
        let running =
            self.requests.len() + self.notifications.len() + self.queued_notifications.len();
        running < self.max_in_flight && out.has_room()
    }
    // ANCHOR_END: can_start_work

    /// A message waits for room to be dispatched.
    #[inline]
    pub(crate) fn is_parked(&self) -> bool {
        self.parked.is_some()
    }

    // ANCHOR: accept
    /// Takes one decoded message: dispatches it, or parks it when it would start work
    /// we cannot take on now. (A response only completes a call of ours: it always
    /// goes through, see `can_read`.)
    #[inline]
    pub(crate) fn accept(&mut self, received: Received<'_>, out: &mut WriteBuffer) {
        if creates_work(&received) && !self.can_start_work(out) {
            // Hold it, and soon read nothing more: the peer's bytes wait in the
            // kernel, and TCP flow control slows the peer down.
            self.parked = Some(received.into_owned());
        } else {
            self.dispatch(received, out);
        }
    }

    /// Dispatches the parked message, if there is room for it now.
    #[inline]
    pub(crate) fn resume_parked(&mut self, out: &mut WriteBuffer) -> Progress {
        if !self.can_start_work(out) {
            // A handler finishing, or the transport taking our bytes, lets it go.
            return Progress::Nothing;
        }
        match self.parked.take() {
            Some(received) => {
                self.dispatch(received, out);
                Progress::Made
            }
            None => Progress::Nothing,
        }
    }
    // ANCHOR_END: accept

    /// Sends one decoded message where it belongs.
    fn dispatch(&mut self, received: Received<'_>, out: &mut WriteBuffer) {
        match received {
            Received::Frame(Frame::Request { id, method, params }) => {
                self.start_request(id, &method, Params::new(&params), out)
            }
            Received::Frame(Frame::Notification { method, params }) => {
                self.start_notification(&method, Params::new(&params))
            }
            Received::Frame(Frame::Response(resp)) => self.route_response(resp),
            Received::InvalidResponse { id, reason } => {
                log::warn!("the answer to our call {} is invalid: {}", id, reason);
                let answer = Err(CallError::InvalidResponse(reason));
                if self.pending.complete(id, answer) == Completed::NobodyWaits {
                    log::warn!("ignoring it: no request with that id is waiting");
                }
            }
            Received::InvalidRequest { id, reason } => {
                log::warn!("answering invalid request {} with an error: {}", id, reason);
                let error = Value::from(format!("invalid request: {}", reason));
                self.queue_response(
                    Answered {
                        id,
                        answer: Err(error.into()),
                    },
                    out,
                );
            }
        }
    }

    // ANCHOR: start_request
    /// Calls the handler of a request, and answers at once if it did (its panic
    /// included); otherwise it joins the running handlers.
    fn start_request(&mut self, id: u32, method: &str, params: Params<'_>, out: &mut WriteBuffer) {
        let running = &mut self.requests;
        if let Some(answer) = handler::start_request(&mut self.service, running, id, method, params)
        {
            self.queue_response(Answered { id, answer }, out);
        }
    }
    // ANCHOR_END: start_request

    /// Calls the handler of a notification.
    fn start_notification(&mut self, method: &str, params: Params<'_>) {
        let mut task = match handler::start_notification(&mut self.service, method, params) {
            Some(task) => task,
            // It panicked, and was logged: nobody waits for it.
            None => return,
        };
        if self.ordered_notifications {
            self.queued_notifications.push_back(task);
        } else if let Ok(Async::NotReady) = task.poll() {
            self.notifications.push(task);
        }
    }

    /// Hands a response to the caller waiting for it, if any.
    fn route_response(&mut self, resp: Response) {
        let id = resp.id;
        let answer = resp.result.map_err(CallError::Remote);
        if self.pending.complete(id, answer) == Completed::NobodyWaits {
            log::warn!(
                "ignoring a response to msgid {}: no request with that id is waiting (it may have timed out)",
                id
            );
        }
    }

    // ANCHOR: drive_requests
    /// Polls the request handlers that were woken; queues their responses.
    #[inline]
    pub(crate) fn drive_requests(&mut self, out: &mut WriteBuffer) -> Progress {
        let mut progress = Progress::Nothing;
        for _ in 0..STEP_BUDGET {
            if !out.has_room() {
                // Let the peer read what we have before producing more.
                break;
            }
            if self.requests.is_empty() {
                // Nothing runs, so nothing can wake us: polling the empty set would only
                // re-register this task.
                break;
            }
            match self.requests.poll() {
                Ok(Async::Ready(Some(answered))) => {
                    self.queue_response(answered, out);
                    progress = Progress::Made;
                }
                // NotReady: each running handler will wake us when it can progress.
                Ok(Async::Ready(None)) | Ok(Async::NotReady) => break,
                Err(never) => match never {},
            }
        }
        progress
    }
    // ANCHOR_END: drive_requests

    /// Polls the notification handlers (all the woken ones, or only the oldest when
    /// they run in order).
    #[inline]
    pub(crate) fn drive_notifications(&mut self) -> Progress {
        let mut progress = Progress::Nothing;
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
            progress = Progress::Made;
        }
        progress
    }

    /// Encodes a response onto the write buffer.
    fn queue_response(&mut self, answered: Answered, out: &mut WriteBuffer) {
        let Answered { id, mut answer } = answered;
        if let Some(max) = self.max_outgoing_depth {
            let depth = 1 + match answer {
                Ok(ref reply) | Err(ref reply) => reply.depth(),
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
                answer = Err(Value::from(error).into());
            }
        }
        if let Err(err) = out.push_response(id, answer) {
            log::error!("cannot encode the response to msgid {}: {}", id, err);
            let error = Value::from(format!("the response could not be encoded: {}", err));
            // A short string always encodes.
            let _ = out.push_response(id, Err(error.into()));
        }
    }

    // ANCHOR: outgoing
    /// Moves what our handles queued (requests, notifications) onto the write buffer.
    #[inline]
    pub(crate) fn send_outgoing(&mut self, out: &mut WriteBuffer) -> Outgoing {
        let mut progress = Progress::Nothing;
        for _ in 0..STEP_BUDGET {
            if self.outgoing_blocked || !out.has_room() {
                break;
            }
            let msg = match self.next_outgoing() {
                Next::Message(msg) => msg,
                // The channels will wake us when a handle queues something.
                Next::Empty => {
                    self.outgoing_blocked = true;
                    break;
                }
                Next::HandlesDropped => {
                    self.outgoing_blocked = true;
                    return Outgoing::HandlesDropped;
                }
            };
            progress = Progress::Made;
            let request_id = match msg {
                Message::Request(ref req) => Some(req.id),
                _ => None,
            };
            if let Err(err) = out.push(msg) {
                log::error!("cannot encode an outgoing message: {}", err);
                if let Some(id) = request_id {
                    let why = format!("it could not be encoded: {}", err);
                    let _ = self.pending.complete(id, Err(CallError::Unsendable(why)));
                }
            }
        }
        Outgoing::Sent(progress)
    }

    /// The next message from the service's handle, else from the user's handles.
    fn next_outgoing(&mut self) -> Next {
        if let Ok(Async::Ready(Some(msg))) = self.from_service.poll() {
            return Next::Message(msg);
        }
        let handles = match self.from_handles {
            Some(ref mut handles) => handles,
            None => return Next::Empty,
        };
        match handles.poll() {
            Ok(Async::Ready(Some(msg))) => Next::Message(msg),
            Ok(Async::Ready(None)) | Err(()) => {
                self.from_handles = None;
                Next::HandlesDropped
            }
            Ok(Async::NotReady) => Next::Empty,
        }
    }
    // ANCHOR_END: outgoing

    /// Nothing runs and nothing waits to be dispatched.
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        self.requests.is_empty()
            && self.notifications.is_empty()
            && self.queued_notifications.is_empty()
            && self.parked.is_none()
    }

    /// Nothing our handles queued waits to be sent: the channels were found empty since
    /// the last wake-up.
    #[inline]
    pub(crate) fn nothing_to_send(&self) -> bool {
        self.outgoing_blocked
    }

    /// No call of ours waits for an answer.
    #[inline]
    pub(crate) fn no_calls_waiting(&self) -> bool {
        self.pending.is_empty()
    }

    /// Makes a caller giving up wake this task, so that a connection that closes once
    /// nobody waits notices it.
    #[inline]
    pub(crate) fn watch_callers(&self) {
        self.pending.watch();
    }

    /// Fails every call of ours still waiting, and every later one, with `reason`.
    #[inline]
    pub(crate) fn fail_calls(&self, reason: ClosedReason) {
        self.pending.close(reason);
    }

    /// The connection is gone: wakes those who wait for its end.
    pub(crate) fn ended(&self) {
        self.pending.ended();
    }
}

/// Does handling this message start a handler or owe the peer an answer? (A response
/// only completes a call of ours.)
fn creates_work(received: &Received<'_>) -> bool {
    !matches!(
        received,
        Received::Frame(Frame::Response(_)) | Received::InvalidResponse { .. }
    )
}
