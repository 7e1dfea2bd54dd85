//! Writing MessagePack values, each in its shortest form.
//!
//! rmp's writers go through one `Write` call and one `Result<Marker, ValueWriteError>`
//! per field, and an RPC message is mostly small fields. Here each header (marker plus
//! length or number) is assembled on the stack and written in one call. The output is byte for byte what rmpv writes, with two differences: a
//! length MessagePack cannot describe (2^32 or more) is an error instead of being
//! truncated to 32 bits (rmpv 0.4 casts it with `as u32`, which would put a corrupt
//! message on the wire), and a string that is not valid UTF-8 stays a string (rmpv 0.4
//! writes it as binary), so a value we received is sent on unchanged.

use std::convert::TryFrom;
use std::io::{self, Write};

use rmpv::{Integer, Value};

/// Writes `value`, recursively.
pub(crate) fn write_value<W: Write>(wr: &mut W, value: &Value) -> io::Result<()> {
    match *value {
        Value::Nil => wr.write_all(&[0xc0]),
        Value::Boolean(b) => wr.write_all(&[if b { 0xc3 } else { 0xc2 }]),
        Value::Integer(n) => write_integer(wr, n),
        Value::F32(x) => write_header(wr, 0xca, 4, u64::from(x.to_bits())),
        Value::F64(x) => write_header(wr, 0xcb, 8, x.to_bits()),
        Value::String(ref text) => write_str(wr, text.as_bytes()),
        Value::Binary(ref bytes) => {
            write_bin_header(wr, bytes.len())?;
            wr.write_all(bytes)
        }
        Value::Array(ref items) => {
            write_array_len(wr, items.len())?;
            items.iter().try_for_each(|item| write_value(wr, item))
        }
        Value::Map(ref entries) => {
            write_map_len(wr, entries.len())?;
            entries.iter().try_for_each(|(key, item)| {
                write_value(wr, key)?;
                write_value(wr, item)
            })
        }
        Value::Ext(ty, ref data) => {
            write_ext_header(wr, ty, data.len())?;
            wr.write_all(data)
        }
    }
}

/// Where [`write_value_moving`] writes: a `Write` that can also take a large payload's
/// own buffer, to send it from there instead of copying it.
pub(crate) trait PayloadSink: Write {
    /// Appends `bytes` as they are, after everything written so far.
    fn payload(&mut self, bytes: Vec<u8>);
}

/// Payloads (string, binary and ext data) from this size on are moved, not copied.
/// Below it, a copy costs less than keeping track of one more buffer.
pub(crate) const MOVE_AT: usize = 16 * 1024;

/// Writes `value` as [`write_value`] does, byte for byte, but takes it by value: the
/// data of every large string, binary or ext goes to the sink as it is, not copied.
pub(crate) fn write_value_moving<S: PayloadSink>(out: &mut S, value: Value) -> io::Result<()> {
    match value {
        // The most common result first: nothing to move, nothing to drop.
        Value::Integer(n) => write_integer(out, n),
        Value::String(text) if text.as_bytes().len() >= MOVE_AT => {
            write_str_header(out, text.as_bytes().len())?;
            out.payload(text.into_bytes());
            Ok(())
        }
        Value::Binary(bytes) if bytes.len() >= MOVE_AT => {
            write_bin_header(out, bytes.len())?;
            out.payload(bytes);
            Ok(())
        }
        Value::Ext(ty, data) if data.len() >= MOVE_AT => {
            write_ext_header(out, ty, data.len())?;
            out.payload(data);
            Ok(())
        }
        Value::Array(items) => {
            write_array_len(out, items.len())?;
            items
                .into_iter()
                .try_for_each(|item| write_value_moving(out, item))
        }
        Value::Map(entries) => {
            write_map_len(out, entries.len())?;
            entries.into_iter().try_for_each(|(key, item)| {
                write_value_moving(out, key)?;
                write_value_moving(out, item)
            })
        }
        small => write_value(out, &small),
    }
}

/// A map header for `len` entries.
fn write_map_len<W: Write>(wr: &mut W, len: usize) -> io::Result<()> {
    let len = len32(len)?;
    match len {
        0..=15 => wr.write_all(&[0x80 | len as u8]),
        16..=0xffff => write_header(wr, 0xde, 2, u64::from(len)),
        _ => write_header(wr, 0xdf, 4, u64::from(len)),
    }
}

