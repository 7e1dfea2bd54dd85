//! The transport half of a connection: bytes in, bytes out.
//!
//! It owns the byte stream, the codec and both buffers, and knows nothing of requests,
//! handlers or callers (hyper splits its `Conn` from its `Dispatcher` the same way). It
//! reads into the read buffer, decodes the message at its front, keeps the encoded
//! messages waiting for the peer, writes and flushes them, and answers the one question
//! the dispatch half asks of it before producing more: is there room to write?

use std::io;
use std::ops::BitOrAssign;

use bytes::{BufMut, BytesMut};
use futures::{Async, Poll};
use tokio_io::{AsyncRead, AsyncWrite};

use crate::codec::{Codec, Received};
use crate::config::{Config, MAX_IDLE_BUFFER};
use crate::errors::{ClosedReason, CodecError};
use crate::message::Message;
use crate::outbox::Outbox;
use crate::reply::Reply;

/// The free space we make in the read buffer before reading: large enough to take
/// many small messages in one system call.
const READ_CHUNK: usize = 16 * 1024;
/// How much the read buffer may grow at once, for a large message, as a multiple of
/// what has arrived: 3, so that it at most quadruples. Doubling would read a 1 MiB
/// message in about twice as many system calls as a buffer sized by its header;
/// quadrupling comes close (chapter 4.1 has the measurements).
const GROWTH_FACTOR: usize = 3;

// ANCHOR: io
/// Where a connection's bytes come from and go to. A socket or an in-memory pipe is one
/// object that does both ([`Duplex`]); a child process's stdout and stdin are two. The
/// connection borrows one side at a time, so two objects need no lock between them.
pub(crate) trait Io {
    /// What we read the peer's bytes from.
    type Reader: AsyncRead;
    /// What we write our bytes to.
    type Writer: AsyncWrite;

    fn reader(&mut self) -> &mut Self::Reader;
    fn writer(&mut self) -> &mut Self::Writer;

    /// The stream ended for `reason`: does the other end know better why? A child
    /// process does (its exit status), a moment after its pipes close: `NotReady` until
    /// then, and it wakes the task. Most streams know nothing more.
    fn explain_end(&mut self, reason: &ClosedReason) -> Async<Option<ClosedReason>> {
        let _ = reason;
        Async::Ready(None)
    }
}

/// One object that both reads and writes: a TCP or Unix socket, an in-memory pipe.
pub(crate) struct Duplex<T>(pub(crate) T);

impl<T: AsyncRead + AsyncWrite> Io for Duplex<T> {
    type Reader = T;
    type Writer = T;

    fn reader(&mut self) -> &mut T {
        &mut self.0
    }

    fn writer(&mut self) -> &mut T {
        &mut self.0
    }
}
// ANCHOR_END: io

// ANCHOR: halves
/// A reader and a writer that are two objects: a child process's stdout and stdin, or
/// this program's own stdin and stdout.
pub(crate) struct Halves<R, W> {
    pub(crate) reader: R,
    pub(crate) writer: W,
}

impl<R: AsyncRead, W: AsyncWrite> Io for Halves<R, W> {
    type Reader = R;
    type Writer = W;

    fn reader(&mut self) -> &mut R {
        &mut self.reader
    }

    fn writer(&mut self) -> &mut W {
        &mut self.writer
    }
}
// ANCHOR_END: halves

/// What one step of a poll did. The connection runs its steps again while one of them
/// made progress; once none did, each stopped on an inner `NotReady` that will wake us.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Something changed: the other steps may be able to go on.
    Made,
    /// Nothing changed.
    Nothing,
}

impl BitOrAssign for Progress {
    #[inline]
    fn bitor_assign(&mut self, other: Progress) {
        if other == Progress::Made {
            *self = Progress::Made;
        }
    }
}

/// What a read from the stream gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    /// New bytes are in the read buffer.
    Bytes,
    /// Nothing now: the stream will wake us when bytes arrive.
    Blocked,
    /// The peer closed its side: nothing more will arrive.
    End,
}

/// What the read buffer held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decode {
    /// A whole message, handed over.
    Delivered,
    /// No whole message yet: read more.
    NeedMore,
}

