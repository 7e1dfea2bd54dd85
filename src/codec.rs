//! Turning bytes into messages and messages into bytes.
//!
//! [`Codec`] implements the tokio-io `Decoder` and `Encoder` traits over a `BytesMut`.
//! The decoder's contract, the one tokio-io expects:
//!
//! - `Ok(Some(incoming))`: one message was decoded and its bytes consumed;
//! - `Ok(None)`: the message at the front is not complete; its bytes stay in the buffer
//!   untouched, append more and call again;
//! - `Err(_)`: the stream is corrupt (bytes that are not MessagePack, a message over
//!   one of the [`Limits`], a response whose msgid cannot be read) and the connection
//!   must be closed.
//!
//! A complete MessagePack value that is not a valid message is consumed and skipped,
//! with a log line, and decoding goes on with the next value. The exceptions are the
//! invalid messages someone waits on. A request whose msgid can still be read comes out
//! as [`Incoming::InvalidRequest`], so that the connection can answer it with an error
//! instead of leaving the peer waiting; a response whose msgid can be read, as
//! [`Incoming::InvalidResponse`], so that the call waiting for it fails instead of
//! waiting for ever. A response whose msgid cannot be read (a string, 2^32) is an
//! error: one of our calls may wait for it and nobody can tell which, so the
//! connection closes and fails them all.

use std::io::{self, Write};

use bytes::BytesMut;
use tokio_io::codec::{Decoder, Encoder};

use crate::errors::{CodecError, InvalidMessage};
use crate::message::{Decoded, Frame, Invalid, Meant, Message};
use crate::scan::Scanner;
use crate::slice::SliceError;

pub use crate::config::Limits;

/// What the decoder hands to the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A valid message.
    Message(Message),
    /// A request whose msgid could be read but which is otherwise invalid (its method is
    /// not a string, its params not an array...). The peer waits for an answer to `id`.
    InvalidRequest {
        /// The msgid to answer.
        id: u32,
        /// What is wrong with the request.
        reason: InvalidMessage,
    },
    /// A response whose msgid could be read but which is otherwise invalid (it has 3
    /// items, or 5...). The caller waiting for `id` gets this as its answer.
    InvalidResponse {
        /// The msgid it answers.
        id: u32,
        /// What is wrong with the response.
        reason: InvalidMessage,
    },
}

/// What the connection gets from [`Codec::decode_borrowed`]: an [`Incoming`] whose
/// method name may still point into the read buffer.
#[derive(Debug)]
pub(crate) enum Received<'a> {
    Frame(Frame<'a>),
    InvalidRequest { id: u32, reason: InvalidMessage },
    InvalidResponse { id: u32, reason: InvalidMessage },
}

impl Received<'_> {
    /// The public form, owning everything.
    fn into_incoming(self) -> Incoming {
        match self {
            Received::Frame(frame) => Incoming::Message(frame.into_message()),
            Received::InvalidRequest { id, reason } => Incoming::InvalidRequest { id, reason },
            Received::InvalidResponse { id, reason } => Incoming::InvalidResponse { id, reason },
        }
    }

    /// The same, no longer borrowing: for a message that must wait.
    pub(crate) fn into_owned(self) -> Received<'static> {
        match self {
            Received::Frame(frame) => Received::Frame(frame.into_owned()),
            Received::InvalidRequest { id, reason } => Received::InvalidRequest { id, reason },
            Received::InvalidResponse { id, reason } => Received::InvalidResponse { id, reason },
        }
    }
}

/// The MessagePack-RPC codec: frames messages on a byte stream.
///
/// It keeps the progress of the message being received between calls, so feed it the
/// same buffer, growing at its end, until it returns a message.
#[derive(Debug, Default)]
pub struct Codec {
    limits: Limits,
    scanner: Scanner,
}

impl Codec {
    /// A codec that enforces `limits`.
    pub fn new(limits: Limits) -> Self {
        Codec {
            limits,
            scanner: Scanner::default(),
        }
    }

    /// The limits this codec enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// After `decode` returned `Ok(None)`: how many more bytes the message at the front
    /// of `buf` needs at least. Useful to size the next read.
    pub fn bytes_wanted(&self, buf: &BytesMut) -> usize {
        self.scanner.wanted(buf.len())
    }

