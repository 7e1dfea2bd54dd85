//! The errors of this crate, one type per domain.
//!
//! Each type is a small public enum that you can `match` on; the `Display` text is for
//! people (logs, error messages) and says what happened and, where it helps, what to do.
//! Never classify an error by its text.

use std::error::Error;
use std::fmt;
use std::io;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use rmpv::Value;

/// Why a well-formed MessagePack value is not a valid MessagePack-RPC message.
///
/// The codec skips such values (they are complete, so the stream stays in sync), except
/// those someone waits on. A malformed *request* whose msgid can still be read is
/// handed to the connection, which answers it with an error response so that the
/// caller does not hang; a malformed *response* whose msgid can be read fails the call
/// it answers ([`CallError::InvalidResponse`]); a response whose msgid cannot be read
/// closes the connection ([`CodecError::UnreadableResponse`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InvalidMessage {
    /// The value is not an array (every message is an array).
    NotAnArray,
    /// The array is empty, or its first item is not the integer 0, 1 or 2.
    UnknownType,
    /// A request or response array without exactly 4 items, or a notification array
    /// without exactly 3.
    WrongLength {
        /// "request", "response" or "notification".
        kind: &'static str,
        /// The number of items the specification requires.
        expected: u32,
        /// The number of items the value has.
        found: u32,
    },
    /// The msgid is not an unsigned integer that fits in 32 bits.
    InvalidMsgId,
    /// The method name is not a string, or not valid UTF-8.
    InvalidMethod,
    /// The params are not an array.
    ParamsNotAnArray,
}

impl fmt::Display for InvalidMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            InvalidMessage::NotAnArray => {
                write!(f, "a MessagePack-RPC message must be an array, this value is not")
            }
            InvalidMessage::UnknownType => write!(
                f,
                "the first item of a message must be its type: 0 (request), 1 (response) or 2 (notification)"
            ),
            InvalidMessage::WrongLength {
                kind,
                expected,
                found,
            } => write!(
                f,
                "a {} must be an array of {} items, this one has {}",
                kind, expected, found
            ),
            InvalidMessage::InvalidMsgId => write!(
                f,
                "the msgid must be an unsigned integer below 2^32"
            ),
            InvalidMessage::InvalidMethod => {
                write!(f, "the method name must be a UTF-8 string")
            }
            InvalidMessage::ParamsNotAnArray => write!(f, "the params must be an array"),
        }
    }
}

impl Error for InvalidMessage {}

/// Why [`Message::from_bytes`](crate::message::Message::from_bytes) could not produce a
/// message.
#[derive(Debug)]
pub enum DecodeError {
    /// The bytes end before the value does.
    Truncated,
    /// The bytes are not MessagePack, or the message breaks one of the default
    /// [`Limits`](crate::codec::Limits).
    Corrupt(CodecError),
    /// A whole MessagePack value, but not a valid message.
    Invalid {
        /// The msgid, when the value is a request whose msgid could be read: the peer
        /// is waiting for an answer to this id.
        request_id: Option<u32>,
        /// What is wrong with the value.
        reason: InvalidMessage,
    },
    /// A whole message, followed by bytes that are not part of it.
    TrailingBytes {
        /// How many bytes follow the message.
        count: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::Truncated => write!(
                f,
                "the bytes end in the middle of a MessagePack value: pass the whole message"
            ),
            DecodeError::Corrupt(ref err) => write!(f, "cannot decode a message: {}", err),
            DecodeError::Invalid {
                request_id: Some(id),
                ref reason,
            } => write!(f, "invalid request (msgid {}): {}", id, reason),
            DecodeError::Invalid {
                request_id: None,
                ref reason,
            } => write!(f, "invalid message: {}", reason),
            DecodeError::TrailingBytes { count } => write!(
                f,
                "{} bytes follow the message: to read a stream of messages, use the Codec",
                count
            ),
        }
    }
}