// ANCHOR: write_buffer
/// Our encoded messages waiting for the peer to read them, and how many may wait.
#[derive(Debug)]
pub(crate) struct WriteBuffer {
    outbox: Outbox,
    /// `Config::max_write_buffer`.
    max_len: usize,
}

impl WriteBuffer {
    /// Is there room to produce more? The one check behind every "the peer is slow to
    /// read what we owe it: stop producing" (reading new requests, running handlers,
    /// sending our own calls). A single message is queued whole, however large.
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        self.outbox.len() < self.max_len
    }

    /// Encodes `msg` at the end. On error (a length MessagePack cannot describe)
    /// nothing is queued.
    #[inline]
    pub(crate) fn push(&mut self, msg: Message) -> io::Result<()> {
        self.outbox.push(msg)
    }

    /// Encodes the response to request `id` at the end. On error (a length MessagePack
    /// cannot describe) nothing is queued.
    #[inline]
    pub(crate) fn push_response(
        &mut self,
        id: u32,
        answer: Result<Reply, Reply>,
    ) -> io::Result<()> {
        self.outbox.push_response(id, answer)
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.outbox.is_empty()
    }
}
// ANCHOR_END: write_buffer

// ANCHOR: transport
/// The byte stream to the peer and everything between it and messages.
pub(crate) struct Transport<I> {
    /// The stream, or the two streams, to the peer.
    io: I,
    /// Frames messages, enforcing the limits.
    codec: Codec,
    /// Bytes read from the peer and not yet decoded.
    read_buf: BytesMut,
    /// The stream answered `NotReady` to a read since the last wake-up: it will wake us
    /// when bytes arrive, and asking again before would only register us again.
    read_blocked: bool,
    /// Encoded messages not yet written to the peer.
    write_buf: WriteBuffer,
    /// The stream took bytes since its last flush.
    needs_flush: bool,
}
// ANCHOR_END: transport

impl<I: Io> Transport<I> {
    pub(crate) fn new(io: I, config: &Config) -> Self {
        Transport {
            io,
            codec: Codec::new(config.limits),
            read_buf: BytesMut::new(),
            read_blocked: false,
            write_buf: WriteBuffer {
                outbox: Outbox::default(),
                max_len: config.max_write_buffer,
            },
            needs_flush: false,
        }
    }

    /// We were woken: the stream may have bytes again.
    #[inline]
    pub(crate) fn woken(&mut self) {
        self.read_blocked = false;
    }

    /// Where the dispatch half queues what it sends.
    #[inline]
    pub(crate) fn write_buffer(&mut self) -> &mut WriteBuffer {
        &mut self.write_buf
    }

    /// How many bytes wait in the read buffer, undecoded.
    #[inline]
    pub(crate) fn buffered(&self) -> usize {
        self.read_buf.len()
    }

    /// Why the stream ended, as the other end explains it: see [`Io::explain_end`].
    pub(crate) fn explain_end(&mut self, reason: &ClosedReason) -> Async<Option<ClosedReason>> {
        self.io.explain_end(reason)
    }

    /// Nothing waits to be written or flushed.
    #[inline]
    pub(crate) fn is_flushed(&self) -> bool {
        self.write_buf.is_empty() && !self.needs_flush
    }