    // ANCHOR: decode_front
    /// Decodes the value at the front of `buf` within the limits, or returns `None` while
    /// it is incomplete.
    fn decode_front<'b>(&mut self, buf: &'b [u8]) -> Result<Option<Decoded<'b>>, CodecError> {
        // Fast path: nothing of this value has been seen before, so it has most likely
        // arrived whole. One pass checks the limits and builds the values.
        if self.scanner.is_idle() {
            match Message::decode_slice(buf, &self.limits) {
                Ok(decoded) => return Ok(Some(decoded)),
                Err(SliceError::Corrupt(err)) => return Err(err),
                // Drop what was built: the scanner takes over until the value is whole.
                Err(SliceError::Incomplete) => {}
            }
        }
        // Slow path: the scanner keeps its place across calls, refuses a header that
        // breaks a limit as soon as it arrives, and builds nothing until all is there.
        let len = match self.scanner.scan(buf, &self.limits)? {
            Some(len) => len,
            None => return Ok(None),
        };
        let whole = buf.get(..len).unwrap_or(buf);
        match Message::decode_slice(whole, &self.limits) {
            Ok(decoded) => Ok(Some(decoded)),
            Err(SliceError::Corrupt(err)) => Err(err),
            // The scanner proved a whole value within the limits is there: the two
            // disagree. Close the connection rather than guess.
            Err(SliceError::Incomplete) => Err(CodecError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                "the decoder ran short of a value the scanner found whole",
            ))),
        }
    }
    // ANCHOR_END: decode_front

    /// Appends `msg` to `buf`, encoded, without an intermediate allocation.
    ///
    /// On error (a string or array too long for MessagePack), `buf` is left as it was.
    pub fn encode_message(&self, msg: &Message, buf: &mut BytesMut) -> io::Result<()> {
        let start = buf.len();
        let result = msg.encode(&mut BytesWriter(buf));
        if result.is_err() {
            buf.truncate(start);
        }
        result
    }
}

// ANCHOR: decoder
impl Decoder for Codec {
    type Item = Incoming;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, CodecError> {
        let (received, len) = self.decode_borrowed(buf)?;
        // Own the message before its bytes go.
        let incoming = received.map(Received::into_incoming);
        buf.advance(len);
        Ok(incoming)
    }
}

impl Codec {
    /// What `decode` does, without consuming anything: returns the message at the front
    /// of `buf`, if one is whole, with the number of bytes to consume (the message's
    /// and those of the invalid values skipped before it, which may be some even when
    /// there is no message yet). The caller must consume them before the next call.
    pub(crate) fn decode_borrowed<'b>(
        &mut self,
        buf: &'b [u8],
    ) -> Result<(Option<Received<'b>>, usize), CodecError> {
        let mut start = 0;
        loop {
            let rest = buf.get(start..).unwrap_or(&[]);
            if rest.is_empty() {
                // The common end of a read: nothing to decode. (A message in progress
                // always has bytes here: they are consumed only once it is whole.)
                return Ok((None, start));
            }
            let Decoded { message, len } = match self.decode_front(rest)? {
                Some(decoded) => decoded,
                None => return Ok((None, start)),
            };
            start += len;
            let Invalid { meant, reason } = match message {
                Ok(frame) => return Ok((Some(Received::Frame(frame)), start)),
                Err(invalid) => invalid,
            };
            match meant {
                Meant::Request(id) => {
                    return Ok((Some(Received::InvalidRequest { id, reason }), start))
                }
                Meant::Response(id) => {
                    return Ok((Some(Received::InvalidResponse { id, reason }), start))
                }
                // One of our calls may wait for it, and nobody can tell which: close
                // the connection, which fails them all, rather than let one hang.
                Meant::UnreadableResponse => return Err(CodecError::UnreadableResponse(reason)),
                Meant::Nothing => log::warn!(
                    "skipping a value that is not a MessagePack-RPC message: {}",
                    reason
                ),
            }
        }
    }
}
// ANCHOR_END: decoder

impl Encoder for Codec {
    type Item = Message;
    type Error = CodecError;

    fn encode(&mut self, msg: Message, buf: &mut BytesMut) -> Result<(), CodecError> {
        self.encode_message(&msg, buf).map_err(CodecError::Io)
    }
}

/// `io::Write` straight into a `BytesMut`, growing it as needed.
struct BytesWriter<'a>(&'a mut BytesMut);

impl Write for BytesWriter<'_> {
    fn write(&mut self, src: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(src);
        Ok(src.len())
    }

    fn write_all(&mut self, src: &[u8]) -> io::Result<()> {
        self.0.extend_from_slice(src);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