/// A bin header for `len` bytes.
pub(crate) fn write_bin_header<W: Write>(wr: &mut W, len: usize) -> io::Result<()> {
    let len = len32(len)?;
    match len {
        0..=0xff => write_header(wr, 0xc4, 1, u64::from(len)),
        0x100..=0xffff => write_header(wr, 0xc5, 2, u64::from(len)),
        _ => write_header(wr, 0xc6, 4, u64::from(len)),
    }
}

/// An ext header for `len` bytes of type `ty`.
fn write_ext_header<W: Write>(wr: &mut W, ty: i8, len: usize) -> io::Result<()> {
    let len = len32(len)?;
    let ty = ty as u8;
    match len {
        1 => wr.write_all(&[0xd4, ty]),
        2 => wr.write_all(&[0xd5, ty]),
        4 => wr.write_all(&[0xd6, ty]),
        8 => wr.write_all(&[0xd7, ty]),
        16 => wr.write_all(&[0xd8, ty]),
        0..=0xff => wr.write_all(&[0xc7, len as u8, ty]),
        0x100..=0xffff => {
            let [a, b] = (len as u16).to_be_bytes();
            wr.write_all(&[0xc8, a, b, ty])
        }
        _ => {
            let [a, b, c, d] = len.to_be_bytes();
            wr.write_all(&[0xc9, a, b, c, d, ty])
        }
    }
}

/// An array header for `len` items.
pub(crate) fn write_array_len<W: Write>(wr: &mut W, len: usize) -> io::Result<()> {
    let len = len32(len)?;
    match len {
        0..=15 => wr.write_all(&[0x90 | len as u8]),
        16..=0xffff => write_header(wr, 0xdc, 2, u64::from(len)),
        _ => write_header(wr, 0xdd, 4, u64::from(len)),
    }
}

/// A str header and the bytes, valid UTF-8 or not.
pub(crate) fn write_str<W: Write>(wr: &mut W, bytes: &[u8]) -> io::Result<()> {
    write_str_header(wr, bytes.len())?;
    wr.write_all(bytes)
}

/// A str header for `len` bytes.
fn write_str_header<W: Write>(wr: &mut W, len: usize) -> io::Result<()> {
    let len = len32(len)?;
    match len {
        0..=31 => wr.write_all(&[0xa0 | len as u8]),
        32..=0xff => write_header(wr, 0xd9, 1, u64::from(len)),
        0x100..=0xffff => write_header(wr, 0xda, 2, u64::from(len)),
        _ => write_header(wr, 0xdb, 4, u64::from(len)),
    }
}

/// An unsigned integer in the fewest bytes.
pub(crate) fn write_uint<W: Write>(wr: &mut W, n: u64) -> io::Result<()> {
    match n {
        0..=0x7f => wr.write_all(&[n as u8]),
        0x80..=0xff => write_header(wr, 0xcc, 1, n),
        0x100..=0xffff => write_header(wr, 0xcd, 2, n),
        0x1_0000..=0xffff_ffff => write_header(wr, 0xce, 4, n),
        _ => write_header(wr, 0xcf, 8, n),
    }
}

/// As rmpv does: non-negative values as unsigned, negative ones in the fewest bytes.
pub(crate) fn write_integer<W: Write>(wr: &mut W, n: Integer) -> io::Result<()> {
    if let Some(n) = n.as_u64() {
        return write_uint(wr, n);
    }
    let n = n.as_i64().unwrap_or(0);
    match n {
        -32..=-1 => wr.write_all(&[n as u8]),
        -0x80..=-33 => write_header(wr, 0xd0, 1, n as u64),
        -0x8000..=-0x81 => write_header(wr, 0xd1, 2, n as u64),
        -0x8000_0000..=-0x8001 => write_header(wr, 0xd2, 4, n as u64),
        _ => write_header(wr, 0xd3, 8, n as u64),
    }
}

/// A marker followed by the low `width` bytes of `n`, big-endian, in one write.
pub(crate) fn write_header<W: Write>(
    wr: &mut W,
    marker: u8,
    width: usize,
    n: u64,
) -> io::Result<()> {
    let mut header = [0u8; 9];
    header[0] = marker;
    let be = n.to_be_bytes();
    header[1..=width].copy_from_slice(&be[8 - width..]);
    wr.write_all(&header[..=width])
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

/// How many levels of arrays and maps `value` nests (0 for a scalar): what
/// `Limits::max_depth` and `Config::max_outgoing_depth` count.
pub(crate) fn depth(value: &Value) -> usize {
    match *value {
        Value::Array(ref items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Map(ref entries) => {
            let deepest = entries.iter().map(|(k, v)| depth(k).max(depth(v))).max();
            1 + deepest.unwrap_or(0)
        }
        _ => 0,
    }
}
