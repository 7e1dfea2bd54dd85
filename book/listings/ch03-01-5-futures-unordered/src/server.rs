//! The server's side of a connection.

use std::convert::Infallible;
use std::io;

use bytes::BytesMut;
use futures::stream::FuturesUnordered;
use futures::{Async, Future, Poll, Stream};
use rmpv::Value;
use tokio_core::net::TcpStream;
use tokio_io::codec::Decoder;
use tokio_io::AsyncRead;

use crate::codec::Codec;
use crate::message::{Message, Notification, Request};
use crate::service::Service;

/// One accepted connection: reads the peer's messages, runs the service's handlers,
/// and writes their answers back.
pub struct Connection<S: Service> {
    /// The socket to the peer.
    io: TcpStream,
    /// Bytes read from the socket that do not make a whole message yet.
    read_buf: BytesMut,
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
            io,
            read_buf: BytesMut::new(),
            service,
            requests: FuturesUnordered::new(),
            notifications: FuturesUnordered::new(),
            peer_closed: false,
        }
    }
}

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

/// How much room to make in the read buffer before each read from the socket.
const READ_SIZE: usize = 8 * 1024;

impl<S: Service> Connection<S> {
    /// The next message from the peer, or `Ready(None)` once the peer has closed.
    fn read_message(&mut self) -> Poll<Option<Message>, io::Error> {
        loop {
            if let Some(message) = Codec.decode(&mut self.read_buf)? {
                return Ok(Async::Ready(Some(message)));
            }
            // Not a whole message yet: read more. `read_buf` only fills the room the
            // buffer already has, so make some first.
            self.read_buf.reserve(READ_SIZE);
            match self.io.read_buf(&mut self.read_buf)? {
                // End of stream: the peer closed its side.
                Async::Ready(0) => return Ok(Async::Ready(None)),
                Async::Ready(_) => {}
                // The socket is empty. It registered our task, and the reactor wakes
                // the task when bytes arrive.
                Async::NotReady => return Ok(Async::NotReady),
            }
        }
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

impl<S: Service> Future for Connection<S> {
    /// The connection ends when the peer has closed it and every answer is written.
    type Item = ();
    /// Or when the socket fails.
    type Error = io::Error;

    fn poll(&mut self) -> Poll<(), io::Error> {
        self.read_incoming()?;
        self.drive_handlers();
        if self.peer_closed && self.requests.is_empty() {
            return Ok(Async::Ready(()));
        }
        // Not done, so something is still to come, and what we wait for registered our
        // task when it said `NotReady`: the socket (bytes to read), or a running handler.
        Ok(Async::NotReady)
    }
}

impl<S: Service> Connection<S> {
    /// Reads every message that has arrived, and hands each to the service.
    fn read_incoming(&mut self) -> io::Result<()> {
        while !self.peer_closed {
            match self.read_message()? {
                Async::Ready(Some(message)) => self.dispatch(message),
                Async::Ready(None) => self.peer_closed = true,
                // `read_message` registered us with the socket.
                Async::NotReady => break,
            }
        }
        Ok(())
    }
}

// ANCHOR: drive_handlers
impl<S: Service> Connection<S> {
    /// Polls the handlers that were woken since the last time.
    fn drive_handlers(&mut self) {
        loop {
            match self.requests.poll() {
                // Step 6 sends it to the peer.
                Ok(Async::Ready(Some((_id, _answer)))) => {}
                // No handler is running (new ones come from `read_incoming`), or none
                // is ready: each registered its own wake-up, which wakes us.
                Ok(Async::Ready(None)) | Ok(Async::NotReady) => break,
                Err(never) => match never {},
            }
        }
        // A notification handler's outcome is its own business: nothing goes back.
        // The loop stops at `Ready(None)` or `NotReady`, for the same reasons.
        while let Ok(Async::Ready(Some(()))) | Err(()) = self.notifications.poll() {}
    }
}
// ANCHOR_END: drive_handlers
