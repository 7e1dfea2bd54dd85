//! The settings: what a peer's message may ask of us ([`Limits`]) and how a connection
//! behaves ([`Config`]), with their defaults.
//!
//! This module sits below everything that reads them (the decoder, the connection, the
//! endpoints) and imports nothing from the crate, so that each of those can depend on it
//! without depending on each other. Users find the types where they use them:
//! `codec::Limits`, `client::Config`, `server::Config` and `rmp_rpc_demo::Config`.

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
/// `limits.max_values` of them) being received. A read buffer or write buffer larger
/// than 64 KiB is freed as soon as it is empty, so one large message does not pin its
/// memory for the rest of the connection. The book's chapter "Measuring speed" gives
/// the measured cost of an idle connection and of a request in flight.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Config {
    /// What one incoming message may ask of us (depth, size, number of values).
    pub limits: Limits,
    /// The most requests from the peer whose handlers may run at once. When reached,
    /// the connection stops reading until one completes. Default: 1024.
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
        }
    }
}

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