impl Error for DecodeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match *self {
            DecodeError::Corrupt(ref err) => Some(err),
            DecodeError::Invalid { ref reason, .. } => Some(reason),
            DecodeError::Truncated | DecodeError::TrailingBytes { .. } => None,
        }
    }
}

/// A stream-level error: after it, the byte stream cannot be trusted and the connection
/// must be closed.
#[derive(Debug)]
pub enum CodecError {
    /// Reading from or writing to the transport failed.
    Io(io::Error),
    /// A byte that cannot start a MessagePack value (the reserved marker `0xc1`).
    NotMessagePack {
        /// The offending byte.
        byte: u8,
        /// Its offset from the start of the message being decoded.
        offset: usize,
    },
    /// The message nests arrays and maps deeper than [`Limits::max_depth`].
    ///
    /// [`Limits::max_depth`]: crate::codec::Limits::max_depth
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// The message is (or declares itself) larger than [`Limits::max_message_size`].
    ///
    /// [`Limits::max_message_size`]: crate::codec::Limits::max_message_size
    TooLarge {
        /// The configured limit, in bytes.
        limit: usize,
        /// The size seen so far: at least this many bytes would be needed.
        size: u64,
    },
    /// A response whose msgid cannot be read (not an unsigned integer below 2^32, or
    /// missing): the call it answers cannot be told, so every call waiting on the
    /// connection fails with this rather than one of them waiting for ever.
    UnreadableResponse(InvalidMessage),
    /// The message holds more values than [`Limits::max_values`].
    ///
    /// [`Limits::max_values`]: crate::codec::Limits::max_values
    TooManyValues {
        /// The configured limit.
        limit: usize,
    },
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CodecError::Io(ref err) => write!(f, "I/O error: {}", err),
            CodecError::NotMessagePack { byte, offset } => write!(
                f,
                "the peer sent bytes that are not MessagePack: byte {:#04x} at offset {} of a message cannot start a value",
                byte, offset
            ),
            CodecError::TooDeep { limit } => write!(
                f,
                "the peer sent a message nested more than {} levels deep (the limit set by Limits::max_depth)",
                limit
            ),
            CodecError::TooLarge { limit, size } => write!(
                f,
                "the peer sent a message of at least {} bytes, more than the limit of {} bytes (Limits::max_message_size)",
                size, limit
            ),
            CodecError::UnreadableResponse(ref reason) => write!(
                f,
                "the peer sent a response whose msgid cannot be read ({}): the call it answers cannot be told, so none can wait for it",
                reason
            ),
            CodecError::TooManyValues { limit } => write!(
                f,
                "the peer sent a message of more than {} values (the limit set by Limits::max_values)",
                limit
            ),
        }
    }
}

impl Error for CodecError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match *self {
            CodecError::Io(ref err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for CodecError {
    fn from(err: io::Error) -> Self {
        CodecError::Io(err)
    }
}

/// Why [`Params::deserialize`](crate::Params::deserialize) could not make the type
/// asked for out of the params the peer sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParamsError {
    reason: String,
}

impl ParamsError {
    pub(crate) fn new(reason: String) -> ParamsError {
        ParamsError { reason }
    }
}

/// The reason in serde's words, e.g. "invalid type: string \"x\", expected i64".
impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl Error for ParamsError {}

/// Lets serde's own deserializers (tried first on empty params) report in this type.
impl serde::de::Error for ParamsError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ParamsError::new(msg.to_string())
    }
}

/// Why a typed value could not be encoded as MessagePack: its `Serialize` implementation
/// failed, or it handed rmp-serde a sequence or map of unknown length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EncodeError {
    reason: String,
}

impl EncodeError {
    pub(crate) fn new(reason: String) -> EncodeError {
        EncodeError { reason }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode the value as MessagePack: {}", self.reason)
    }
}

impl Error for EncodeError {}

