//! Building values straight out of a byte slice the scanner has already checked.
//!
//! `rmpv::decode::read_value` reads through `std::io::Read` one field at a time and
//! copies strings with `read_to_end`; on small messages that costs more than everything
//! else the connection does. Once the [scanner](crate::scan) has proved that a whole
//! value is in the buffer and within the limits, we can decode it by indexing the slice
//! directly, and size every vector exactly (each item takes at least one byte, so the
//! count is bounded by the bytes we hold). Every read is still checked: a slice that
//! was not scanned gives an error, never a panic.

use std::io;

use rmpv::Value;

use crate::encode::write_str;
use crate::errors::DecodeError;

/// A cursor over a slice that holds MessagePack values.
pub(crate) struct SliceReader<'a> {
    rest: &'a [u8],
}

impl<'a> SliceReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        SliceReader { rest: bytes }
    }

    /// If the next value is an array, reads its header and returns its length.
    /// Otherwise reads the whole value and returns `None`.
    pub(crate) fn array_len(&mut self) -> Result<Option<u32>, DecodeError> {
        let marker = self.rest.first().copied().ok_or_else(truncated)?;
        let len = match marker {
            0x90..=0x9f => {
                self.take(1)?;
                u32::from(marker & 0x0f)
            }
            0xdc => {
                self.take(1)?;
                self.uint(2)? as u32
            }
            0xdd => {
                self.take(1)?;
                self.uint(4)? as u32
            }
            _ => {
                self.value()?;
                return Ok(None);
            }
        };
        Ok(Some(len))
    }

    /// Reads one whole value.
    pub(crate) fn value(&mut self) -> Result<Value, DecodeError> {
        let marker = self.byte()?;
        Ok(match marker {
            0x00..=0x7f => Value::from(marker),
            0xe0..=0xff => Value::from(marker as i8),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f))?,
            0x90..=0x9f => self.array(usize::from(marker & 0x0f))?,
            0xa0..=0xbf => self.string(usize::from(marker & 0x1f))?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4 => Value::Binary(self.sized_bytes(1)?.to_vec()),
            0xc5 => Value::Binary(self.sized_bytes(2)?.to_vec()),
            0xc6 => Value::Binary(self.sized_bytes(4)?.to_vec()),
            0xc7 => self.ext(1)?,
            0xc8 => self.ext(2)?,
            0xc9 => self.ext(4)?,
            0xca => Value::F32(f32::from_bits(self.uint(4)? as u32)),
            0xcb => Value::F64(f64::from_bits(self.uint(8)?)),
            0xcc => Value::from(self.uint(1)?),
            0xcd => Value::from(self.uint(2)?),
            0xce => Value::from(self.uint(4)?),
            0xcf => Value::from(self.uint(8)?),
            0xd0 => Value::from(self.uint(1)? as u8 as i8),
            0xd1 => Value::from(self.uint(2)? as u16 as i16),
            0xd2 => Value::from(self.uint(4)? as u32 as i32),
            0xd3 => Value::from(self.uint(8)? as i64),
            0xd4 => self.fixext(1)?,
            0xd5 => self.fixext(2)?,
            0xd6 => self.fixext(4)?,
            0xd7 => self.fixext(8)?,
            0xd8 => self.fixext(16)?,
            0xd9 => {
                let len = self.uint(1)? as usize;
                self.string(len)?
            }
            0xda => {
                let len = self.uint(2)? as usize;
                self.string(len)?
            }
            0xdb => {
                let len = self.uint(4)? as usize;
                self.string(len)?
            }
            0xdc => {
                let len = self.uint(2)? as usize;
                self.array(len)?
            }
            0xdd => {
                let len = self.uint(4)? as usize;
                self.array(len)?
            }
            0xde => {
                let len = self.uint(2)? as usize;
                self.map(len)?
            }
            0xdf => {
                let len = self.uint(4)? as usize;
                self.map(len)?
            }
            // 0xc1 is reserved; the scanner refuses it before we get here.
            _ => {
                return Err(DecodeError::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("byte {:#04x} cannot start a MessagePack value", marker),
                )))
            }
        })
    }

    fn array(&mut self, len: usize) -> Result<Value, DecodeError> {
        // Each item takes at least one byte: the capacity is bounded by what we hold.
        let mut items = Vec::with_capacity(len.min(self.rest.len()));
        for _ in 0..len {
            items.push(self.value()?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize) -> Result<Value, DecodeError> {
        let mut entries = Vec::with_capacity(len.min(self.rest.len() / 2));
        for _ in 0..len {
            let key = self.value()?;
            entries.push((key, self.value()?));
        }
        Ok(Value::Map(entries))
    }

    /// A string of `len` bytes.
    fn string(&mut self, len: usize) -> Result<Value, DecodeError> {
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Value::from(text)),
            // rmpv keeps invalid UTF-8 as a string that remembers its bytes; only rmpv
            // can build one, so hand it this one value (rare: peers send UTF-8).
            Err(_) => {
                let mut encoded = Vec::with_capacity(len + 5);
                write_str(&mut encoded, bytes).map_err(DecodeError::Io)?;
                Ok(rmpv::decode::read_value(&mut &encoded[..])?)
            }
        }
    }

    /// An ext with a `width`-byte length field: the length, the type, the data.
    fn ext(&mut self, width: usize) -> Result<Value, DecodeError> {
        let len = self.uint(width)? as usize;
        self.fixext(len)
    }

    /// The type byte and `len` bytes of data.
    fn fixext(&mut self, len: usize) -> Result<Value, DecodeError> {
        let ty = self.byte()? as i8;
        Ok(Value::Ext(ty, self.take(len)?.to_vec()))
    }

    /// A `width`-byte big-endian length, then that many bytes.
    fn sized_bytes(&mut self, width: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.uint(width)? as usize;
        self.take(len)
    }

    /// A big-endian unsigned integer of `width` bytes (at most 8).
    fn uint(&mut self, width: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(width)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        self.take(1)?.first().copied().ok_or_else(truncated)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(truncated());
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }
}

fn truncated() -> DecodeError {
    DecodeError::Io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the value ends before its last byte",
    ))
}
