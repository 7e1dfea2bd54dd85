//! The server's side of a connection.

// ANCHOR: imports
use std::io;

use bytes::BytesMut;
use futures::{Async, Future, Poll};
use tokio_core::net::TcpStream;
use tokio_io::codec::Decoder;
use tokio_io::AsyncRead;

use crate::codec::Codec;
use crate::message::Message;
use crate::service::Service;
// ANCHOR_END: imports

// ANCHOR: connection
/// One accepted connection: reads the peer's messages, runs the service's handlers,
/// and writes their answers back.
pub struct Connection<S> {
    /// The socket to the peer.
    io: TcpStream,
    /// Bytes read from the socket that do not make a whole message yet.
    read_buf: BytesMut,
    /// Handles what the peer sends.
    // Read from the next step on; until then the compiler would say so.
    #[allow(dead_code)]
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
// ANCHOR_END: connection

// ANCHOR: read_message
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
// ANCHOR_END: read_message

// ANCHOR: future
impl<S: Service> Future for Connection<S> {
    /// The connection ends when the peer has closed it and every answer is written.
    type Item = ();
    /// Or when the socket fails.
    type Error = io::Error;

    fn poll(&mut self) -> Poll<(), io::Error> {
        loop {
            match self.read_message()? {
                // The next step hands it to the service.
                Async::Ready(Some(_message)) => {}
                Async::Ready(None) => return Ok(Async::Ready(())),
                // `read_message` registered us with the socket: the reactor wakes us.
                Async::NotReady => return Ok(Async::NotReady),
            }
        }
    }
}
// ANCHOR_END: future
