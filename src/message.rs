//! The three MessagePack-RPC messages, and how they look on the wire.
//!
//! ```text
//! request       [0, msgid, method, params]
//! response      [1, msgid, error, result]
//! notification  [2, method, params]
//! ```
//!
//! `msgid` is an unsigned 32-bit integer chosen by the sender of a request and echoed in
//! its response; `method` is a UTF-8 string; `params` is an array. A response carries
//! either an error (and a nil result) or a result (and a nil error).

use std::convert::TryFrom;
use std::io::{self, Read, Write};

use rmp::decode::ValueReadError;
use rmp::encode::ValueWriteError;
use rmpv::decode::read_value;
use rmpv::Value;

use crate::errors::{DecodeError, InvalidMessage};

/// The type tag of a request, the first item of its array.
const REQUEST: u64 = 0;
/// The type tag of a response.
const RESPONSE: u64 = 1;
/// The type tag of a notification.
const NOTIFICATION: u64 = 2;

// ANCHOR: types
/// A MessagePack-RPC message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A call that expects an answer.
    Request(Request),
    /// The answer to a request.
    Response(Response),
    /// A call that expects no answer.
    Notification(Notification),
}

/// A call that expects a [`Response`] with the same `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Chosen by the caller so that it can match the response to the request.
    pub id: u32,
    /// The name of the procedure to call.
    pub method: String,
    /// The arguments.
    pub params: Vec<Value>,
}

/// The answer to the [`Request`] with the same `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The id of the request this answers.
    pub id: u32,
    /// `Ok(result)` when the error item is nil, `Err(error)` otherwise.
    pub result: Result<Value, Value>,
}

/// A call that expects no answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The name of the procedure to call.
    pub method: String,
    /// The arguments.
    pub params: Vec<Value>,
}
// ANCHOR_END: types

impl Message {
    // ANCHOR: decode
    /// Reads exactly one MessagePack value from `rd` and checks that it is a valid message.
    ///
    /// The whole value is consumed even when it is not a valid message, so the next
    /// call starts at the next value. The check is strict: a request or response must
    /// be an array of exactly 4 items, a notification of exactly 3; the type must be 0,
    /// 1 or 2; the msgid must be an unsigned integer below 2^32 (it is never truncated);
    /// the method must be a UTF-8 string; the params must be an array.
    ///
    /// This function trusts `rd` to hold a reasonably shaped value: `rmpv` decodes
    /// recursively, so a deeply nested value can exhaust the stack. The
    /// [`Codec`](crate::codec::Codec) checks the depth and size of each value before
    /// calling it; use the codec for bytes that come from a peer.
    pub fn decode<R: Read>(rd: &mut R) -> Result<Message, DecodeError> {
        let len = match rmp::decode::read_array_len(rd) {
            Ok(len) => len,
            Err(ValueReadError::TypeMismatch(marker)) => {
                // Not an array: read the rest of that value so the stream stays in sync.
                let first = [marker.to_u8()];
                read_value(&mut (&first[..]).chain(rd))?;
                return Err(invalid(None, InvalidMessage::NotAnArray));
            }
            Err(ValueReadError::InvalidMarkerRead(err))
            | Err(ValueReadError::InvalidDataRead(err)) => return Err(DecodeError::Io(err)),
        };
        if len == 0 {
            return Err(invalid(None, InvalidMessage::UnknownType));
        }
        let kind = read_value(rd)?.as_u64();
        match kind {
            Some(REQUEST) => decode_request(rd, len),
            Some(RESPONSE) => decode_response(rd, len),
            Some(NOTIFICATION) => decode_notification(rd, len),
            _ => {
                skip(rd, len - 1)?;
                Err(invalid(None, InvalidMessage::UnknownType))
            }
        }
    }
    // ANCHOR_END: decode