// ANCHOR: closed_reason
/// Why a connection ended. Every request still waiting for an answer fails with
/// [`CallError::ConnectionClosed`] carrying this reason, and so does every later call.
#[derive(Debug, Clone)]
pub enum ClosedReason {
    /// The peer closed the connection.
    PeerClosed,
    /// Reading from or writing to the transport failed.
    Io(Arc<io::Error>),
    /// The peer broke the protocol (bytes that are not MessagePack, or a message over a limit).
    Protocol(Arc<CodecError>),
    /// We closed it: every client handle was dropped, or the server shut down.
    ShutDown,
    /// The peer was a child process (see [`ClientBuilder::spawn`]), and it exited: its
    /// exit code, or the signal that ended it.
    ///
    /// [`ClientBuilder::spawn`]: crate::client::ClientBuilder::spawn
    Exited(ExitStatus),
    /// The [`ServiceBuilder`](crate::ServiceBuilder) panicked while making this
    /// connection's service, with this message: the connection closed before it served
    /// anything.
    BuilderPanicked(Arc<str>),
    /// We closed it: it was idle for this long
    /// ([`Config::idle_timeout`](crate::Config::idle_timeout)).
    Idle(Duration),
}
// ANCHOR_END: closed_reason

impl fmt::Display for ClosedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ClosedReason::PeerClosed => write!(f, "the peer closed the connection"),
            ClosedReason::Io(ref err) => write!(f, "the connection failed: {}", err),
            ClosedReason::Protocol(ref err) => {
                write!(
                    f,
                    "the connection was closed after a protocol error: {}",
                    err
                )
            }
            ClosedReason::ShutDown => write!(f, "the connection was shut down by this side"),
            ClosedReason::Exited(status) => write!(f, "the peer process exited ({})", status),
            ClosedReason::Idle(after) => write!(
                f,
                "the connection was closed by this side after {} ms idle (Config::idle_timeout)",
                after.as_millis()
            ),
            ClosedReason::BuilderPanicked(ref panic) => write!(
                f,
                "the connection was closed at once: the ServiceBuilder panicked making its service ({})",
                panic
            ),
        }
    }
}

impl Error for ClosedReason {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match *self {
            ClosedReason::Io(ref err) => Some(&**err),
            ClosedReason::Protocol(ref err) => Some(&**err),
            ClosedReason::PeerClosed
            | ClosedReason::ShutDown
            | ClosedReason::Exited(_)
            | ClosedReason::BuilderPanicked(_)
            | ClosedReason::Idle(_) => None,
        }
    }
}

// ANCHOR: call_error
/// Why a request made with [`Client::request`](crate::client::Client::request) has no result.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The peer answered with an error value.
    Remote(Value),
    /// No answer came within the request's timeout. A late answer is ignored.
    Timeout(Duration),
    /// The connection ended before the answer came, or was already closed.
    ConnectionClosed(ClosedReason),
    /// A timeout was set, but the request future was polled outside the reactor thread
    /// that drives the connection, where no timer can be armed: poll it from a task that
    /// `Core::run` runs (see [`Client::request`](crate::client::Client::request)).
    NoReactor,
    /// The call was never sent: it cannot be encoded, or it nests deeper than
    /// [`Config::max_outgoing_depth`](crate::Config::max_outgoing_depth) allows.
    Unsendable(String),
    /// A typed call ([`Client::call`](crate::client::Client::call)) got a result that
    /// does not fit the type it asked for.
    UnexpectedResult {
        /// The type asked for, as people write it.
        expected: String,
        /// The result that arrived.
        got: Value,
        /// Why it does not fit, in serde's words.
        reason: String,
    },
    /// The peer answered with a response of the wrong shape (3 items instead of 4, for
    /// instance): the protocol error that says what was wrong. The connection goes on.
    InvalidResponse(InvalidMessage),
}
// ANCHOR_END: call_error

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CallError::Remote(ref value) => write!(f, "the peer answered with an error: {}", value),
            CallError::Timeout(after) => write!(
                f,
                "no answer after {} ms; the request was abandoned (raise the timeout if the peer is just slow)",
                after.as_millis()
            ),
            CallError::ConnectionClosed(ref reason) => {
                write!(f, "no answer: {}", reason)
            }
            CallError::NoReactor => write!(
                f,
                "a request with a timeout must be polled on the reactor thread that drives its connection"
            ),
            CallError::Unsendable(ref why) => write!(f, "the call was not sent: {}", why),
            CallError::UnexpectedResult {
                ref expected,
                ref got,
                ref reason,
            } => {
                f.write_str("the peer answered with ")?;
                Bounded::show(f, |shown| show_value(got, shown))?;
                write!(f, ", which is not {}: {}", expected, reason)
            }
            CallError::InvalidResponse(ref reason) => {
                write!(f, "the peer's answer is not a valid response: {}", reason)
            }
        }
    }
}

