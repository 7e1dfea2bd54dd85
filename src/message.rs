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

use std::borrow::Cow;
use std::convert::TryFrom;
use std::io::{self, Write};

use rmpv::Value;

use crate::config::Limits;
use crate::encode::{
    write_array_len, write_str, write_uint, write_value, write_value_moving, PayloadSink,
};
use crate::errors::{CodecError, DecodeError, InvalidMessage};
use crate::params::values_of;
use crate::reply::{Reply, INLINE};
use crate::scan::Scanner;
use crate::slice::{SliceError, SliceReader};

/// The type tag of a request, the first item of its array.
const REQUEST: u64 = 0;
/// The type tag of a response.
const RESPONSE: u64 = 1;
/// The type tag of a notification.
const NOTIFICATION: u64 = 2;
/// The marker of nil, the error of a successful response and the result of a failed one.
const NIL: u8 = 0xc0;

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

impl Message {
    /// Decodes the one message that `bytes` holds, checking it as the
    /// [`Codec`](crate::codec::Codec) checks what a peer sends (within the default
    /// [`Limits`]), so it is safe on any bytes.
    ///
    /// The check is strict: a request or response must be an array of exactly 4 items,
    /// a notification of exactly 3; the type must be 0, 1 or 2; the msgid must be an
    /// unsigned integer below 2^32 (it is never truncated); the method must be a UTF-8
    /// string; the params must be an array. `bytes` must hold exactly one message: to
    /// read a stream of them, use the codec.
    pub fn from_bytes(bytes: &[u8]) -> Result<Message, DecodeError> {
        let limits = Limits::default();
        let Decoded { message, len } = match Message::decode_slice(bytes, &limits) {
            Ok(decoded) => decoded,
            Err(SliceError::Corrupt(err)) => return Err(DecodeError::Corrupt(err)),
            // Cut short, or longer than the size limit allows: the scanner, which
            // looks at the declared lengths, tells which.
            Err(SliceError::Incomplete) => {
                return Err(match Scanner::default().scan(bytes, &limits) {
                    Ok(None) => DecodeError::Truncated,
                    Err(err) => DecodeError::Corrupt(err),
                    Ok(Some(_)) => DecodeError::Corrupt(CodecError::Io(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the decoder ran short of a value the scanner found whole",
                    ))),
                });
            }
        };
        if len < bytes.len() {
            return Err(DecodeError::TrailingBytes {
                count: bytes.len() - len,
            });
        }
        match message {
            Ok(frame) => Ok(frame.into_message()),
            Err(invalid) => Err(DecodeError::Invalid {
                request_id: invalid.request_id(),
                reason: invalid.reason,
            }),
        }
    }

    /// Decodes the value at the start of `bytes` and checks that it is a valid message,
    /// checking `limits` while it builds values: one pass both checks and decodes. The
    /// method name of what it decodes still points into `bytes`.
    pub(crate) fn decode_slice<'a>(
        bytes: &'a [u8],
        limits: &Limits,
    ) -> Result<Decoded<'a>, SliceError> {
        let mut reader = SliceReader::new(bytes, limits);
        let message = decode_from(&mut reader)?;
        Ok(Decoded {
            message,
            len: reader.consumed(),
        })
    }

    /// Writes the message to `wr` as one MessagePack array.
    ///
    /// Fails only when `wr` fails, or when a string, binary, array, map or ext, at any
    /// depth, is longer than MessagePack can describe (2^32 - 1 items or bytes).
    pub fn encode<W: Write>(&self, wr: &mut W) -> io::Result<()> {
        self.write_head(wr)?;
        match *self {
            Message::Request(ref req) => write_params(wr, &req.params),
            Message::Response(ref resp) => match resp.result {
                Ok(ref result) => {
                    write_value(wr, &Value::Nil)?;
                    write_value(wr, result)
                }
                Err(ref error) => {
                    write_value(wr, error)?;
                    write_value(wr, &Value::Nil)
                }
            },
            Message::Notification(ref note) => write_params(wr, &note.params),
        }
    }

    /// Writes the message as [`encode`](Message::encode) does, byte for byte, but takes
    /// it by value: large strings, binaries and exts go to `out` in their own buffers
    /// instead of being copied (the connection's outbox sends them from there).
    pub(crate) fn encode_moving<S: PayloadSink>(self, out: &mut S) -> io::Result<()> {
        self.write_head(out)?;
        match self {
            Message::Request(req) => write_value_moving(out, Value::Array(req.params)),
            Message::Response(resp) => match resp.result {
                Ok(result) => {
                    write_value(out, &Value::Nil)?;
                    write_value_moving(out, result)
                }
                Err(error) => {
                    write_value_moving(out, error)?;
                    write_value(out, &Value::Nil)
                }
            },
            Message::Notification(note) => write_value_moving(out, Value::Array(note.params)),
        }
    }

    /// Everything before the message's values, the same for both encoders: the array
    /// header, the type, and the msgid and method where the kind has them.
    fn write_head<W: Write>(&self, wr: &mut W) -> io::Result<()> {
        match *self {
            Message::Request(ref req) => {
                write_array_len(wr, 4)?;
                write_uint(wr, REQUEST)?;
                write_uint(wr, u64::from(req.id))?;
                write_str(wr, req.method.as_bytes())
            }
            Message::Response(ref resp) => {
                write_array_len(wr, 4)?;
                write_uint(wr, RESPONSE)?;
                write_uint(wr, u64::from(resp.id))
            }
            Message::Notification(ref note) => {
                write_array_len(wr, 3)?;
                write_uint(wr, NOTIFICATION)?;
                write_str(wr, note.method.as_bytes())
            }
        }
    }

    /// The message encoded as a `Vec<u8>`: handy in tests and examples. Fails like
    /// [`encode`](Message::encode), for lengths MessagePack cannot describe.
    pub fn to_bytes(&self) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.encode(&mut buf)?;
        Ok(buf)
    }
}

