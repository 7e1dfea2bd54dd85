// ANCHOR: all
//! The server's side of a connection.

use std::convert::Infallible;
use std::io;

use futures::stream::FuturesUnordered;
use futures::{Async, Future, Poll, Stream};
use rmpv::Value;
use tokio_core::net::{TcpListener, TcpStream};
use tokio_core::reactor::Handle;

use crate::message::{Message, Notification, Request, Response};
use crate::service::Service;
use crate::transport::Transport;

// ANCHOR: connection
/// One accepted connection: reads the peer's messages, runs the service's handlers,
/// and writes their answers back.
pub struct Connection<S: Service> {
    /// The socket to the peer, and its buffers.
    transport: Transport,
    /// Handles what the peer sends.
    service: S,
    /// The request handlers still running.
    requests: FuturesUnordered<InFlight<S::RequestFuture>>,
    /// The notification handlers still running.
    notifications: FuturesUnordered<S::NotificationFuture>,
    /// The peer has closed its side: nothing more will arrive.
    peer_closed: bool,
}

impl<S: Service> Connection<S> {
    /// A connection that serves `io` with `service`. Nothing happens until it is polled.
    pub fn new(io: TcpStream, service: S) -> Self {
        Connection {
            transport: Transport::new(io),
            service,
            requests: FuturesUnordered::new(),
            notifications: FuturesUnordered::new(),
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

impl<S: Service> Connection<S> {
    /// Hands one message from the peer to the service.
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
            // We send no requests, so no response can be for us.
            Message::Response(_) => {}
        }
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
        let flushed = self.transport.flush()?.is_ready();
        if self.peer_closed && self.requests.is_empty() && flushed {
            return Ok(Async::Ready(()));
        }
        // Not done, so something is still to come, and what we wait for registered our
        // task when it said `NotReady`: the socket (bytes to read, room to write), or a
        // running handler.
        Ok(Async::NotReady)
    }
}

impl<S: Service> Connection<S> {
    /// Reads every message that has arrived, and hands each to the service.
    fn read_incoming(&mut self) -> io::Result<()> {
        while !self.peer_closed {
            match self.transport.read_message()? {
                Async::Ready(Some(message)) => self.dispatch(message),
                Async::Ready(None) => self.peer_closed = true,
                // The transport registered us with the socket.
                Async::NotReady => break,
            }
        }
        Ok(())
    }
}
// ANCHOR_END: future

// ANCHOR: drive_handlers
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
// ANCHOR_END: drive_handlers

/// Serves every connection that `listener` accepts, on `handle`'s reactor, each with a
/// service of its own made by `new_service`.
///
/// The future runs until accepting a connection fails.
pub fn serve<S, F>(
    listener: TcpListener,
    handle: &Handle,
    new_service: F,
) -> impl Future<Item = (), Error = io::Error>
where
    S: Service + 'static,
    F: Fn() -> S,
{
    let handle = handle.clone();
    // `incoming` is `NotReady` until a peer connects: the reactor wakes us then.
    listener.incoming().for_each(move |(io, _peer_addr)| {
        let connection = Connection::new(io, new_service());
        handle.spawn(connection.map_err(|err| log::warn!("connection failed: {}", err)));
        Ok(())
    })
}
// ANCHOR_END: all
