//! What a request handler answers: a `Value`, or a typed value already encoded.
//!
//! An untyped handler answers with a `Value`, which the connection encodes into the
//! response. A typed handler answers with any `Serialize` type: rmp-serde encodes it
//! once, where the handler finishes, and the connection copies those bytes into the
//! response, with no `Value` in between. Small answers (numbers, short strings) are
//! encoded into the reply itself, without an allocation.

use std::fmt;
use std::io::{self, Write};

use rmpv::Value;
use serde::Serialize;

use crate::encode::{depth, write_value_moving, PayloadSink, MOVE_AT};
use crate::errors::EncodeError;
use crate::params::{show, values_of};

/// Answers this long or shorter are kept inside the `Reply`, not on the heap.
const INLINE: usize = 22;

/// A request's answer, its result or its error, as the connection will send it.
///
/// Made from a `Value` (`Value::from(3).into()`) or, with [`Reply::serialize`], from any
/// `Serialize` type, encoded at once. A [`Service`](crate::Service)'s `Output` and
/// `Error` are anything that converts into one.
#[derive(Clone)]
pub struct Reply(Repr);

#[derive(Clone)]
enum Repr {
    Value(Value),
    /// One MessagePack value, encoded by rmp-serde.
    Encoded(Encoded),
}

impl Reply {
    /// `value`, encoded with rmp-serde as the typed API does everywhere: structs as
    /// arrays of their fields, enums as `{variant: fields}` or a bare variant name,
    /// bytes (with `serde_bytes`) as binaries.
    ///
    /// Fails only when `value`'s `Serialize` implementation fails, or when it hands
    /// rmp-serde a sequence or map whose length it does not know beforehand.
    pub fn serialize<T: Serialize + ?Sized>(value: &T) -> Result<Reply, EncodeError> {
        let mut encoded = Encoded::default();
        value
            .serialize(&mut rmp_serde::Serializer::new(&mut encoded))
            .map_err(|err| EncodeError::new(err.to_string()))?;
        Ok(Reply(Repr::Encoded(encoded)))
    }

    /// The answer as a `Value` (decoded, if it was encoded).
    pub fn into_value(self) -> Value {
        match self.0 {
            Repr::Value(value) => value,
            Repr::Encoded(encoded) => value_of(encoded.as_slice()),
        }
    }

    /// Writes the answer, moving a large `Value`'s payloads rather than copying them.
    pub(crate) fn write<S: PayloadSink>(self, out: &mut S) -> io::Result<()> {
        match self.0 {
            Repr::Value(value) => write_value_moving(out, value),
            Repr::Encoded(Encoded::Heap(bytes)) if bytes.len() >= MOVE_AT => {
                out.payload(bytes);
                Ok(())
            }
            Repr::Encoded(encoded) => out.write_all(encoded.as_slice()),
        }
    }

    /// How many levels of arrays and maps the answer nests.
    pub(crate) fn depth(&self) -> usize {
        match self.0 {
            Repr::Value(ref value) => depth(value),
            // Only asked when `Config::max_outgoing_depth` is set: decode to count.
            Repr::Encoded(ref encoded) => depth(&value_of(encoded.as_slice())),
        }
    }
}

/// The one value rmp-serde encoded in `bytes`.
fn value_of(bytes: &[u8]) -> Value {
    // Wrapped in a one-item array, the value decodes with the params' reader.
    let mut array = Vec::with_capacity(bytes.len() + 1);
    array.push(0x91);
    array.extend_from_slice(bytes);
    values_of(&array).pop().unwrap_or(Value::Nil)
}

impl From<Value> for Reply {
    fn from(value: Value) -> Reply {
        Reply(Repr::Value(value))
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::Value(ref value) => write!(f, "Reply({})", value),
            Repr::Encoded(ref encoded) => {
                f.write_str("Reply(")?;
                show(encoded.as_slice(), f)?;
                f.write_str(")")
            }
        }
    }
}

/// Encoded bytes, inline while they are few.
#[derive(Clone)]
enum Encoded {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Vec<u8>),
}

impl Default for Encoded {
    fn default() -> Self {
        Encoded::Inline {
            len: 0,
            bytes: [0; INLINE],
        }
    }
}

impl Encoded {
    fn as_slice(&self) -> &[u8] {
        match *self {
            Encoded::Inline { len, ref bytes } => bytes.get(..usize::from(len)).unwrap_or(&[]),
            Encoded::Heap(ref bytes) => bytes,
        }
    }
}

impl Write for Encoded {
    fn write(&mut self, src: &[u8]) -> io::Result<usize> {
        self.write_all(src)?;
        Ok(src.len())
    }

    fn write_all(&mut self, src: &[u8]) -> io::Result<()> {
        match *self {
            Encoded::Inline {
                ref mut len,
                ref mut bytes,
            } => {
                let start = usize::from(*len);
                let end = start + src.len();
                if let Some(room) = bytes.get_mut(start..end) {
                    room.copy_from_slice(src);
                    // `end` is at most INLINE, which fits a u8.
                    *len = end as u8;
                    return Ok(());
                }
                let mut heap = Vec::with_capacity(end.max(2 * INLINE));
                heap.extend_from_slice(bytes.get(..start).unwrap_or(&[]));
                heap.extend_from_slice(src);
                *self = Encoded::Heap(heap);
                Ok(())
            }
            Encoded::Heap(ref mut heap) => {
                heap.extend_from_slice(src);
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
