//! What a request handler answers: a `Value`, or a typed value already encoded.
//!
//! An untyped handler answers with a `Value`, which the connection encodes into the
//! response. A typed handler answers with any `Serialize` type: rmp-serde encodes it
//! once, where the handler finishes, and the connection copies those bytes into the
//! response, with no `Value` in between. Small answers (numbers, short strings) are
//! encoded into the reply itself, without an allocation.

use std::fmt;
use std::io::{self, Write};

use rmpv::Integer;
use rmpv::Value;
use serde::ser::{self, Impossible};
use serde::Serialize;

use crate::encode::{
    depth, write_bin_header, write_header, write_integer, write_str, write_uint,
    write_value_moving, PayloadSink, MOVE_AT,
};
use crate::errors::EncodeError;
use crate::params::{show, values_of};

/// Answers this long or shorter are kept inside the `Reply`, not on the heap.
pub(crate) const INLINE: usize = 22;

/// A request's answer, its result or its error, as the connection will send it.
///
/// Made from a `Value` (`Value::from(3).into()`) or, with [`Reply::serialize`], from any
/// `Serialize` type, encoded at once. A [`Service`](crate::Service)'s `Output` and
/// `Error` are anything that converts into one.
#[derive(Clone)]
// ANCHOR: reply
pub struct Reply(Repr);

#[derive(Clone)]
enum Repr {
    Value(Value),
    /// One MessagePack value, encoded by rmp-serde.
    Encoded(Encoded),
}
// ANCHOR_END: reply