impl Error for CallError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match *self {
            CallError::ConnectionClosed(ref reason) => Some(reason),
            CallError::InvalidResponse(ref reason) => Some(reason),
            CallError::Remote(_)
            | CallError::Timeout(_)
            | CallError::NoReactor
            | CallError::Unsendable(_)
            | CallError::UnexpectedResult { .. } => None,
        }
    }
}

/// A setting that cannot work, refused before anything starts: found by
/// [`Config::validate`](crate::Config::validate) and by the server's builder. Builders
/// that return an `io::Error` return it inside (kind `InvalidInput`: find it with
/// `get_ref()` and `downcast_ref`): [`ServerBuilder::bind`](crate::ServerBuilder::bind),
/// [`bind_unix`](crate::ServerBuilder::bind_unix),
/// [`ClientBuilder::connect`](crate::ClientBuilder::connect),
/// [`connect_unix`](crate::ClientBuilder::connect_unix) and
/// [`spawn`](crate::ClientBuilder::spawn). Those that return a handle
/// return it as itself: [`ClientBuilder::start`](crate::ClientBuilder::start),
/// [`start_halves`](crate::ClientBuilder::start_halves),
/// [`ServerBuilder::serve_connection`](crate::ServerBuilder::serve_connection) and
/// [`serve_halves`](crate::ServerBuilder::serve_halves).
///
/// Its text says which setting and why, for instance "invalid setting
/// Config::max_in_flight: 0 would refuse every request; use at least 1". Match on
/// [`field`](ConfigError::field), never on the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfigError {
    field: &'static str,
    reason: String,
}

impl ConfigError {
    /// `field` as a user writes it in code (`"Config::max_in_flight"`); `reason` says why
    /// the value cannot work and what to use instead.
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        ConfigError {
            field,
            reason: reason.into(),
        }
    }

    /// The setting that is wrong, as written in code, for example
    /// `"ServerBuilder::threads"`.
    pub fn field(&self) -> &'static str {
        self.field
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid setting {}: {}", self.field, self.reason)
    }
}

impl Error for ConfigError {}

impl From<ConfigError> for io::Error {
    fn from(err: ConfigError) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, err)
    }
}

/// Why a [`Server`](crate::server::Server) stopped with an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerError {
    /// One of the server's reactor threads panicked, outside any handler (in a service
    /// builder, say). Its connections were lost with it; the server closed the others at
    /// once and stopped accepting.
    ReactorPanicked {
        /// The thread's name, `rpc-reactor-N`.
        thread: String,
        /// The panic's message.
        message: String,
    },
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ServerError::ReactorPanicked {
                ref thread,
                ref message,
            } => write!(
                f,
                "reactor thread `{}` panicked: {}; the server closed its other connections and stopped",
                thread, message
            ),
        }
    }
}

impl Error for ServerError {}

/// How much of a value an error message shows: enough to recognise it, never a
/// megabyte of it.
const SHOWN: usize = 100;

