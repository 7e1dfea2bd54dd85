//! Encoded messages waiting for the transport to take them.
//!
//! A plain `Vec<u8>` and the offset of the first byte not yet written: appending a
//! small header is a bounds check and a copy, several times cheaper than `BytesMut`'s
//! `extend_from_slice` in bytes 0.4, and messages are encoded straight into it.

use std::io;

use crate::message::Message;

/// An empty outbox with more capacity than this is freed, so that one large message
/// does not pin its memory for the rest of the connection.
const MAX_IDLE_CAPACITY: usize = 64 * 1024;

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Encoded bytes; those before `written` have been handed to the transport.
    bytes: Vec<u8>,
    /// How many bytes at the front the transport has taken.
    written: usize,
}

impl Outbox {
    /// Appends `msg`, encoded. On error (a length MessagePack cannot describe) the
    /// outbox is left as it was.
    pub(crate) fn push(&mut self, msg: &Message) -> io::Result<()> {
        let start = self.bytes.len();
        let result = msg.encode(&mut self.bytes);
        if result.is_err() {
            self.bytes.truncate(start);
        }
        result
    }

    /// The bytes not yet written.
    pub(crate) fn unsent(&self) -> &[u8] {
        self.bytes.get(self.written..).unwrap_or(&[])
    }

    /// How many bytes wait to be written.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - self.written
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The transport took `n` more bytes.
    pub(crate) fn consumed(&mut self, n: usize) {
        self.written = (self.written + n).min(self.bytes.len());
        if self.written == self.bytes.len() {
            self.written = 0;
            self.bytes.clear();
            if self.bytes.capacity() > MAX_IDLE_CAPACITY {
                self.bytes = Vec::new();
            }
        } else if self.written > self.bytes.len() / 2 {
            // Most of the buffer is sent: move the rest to the front, so a slow reader
            // does not make the buffer grow with bytes already gone.
            self.bytes.drain(..self.written);
            self.written = 0;
        }
    }
}
