//! The server's side of a connection.

use std::io;

use bytes::BytesMut;
use futures::{Async, Future, Poll};
use tokio_core::net::TcpStream;
use tokio_io::codec::Decoder;
use tokio_io::AsyncRead;

use crate::codec::Codec;
use crate::message::{Message, Notification, Request};
use crate::service::Service;

/// One accepted connection: reads the peer's messages, runs the service's handlers,
/// and writes their answers back.
pub struct Connection<S> {
    /// The socket to the peer.
    io: TcpStream,
    /// Bytes read from the socket that do not make a whole message yet.
    read_buf: BytesMut,
    /// Handles what the peer sends.
    service: S,
}

impl<S: Service> Connection<S> {
    /// A connection that serves `io` with `service`. Nothing happens until it is polled.
    pub fn new(io: TcpStream, service: S) -> Self {
        Connection {
            io,
            read_buf: BytesMut::new(),
            service,
        }
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

// ANCHOR: dispatch
impl<S: Service> Connection<S> {
    /// Hands one message from the peer to the service.
    fn dispatch(&mut self, message: Message) {
        match message {
            Message::Request(Request { method, params, .. }) => {
                let answer = self.service.handle_request(&method, params);
                // For now we drop the future, and with it the answer. Step 4 keeps it.
                drop(answer);
            }
            Message::Notification(Notification { method, params }) => {
                let work = self.service.handle_notification(&method, params);
                drop(work);
            }
            // We send no requests, so no response can be for us.
            Message::Response(_) => {}
        }
    }
}
// ANCHOR_END: dispatch

impl<S: Service> Future for Connection<S> {
    /// The connection ends when the peer has closed it and every answer is written.
    type Item = ();
    /// Or when the socket fails.
    type Error = io::Error;

    fn poll(&mut self) -> Poll<(), io::Error> {
        loop {
            match self.read_message()? {
                Async::Ready(Some(message)) => self.dispatch(message),
                Async::Ready(None) => return Ok(Async::Ready(())),
                // `read_message` registered us with the socket: the reactor wakes us.
                Async::NotReady => return Ok(Async::NotReady),
            }
        }
    }
}
