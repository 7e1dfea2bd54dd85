//! Messages over a TCP stream: what the server and the client both need.

use std::io::{self, Write};

use bytes::BytesMut;
use futures::{Async, Poll};
use tokio_core::net::TcpStream;
use tokio_io::codec::{Decoder, Encoder};
use tokio_io::AsyncRead;

use crate::codec::Codec;
use crate::message::Message;

/// How much room to make in the read buffer before each read from the socket.
const READ_SIZE: usize = 8 * 1024;

/// A socket, with a buffer on each side: messages in, messages out.
pub struct Transport {
    /// The socket to the peer.
    io: TcpStream,
    /// Bytes read from the socket that do not make a whole message yet.
    read_buf: BytesMut,
    /// Messages encoded, and not yet written to the socket.
    write_buf: BytesMut,
}

impl Transport {
    /// A transport over `io`.
    pub fn new(io: TcpStream) -> Self {
        Transport {
            io,
            read_buf: BytesMut::new(),
            write_buf: BytesMut::new(),
        }
    }

    /// The next message from the peer, or `Ready(None)` once the peer has closed.
    pub fn read_message(&mut self) -> Poll<Option<Message>, io::Error> {
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

    /// Queues `message`: `flush` writes it.
    pub fn send(&mut self, message: Message) -> io::Result<()> {
        Codec.encode(message, &mut self.write_buf)
    }

    /// Writes the queued messages, as far as the socket takes them.
    pub fn flush(&mut self) -> Poll<(), io::Error> {
        while !self.write_buf.is_empty() {
            match self.io.write(&self.write_buf) {
                // The socket cannot take any more bytes at all: give up.
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => self.write_buf.advance(written),
                // The socket's buffer is full. It registered our task, and the reactor
                // wakes the task when there is room again.
                Err(ref err) if err.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Async::NotReady)
                }
                Err(err) => return Err(err),
            }
        }
        Ok(Async::Ready(()))
    }
}