/// A `fmt::Write` that takes `SHOWN` bytes, then refuses more: what error messages use to
/// show a value that came from a peer.
pub(crate) struct Bounded {
    text: String,
    full: bool,
}

impl Bounded {
    /// Runs `write` into a `Bounded`, then writes to `f` what it kept, with `…` if it
    /// was cut short. `write` should stop at the first error, as formatting does.
    pub(crate) fn show<W>(f: &mut dyn fmt::Write, write: W) -> fmt::Result
    where
        W: FnOnce(&mut Bounded) -> fmt::Result,
    {
        let mut shown = Bounded {
            text: String::new(),
            full: false,
        };
        // Only a full `Bounded` stops `write` early: then the text was cut short.
        let _ = write(&mut shown);
        f.write_str(&shown.text)?;
        if shown.full {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = SHOWN.saturating_sub(self.text.len());
        if s.len() <= room {
            self.text.push_str(s);
            return Ok(());
        }
        // Cut at a character boundary.
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(s.get(..end).unwrap_or_default());
        self.full = true;
        Err(fmt::Error)
    }
}

/// Writes `value` as `Params` show themselves: `[1, "two", 3.5, nil]`, binaries and
/// exts by their size.
fn show_value(value: &Value, out: &mut dyn fmt::Write) -> fmt::Result {
    match *value {
        Value::Nil => out.write_str("nil"),
        Value::Boolean(b) => write!(out, "{}", b),
        Value::Integer(n) => write!(out, "{}", n),
        Value::F32(x) => write!(out, "{:?}", x),
        Value::F64(x) => write!(out, "{:?}", x),
        Value::String(ref text) => match text.as_str() {
            Some(text) => write!(out, "{:?}", text),
            None => write!(
                out,
                "<a string of {} bytes, not UTF-8>",
                text.as_bytes().len()
            ),
        },
        Value::Binary(ref bytes) => write!(out, "<{} bytes>", bytes.len()),
        Value::Array(ref items) => {
            out.write_char('[')?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                show_value(item, out)?;
            }
            out.write_char(']')
        }
        Value::Map(ref entries) => {
            out.write_char('{')?;
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                show_value(key, out)?;
                out.write_str(": ")?;
                show_value(item, out)?;
            }
            out.write_char('}')
        }
        Value::Ext(..) => out.write_str("<ext>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_a_send_sync_static_std_error() {
        fn check<E: Error + Send + Sync + 'static>() {}
        check::<InvalidMessage>();
        check::<DecodeError>();
        check::<CodecError>();
        check::<ClosedReason>();
        check::<CallError>();
        check::<ParamsError>();
        check::<ConfigError>();
        check::<ServerError>();

        check::<EncodeError>();
    }

    #[test]
    fn a_call_that_lost_its_connection_leads_to_the_io_error_through_source() {
        let io = io::Error::new(io::ErrorKind::ConnectionReset, "reset by peer");
        let err = CallError::ConnectionClosed(ClosedReason::Io(Arc::new(io)));
        let reason = err.source().expect("the reason the connection closed");
        assert_eq!(reason.to_string(), "the connection failed: reset by peer");
        let cause = reason.source().expect("the I/O error");
        let cause = cause.downcast_ref::<io::Error>().expect("an io::Error");
        assert_eq!(cause.kind(), io::ErrorKind::ConnectionReset);
        assert!(cause.source().is_none());
    }

    #[test]
    fn a_protocol_error_leads_to_the_codec_error_and_remote_errors_have_no_source() {
        let reason = ClosedReason::Protocol(Arc::new(CodecError::TooDeep { limit: 64 }));
        let cause = reason.source().expect("the codec error");
        assert!(matches!(
            cause.downcast_ref::<CodecError>(),
            Some(CodecError::TooDeep { limit: 64 })
        ));
        assert!(CallError::Remote(Value::from("no")).source().is_none());
        assert!(CallError::Timeout(Duration::from_secs(1))
            .source()
            .is_none());
    }
}
