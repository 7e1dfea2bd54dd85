//! The settings: what a peer's message may ask of us ([`Limits`]) and how a connection
//! behaves ([`Config`]), with their defaults.
//!
//! This module sits below everything that reads them (the decoder, the connection, the
//! endpoints) and imports nothing from the crate, so that each of those can depend on it
//! without depending on each other. Users find the types where they use them:
//! `codec::Limits`, `client::Config`, `server::Config` and `rmp_rpc_demo::Config`.

use std::time::Duration;

use crate::errors::ConfigError;

// ANCHOR: limits
/// How much a single message may ask of us. Each limit is checked before the value that
/// would break it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// How deeply arrays and maps may nest; the message array itself is level 1 and its
    /// params array level 2. `rmpv` decodes recursively, so this bounds the stack it uses.
    /// Default: 64, which decodes in a debug build on a thread with a 2 MiB stack (tested).
    pub max_depth: usize,
    /// The largest encoded message, in bytes. A message that declares a larger size is
    /// refused as soon as its header arrives, so we never buffer past this.
    /// Default: 16 MiB.
    pub max_message_size: usize,
    /// The most values (of any kind, nested ones included) in one message. A decoded
    /// value takes 32 to 48 bytes of memory even when it took 1 byte on the wire, so this
    /// bounds the memory a message can make us allocate. Default: 1 Mi (1,048,576).
    pub max_values: usize,
}
// ANCHOR_END: limits

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_values: DEFAULT_MAX_VALUES,
        }
    }
}

/// Deep enough for any sensible API, shallow enough that decoding fits in a 2 MiB thread
/// stack even without optimisations. (Neovim 0.7 sends values of any depth, but aborts
/// when it receives one nested deeper than 32 levels: see `Config::max_outgoing_depth`.)
const DEFAULT_MAX_DEPTH: usize = 64;
/// Large enough for a whole source file or a screenful of terminal cells, small enough
/// that a peer cannot make us hold an arbitrary amount of memory per connection.
const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;
/// Bounds the decoded values of one message to a few dozen MiB.
const DEFAULT_MAX_VALUES: usize = 1024 * 1024;

// ANCHOR: config
/// How a connection behaves; the same settings serve clients and servers.
///
/// # Memory
///
/// A connection holds a read buffer (emptied as messages are decoded), the state of each
/// running handler, at most `max_write_buffer` bytes of answers plus one message, and
/// one message of up to `limits.max_message_size` bytes (decoded values at most
/// `limits.max_values` of them) being received. The read buffer grows with the bytes
/// of that message as they arrive (to at most four times what has arrived), never with
/// what its header declares: a peer that sends the header of a 16 MiB message and
/// nothing more costs 16 KiB. A read buffer or write buffer larger
/// than 64 KiB is freed as soon as it is empty, so one large message does not pin its
/// memory for the rest of the connection. The book's chapter "Measuring speed" gives
/// the measured cost of an idle connection and of a request in flight.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Config {
    /// What one incoming message may ask of us (depth, size, number of values).
    pub limits: Limits,
    /// The most handlers of the peer's messages that may run at once: requests and
    /// notifications together (queued notifications included). When reached, the
    /// connection stops reading until one completes. Default: 1024.
    pub max_in_flight: usize,
    /// How many encoded bytes may wait for the peer to read them before the connection
    /// stops reading new requests and stops running handlers. A single larger message is
    /// still sent whole. Default: 256 KiB.
    pub max_write_buffer: usize,
    /// Run notification handlers one after the other, in arrival order, instead of
    /// concurrently. Default: false.
    pub ordered_notifications: bool,
    /// Refuse to send a message nested deeper than this (counted like
    /// [`Limits::max_depth`]: the message array is level 1): a call fails with
    /// [`CallError::Unsendable`](crate::errors::CallError::Unsendable), a handler's answer
    /// is replaced by an error response. Set it to 32 when the peer is Neovim 0.7, which
    /// aborts on deeper input. Default: `None`, no check.
    pub max_outgoing_depth: Option<usize>,
    /// Close the connection once it has been idle this long: no whole message has
    /// arrived, no handler has run or finished, none of our calls has waited for an
    /// answer and none of our bytes has left. A peer that trickles bytes without ever
    /// completing a message is idle too; so is one that stops reading what we owe it.
    /// The connection then ends with
    /// [`ClosedReason::Idle`](crate::errors::ClosedReason::Idle). A duration too long to
    /// count from now means never; zero is refused.
    ///
    /// Default: `None`, never. MessagePack-RPC has no keep-alive, and its peers keep
    /// quiet connections on purpose: an editor and its plugins talk when the user
    /// types, and a Neovim session may sit silent for hours. Only the program knows
    /// how long its peers may stay quiet; a server open to strangers should set one (the
    /// example server's `--idle-timeout SECS`), beside `ServerBuilder::max_connections`.
    pub idle_timeout: Option<Duration>,
}
// ANCHOR_END: config

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_write_buffer: DEFAULT_MAX_WRITE_BUFFER,
            ordered_notifications: false,
            max_outgoing_depth: None,
            idle_timeout: None,
        }
    }
}