/// Writes the response `[1, id, error, result]` that answers request `id` with a
/// handler's `answer`: the array header, the type, the msgid and a nil error (when the
/// answer is a result) go in one write, then the answer itself.
pub(crate) fn encode_response<S: PayloadSink>(
    out: &mut S,
    id: u32,
    answer: Result<Reply, Reply>,
) -> io::Result<()> {
    let [a, b, c, d] = id.to_be_bytes();
    // `[1, id,`: fixarray of 4, the type, the msgid in its shortest form; room after it
    // for a nil error and a small typed result, so that most responses take one write.
    let mut head = [0u8; 8 + INLINE];
    let msgid: &[u8] = match id {
        0..=0x7f => &[d],
        0x80..=0xff => &[0xcc, d],
        0x100..=0xffff => &[0xcd, c, d],
        _ => &[0xce, a, b, c, d],
    };
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        if let Some(room) = head.get_mut(len..len + bytes.len()) {
            room.copy_from_slice(bytes);
            len += bytes.len();
        }
    };
    put(&[0x94, 0x01]);
    put(msgid);
    match answer {
        Ok(result) => {
            put(&[NIL]);
            if let Some(small) = result.inline_bytes() {
                put(small);
                return out.write_all(head.get(..len).unwrap_or(&[]));
            }
            out.write_all(head.get(..len).unwrap_or(&[]))?;
            result.write(out)
        }
        Err(error) => {
            out.write_all(head.get(..len).unwrap_or(&[]))?;
            error.write(out)?;
            out.write_all(&[NIL])
        }
    }
}

/// A whole value was read, and it is not a valid message.
#[derive(Debug)]
pub(crate) struct Invalid {
    /// Who may be waiting on this value.
    pub(crate) meant: Meant,
    /// What is wrong with the value.
    pub(crate) reason: InvalidMessage,
}

/// What an invalid value was meant to be, as far as someone may be waiting on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meant {
    /// Nothing anyone waits for: a value that is not a message, or a request whose
    /// sender cannot be answered (its msgid cannot be read).
    Nothing,
    /// A request whose msgid could be read: its sender waits for an answer to it.
    Request(u32),
    /// A response whose msgid could be read: our call with that id waits for it.
    Response(u32),
    /// A response whose msgid cannot be read: one of our calls may wait for it, and
    /// nobody can tell which.
    UnreadableResponse,
}

