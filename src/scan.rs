//! A cheap, resumable walk over MessagePack markers and lengths.
//!
//! `rmpv` builds a `Value` recursively and trusts the lengths it reads, so it must never
//! see bytes that could nest too deep or declare more than we accept. The scanner runs
//! first: it looks only at markers and length fields, skips over payloads without reading
//! them, and reports where the first value ends once all of it is in the buffer. It keeps
//! its place between calls, so a message that arrives in many small reads is examined
//! once in total, not once per read.

use crate::config::Limits;
use crate::errors::CodecError;

/// Where the scan of the value at the front of the buffer stands.
#[derive(Debug, Default)]
pub(crate) struct Scanner {
    /// Offset of the next marker to examine. It can run past the end of the buffer
    /// when a string or binary payload has not fully arrived yet.
    pos: usize,
    /// For each array or map still open, how many values it is still waiting for
    /// (a map counts its keys and its values); the innermost is last.
    open: Vec<u64>,
    /// How many values the message holds so far, to enforce `Limits::max_values`.
    values: usize,
    /// The value at the front of the buffer ends at `pos`.
    done: bool,
    /// The buffer length seen by the last call, to notice a buffer that was replaced.
    seen: usize,
}

/// What a marker starts.
enum Item {
    /// A value with no children: its header, then `payload` bytes we do not look at.
    Leaf { payload: u64 },
    /// An array or a map, followed by `values` child values.
    Container { values: u64 },
}

impl Scanner {
    // ANCHOR: scan
    /// Looks for the end of the first value in `buf`.
    ///
    /// Returns `Ok(Some(len))` when `buf[..len]` holds one whole value that respects
    /// `limits` (and then forgets it: the caller consumes those bytes); `Ok(None)` when
    /// more bytes are needed; an error when the bytes are not MessagePack or break a limit.
    /// Between calls, `buf` may only grow at its end.
    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<usize>, CodecError> {
        if buf.len() < self.seen {
            // The caller replaced or truncated the buffer: start over.
            *self = Scanner::default();
        }
        self.seen = buf.len();
        loop {
            if self.done {
                if buf.len() < self.pos {
                    return Ok(None);
                }
                let len = self.pos;
                self.reset();
                return Ok(Some(len));
            }
            let rest = match buf.get(self.pos..) {
                Some(rest) if !rest.is_empty() => rest,
                _ => return Ok(None),
            };
            let (header, item) = match parse_header(rest, self.pos)? {
                Some(parsed) => parsed,
                None => return Ok(None),
            };
            self.values = self.values.saturating_add(1);
            if self.values > limits.max_values {
                return Err(CodecError::TooManyValues {
                    limit: limits.max_values,
                });
            }
            match item {
                Item::Leaf { payload } => {
                    self.pos = self.advance(header as u64 + payload, limits)?;
                    self.done = self.close_value();
                }
                Item::Container { values } => {
                    // Every child takes at least one byte: refuse early what cannot fit.
                    self.advance(header as u64 + values, limits)?;
                    if values > limits.max_values as u64 {
                        return Err(CodecError::TooManyValues {
                            limit: limits.max_values,
                        });
                    }
                    if self.open.len() >= limits.max_depth {
                        return Err(CodecError::TooDeep {
                            limit: limits.max_depth,
                        });
                    }
                    self.pos += header;
                    if values == 0 {
                        self.done = self.close_value();
                    } else {
                        self.open.push(values);
                    }
                }
            }
        }
    }
    // ANCHOR_END: scan

    /// True when no part of the value at the front has been scanned yet: the codec then
    /// tries to decode it whole first.
    pub(crate) fn is_idle(&self) -> bool {
        // Every header moves `pos`, so nothing was scanned while it is still 0.
        self.pos == 0
    }

    /// How many more bytes the value at the front needs, as far as the scan can tell
    /// (at least one when it is incomplete). A reader can size its next read with it.
    pub(crate) fn wanted(&self, buffered: usize) -> usize {
        self.pos.saturating_sub(buffered).max(1)
    }

