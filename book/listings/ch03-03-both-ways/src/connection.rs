// ANCHOR: all
//! One connection, for both sides: what arrives goes to the service or to the caller
//! waiting for it, and what our handles send goes out.

use std::convert::Infallible;
use std::io;

use futures::stream::FuturesUnordered;
use futures::sync::mpsc;
use futures::{Async, Future, Poll, Stream};
use rmpv::Value;
use tokio_core::net::TcpStream;

use crate::message::{Message, Notification, Request, Response};
use crate::pending::{Answer, Pending};
use crate::service::Service;
use crate::transport::Transport;

// ANCHOR: outgoing
/// What a handle asks the connection to send.
pub enum Outgoing {
    /// A request, and where its answer goes.
    Request {
        method: String,
        params: Vec<Value>,
        answer: Answer,
    },
    /// A notification.
    Notification { method: String, params: Vec<Value> },
}
// ANCHOR_END: outgoing

// ANCHOR: connection
/// One connection, server's or client's: the two sides differ only in how it starts.
pub struct Connection<S: Service> {
    /// The socket to the peer, and its buffers.
    transport: Transport,
    /// Handles the requests and notifications the peer sends.
    service: S,
    /// The request handlers still running.
    requests: FuturesUnordered<InFlight<S::RequestFuture>>,
    /// The notification handlers still running.
    notifications: FuturesUnordered<S::NotificationFuture>,
    /// What our handles send: the user's `Client`s, and the service's own.
    outgoing: mpsc::UnboundedReceiver<Outgoing>,
    /// Our requests sent, waiting for the peer's response.
    pending: Pending,
    /// The peer has closed its side: nothing more will arrive.
    peer_closed: bool,
}

impl<S: Service> Connection<S> {
    /// A connection over `io`: `service` handles what arrives, `outgoing` brings what
    /// to send. Nothing happens until it is polled.
    pub fn new(io: TcpStream, service: S, outgoing: mpsc::UnboundedReceiver<Outgoing>) -> Self {
        Connection {
            transport: Transport::new(io),
            service,
            requests: FuturesUnordered::new(),
            notifications: FuturesUnordered::new(),
            outgoing,
            pending: Pending::default(),
            peer_closed: false,
        }
    }
}
// ANCHOR_END: connection

/// A request's handler, with the msgid its answer must carry.
struct InFlight<F> {
    id: u32,
    handler: F,
}

impl<F: Future<Item = Value, Error = Value>> Future for InFlight<F> {
    /// The msgid, and what the handler answered: a result or an error.
    type Item = (u32, Result<Value, Value>);
    /// A handler's error is an answer too, so this future never fails.
    type Error = Infallible;

    fn poll(&mut self) -> Poll<Self::Item, Infallible> {
        let answer = match self.handler.poll() {
            Ok(Async::Ready(result)) => Ok(result),
            Err(error) => Err(error),
            // The handler registered its own wake-up.
            Ok(Async::NotReady) => return Ok(Async::NotReady),
        };
        Ok(Async::Ready((self.id, answer)))
    }
}

// ANCHOR: future
impl<S: Service> Future for Connection<S> {
    /// The connection ends when the peer has closed it and every answer is written.
    type Item = ();
    /// Or when the socket fails.
    type Error = io::Error;

    fn poll(&mut self) -> Poll<(), io::Error> {
        self.read_incoming()?;
        self.drive_handlers()?;
        self.send_outgoing()?;
        let flushed = self.transport.flush()?.is_ready();
        if self.peer_closed && self.requests.is_empty() && flushed {
            return Ok(Async::Ready(()));
        }
        // Not done, so something is still to come, and what we wait for registered our
        // task when it said `NotReady`: the socket (bytes to read, room to write), a
        // running handler, or the handles' channel.
        Ok(Async::NotReady)
    }
}
// ANCHOR_END: future

// ANCHOR: read_incoming
impl<S: Service> Connection<S> {
    /// Reads every message that has arrived, and hands each where it belongs.
    fn read_incoming(&mut self) -> io::Result<()> {
        while !self.peer_closed {
            match self.transport.read_message()? {
                Async::Ready(Some(message)) => self.dispatch(message),
                Async::Ready(None) => {
                    self.peer_closed = true;
                    // No response can come now: the callers still waiting learn it.
                    self.pending = Pending::default();
                }
                // The transport registered us with the socket.
                Async::NotReady => break,
            }
        }
        Ok(())
    }

    /// Hands one message from the peer to the service, or to the caller it answers.
    fn dispatch(&mut self, message: Message) {
        match message {
            Message::Request(Request { id, method, params }) => {
                let handler = self.service.handle_request(&method, params);
                self.requests.push(InFlight { id, handler });
            }
            Message::Notification(Notification { method, params }) => {
                let handler = self.service.handle_notification(&method, params);
                self.notifications.push(handler);
            }
            Message::Response(Response { id, result }) => self.pending.complete(id, result),
        }
    }
}
// ANCHOR_END: read_incoming

impl<S: Service> Connection<S> {
    /// Polls the handlers that were woken since the last time, and answers for those
    /// that are done.
    fn drive_handlers(&mut self) -> io::Result<()> {
        loop {
            match self.requests.poll() {
                Ok(Async::Ready(Some((id, result)))) => {
                    let response = Message::Response(Response { id, result });
                    self.transport.send(response)?;
                }
                // No handler is running (new ones come from `read_incoming`), or none
                // is ready: each registered its own wake-up, which wakes us.
                Ok(Async::Ready(None)) | Ok(Async::NotReady) => break,
                Err(never) => match never {},
            }
        }
        // A notification handler's outcome is its own business: nothing goes back.
        // The loop stops at `Ready(None)` or `NotReady`, for the same reasons.
        while let Ok(Async::Ready(Some(()))) | Err(()) = self.notifications.poll() {}
        Ok(())
    }
}

// ANCHOR: send_outgoing
impl<S: Service> Connection<S> {
    /// Sends what our handles asked for; each request gets a msgid of its own.
    fn send_outgoing(&mut self) -> io::Result<()> {
        // `NotReady`: nothing is waiting, and the channel wakes us when something comes.
        // `Ready(None)`: every handle is gone. (The error type is `()`: no errors.)
        while let Ok(Async::Ready(Some(outgoing))) = self.outgoing.poll() {
            let message = match outgoing {
                // Nobody would answer: dropping `answer` tells the caller.
                Outgoing::Request { .. } if self.peer_closed => continue,
                Outgoing::Request {
                    method,
                    params,
                    answer,
                } => {
                    let id = self.pending.insert(answer);
                    Message::Request(Request { id, method, params })
                }
                Outgoing::Notification { method, params } => {
                    Message::Notification(Notification { method, params })
                }
            };
            self.transport.send(message)?;
        }
        Ok(())
    }
}
// ANCHOR_END: send_outgoing
// ANCHOR_END: all
