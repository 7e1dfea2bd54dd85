//! Encoded messages waiting for the transport to take them.
//!
//! Small messages are encoded into a plain `Vec<u8>` with the offset of the first byte
//! not yet written: appending a small header is then a bounds check and a copy, without
//! the checks for a shared or inline representation that `BytesMut` makes on every
//! append in bytes 0.4. A large payload (a string, binary or ext of `MOVE_AT` bytes or
//! more) is not copied in: the message is taken by value and the payload's own buffer
//! waits in `moved`, to be written when the bytes before it are gone. Copying a
//! megabyte costs little; growing a fresh megabyte buffer for every large message costs
//! a page fault per 4 KiB, and moving the payload avoids both.

use std::collections::VecDeque;
use std::io::{self, Cursor, Write};

use bytes::Buf;

use crate::config::MAX_IDLE_BUFFER;
use crate::encode::PayloadSink;
use crate::message::{encode_response, Message};
use crate::reply::Reply;

/// How many pieces one write may gather (see [`Outbox::unsent_parts`]).
const PARTS: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Encoded bytes; those before `written` have been handed to the transport.
    bytes: Vec<u8>,
    /// How many bytes at the front the transport has taken.
    written: usize,
    /// Large payloads, in order, each to be written once `bytes` is written up to its
    /// offset.
    moved: VecDeque<Moved>,
    /// How many bytes of `moved` wait to be written.
    moved_len: usize,
}

/// A payload taken from a message, and where it goes.
#[derive(Debug)]
struct Moved {
    /// Its place: right after `bytes[..at]`.
    at: usize,
    bytes: Vec<u8>,
    /// How many of its bytes the transport has taken.
    written: usize,
}

impl Outbox {
    /// Appends `msg`, encoded. On error (a length MessagePack cannot describe) the
    /// outbox is left as it was.
    pub(crate) fn push(&mut self, msg: Message) -> io::Result<()> {
        let (len, moved, moved_len) = (self.bytes.len(), self.moved.len(), self.moved_len);
        let result = msg.encode_moving(self);
        if result.is_err() {
            self.bytes.truncate(len);
            self.moved.truncate(moved);
            self.moved_len = moved_len;
        }
        result
    }

    /// Appends the response that answers request `id` with `answer`, encoded. On error
    /// (a length MessagePack cannot describe) the outbox is left as it was.
    pub(crate) fn push_response(
        &mut self,
        id: u32,
        answer: Result<Reply, Reply>,
    ) -> io::Result<()> {
        let (len, moved, moved_len) = (self.bytes.len(), self.moved.len(), self.moved_len);
        let result = encode_response(self, id, answer);
        if result.is_err() {
            self.bytes.truncate(len);
            self.moved.truncate(moved);
            self.moved_len = moved_len;
        }
        result
    }

    /// The first `PARTS` pieces of what waits, in order, as one `Buf`: a transport that
    /// writes vectors (a `TcpStream` does) sends a message's header, its moved payload
    /// and what follows in one system call. Any other takes the first piece.
    pub(crate) fn unsent_parts(&self) -> impl Buf + '_ {
        let mut parts = Parts::default();
        let mut from = self.written;
        for moved in self.moved.iter().take(PARTS) {
            parts.add(self.bytes.get(from..moved.at).unwrap_or(&[]));
            parts.add(moved.bytes.get(moved.written..).unwrap_or(&[]));
            from = from.max(moved.at);
        }
        parts.add(self.bytes.get(from..).unwrap_or(&[]));
        let [a, b, c, d] = parts.slices;
        // Empty pieces cost nothing: a `Cursor` with nothing left adds no vector.
        Cursor::new(a)
            .chain(Cursor::new(b))
            .chain(Cursor::new(c))
            .chain(Cursor::new(d))
    }

    /// What waits, when it is one piece of memory (no payload was moved in): the usual
    /// case, written with a plain `write`.
    pub(crate) fn contiguous(&self) -> Option<&[u8]> {
        if self.moved.is_empty() {
            self.bytes.get(self.written..)
        } else {
            None
        }
    }

    /// How many bytes wait to be written.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - self.written + self.moved_len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The transport took the first `n` bytes of what waits.
    pub(crate) fn consumed(&mut self, mut n: usize) {
        while n > 0 {
            let taken = match self.moved.front_mut() {
                Some(next) if next.at <= self.written => {
                    let taken = n.min(next.bytes.len() - next.written);
                    next.written += taken;
                    self.moved_len -= taken;
                    if next.written == next.bytes.len() {
                        self.moved.pop_front();
                    }
                    taken
                }
                next => {
                    let end = next.map_or(self.bytes.len(), |next| next.at);
                    let taken = n.min(end - self.written);
                    self.written += taken;
                    taken
                }
            };
            if taken == 0 {
                // More than was waiting: nothing left to take.
                break;
            }
            n -= taken;
        }
        if self.written == self.bytes.len() && self.moved.is_empty() {
            self.written = 0;
            self.bytes.clear();
            if self.bytes.capacity() > MAX_IDLE_BUFFER {
                self.bytes = Vec::new();
            }
        } else if self.written > self.bytes.len() / 2 {
            // Most of the buffer is sent: move the rest to the front, so a slow reader
            // does not make the buffer grow with bytes already gone.
            self.bytes.drain(..self.written);
            for moved in self.moved.iter_mut() {
                moved.at = moved.at.saturating_sub(self.written);
            }
            self.written = 0;
        }
    }
}