    // ANCHOR: encode
    /// Writes the message to `wr` as one MessagePack array.
    ///
    /// Fails only when `wr` fails, or when a string, binary, array, map or ext, at any
    /// depth, is longer than MessagePack can describe (2^32 - 1 items or bytes).
    pub fn encode<W: Write>(&self, wr: &mut W) -> io::Result<()> {
        match *self {
            Message::Request(ref req) => {
                rmp::encode::write_array_len(wr, 4).map_err(io_error)?;
                rmp::encode::write_uint(wr, REQUEST).map_err(io_error)?;
                rmp::encode::write_uint(wr, u64::from(req.id)).map_err(io_error)?;
                write_method(wr, &req.method)?;
                write_params(wr, &req.params)
            }
            Message::Response(ref resp) => {
                rmp::encode::write_array_len(wr, 4).map_err(io_error)?;
                rmp::encode::write_uint(wr, RESPONSE).map_err(io_error)?;
                rmp::encode::write_uint(wr, u64::from(resp.id)).map_err(io_error)?;
                match resp.result {
                    Ok(ref result) => {
                        rmp::encode::write_nil(wr)?;
                        write_value(wr, result)
                    }
                    Err(ref error) => {
                        write_value(wr, error)?;
                        rmp::encode::write_nil(wr)
                    }
                }
            }
            Message::Notification(ref note) => {
                rmp::encode::write_array_len(wr, 3).map_err(io_error)?;
                rmp::encode::write_uint(wr, NOTIFICATION).map_err(io_error)?;
                write_method(wr, &note.method)?;
                write_params(wr, &note.params)
            }
        }
    }
    // ANCHOR_END: encode

    /// The message encoded as a `Vec<u8>`: handy in tests and examples.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        // Writing to a Vec only fails for lengths MessagePack cannot describe; the
        // bytes written so far are returned in that case.
        let _ = self.encode(&mut buf);
        buf
    }
}

fn invalid(request_id: Option<u32>, reason: InvalidMessage) -> DecodeError {
    DecodeError::Invalid { request_id, reason }
}

/// Reads and drops `count` values, so that an invalid array is consumed whole.
fn skip<R: Read>(rd: &mut R, count: u32) -> Result<(), DecodeError> {
    for _ in 0..count {
        read_value(rd)?;
    }
    Ok(())
}

fn read_msgid<R: Read>(rd: &mut R) -> Result<Option<u32>, DecodeError> {
    let id = read_value(rd)?.as_u64();
    Ok(id.and_then(|id| u32::try_from(id).ok()))
}

fn read_method<R: Read>(rd: &mut R) -> Result<Option<String>, DecodeError> {
    Ok(match read_value(rd)? {
        Value::String(s) => s.into_str(),
        _ => None,
    })
}

fn read_params<R: Read>(rd: &mut R) -> Result<Option<Vec<Value>>, DecodeError> {
    Ok(match read_value(rd)? {
        Value::Array(params) => Some(params),
        _ => None,
    })
}

/// `[0, msgid, method, params]`, the type already read.
fn decode_request<R: Read>(rd: &mut R, len: u32) -> Result<Message, DecodeError> {
    if len < 2 {
        return Err(invalid(None, wrong_length("request", 4, len)));
    }
    let id = match read_msgid(rd)? {
        Some(id) => id,
        None => {
            skip(rd, len - 2)?;
            return Err(invalid(None, InvalidMessage::InvalidMsgId));
        }
    };
    if len != 4 {
        skip(rd, len - 2)?;
        return Err(invalid(Some(id), wrong_length("request", 4, len)));
    }
    let method = read_method(rd)?;
    let params = read_params(rd)?;
    match (method, params) {
        (Some(method), Some(params)) => Ok(Message::Request(Request { id, method, params })),
        (None, _) => Err(invalid(Some(id), InvalidMessage::InvalidMethod)),
        (_, None) => Err(invalid(Some(id), InvalidMessage::ParamsNotAnArray)),
    }
}

/// `[1, msgid, error, result]`, the type already read.
fn decode_response<R: Read>(rd: &mut R, len: u32) -> Result<Message, DecodeError> {
    if len != 4 {
        skip(rd, len - 1)?;
        return Err(invalid(None, wrong_length("response", 4, len)));
    }
    let id = read_msgid(rd)?;
    let error = read_value(rd)?;
    let result = read_value(rd)?;
    let id = id.ok_or_else(|| invalid(None, InvalidMessage::InvalidMsgId))?;
    let result = match error {
        Value::Nil => Ok(result),
        error => Err(error),
    };
    Ok(Message::Response(Response { id, result }))
}