    // ANCHOR: decode_next
    /// Decodes the message at the front of the read buffer, if one is whole, and hands
    /// it to `deliver` with the write buffer (for an answer that is ready at once). The
    /// message borrows its method name from the read buffer, so its bytes are consumed
    /// only once `deliver` has returned: no `String` per call.
    #[inline]
    pub(crate) fn decode_next<F>(&mut self, deliver: F) -> Result<Decode, CodecError>
    where
        F: FnOnce(Received<'_>, &mut WriteBuffer),
    {
        let (received, len) = self.codec.decode_borrowed(&self.read_buf)?;
        let decoded = match received {
            Some(received) => {
                deliver(received, &mut self.write_buf);
                Decode::Delivered
            }
            None => Decode::NeedMore,
        };
        // Also the invalid values skipped before the message, if any.
        self.read_buf.advance(len);
        Ok(decoded)
    }
    // ANCHOR_END: decode_next

    /// Reads what the stream has into the read buffer.
    #[inline]
    pub(crate) fn read(&mut self) -> io::Result<Read> {
        if self.read_blocked {
            return Ok(Read::Blocked);
        }
        self.make_read_room();
        match AsyncRead::read_buf(self.io.reader(), &mut self.read_buf) {
            Ok(Async::Ready(0)) => Ok(Read::End),
            Ok(Async::Ready(_)) => Ok(Read::Bytes),
            // The stream will wake us when there is more to read.
            Ok(Async::NotReady) => {
                self.read_blocked = true;
                Ok(Read::Blocked)
            }
            Err(err) => Err(err),
        }
    }

    // ANCHOR: make_read_room
    /// Makes sure the read buffer has room for a useful read. It grows by what the
    /// message being received still needs, but by at most three times what has arrived,
    /// and by at least `READ_CHUNK`. (Asked for more room, `BytesMut` also at least
    /// doubles its capacity.) So it never holds more than four times the bytes that
    /// came, plus a read's worth, whatever a header promises, and a large message still
    /// arrives in few system calls.
    fn make_read_room(&mut self) {
        if self.read_buf.remaining_mut() < READ_CHUNK {
            let wanted = self.codec.bytes_wanted(&self.read_buf);
            let arrived = self.read_buf.len();
            let step = wanted
                .min(arrived.saturating_mul(GROWTH_FACTOR))
                .max(READ_CHUNK);
            self.read_buf.reserve(step);
        }
    }
    // ANCHOR_END: make_read_room

    /// Drops the start of a message that will never be finished: the peer closed its
    /// side in the middle of it.
    pub(crate) fn drop_incomplete(&mut self) {
        if !self.read_buf.is_empty() {
            log::debug!(
                "the peer closed its side in the middle of a message ({} bytes dropped)",
                self.read_buf.len()
            );
            self.read_buf = BytesMut::new();
        }
    }

    /// Frees an empty read buffer that a large message made large.
    #[inline]
    pub(crate) fn shrink_read_buffer(&mut self) {
        if self.read_buf.is_empty() && self.read_buf.capacity() > MAX_IDLE_BUFFER {
            self.read_buf = BytesMut::new();
        }
    }

    /// Writes the write buffer to the stream, then flushes it once.
    #[inline]
    pub(crate) fn flush(&mut self) -> io::Result<Progress> {
        let mut progress = Progress::Nothing;
        let outbox = &mut self.write_buf.outbox;
        while !outbox.is_empty() {
            let writer = self.io.writer();
            // One piece, the usual case: a plain write. Around a moved payload, up to
            // four pieces (header, payload, what follows) in one vectored write.
            let written = match outbox.contiguous() {
                Some(bytes) => poll_io(io::Write::write(writer, bytes)),
                None => writer.write_buf(&mut outbox.unsent_parts()),
            };
            match written {
                Ok(Async::Ready(0)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the transport accepted no bytes",
                    ));
                }
                Ok(Async::Ready(n)) => {
                    outbox.consumed(n);
                    self.needs_flush = true;
                    progress = Progress::Made;
                }
                // The stream will wake us when it can take more.
                Ok(Async::NotReady) => break,
                Err(err) => return Err(err),
            }
        }
        if self.needs_flush {
            match poll_io(io::Write::flush(self.io.writer())) {
                Ok(Async::Ready(())) => self.needs_flush = false,
                // The stream will wake us when the flush can go on.
                Ok(Async::NotReady) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(progress)
    }
}

/// An I/O result as a poll: `WouldBlock` means the stream has registered this task to
/// be woken when it is ready. (tokio-io 0.1.5, which tokio-core 0.1.12 needs, has no
/// `poll_write`/`poll_flush`; this works with every 0.1 release.)
fn poll_io<T>(result: io::Result<T>) -> Poll<T, io::Error> {
    match result {
        Ok(value) => Ok(Async::Ready(value)),
        Err(ref err) if err.kind() == io::ErrorKind::WouldBlock => Ok(Async::NotReady),
        Err(err) => Err(err),
    }
}
