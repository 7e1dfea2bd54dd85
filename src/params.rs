//! The params of a request or notification, still as the bytes the peer sent.
//!
//! The codec checks a message against the [`Limits`](crate::codec::Limits) and finds
//! where its params array lies in the read buffer, but builds nothing from it. The
//! handler then decides what the params become: `Value`s
//! ([`into_values`](Params::into_values)), or any type that implements serde's
//! `Deserialize`, decoded straight from those bytes
//! ([`deserialize`](Params::deserialize)), with no `Value` in between.

use std::any::type_name;
use std::fmt;

use rmpv::Value;
use serde::de::value::UnitDeserializer;
use serde::Deserialize;

use crate::config::Limits;
use crate::errors::{Bounded, ParamsError};
use crate::lenient::Lenient;
use crate::slice::SliceReader;

/// The codec checked the params against the connection's limits (which may be larger
/// than the defaults) before anyone sees them: building them checks nothing again.
const CHECKED: Limits = Limits {
    max_depth: usize::MAX,
    max_message_size: usize::MAX,
    max_values: usize::MAX,
};

// ANCHOR: params
/// The params of a request or notification: one MessagePack array, borrowed from the
/// connection's read buffer, already checked against the connection's
/// [`Limits`](crate::codec::Limits).
///
/// Turn them into what the handler needs: `Value`s with
/// [`into_values`](Params::into_values), or a typed value with
/// [`deserialize`](Params::deserialize).
#[derive(Clone, Copy)]
pub struct Params<'a> {
    /// One whole MessagePack array.
    bytes: &'a [u8],
}
// ANCHOR_END: params

impl<'a> Params<'a> {
    /// `bytes` must hold exactly one MessagePack array, checked against the limits.
    pub(crate) fn new(bytes: &'a [u8]) -> Params<'a> {
        Params { bytes }
    }

    /// How many params there are.
    pub fn len(&self) -> usize {
        // The array header: a fixarray, or array 16 or 32 with a big-endian length.
        let field = |width: usize| {
            self.bytes
                .get(1..=width)
                .map_or(0, |b| b.iter().fold(0, |n, &b| (n << 8) | usize::from(b)))
        };
        match self.bytes.first() {
            Some(&marker @ 0x90..=0x9f) => usize::from(marker & 0x0f),
            Some(0xdc) => field(2),
            Some(0xdd) => field(4),
            _ => 0,
        }
    }

    /// There are no params.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The MessagePack encoding of the params array, as the peer sent it.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The params as `Value`s, the untyped way.
    pub fn into_values(self) -> Vec<Value> {
        values_of(self.bytes)
    }

    // ANCHOR: deserialize
    /// The params as a `T`, decoded straight from the bytes with rmp-serde: a tuple
    /// takes them by position, a struct by position (or by name from a single map),
    /// a `Vec` takes them all. Strings and binaries can be borrowed from the read buffer
    /// (`&'a str`, `&'a [u8]` with `serde_bytes`).
    ///
    /// When the params are empty, a `T` that can be made from nothing (`()`, an
    /// `Option`) is made so; otherwise `[]` is decoded like any array.
    ///
    /// Fails, with the reason in serde's words, when the params do not fit `T`: too
    /// few or too many, a type that does not match, an integer out of `T`'s range.
    pub fn deserialize<T: Deserialize<'a>>(&self) -> Result<T, ParamsError> {
        if self.is_empty() {
            if let Ok(nothing) = T::deserialize(UnitDeserializer::<ParamsError>::new()) {
                return Ok(nothing);
            }
        }
        decode(self.bytes).map_err(ParamsError::new)
    }
    // ANCHOR_END: deserialize
}

