//! Building values straight out of a byte slice, checking the limits as we go.
//!
//! `rmpv::decode::read_value` reads through `std::io::Read` one field at a time, copies
//! strings with `read_to_end` and trusts every length it reads. [`SliceReader`] indexes
//! the slice directly instead, and it enforces the [`Limits`] while it builds, in the
//! order the [scanner](crate::scan) checks them, so that one pass both checks a message
//! and decodes it. Every vector is sized exactly, and only once its items are known to
//! be in the slice (each takes at least one byte). Every read is checked: bytes that end
//! too early give [`SliceError::Incomplete`], never a panic.
//!
//! The reader never looks past `max_message_size` bytes. When a value goes on past the
//! end of what it sees, it cannot tell "wait for more" from "too large": it says
//! `Incomplete`, and the codec lets the scanner, which knows both, give the answer.

use std::convert::TryFrom;
use std::fmt;

use rmpv::Value;

use crate::config::Limits;
use crate::encode::write_str;
use crate::errors::CodecError;

/// Why a [`SliceReader`] could not read a whole value.
#[derive(Debug)]
pub(crate) enum SliceError {
    /// The value goes on past the end of the slice (or past `max_message_size`): more
    /// bytes may complete it, or the scanner may find it too large.
    Incomplete,
    /// The bytes are not MessagePack, or break one of the limits: the stream is corrupt.
    Corrupt(CodecError),
}

/// A cursor over a slice that holds MessagePack values, enforcing [`Limits`].
///
/// After an error the reader is left mid-value: drop it.
pub(crate) struct SliceReader<'a> {
    /// The bytes not read yet, never beyond `max_message_size` from the start.
    rest: &'a [u8],
    /// How many bytes the reader could see at the start, to tell offsets.
    seen: usize,
    /// Read so far, nested ones included: `Limits::max_values`.
    values: usize,
    /// How many arrays and maps are open around the next value: `Limits::max_depth`.
    depth: usize,
    limits: Limits,
}