/// The first `PARTS` non-empty pieces of an outbox, in order.
#[derive(Default)]
struct Parts<'a> {
    slices: [&'a [u8]; PARTS],
    found: usize,
}

impl<'a> Parts<'a> {
    fn add(&mut self, part: &'a [u8]) {
        if part.is_empty() {
            return;
        }
        if let Some(slot) = self.slices.get_mut(self.found) {
            *slot = part;
            self.found += 1;
        }
    }
}

impl Write for Outbox {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.bytes.extend_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl PayloadSink for Outbox {
    fn payload(&mut self, bytes: Vec<u8>) {
        self.moved_len += bytes.len();
        self.moved.push_back(Moved {
            at: self.bytes.len(),
            bytes,
            written: 0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::MOVE_AT;
    use crate::message::{Notification, Request, Response};
    use proptest::prelude::*;
    use rmpv::Value;

    /// Messages with payloads on both sides of `MOVE_AT`, at several depths.
    fn message() -> impl Strategy<Value = Message> {
        let len = prop_oneof![0..40usize, MOVE_AT - 2..MOVE_AT + 2, 40_000..70_000usize];
        let payload = (0..4u8, len, any::<u8>()).prop_map(|(kind, len, byte)| match kind {
            0 => Value::Binary(vec![byte; len]),
            1 => Value::from("é".repeat(len / 2)),
            2 => Value::Ext(5, vec![byte; len]),
            _ => Value::Map(vec![(Value::from(len), Value::Binary(vec![byte; len]))]),
        });
        let params = prop::collection::vec(payload, 0..4);
        (0..3u8, any::<u32>(), params).prop_map(|(kind, id, params)| match kind {
            0 => Message::Request(Request {
                id,
                method: "echo".into(),
                params,
            }),
            1 => Message::Response(Response {
                id,
                result: if id % 2 == 0 {
                    Ok(Value::Array(params))
                } else {
                    Err(Value::Array(params))
                },
            }),
            _ => Message::Notification(Notification {
                method: "note".into(),
                params,
            }),
        })
    }

    proptest! {
        /// Whatever the messages and however the transport takes the bytes, what goes
        /// out is exactly the messages encoded one after the other, and `len` counts
        /// what is left.
        #[test]
        fn writes_exactly_the_encoded_messages(
            msgs in prop::collection::vec(message(), 1..6),
            takes in prop::collection::vec(1..50_000usize, 1..40),
        ) {
            let mut expected = Vec::new();
            let mut outbox = Outbox::default();
            for msg in msgs {
                msg.encode(&mut expected).unwrap();
                outbox.push(msg).unwrap();
            }
            prop_assert_eq!(outbox.len(), expected.len());
            let mut sent = Vec::new();
            let mut takes = takes.iter().cycle();
            while !outbox.is_empty() {
                // A transport that takes up to `take` bytes, across the pieces.
                let take = *takes.next().unwrap();
                let mut parts = outbox.unsent_parts();
                prop_assert!(parts.has_remaining());
                let mut n = 0;
                while n < take && parts.has_remaining() {
                    let piece = parts.bytes();
                    let k = piece.len().min(take - n);
                    sent.extend_from_slice(&piece[..k]);
                    parts.advance(k);
                    n += k;
                }
                drop(parts);
                outbox.consumed(n);
                prop_assert_eq!(outbox.len(), expected.len() - sent.len());
            }
            prop_assert_eq!(sent, expected);
        }
    }

    #[test]
    fn a_large_binary_is_moved_not_copied() {
        let payload = vec![7u8; 100_000];
        let address = payload.as_ptr();
        let mut outbox = Outbox::default();
        let msg = Message::Response(Response {
            id: 1,
            result: Ok(Value::Binary(payload)),
        });
        outbox.push(msg).unwrap();
        // The array, type, id, nil and bin headers: 1 + 1 + 1 + 1 + 5 bytes, then
        // the payload itself, where the caller put it.
        let mut parts = outbox.unsent_parts();
        assert_eq!(parts.bytes().len(), 9);
        parts.advance(9);
        assert_eq!(parts.bytes().as_ptr(), address);
        assert_eq!(parts.remaining(), 100_000);
        drop(parts);
        outbox.consumed(9);
        assert_eq!(outbox.len(), 100_000);
        assert_eq!(outbox.unsent_parts().bytes().as_ptr(), address);
    }

    #[test]
    fn a_drained_outbox_gives_back_a_large_buffer() {
        let mut outbox = Outbox::default();
        let big = Value::from(vec![Value::from(1); 100_000]);
        outbox
            .push(Message::Response(Response {
                id: 1,
                result: Ok(big),
            }))
            .unwrap();
        let len = outbox.len();
        outbox.consumed(len);
        assert!(outbox.is_empty());
        assert_eq!(outbox.bytes.capacity(), 0);
    }
}