/// `P`'s name as people write it: `(i64, i64)`, `Vec<String>`, `Point`, without the
/// module paths that `type_name` adds.
pub(crate) fn short_type_name<P: ?Sized>() -> String {
    let full = type_name::<P>();
    let mut short = String::with_capacity(full.len());
    let mut segment = String::new();
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            // `a::b::C`: drop the path before the last segment.
            segment.clear();
        } else if c.is_alphanumeric() || c == '_' {
            segment.push(c);
        } else {
            short.push_str(&segment);
            segment.clear();
            short.push(c);
        }
    }
    short.push_str(&segment);
    short
}

/// Decodes one `T` from `bytes` with rmp-serde; the error is its text, worded by serde's
/// own visitors.
pub(crate) fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    if let Ok(value) = T::deserialize(&mut de) {
        return Ok(value);
    }
    // Only now, on the rare params that do not fit, through `Lenient`: its detour costs
    // a little on every value, and only its errors say what was expected.
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    T::deserialize(Lenient(&mut de)).map_err(|err| err.to_string())
}

/// Builds the `Value`s of a params array that the codec checked.
pub(crate) fn values_of(bytes: &[u8]) -> Vec<Value> {
    match SliceReader::new(bytes, &CHECKED).array() {
        Ok(Some(values)) => values,
        // Unreachable: the codec found one whole array within the limits here.
        Ok(None) | Err(_) => {
            log::error!("params that the codec checked could not be decoded: dropping them");
            Vec::new()
        }
    }
}

impl fmt::Debug for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Params({})", self)
    }
}

/// Shows the params for people, `[1, "two", 3.5]`, cut short with `…` past about 100
/// characters (binaries and exts show only their size).
impl fmt::Display for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        show(self.bytes, f)
    }
}

/// Writes the MessagePack value at the start of `bytes` for people, as `Params` shows
/// itself: bounded, so that a large value costs little.
pub(crate) fn show(bytes: &[u8], f: &mut dyn fmt::Write) -> fmt::Result {
    Bounded::show(f, |shown| SliceReader::new(bytes, &CHECKED).display(shown))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::write_value;

    fn encoded(values: Vec<Value>) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_value(&mut bytes, &Value::Array(values)).unwrap();
        bytes
    }

    #[test]
    fn len_reads_fixarray_and_array16_headers() {
        let few = encoded(vec![1.into(), 2.into()]);
        assert_eq!(Params::new(&few).len(), 2);
        let many = encoded(vec![Value::Nil; 300]);
        assert_eq!(Params::new(&many).len(), 300);
        let none = encoded(vec![]);
        assert!(Params::new(&none).is_empty());
    }

    #[test]
    fn into_values_gives_back_what_was_encoded() {
        let values = vec![1.into(), "two".into(), Value::Binary(vec![3]), Value::Nil];
        let bytes = encoded(values.clone());
        assert_eq!(Params::new(&bytes).into_values(), values);
    }

    #[test]
    fn display_shows_values_and_only_the_size_of_binaries() {
        let bytes = encoded(vec![
            1.5.into(),
            (-2).into(),
            "x\"y".into(),
            Value::Binary(vec![0; 1 << 20]),
            Value::Map(vec![("k".into(), Value::Nil)]),
            true.into(),
        ]);
        assert_eq!(
            Params::new(&bytes).to_string(),
            r#"[1.5, -2, "x\"y", <1048576 bytes>, {"k": nil}, true]"#
        );
    }

    #[test]
    fn display_cuts_long_params_short() {
        let bytes = encoded(vec!["é".repeat(200).into()]);
        let shown = Params::new(&bytes).to_string();
        assert!(shown.starts_with("[\"éé"), "{}", shown);
        assert!(shown.ends_with('…'), "{}", shown);
        assert!(shown.len() <= 100 + '…'.len_utf8(), "{}", shown);
    }

    #[test]
    fn empty_params_make_a_unit_or_a_none() {
        let bytes = encoded(vec![]);
        let params = Params::new(&bytes);
        params.deserialize::<()>().unwrap();
        assert_eq!(params.deserialize::<Option<(i64,)>>().unwrap(), None);
        assert_eq!(params.deserialize::<Vec<i64>>().unwrap(), Vec::<i64>::new());
    }
}