impl Invalid {
    /// The msgid of the request, if the value is one whose msgid could be read.
    pub(crate) fn request_id(&self) -> Option<u32> {
        match self.meant {
            Meant::Request(id) => Some(id),
            Meant::Nothing | Meant::Response(_) | Meant::UnreadableResponse => None,
        }
    }
}

/// One value decoded from a slice.
#[derive(Debug)]
pub(crate) struct Decoded<'a> {
    /// The message, or why the value is not one.
    pub(crate) message: Result<Frame<'a>, Invalid>,
    /// How many bytes the value took.
    pub(crate) len: usize,
}

/// A decoded message whose method name and params may still point into the bytes it
/// came from. The connection hands a request's method to the handler as a `&str` and
/// its params as [`Params`](crate::Params), still bytes, and drops the frame before it
/// lets go of the read buffer: no `String` and no `Value` per call unless the handler
/// asks for them. A [`Message`] is made of it only where one is asked for.
#[derive(Debug)]
pub(crate) enum Frame<'a> {
    Request {
        id: u32,
        method: Cow<'a, str>,
        /// One MessagePack array, checked against the limits.
        params: Cow<'a, [u8]>,
    },
    Response(Response),
    Notification {
        method: Cow<'a, str>,
        /// One MessagePack array, checked against the limits.
        params: Cow<'a, [u8]>,
    },
}

impl Frame<'_> {
    /// The same message, owning its method name, its params built as `Value`s.
    pub(crate) fn into_message(self) -> Message {
        match self {
            Frame::Request { id, method, params } => Message::Request(Request {
                id,
                method: method.into_owned(),
                params: values_of(&params),
            }),
            Frame::Response(resp) => Message::Response(resp),
            Frame::Notification { method, params } => Message::Notification(Notification {
                method: method.into_owned(),
                params: values_of(&params),
            }),
        }
    }

    /// The same frame, no longer borrowing: for a message that must wait.
    pub(crate) fn into_owned(self) -> Frame<'static> {
        match self {
            Frame::Request { id, method, params } => Frame::Request {
                id,
                method: Cow::Owned(method.into_owned()),
                params: Cow::Owned(params.into_owned()),
            },
            Frame::Response(resp) => Frame::Response(resp),
            Frame::Notification { method, params } => Frame::Notification {
                method: Cow::Owned(method.into_owned()),
                params: Cow::Owned(params.into_owned()),
            },
        }
    }
}

/// What reading one value as a message gives. The outer `Result` says whether a whole
/// value could be read from the slice; the inner one, whether that value is a message.
type Outcome<'a> = Result<Result<Frame<'a>, Invalid>, SliceError>;

/// Reads one whole value from `src` and checks that it is a valid message.
fn decode_from<'a>(src: &mut SliceReader<'a>) -> Outcome<'a> {
    // Most messages are requests with a short method name: read their head in place.
    if let Some((id, method)) = src.request_head() {
        let method = std::str::from_utf8(method).ok().map(Cow::Borrowed);
        let params = src.raw_array()?.map(Cow::Borrowed);
        return match (method, params) {
            (Some(method), Some(params)) => Ok(Ok(Frame::Request { id, method, params })),
            (None, _) => invalid(Meant::Request(id), InvalidMessage::InvalidMethod),
            (_, None) => invalid(Meant::Request(id), InvalidMessage::ParamsNotAnArray),
        };
    }
    let len = match src.array_len()? {
        Some(len) => len,
        None => return invalid(Meant::Nothing, InvalidMessage::NotAnArray),
    };
    if len == 0 {
        return invalid(Meant::Nothing, InvalidMessage::UnknownType);
    }
    match src.uint()? {
        Some(REQUEST) => decode_request(src, len),
        Some(RESPONSE) => decode_response(src, len),
        Some(NOTIFICATION) => decode_notification(src, len),
        _ => {
            skip(src, len - 1)?;
            invalid(Meant::Nothing, InvalidMessage::UnknownType)
        }
    }
}