impl<'a> SliceReader<'a> {
    /// A reader of the values at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8], limits: &Limits) -> Self {
        // Whatever lies past the size limit is not ours to read: a value reaching there
        // is either too large or incomplete, which the scanner tells apart.
        let rest = bytes.get(..limits.max_message_size).unwrap_or(bytes);
        SliceReader {
            rest,
            seen: rest.len(),
            values: 0,
            depth: 0,
            limits: *limits,
        }
    }

    /// How many bytes have been read: after a whole value, its length.
    pub(crate) fn consumed(&self) -> usize {
        // `rest` only ever shrinks from its start.
        self.seen - self.rest.len()
    }

    /// Reads one whole value.
    pub(crate) fn value(&mut self) -> Result<Value, SliceError> {
        match self.header()? {
            // Integers, the commonest params, without a call.
            (marker @ 0x00..=0x7f, _) | (marker @ 0xcc..=0xcf, _) => {
                self.unsigned(marker).map(Value::from)
            }
            (marker @ 0xd0..=0xd3, _) | (marker @ 0xe0..=0xff, _) => {
                self.signed(marker).map(Value::from)
            }
            (marker, len) => self.body(marker, len),
        }
    }

    /// If the next value is an array, reads its header and returns its length; its
    /// items are then read one by one with [`value`](SliceReader::value). Otherwise
    /// reads the whole value and returns `None`.
    pub(crate) fn array_len(&mut self) -> Result<Option<u32>, SliceError> {
        match self.header()? {
            (0x90..=0x9f, len) | (0xdc, len) | (0xdd, len) => {
                self.open(len)?;
                // An array header holds at most a 32-bit length.
                Ok(Some(len as u32))
            }
            (marker, len) => self.body(marker, len).map(|_| None),
        }
    }

    // The message's own fields (type, msgid, method, params) are read without building
    // a `Value` only to take it apart again.

    /// Reads the head of a request written the way nearly every peer writes one (a
    /// fixarray of 4, the type 0, a msgid of at most 32 bits, a fixstr method) in place,
    /// counting its values and opening its array as the general path would; returns the
    /// msgid and the method's bytes. Anything else returns `None` and reads nothing,
    /// and the general path takes over.
    #[inline]
    pub(crate) fn request_head(&mut self) -> Option<(u32, &'a [u8])> {
        let (id, rest) = match *self.rest {
            [0x94, 0x00, id @ 0x00..=0x7f, ref rest @ ..] => (u32::from(id), rest),
            [0x94, 0x00, 0xcc, a, ref rest @ ..] => (u32::from(a), rest),
            [0x94, 0x00, 0xcd, a, b, ref rest @ ..] => {
                (u32::from(u16::from_be_bytes([a, b])), rest)
            }
            [0x94, 0x00, 0xce, a, b, c, d, ref rest @ ..] => {
                (u32::from_be_bytes([a, b, c, d]), rest)
            }
            _ => return None,
        };
        let (&marker, rest) = rest.split_first()?;
        if !(0xa0..=0xbf).contains(&marker) {
            return None;
        }
        let len = usize::from(marker & 0x1f);
        let method = rest.get(..len)?;
        // The array and its first three items; the limits that could refuse them are
        // left to the general path, which says which one.
        if self.depth != 0 || self.limits.max_depth == 0 || self.limits.max_values < 4 {
            return None;
        }
        self.values += 4;
        self.depth = 1;
        self.rest = rest.get(len..).unwrap_or(&[]);
        Some((id, method))
    }

    /// Reads one value; returns it if it is an unsigned integer.
    pub(crate) fn uint(&mut self) -> Result<Option<u64>, SliceError> {
        match self.header()? {
            (marker @ 0x00..=0x7f, _) | (marker @ 0xcc..=0xcf, _) => {
                self.unsigned(marker).map(Some)
            }
            // Signed integers can hold a non-negative number too.
            (marker, len) => Ok(self.body(marker, len)?.as_u64()),
        }
    }

    /// Reads one value; returns it if it is a UTF-8 string, borrowed from the slice.
    pub(crate) fn string(&mut self) -> Result<Option<&'a str>, SliceError> {
        match self.header()? {
            (0xa0..=0xbf, len) | (0xd9..=0xdb, len) => {
                Ok(std::str::from_utf8(self.take(len)?).ok())
            }
            (marker, len) => self.body(marker, len).map(|_| None),
        }
    }

    /// Reads one value; returns its items if it is an array.
    pub(crate) fn array(&mut self) -> Result<Option<Vec<Value>>, SliceError> {
        match self.header()? {
            (0x90..=0x9f, len) | (0xdc, len) | (0xdd, len) => self.items(len).map(Some),
            (marker, len) => self.body(marker, len).map(|_| None),
        }
    }

    /// Reads one value without building it, checking the limits as
    /// [`value`](SliceReader::value) does; returns its bytes if it is an array. The params
    /// of a request stay bytes this way until the handler says what it wants of them.
    #[inline]
    pub(crate) fn raw_array(&mut self) -> Result<Option<&'a [u8]>, SliceError> {
        let start = self.rest;
        match self.header()? {
            (0x90..=0x9f, len) | (0xdc, len) | (0xdd, len) => {
                self.skip_items(len)?;
                // `rest` is the tail of `start`: what lies between is the array.
                Ok(start.get(..start.len() - self.rest.len()))
            }
            (marker, len) => self.skip_body(marker, len).map(|_| None),
        }
    }

    /// Reads one value and writes it for people to read: `[1, "two", 3.5, nil]`, maps as
    /// `{key: value}`, binaries and exts by their size only. Stops as soon as `out`
    /// refuses more, so a short excerpt of a large value costs little.
    pub(crate) fn display(&mut self, out: &mut dyn fmt::Write) -> fmt::Result {
        let (marker, len) = self.header().map_err(|_| fmt::Error)?;
        match marker {
            0x00..=0x7f | 0xcc..=0xcf => {
                write!(out, "{}", self.unsigned(marker).map_err(|_| fmt::Error)?)
            }
            0xd0..=0xd3 | 0xe0..=0xff => {
                write!(out, "{}", self.signed(marker).map_err(|_| fmt::Error)?)
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                out.write_char('[')?;
                for i in 0..len {
                    if i > 0 {
                        out.write_str(", ")?;
                    }
                    self.display(out)?;
                }
                out.write_char(']')
            }
            0x80..=0x8f | 0xde | 0xdf => {
                out.write_char('{')?;
                for i in 0..len {
                    if i > 0 {
                        out.write_str(", ")?;
                    }
                    self.display(out)?;
                    out.write_str(": ")?;
                    self.display(out)?;
                }
                out.write_char('}')
            }
            0xa0..=0xbf | 0xd9..=0xdb => {
                match std::str::from_utf8(self.take(len).map_err(|_| fmt::Error)?) {
                    Ok(text) => write!(out, "{:?}", text),
                    Err(_) => write!(out, "<a string of {} bytes, not UTF-8>", len),
                }
            }
            0xc0 => out.write_str("nil"),
            0xc2 => out.write_str("false"),
            0xc3 => out.write_str("true"),
            0xca => write!(
                out,
                "{:?}",
                f32::from_be_bytes(self.fixed().map_err(|_| fmt::Error)?)
            ),
            0xcb => write!(
                out,
                "{:?}",
                f64::from_be_bytes(self.fixed().map_err(|_| fmt::Error)?)
            ),
            0xc4..=0xc6 => {
                self.take(len).map_err(|_| fmt::Error)?;
                write!(out, "<{} bytes>", len)
            }
            _ => {
                self.skip_body(marker, len).map_err(|_| fmt::Error)?;
                out.write_str("<ext>")
            }
        }
    }

    /// Reads one value without building it.
    fn skip(&mut self) -> Result<(), SliceError> {
        let (marker, len) = self.header()?;
        self.skip_body(marker, len)
    }

    /// Skips the rest of the value whose header, `marker` and `len`, was just read.
    fn skip_body(&mut self, marker: u8, len: usize) -> Result<(), SliceError> {
        let payload = match marker {
            0x80..=0x8f | 0xde | 0xdf => return self.skip_items(len.saturating_mul(2)),
            0x90..=0x9f | 0xdc | 0xdd => return self.skip_items(len),
            // Strings and binaries: their length; exts: a type byte, then their length.
            0xa0..=0xbf | 0xd9..=0xdb | 0xc4..=0xc6 => len,
            0xc7..=0xc9 => len.saturating_add(1),
            0xcc | 0xd0 => 1,
            0xcd | 0xd1 => 2,
            0xca | 0xce | 0xd2 => 4,
            0xcb | 0xcf | 0xd3 => 8,
            0xd4 => 2,
            0xd5 => 3,
            0xd6 => 5,
            0xd7 => 9,
            0xd8 => 17,
            // Fixints, nil and booleans are all header.
            _ => 0,
        };
        self.take(payload).map(|_| ())
    }

    /// Skips the `count` values of an array (or the keys and values of a map).
    #[inline]
    fn skip_items(&mut self, count: usize) -> Result<(), SliceError> {
        self.open(count)?;
        // Kept in locals for the loop (on error the reader is dropped, mid-value).
        let max_values = self.limits.max_values;
        let mut rest = self.rest;
        let mut values = self.values;
        for _ in 0..count {
            let marker = match rest.first() {
                Some(&marker) => marker,
                None => return Err(SliceError::Incomplete),
            };
            // An index of a u8 into 256 entries: always in bounds.
            let len = usize::from(SCALAR_LEN[usize::from(marker)]);
            if len == 0 {
                self.rest = rest;
                self.values = values;
                self.skip()?;
                rest = self.rest;
                values = self.values;
                continue;
            }
            // Numbers, nil, booleans and short strings, the commonest params: their
            // marker tells their length; count them and step over them in place.
            values += 1;
            if values > max_values {
                return Err(too_many_values(&self.limits));
            }
            rest = rest.get(len..).ok_or(SliceError::Incomplete)?;
        }
        self.rest = rest;
        self.values = values;
        self.depth -= 1;
        Ok(())
    }

    /// The rest of the value whose header, `marker` and `len`, was just read.
    fn body(&mut self, marker: u8, len: usize) -> Result<Value, SliceError> {
        Ok(match marker {
            0x00..=0x7f | 0xcc..=0xcf => Value::from(self.unsigned(marker)?),
            0xd0..=0xd3 | 0xe0..=0xff => Value::from(self.signed(marker)?),
            0x80..=0x8f | 0xde | 0xdf => Value::Map(self.entries(len)?),
            0x90..=0x9f | 0xdc | 0xdd => Value::Array(self.items(len)?),
            0xa0..=0xbf | 0xd9..=0xdb => self.string_value(len)?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4..=0xc6 => Value::Binary(self.take(len)?.to_vec()),
            0xc7..=0xc9 => self.ext(len)?,
            0xca => Value::F32(f32::from_be_bytes(self.fixed()?)),
            0xcb => Value::F64(f64::from_be_bytes(self.fixed()?)),
            // fixext 1, 2, 4, 8, 16.
            0xd4 => self.ext(1)?,
            0xd5 => self.ext(2)?,
            0xd6 => self.ext(4)?,
            0xd7 => self.ext(8)?,
            0xd8 => self.ext(16)?,
            // 0xc1: `header` refused it.
            _ => return Err(SliceError::Incomplete),
        })
    }

    // ANCHOR: header
    /// Reads a marker and the length field that follows it, if any, and counts the value.
    ///
    /// Returns the marker and the length the header declares (bytes of a string, binary
    /// or ext; items of an array; entries of a map), 0 for the other values. The checks
    /// come in the scanner's order: the reserved marker first, then, once the header is
    /// whole, the number of values.
    #[inline(always)]
    fn header(&mut self) -> Result<(u8, usize), SliceError> {
        let marker = self.byte()?;
        let len = match marker {
            // fixmap and fixarray.
            0x80..=0x9f => usize::from(marker & 0x0f),
            0xa0..=0xbf => usize::from(marker & 0x1f),
            0xc4 | 0xc7 | 0xd9 => usize::from(u8::from_be_bytes(self.fixed()?)),
            0xc5 | 0xc8 | 0xda | 0xdc | 0xde => usize::from(u16::from_be_bytes(self.fixed()?)),
            // A 32-bit length fits a usize on every platform Rust's std supports.
            0xc6 | 0xc9 | 0xdb | 0xdd | 0xdf => u32::from_be_bytes(self.fixed()?) as usize,
            0xc1 => {
                return Err(SliceError::Corrupt(CodecError::NotMessagePack {
                    byte: marker,
                    // The marker was just read.
                    offset: self.consumed() - 1,
                }));
            }
            _ => 0,
        };
        self.values = self.values.saturating_add(1);
        if self.values > self.limits.max_values {
            return Err(too_many_values(&self.limits));
        }
        Ok((marker, len))
    }
    // ANCHOR_END: header

    // ANCHOR: open
    /// Checks a container of `children` values before reading them, like the scanner:
    /// all of them must be in the slice (each takes at least a byte), within the number
    /// of values, and one level deeper must stay within the depth limit.
    fn open(&mut self, children: usize) -> Result<(), SliceError> {
        if children > self.rest.len() {
            return Err(SliceError::Incomplete);
        }
        if children > self.limits.max_values {
            return Err(too_many_values(&self.limits));
        }
        if self.depth >= self.limits.max_depth {
            return Err(SliceError::Corrupt(CodecError::TooDeep {
                limit: self.limits.max_depth,
            }));
        }
        self.depth += 1;
        Ok(())
    }
    // ANCHOR_END: open

    /// The `len` items of an array.
    fn items(&mut self, len: usize) -> Result<Vec<Value>, SliceError> {
        self.open(len)?;
        // `open` made sure `len` is at most the bytes left: the capacity is bounded.
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(self.value()?);
        }
        self.depth -= 1;
        Ok(items)
    }

    /// The `len` entries of a map.
    fn entries(&mut self, len: usize) -> Result<Vec<(Value, Value)>, SliceError> {
        // A key and a value per entry; `len` is at most 2^32 - 1, so this cannot overflow.
        self.open(len.saturating_mul(2))?;
        let mut entries = Vec::with_capacity(len);
        for _ in 0..len {
            let key = self.value()?;
            entries.push((key, self.value()?));
        }
        self.depth -= 1;
        Ok(entries)
    }

    /// The unsigned integer that `marker` starts: a positive fixint, or uint 8 to 64.
    #[inline]
    fn unsigned(&mut self, marker: u8) -> Result<u64, SliceError> {
        Ok(match marker {
            0xcc => u64::from(u8::from_be_bytes(self.fixed()?)),
            0xcd => u64::from(u16::from_be_bytes(self.fixed()?)),
            0xce => u64::from(u32::from_be_bytes(self.fixed()?)),
            0xcf => u64::from_be_bytes(self.fixed()?),
            _ => u64::from(marker),
        })
    }

    /// The signed integer that `marker` starts: a negative fixint, or int 8 to 64.
    #[inline]
    fn signed(&mut self, marker: u8) -> Result<i64, SliceError> {
        Ok(match marker {
            0xd0 => i64::from(i8::from_be_bytes(self.fixed()?)),
            0xd1 => i64::from(i16::from_be_bytes(self.fixed()?)),
            0xd2 => i64::from(i32::from_be_bytes(self.fixed()?)),
            0xd3 => i64::from_be_bytes(self.fixed()?),
            _ => i64::from(marker as i8),
        })
    }

    /// A string of `len` bytes.
    fn string_value(&mut self, len: usize) -> Result<Value, SliceError> {
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Value::from(text)),
            // rmpv keeps invalid UTF-8 as a string that remembers its bytes; only rmpv
            // can build one, so hand it this one value (rare: peers send UTF-8).
            Err(_) => {
                let corrupt = |err| SliceError::Corrupt(CodecError::Io(err));
                let mut encoded = Vec::with_capacity(len.saturating_add(5));
                write_str(&mut encoded, bytes).map_err(corrupt)?;
                rmpv::decode::read_value(&mut &encoded[..]).map_err(|err| match err {
                    rmpv::decode::Error::InvalidMarkerRead(err)
                    | rmpv::decode::Error::InvalidDataRead(err) => corrupt(err),
                })
            }
        }
    }

    /// An ext of `len` bytes of data: its type byte, then the data.
    fn ext(&mut self, len: usize) -> Result<Value, SliceError> {
        let [ty] = self.fixed()?;
        Ok(Value::Ext(ty as i8, self.take(len)?.to_vec()))
    }

    /// The next `N` bytes, as an array (for `from_be_bytes`).
    #[inline]
    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], SliceError> {
        <[u8; N]>::try_from(self.take(N)?).map_err(|_| SliceError::Incomplete)
    }

    #[inline]
    fn byte(&mut self) -> Result<u8, SliceError> {
        let [byte] = self.fixed()?;
        Ok(byte)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], SliceError> {
        if self.rest.len() < n {
            return Err(SliceError::Incomplete);
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }
}

/// For each marker, the whole length of the value it starts when the marker alone tells
/// it (numbers, nil, booleans, fixstrs, fixexts), or 0.
static SCALAR_LEN: [u8; 256] = scalar_lengths();

const fn scalar_lengths() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut marker = 0;
    while marker < 256 {
        table[marker] = match marker as u8 {
            0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => 1,
            0xa0..=0xbf => 1 + (marker as u8 & 0x1f),
            0xcc | 0xd0 => 2,
            0xcd | 0xd1 | 0xd4 => 3,
            0xd5 => 4,
            0xca | 0xce | 0xd2 => 5,
            0xd6 => 6,
            0xcb | 0xcf | 0xd3 => 9,
            0xd7 => 10,
            0xd8 => 18,
            _ => 0,
        };
        marker += 1;
    }
    table
}

fn too_many_values(limits: &Limits) -> SliceError {
    SliceError::Corrupt(CodecError::TooManyValues {
        limit: limits.max_values,
    })
}