    /// The offset `len` bytes past `pos`, or `TooLarge` if the message would exceed the limit.
    fn advance(&self, len: u64, limits: &Limits) -> Result<usize, CodecError> {
        let end = (self.pos as u64).saturating_add(len);
        if end > limits.max_message_size as u64 {
            return Err(CodecError::TooLarge {
                limit: limits.max_message_size,
                size: end,
            });
        }
        // `end` is at most `max_message_size`, a usize.
        Ok(end as usize)
    }

    /// A value just ended: count it in its container, closing every container that is
    /// now full. Returns true when the outermost value has ended.
    fn close_value(&mut self) -> bool {
        while let Some(remaining) = self.open.last_mut() {
            *remaining -= 1;
            if *remaining > 0 {
                return false;
            }
            self.open.pop();
        }
        true
    }

    fn reset(&mut self) {
        self.pos = 0;
        self.open.clear();
        self.values = 0;
        self.done = false;
        self.seen = 0;
    }
}

// ANCHOR: parse_header
/// Reads the marker at the start of `rest` and its length field, if any.
///
/// Returns the size of the header (marker plus length field, plus the type byte of an
/// ext) and what follows it, or `None` when the header itself is not complete yet.
fn parse_header(rest: &[u8], offset: usize) -> Result<Option<(usize, Item)>, CodecError> {
    let marker = match rest.first() {
        Some(&marker) => marker,
        None => return Ok(None),
    };
    let leaf = |header: usize, payload: u64| Ok(Some((header, Item::Leaf { payload })));
    // A length field of `width` bytes right after the marker.
    let length = |width: usize| -> Option<u64> {
        rest.get(1..=width)
            .map(|bytes| bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    };
    let sized = |width: usize, extra: usize, per_item: u64, container: bool| {
        Ok(length(width).map(|len| {
            let header = 1 + width + extra;
            if container {
                (
                    header,
                    Item::Container {
                        values: len * per_item,
                    },
                )
            } else {
                (header, Item::Leaf { payload: len })
            }
        }))
    };
    match marker {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => leaf(1, 0),
        0x80..=0x8f => Ok(Some((
            1,
            Item::Container {
                values: u64::from(marker & 0x0f) * 2,
            },
        ))),
        0x90..=0x9f => Ok(Some((
            1,
            Item::Container {
                values: u64::from(marker & 0x0f),
            },
        ))),
        0xa0..=0xbf => leaf(1, u64::from(marker & 0x1f)),
        0xc1 => Err(CodecError::NotMessagePack {
            byte: marker,
            offset,
        }),
        0xc4 | 0xd9 => sized(1, 0, 1, false),
        0xc5 | 0xda => sized(2, 0, 1, false),
        0xc6 | 0xdb => sized(4, 0, 1, false),
        // ext 8/16/32: the length, then a type byte, then the payload.
        0xc7 => sized(1, 1, 1, false),
        0xc8 => sized(2, 1, 1, false),
        0xc9 => sized(4, 1, 1, false),
        0xca => leaf(1, 4),
        0xcb => leaf(1, 8),
        0xcc | 0xd0 => leaf(1, 1),
        0xcd | 0xd1 => leaf(1, 2),
        0xce | 0xd2 => leaf(1, 4),
        0xcf | 0xd3 => leaf(1, 8),
        // fixext 1/2/4/8/16: a type byte, then the payload.
        0xd4 => leaf(2, 1),
        0xd5 => leaf(2, 2),
        0xd6 => leaf(2, 4),
        0xd7 => leaf(2, 8),
        0xd8 => leaf(2, 16),
        0xdc => sized(2, 0, 1, true),
        0xdd => sized(4, 0, 1, true),
        0xde => sized(2, 0, 2, true),
        0xdf => sized(4, 0, 2, true),
    }
}
// ANCHOR_END: parse_header