impl Reply {
    /// `value`, encoded with rmp-serde as the typed API does everywhere: structs as
    /// arrays of their fields, enums as `{variant: fields}` or a bare variant name,
    /// bytes (with `serde_bytes`) as binaries.
    ///
    /// Fails only when `value`'s `Serialize` implementation fails, or when it hands
    /// rmp-serde a sequence or map whose length it does not know beforehand.
    pub fn serialize<T: Serialize + ?Sized>(value: &T) -> Result<Reply, EncodeError> {
        let mut encoded = Encoded::default();
        // Numbers, booleans, strings: written directly, byte for byte what rmp-serde
        // writes, without its per-field calls.
        if value.serialize(Scalar(&mut encoded)).is_ok() {
            return Ok(Reply(Repr::Encoded(encoded)));
        }
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
            Repr::Encoded(encoded) if encoded.heap.len() >= MOVE_AT => {
                out.payload(encoded.heap);
                Ok(())
            }
            Repr::Encoded(encoded) => out.write_all(encoded.as_slice()),
        }
    }

    /// The encoded bytes of a small typed answer, kept inline: the response is written
    /// with them in one piece.
    #[inline]
    pub(crate) fn inline_bytes(&self) -> Option<&[u8]> {
        match self.0 {
            Repr::Encoded(ref encoded) if encoded.heap.is_empty() => Some(encoded.as_slice()),
            _ => None,
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

/// Encoded bytes: inline while they are few, then on the heap.
#[derive(Clone, Default)]
struct Encoded {
    /// How many bytes of `inline` are used, while `heap` is empty.
    len: usize,
    inline: [u8; INLINE],
    /// Everything, once it did not fit inline.
    heap: Vec<u8>,
}

impl Encoded {
    #[inline]
    fn as_slice(&self) -> &[u8] {
        if self.heap.is_empty() {
            self.inline.get(..self.len).unwrap_or(&[])
        } else {
            &self.heap
        }
    }
}

impl Write for Encoded {
    #[inline]
    fn write(&mut self, src: &[u8]) -> io::Result<usize> {
        self.write_all(src)?;
        Ok(src.len())
    }

    #[inline]
    fn write_all(&mut self, src: &[u8]) -> io::Result<()> {
        if self.heap.is_empty() {
            let end = self.len + src.len();
            if let Some(room) = self.inline.get_mut(self.len..end) {
                room.copy_from_slice(src);
                self.len = end;
                return Ok(());
            }
            self.heap.reserve(end.max(2 * INLINE));
            self.heap
                .extend_from_slice(self.inline.get(..self.len).unwrap_or(&[]));
        }
        self.heap.extend_from_slice(src);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A serializer for the answers handlers give most (numbers, booleans, strings, nil,
/// bytes): it writes them with the crate's encoder, in the same bytes as rmp-serde, and
/// refuses anything else, which rmp-serde then encodes.
struct Scalar<'a>(&'a mut Encoded);

/// What [`Scalar`] says to anything that is not a scalar.
#[derive(Debug)]
struct NotScalar;

impl fmt::Display for NotScalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a scalar")
    }
}

impl std::error::Error for NotScalar {}

impl ser::Error for NotScalar {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotScalar
    }
}

/// Writes a signed integer, as rmp-serde does.
macro_rules! signed {
    ($($method:ident($ty:ty))*) => {
        $(
            fn $method(self, v: $ty) -> Result<(), NotScalar> {
                write_integer(self.0, Integer::from(i64::from(v))).map_err(|_| NotScalar)
            }
        )*
    };
}

/// Writes an unsigned integer, as rmp-serde does.
macro_rules! unsigned {
    ($($method:ident($ty:ty))*) => {
        $(
            fn $method(self, v: $ty) -> Result<(), NotScalar> {
                write_uint(self.0, u64::from(v)).map_err(|_| NotScalar)
            }
        )*
    };
}

impl<'a> ser::Serializer for Scalar<'a> {
    type Ok = ();
    type Error = NotScalar;
    type SerializeSeq = Impossible<(), NotScalar>;
    type SerializeTuple = Impossible<(), NotScalar>;
    type SerializeTupleStruct = Impossible<(), NotScalar>;
    type SerializeTupleVariant = Impossible<(), NotScalar>;
    type SerializeMap = Impossible<(), NotScalar>;
    type SerializeStruct = Impossible<(), NotScalar>;
    type SerializeStructVariant = Impossible<(), NotScalar>;

    signed! { serialize_i8(i8) serialize_i16(i16) serialize_i32(i32) serialize_i64(i64) }
    unsigned! { serialize_u8(u8) serialize_u16(u16) serialize_u32(u32) serialize_u64(u64) }

    fn serialize_bool(self, v: bool) -> Result<(), NotScalar> {
        self.0
            .write_all(&[if v { 0xc3 } else { 0xc2 }])
            .map_err(|_| NotScalar)
    }

    fn serialize_f32(self, v: f32) -> Result<(), NotScalar> {
        write_header(self.0, 0xca, 4, u64::from(v.to_bits())).map_err(|_| NotScalar)
    }

    fn serialize_f64(self, v: f64) -> Result<(), NotScalar> {
        write_header(self.0, 0xcb, 8, v.to_bits()).map_err(|_| NotScalar)
    }

    fn serialize_char(self, v: char) -> Result<(), NotScalar> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), NotScalar> {
        write_str(self.0, v.as_bytes()).map_err(|_| NotScalar)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), NotScalar> {
        write_bin_header(self.0, v.len()).map_err(|_| NotScalar)?;
        self.0.write_all(v).map_err(|_| NotScalar)
    }

    fn serialize_none(self) -> Result<(), NotScalar> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), NotScalar> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), NotScalar> {
        self.0.write_all(&[0xc0]).map_err(|_| NotScalar)
    }

    // Everything below is left to rmp-serde, which has its own conventions for them.

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), NotScalar> {
        Err(NotScalar)
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), NotScalar> {
        Err(NotScalar)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), NotScalar> {
        Err(NotScalar)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), NotScalar> {
        Err(NotScalar)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotScalar> {
        Err(NotScalar)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotScalar> {
        Err(NotScalar)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotScalar> {
        Err(NotScalar)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotScalar> {
        Err(NotScalar)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotScalar> {
        Err(NotScalar)
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, NotScalar> {
        Err(NotScalar)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotScalar> {
        Err(NotScalar)
    }

    fn is_human_readable(&self) -> bool {
        // As rmp-serde's default.
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both<T: Serialize>(value: T) {
        let ours = Reply::serialize(&value).unwrap();
        let theirs = rmp_serde::to_vec(&value).unwrap();
        match ours.0 {
            Repr::Encoded(ref encoded) => assert_eq!(encoded.as_slice(), &theirs[..]),
            Repr::Value(_) => panic!("not encoded"),
        }
    }

    #[test]
    fn scalars_are_written_byte_for_byte_as_rmp_serde_writes_them() {
        for n in [
            0i64,
            1,
            127,
            128,
            255,
            256,
            65535,
            65536,
            1 << 40,
            i64::MAX,
            -1,
            -32,
            -33,
            -128,
            -129,
            -32768,
            -32769,
            i64::MIN,
        ] {
            both(n);
            both(n as i32);
            both(n as i8);
        }
        for n in [0u64, 127, 128, 300, 70_000, u64::MAX] {
            both(n);
            both(n as u8);
            both(n as u16);
        }
        both(true);
        both(false);
        both(1.5f32);
        both(-0.25f64);
        both('é');
        both("short");
        both("x".repeat(40));
        both("y".repeat(70_000));
        both(());
        both(None::<i64>);
        both(Some(3u8));
        both(serde_bytes::Bytes::new(&[1, 2, 3]));
    }

    #[test]
    fn everything_else_is_left_to_rmp_serde() {
        both((1, "two"));
        both(vec![1u8, 2, 3]);
        both(Some(vec![Some(1), None]));
        let mut map = std::collections::BTreeMap::new();
        map.insert("k", 1);
        both(map);
    }
}