/// A whole value that is not a message.
fn invalid<'a>(meant: Meant, reason: InvalidMessage) -> Outcome<'a> {
    Ok(Err(Invalid { meant, reason }))
}

/// Reads and drops `count` values, so that an invalid array is consumed whole.
fn skip(src: &mut SliceReader<'_>, count: u32) -> Result<(), SliceError> {
    for _ in 0..count {
        src.value()?;
    }
    Ok(())
}

fn read_msgid(src: &mut SliceReader<'_>) -> Result<Option<u32>, SliceError> {
    Ok(src.uint()?.and_then(|id| u32::try_from(id).ok()))
}

/// `[0, msgid, method, params]`, the type already read.
fn decode_request<'a>(src: &mut SliceReader<'a>, len: u32) -> Outcome<'a> {
    if len < 2 {
        return invalid(Meant::Nothing, wrong_length("request", 4, len));
    }
    let id = match read_msgid(src)? {
        Some(id) => id,
        None => {
            skip(src, len - 2)?;
            return invalid(Meant::Nothing, InvalidMessage::InvalidMsgId);
        }
    };
    if len != 4 {
        skip(src, len - 2)?;
        return invalid(Meant::Request(id), wrong_length("request", 4, len));
    }
    let method = src.string()?.map(Cow::Borrowed);
    let params = src.raw_array()?.map(Cow::Borrowed);
    match (method, params) {
        (Some(method), Some(params)) => Ok(Ok(Frame::Request { id, method, params })),
        (None, _) => invalid(Meant::Request(id), InvalidMessage::InvalidMethod),
        (_, None) => invalid(Meant::Request(id), InvalidMessage::ParamsNotAnArray),
    }
}

/// `[1, msgid, error, result]`, the type already read. A response of the wrong shape
/// whose msgid can be read is handed on, so that the call waiting for it fails instead
/// of waiting for ever.
fn decode_response<'a>(src: &mut SliceReader<'a>, len: u32) -> Outcome<'a> {
    if len < 2 {
        return invalid(Meant::UnreadableResponse, wrong_length("response", 4, len));
    }
    let id = read_msgid(src)?;
    if len != 4 {
        skip(src, len - 2)?;
        return match id {
            Some(id) => invalid(Meant::Response(id), wrong_length("response", 4, len)),
            None => invalid(Meant::UnreadableResponse, InvalidMessage::InvalidMsgId),
        };
    }
    let error = src.value()?;
    let result = src.value()?;
    let id = match id {
        Some(id) => id,
        None => return invalid(Meant::UnreadableResponse, InvalidMessage::InvalidMsgId),
    };
    let result = match error {
        Value::Nil => Ok(result),
        error => Err(error),
    };
    Ok(Ok(Frame::Response(Response { id, result })))
}

/// `[2, method, params]`, the type already read.
fn decode_notification<'a>(src: &mut SliceReader<'a>, len: u32) -> Outcome<'a> {
    if len != 3 {
        skip(src, len - 1)?;
        return invalid(Meant::Nothing, wrong_length("notification", 3, len));
    }
    let method = src.string()?.map(Cow::Borrowed);
    let params = src.raw_array()?.map(Cow::Borrowed);
    match (method, params) {
        (Some(method), Some(params)) => Ok(Ok(Frame::Notification { method, params })),
        (None, _) => invalid(Meant::Nothing, InvalidMessage::InvalidMethod),
        (_, None) => invalid(Meant::Nothing, InvalidMessage::ParamsNotAnArray),
    }
}

fn wrong_length(kind: &'static str, expected: u32, found: u32) -> InvalidMessage {
    InvalidMessage::WrongLength {
        kind,
        expected,
        found,
    }
}

fn write_params<W: Write>(wr: &mut W, params: &[Value]) -> io::Result<()> {
    write_array_len(wr, params.len())?;
    params.iter().try_for_each(|param| write_value(wr, param))
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