impl Config {
    /// Checks that every setting can work: the builders call it before they start
    /// anything, so a mistake shows as an error that names the setting, not as a server
    /// that refuses every message or calls that hang. Zero (or too little) is refused
    /// where it would stop every message: `max_in_flight` and `max_write_buffer` below
    /// 1, `limits.max_depth` and `max_outgoing_depth` below 2 (a message is level 1 and
    /// its params level 2), `limits.max_message_size` and `limits.max_values` below 4
    /// (the smallest message, `[2, "", []]`, is 4 bytes and 4 values); an
    /// `idle_timeout` of zero.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let limits = &self.limits;
        if limits.max_depth < MIN_DEPTH {
            return Err(ConfigError::new(
                "Limits::max_depth",
                format!(
                    "{} refuses every message: a message is an array (level 1) holding its params (level 2); use at least {}",
                    limits.max_depth, MIN_DEPTH
                ),
            ));
        }
        if limits.max_message_size < MIN_MESSAGE {
            return Err(ConfigError::new(
                "Limits::max_message_size",
                format!(
                    "{} bytes refuses every message: the smallest one, [2, \"\", []], takes {}; use at least {}",
                    limits.max_message_size, MIN_MESSAGE, MIN_MESSAGE
                ),
            ));
        }
        if limits.max_values < MIN_MESSAGE {
            return Err(ConfigError::new(
                "Limits::max_values",
                format!(
                    "{} refuses every message: the smallest one, [2, \"\", []], holds {} values; use at least {}",
                    limits.max_values, MIN_MESSAGE, MIN_MESSAGE
                ),
            ));
        }
        if self.max_in_flight == 0 {
            return Err(ConfigError::new(
                "Config::max_in_flight",
                "0 would refuse every request; use at least 1",
            ));
        }
        if self.max_write_buffer == 0 {
            return Err(ConfigError::new(
                "Config::max_write_buffer",
                "0 bytes leaves no room for any answer or call, so every one would wait for ever; use at least 1 (a larger message still goes whole)",
            ));
        }
        if self.idle_timeout == Some(Duration::from_secs(0)) {
            return Err(ConfigError::new(
                "Config::idle_timeout",
                "Some(0) would close every connection at once; use None for no idle timeout",
            ));
        }
        match self.max_outgoing_depth {
            Some(depth) if depth < MIN_DEPTH => Err(ConfigError::new(
                "Config::max_outgoing_depth",
                format!(
                    "Some({}) refuses every call and notification (their params are level 2); use at least {}, or None for no check",
                    depth, MIN_DEPTH
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// The message array is level 1 and its params array level 2: a smaller depth limit
/// refuses every message.
const MIN_DEPTH: usize = 2;
/// The smallest message, `[2, "", []]`, is 4 bytes and 4 values (the array counts).
const MIN_MESSAGE: usize = 4;

/// Enough concurrency for any single peer's pipelining, few enough handler states that a
/// peer cannot make one connection hold much memory with requests that never finish.
const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// Several socket buffers' worth: the kernel always has bytes to send, while a peer that
/// stops reading holds at most this much of our memory (plus one message).
const DEFAULT_MAX_WRITE_BUFFER: usize = 256 * 1024;

/// An empty buffer (read buffer or outbox) with more capacity than this is freed, so
/// that one large message or one burst does not pin its memory for the rest of the
/// connection; a buffer this size or smaller is kept, so that small messages never pay
/// for an allocation.
pub(crate) const MAX_IDLE_BUFFER: usize = 64 * 1024;
