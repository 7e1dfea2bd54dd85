// ANCHOR: all
//! Framing: bytes in, messages out, and back.

use std::io;

use bytes::BytesMut;
use tokio_io::codec::{Decoder, Encoder};

use crate::errors::DecodeError;
use crate::message::Message;

// ANCHOR: codec
/// Turns a byte stream into [`Message`]s and messages into bytes.
#[derive(Debug, Default)]
pub struct Codec;
// ANCHOR_END: codec

// ANCHOR: decoder
impl Decoder for Codec {
    type Item = Message;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Message>> {
        let mut cursor = io::Cursor::new(&src[..]);
        loop {
            match Message::decode(&mut cursor) {
                Ok(message) => {
                    // Everything up to the cursor is consumed: skipped values and this message.
                    let consumed = cursor.position() as usize;
                    src.advance(consumed);
                    return Ok(Some(message));
                }
                // Not all of it is here: keep the bytes, wait for more.
                Err(DecodeError::Truncated) => return Ok(None),
                // A whole value that is not a message: skip it, try the next one.
                Err(DecodeError::Invalid) => continue,
                Err(DecodeError::UnknownIo(err)) => return Err(err),
            }
        }
    }
}
// ANCHOR_END: decoder

// ANCHOR: encoder
impl Encoder for Codec {
    type Item = Message;
    type Error = io::Error;

    fn encode(&mut self, message: Message, dst: &mut BytesMut) -> io::Result<()> {
        // `BytesMut` does not grow when written through `BufMut::writer`: encode into
        // a `Vec`, which does, then append.
        let mut bytes = Vec::new();
        message.encode(&mut bytes)?;
        dst.extend_from_slice(&bytes);
        Ok(())
    }
}
// ANCHOR_END: encoder

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Notification, Request};
    use rmpv::Value;

    fn request(id: u32) -> Message {
        Message::Request(Request {
            id,
            method: "add".into(),
            params: vec![Value::from(1), Value::from(2)],
        })
    }

    fn encoded(message: &Message) -> Vec<u8> {
        let mut bytes = Vec::new();
        message.encode(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn decode_returns_none_until_the_message_is_complete() {
        let bytes = encoded(&request(1));
        let mut buf = BytesMut::new();
        for (i, byte) in bytes.iter().enumerate() {
            buf.extend_from_slice(&[*byte]);
            let decoded = Codec.decode(&mut buf).unwrap();
            if i + 1 < bytes.len() {
                assert_eq!(decoded, None);
                assert_eq!(buf.len(), i + 1, "Ok(None) must leave the bytes in place");
            } else {
                assert_eq!(decoded, Some(request(1)));
                assert!(buf.is_empty());
            }
        }
    }

    #[test]
    fn decode_returns_one_message_per_call() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&encoded(&request(1)));
        buf.extend_from_slice(&encoded(&request(2)));
        assert_eq!(Codec.decode(&mut buf).unwrap(), Some(request(1)));
        assert_eq!(Codec.decode(&mut buf).unwrap(), Some(request(2)));
        assert_eq!(Codec.decode(&mut buf).unwrap(), None);
    }

    #[test]
    fn decode_skips_values_that_are_not_messages() {
        let mut buf = BytesMut::new();
        // The string "hi", then the array [7]: well-formed MessagePack, not messages.
        buf.extend_from_slice(&[0xa2, b'h', b'i', 0x91, 0x07]);
        buf.extend_from_slice(&encoded(&request(3)));
        assert_eq!(Codec.decode(&mut buf).unwrap(), Some(request(3)));
        assert!(buf.is_empty());
    }

    #[test]
    fn encode_appends_the_message_even_past_the_buffer_capacity() {
        let big = Message::Notification(Notification {
            method: "big".into(),
            params: vec![Value::from("x".repeat(64 * 1024))],
        });
        let mut buf = BytesMut::with_capacity(16);
        Codec.encode(big.clone(), &mut buf).unwrap();
        assert_eq!(Codec.decode(&mut buf).unwrap(), Some(big));
    }
}
// ANCHOR_END: all