/// `[2, method, params]`, the type already read.
fn decode_notification<R: Read>(rd: &mut R, len: u32) -> Result<Message, DecodeError> {
    if len != 3 {
        skip(rd, len - 1)?;
        return Err(invalid(None, wrong_length("notification", 3, len)));
    }
    let method = read_method(rd)?;
    let params = read_params(rd)?;
    match (method, params) {
        (Some(method), Some(params)) => Ok(Message::Notification(Notification { method, params })),
        (None, _) => Err(invalid(None, InvalidMessage::InvalidMethod)),
        (_, None) => Err(invalid(None, InvalidMessage::ParamsNotAnArray)),
    }
}

fn wrong_length(kind: &'static str, expected: u32, found: u32) -> InvalidMessage {
    InvalidMessage::WrongLength {
        kind,
        expected,
        found,
    }
}

fn write_method<W: Write>(wr: &mut W, method: &str) -> io::Result<()> {
    write_str_bytes(wr, method.as_bytes())
}

fn write_params<W: Write>(wr: &mut W, params: &[Value]) -> io::Result<()> {
    rmp::encode::write_array_len(wr, len32(params.len())?).map_err(io_error)?;
    for param in params {
        write_value(wr, param)?;
    }
    Ok(())
}

/// Writes `value` in its shortest form, like `rmpv::encode::write_value`, with two
/// differences: a length MessagePack cannot describe is an error instead of being
/// silently truncated to 32 bits (rmpv 0.4 casts it with `as u32`, which would put a
/// corrupt message on the wire), and a string that is not valid UTF-8 stays a string
/// (rmpv 0.4 writes it as binary), so a value we received is sent on unchanged.
fn write_value<W: Write>(wr: &mut W, value: &Value) -> io::Result<()> {
    match *value {
        Value::String(ref text) => write_str_bytes(wr, text.as_bytes()),
        Value::Binary(ref bytes) => {
            rmp::encode::write_bin_len(wr, len32(bytes.len())?).map_err(io_error)?;
            wr.write_all(bytes)
        }
        Value::Array(ref items) => {
            rmp::encode::write_array_len(wr, len32(items.len())?).map_err(io_error)?;
            for item in items {
                write_value(wr, item)?;
            }
            Ok(())
        }
        Value::Map(ref entries) => {
            rmp::encode::write_map_len(wr, len32(entries.len())?).map_err(io_error)?;
            for (key, item) in entries {
                write_value(wr, key)?;
                write_value(wr, item)?;
            }
            Ok(())
        }
        Value::Ext(ty, ref data) => {
            rmp::encode::write_ext_meta(wr, len32(data.len())?, ty).map_err(io_error)?;
            wr.write_all(data)
        }
        // Fixed-size values: nothing to truncate.
        Value::Nil | Value::Boolean(_) | Value::Integer(_) | Value::F32(_) | Value::F64(_) => {
            rmpv::encode::write_value(wr, value).map_err(io_error)
        }
    }
}

/// A str header and the bytes, valid UTF-8 or not.
fn write_str_bytes<W: Write>(wr: &mut W, bytes: &[u8]) -> io::Result<()> {
    rmp::encode::write_str_len(wr, len32(bytes.len())?).map_err(io_error)?;
    wr.write_all(bytes)
}

/// MessagePack lengths are 32-bit: refuse one that would be silently truncated.
fn len32(len: usize) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cannot encode a string, binary, array, map or ext of {} items or bytes: MessagePack allows at most 2^32 - 1",
                len
            ),
        )
    })
}

fn io_error(err: ValueWriteError) -> io::Error {
    match err {
        ValueWriteError::InvalidMarkerWrite(err) | ValueWriteError::InvalidDataWrite(err) => err,
    }
}

impl From<Request> for Message {
    fn from(req: Request) -> Self {
        Message::Request(req)
    }
}

impl From<Response> for Message {
    fn from(resp: Response) -> Self {
        Message::Response(resp)
    }
}

impl From<Notification> for Message {
    fn from(note: Notification) -> Self {
        Message::Notification(note)
    }
}
