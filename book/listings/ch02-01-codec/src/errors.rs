// ANCHOR: all
//! Why a message could not be decoded.

use std::error::Error;
use std::fmt;
use std::io;

// ANCHOR: decode_error
/// Why [`Message::decode`](crate::message::Message::decode) gave up.
#[derive(Debug)]
pub enum DecodeError {
    /// The bytes end before the value does: wait for more.
    Truncated,
    /// A whole MessagePack value was read, but it is not a MessagePack-RPC message.
    Invalid,
    /// Reading failed for a reason that has nothing to do with the bytes.
    UnknownIo(io::Error),
}
// ANCHOR_END: decode_error

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::Truncated => write!(f, "the message is not complete yet"),
            DecodeError::Invalid => write!(f, "the value is not a MessagePack-RPC message"),
            DecodeError::UnknownIo(ref err) => write!(f, "could not read the message: {}", err),
        }
    }
}

impl Error for DecodeError {}

// ANCHOR: from_rmpv
impl From<rmpv::decode::Error> for DecodeError {
    fn from(err: rmpv::decode::Error) -> Self {
        match err {
            rmpv::decode::Error::InvalidMarkerRead(err)
            | rmpv::decode::Error::InvalidDataRead(err) => {
                if err.kind() == io::ErrorKind::UnexpectedEof {
                    DecodeError::Truncated
                } else {
                    DecodeError::UnknownIo(err)
                }
            }
        }
    }
}
// ANCHOR_END: from_rmpv
// ANCHOR_END: all
