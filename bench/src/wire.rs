//! Just enough MessagePack to write `add` requests and check responses by hand, for the
//! load generator and the limit server. No `Value` is ever built.

/// Appends a non-negative integer in its shortest MessagePack form.
pub fn put_uint(out: &mut Vec<u8>, n: u64) {
    if n < 0x80 {
        out.push(n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0xcc, n as u8]);
    } else if n <= 0xffff {
        out.push(0xcd);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= 0xffff_ffff {
        out.push(0xce);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends a signed integer in its shortest MessagePack form.
pub fn put_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        put_uint(out, n as u64);
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends `[0, id, "add", [a, b]]`.
pub fn put_add_request(out: &mut Vec<u8>, id: u32, a: i64, b: i64) {
    out.extend_from_slice(&[0x94, 0x00]);
    put_uint(out, u64::from(id));
    out.extend_from_slice(&[0xa3, b'a', b'd', b'd', 0x92]);
    put_int(out, a);
    put_int(out, b);
}

/// Appends the header of `[0, id, "add", [<bin of len bytes>, 0]]`: the caller appends
/// the `len` payload bytes, then [`BIG_REQUEST_TAIL`].
pub fn put_big_request_head(out: &mut Vec<u8>, id: u32, len: u32) {
    out.extend_from_slice(&[0x94, 0x00]);
    put_uint(out, u64::from(id));
    out.extend_from_slice(&[0xa3, b'a', b'd', b'd', 0x92, 0xc6]);
    out.extend_from_slice(&len.to_be_bytes());
}

/// The last param of a big request: the integer 0.
pub const BIG_REQUEST_TAIL: [u8; 1] = [0x00];

/// A response, read without building values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseView {
    pub id: u32,
    /// `Ok(Some(n))`: nil error and an integer result; `Ok(None)`: nil error and a result
    /// that is not an integer; `Err(())`: a non-nil error and a nil result.
    pub result: Result<Option<i64>, ()>,
}

/// What parsing the front of a buffer gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole item, and the bytes it took.
    Done(T, usize),
    /// Not all of it has arrived.
    Incomplete,
    /// Not what we expected: the peer broke the contract.
    Invalid(&'static str),
}

/// Reads an integer (any MessagePack integer form) at `buf[pos..]`.
pub fn get_int(buf: &[u8], pos: usize) -> Parsed<i64> {
    let marker = match buf.get(pos) {
        Some(&m) => m,
        None => return Parsed::Incomplete,
    };
    let be = |n: usize| -> Option<u64> {
        buf.get(pos + 1..pos + 1 + n)
            .map(|b| b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    };
    let (value, len) = match marker {
        0x00..=0x7f => (i64::from(marker), 1),
        0xe0..=0xff => (i64::from(marker as i8), 1),
        0xcc => match be(1) {
            Some(v) => (v as i64, 2),
            None => return Parsed::Incomplete,
        },
        0xcd => match be(2) {
            Some(v) => (v as i64, 3),
            None => return Parsed::Incomplete,
        },
        0xce => match be(4) {
            Some(v) => (v as i64, 5),
            None => return Parsed::Incomplete,
        },
        0xcf => match be(8) {
            Some(v) if v <= i64::MAX as u64 => (v as i64, 9),
            Some(_) => return Parsed::Invalid("integer above i64::MAX"),
            None => return Parsed::Incomplete,
        },
        0xd0 => match be(1) {
            Some(v) => (i64::from(v as u8 as i8), 2),
            None => return Parsed::Incomplete,
        },
        0xd1 => match be(2) {
            Some(v) => (i64::from(v as u16 as i16), 3),
            None => return Parsed::Incomplete,
        },
        0xd2 => match be(4) {
            Some(v) => (i64::from(v as u32 as i32), 5),
            None => return Parsed::Incomplete,
        },
        0xd3 => match be(8) {
            Some(v) => (v as i64, 9),
            None => return Parsed::Incomplete,
        },
        _ => return Parsed::Invalid("not an integer"),
    };
    Parsed::Done(value, len)
}

/// Skips one whole value at `buf[pos..]`, of any type; returns its length.
pub fn skip_value(buf: &[u8], pos: usize) -> Parsed<()> {
    // Iterative: `pending` counts the values still to skip.
    let mut at = pos;
    let mut pending: u64 = 1;
    while pending > 0 {
        let marker = match buf.get(at) {
            Some(&m) => m,
            None => return Parsed::Incomplete,
        };
        let be = |n: usize| -> Option<u64> {
            buf.get(at + 1..at + 1 + n)
                .map(|b| b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
        };
        // (header bytes, payload bytes, child values)
        let (head, payload, children): (usize, u64, u64) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (1, 0, 0),
            0x80..=0x8f => (1, 0, u64::from(marker & 0x0f) * 2),
            0x90..=0x9f => (1, 0, u64::from(marker & 0x0f)),
            0xa0..=0xbf => (1, u64::from(marker & 0x1f), 0),
            0xc4 | 0xd9 => match be(1) {
                Some(n) => (2, n, 0),
                None => return Parsed::Incomplete,
            },
            0xc5 | 0xda => match be(2) {
                Some(n) => (3, n, 0),
                None => return Parsed::Incomplete,
            },
            0xc6 | 0xdb => match be(4) {
                Some(n) => (5, n, 0),
                None => return Parsed::Incomplete,
            },
            0xc7 => match be(1) {
                Some(n) => (3, n, 0),
                None => return Parsed::Incomplete,
            },
            0xc8 => match be(2) {
                Some(n) => (4, n, 0),
                None => return Parsed::Incomplete,
            },
            0xc9 => match be(4) {
                Some(n) => (6, n, 0),
                None => return Parsed::Incomplete,
            },
            0xca => (1, 4, 0),
            0xcb => (1, 8, 0),
            0xcc | 0xd0 => (1, 1, 0),
            0xcd | 0xd1 => (1, 2, 0),
            0xce | 0xd2 => (1, 4, 0),
            0xcf | 0xd3 => (1, 8, 0),
            0xd4 => (2, 1, 0),
            0xd5 => (2, 2, 0),
            0xd6 => (2, 4, 0),
            0xd7 => (2, 8, 0),
            0xd8 => (2, 16, 0),
            0xdc => match be(2) {
                Some(n) => (3, 0, n),
                None => return Parsed::Incomplete,
            },
            0xdd => match be(4) {
                Some(n) => (5, 0, n),
                None => return Parsed::Incomplete,
            },
            0xde => match be(2) {
                Some(n) => (3, 0, n * 2),
                None => return Parsed::Incomplete,
            },
            0xdf => match be(4) {
                Some(n) => (5, 0, n * 2),
                None => return Parsed::Incomplete,
            },
            0xc1 => return Parsed::Invalid("0xc1 is not MessagePack"),
        };
        at += head + payload as usize;
        pending = pending - 1 + children;
    }
    if at > buf.len() {
        return Parsed::Incomplete;
    }
    Parsed::Done((), at - pos)
}

/// Reads the response `[1, id, error, result]` at the front of `buf`.
pub fn parse_response(buf: &[u8]) -> Parsed<ResponseView> {
    match buf {
        [] | [_] => return Parsed::Incomplete,
        [0x94, 0x01, ..] => {}
        _ => {
            // Not a response: maybe a notification (`pong`); report its length so the
            // caller can skip it.
            return match skip_value(buf, 0) {
                Parsed::Done((), _) => Parsed::Invalid("not a response"),
                other => map_parsed(other),
            };
        }
    }
    let mut pos = 2;
    let id = match get_int(buf, pos) {
        Parsed::Done(id, len) if (0..=i64::from(u32::MAX)).contains(&id) => {
            pos += len;
            id as u32
        }
        Parsed::Done(..) => return Parsed::Invalid("msgid out of range"),
        other => return map_parsed(other),
    };
    let error_nil = match buf.get(pos) {
        Some(&0xc0) => {
            pos += 1;
            true
        }
        Some(_) => match skip_value(buf, pos) {
            Parsed::Done((), len) => {
                pos += len;
                false
            }
            other => return map_parsed(other),
        },
        None => return Parsed::Incomplete,
    };
    let result = if error_nil {
        match get_int(buf, pos) {
            Parsed::Done(n, len) => {
                pos += len;
                Ok(Some(n))
            }
            Parsed::Incomplete => return Parsed::Incomplete,
            Parsed::Invalid(_) => match skip_value(buf, pos) {
                Parsed::Done((), len) => {
                    pos += len;
                    Ok(None)
                }
                other => return map_parsed(other),
            },
        }
    } else {
        match buf.get(pos) {
            Some(&0xc0) => {
                pos += 1;
                Err(())
            }
            Some(_) => return Parsed::Invalid("error response whose result is not nil"),
            None => return Parsed::Incomplete,
        }
    };
    Parsed::Done(ResponseView { id, result }, pos)
}

fn map_parsed<T, U>(p: Parsed<T>) -> Parsed<U> {
    match p {
        Parsed::Done(..) => Parsed::Invalid("unexpected"),
        Parsed::Incomplete => Parsed::Incomplete,
        Parsed::Invalid(why) => Parsed::Invalid(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_round_trip() {
        for &n in &[
            0i64,
            1,
            127,
            128,
            255,
            256,
            65535,
            65536,
            u32::MAX as i64,
            i64::MAX,
            -1,
            -32,
            -33,
            -128,
            -129,
            -32768,
            -32769,
            i32::MIN as i64,
            i64::MIN,
        ] {
            let mut buf = Vec::new();
            put_int(&mut buf, n);
            assert_eq!(get_int(&buf, 0), Parsed::Done(n, buf.len()), "{}", n);
            assert_eq!(skip_value(&buf, 0), Parsed::Done((), buf.len()));
            assert_eq!(get_int(&buf[..buf.len() - 1], 0), Parsed::Incomplete);
        }
    }

    #[test]
    fn requests_match_rmpv() {
        let mut buf = Vec::new();
        put_add_request(&mut buf, 70000, -5, 300);
        let v = rmpv::decode::read_value(&mut &buf[..]).unwrap();
        assert_eq!(
            v,
            rmpv::Value::Array(vec![
                0.into(),
                70000.into(),
                "add".into(),
                rmpv::Value::Array(vec![(-5).into(), 300.into()])
            ])
        );
        let mut big = Vec::new();
        put_big_request_head(&mut big, 3, 4);
        big.extend_from_slice(&[1, 2, 3, 4]);
        big.extend_from_slice(&BIG_REQUEST_TAIL);
        let v = rmpv::decode::read_value(&mut &big[..]).unwrap();
        assert_eq!(
            v,
            rmpv::Value::Array(vec![
                0.into(),
                3.into(),
                "add".into(),
                rmpv::Value::Array(vec![rmpv::Value::Binary(vec![1, 2, 3, 4]), 0.into()])
            ])
        );
    }

    #[test]
    fn responses() {
        let ok = [0x94, 0x01, 0xcd, 0x01, 0x00, 0xc0, 0xd0, 0x80];
        assert_eq!(
            parse_response(&ok),
            Parsed::Done(
                ResponseView {
                    id: 256,
                    result: Ok(Some(-128))
                },
                ok.len()
            )
        );
        for cut in 0..ok.len() {
            assert_eq!(parse_response(&ok[..cut]), Parsed::Incomplete, "{}", cut);
        }
        let err = [0x94, 0x01, 0x05, 0xa2, b'n', b'o', 0xc0];
        assert_eq!(
            parse_response(&err),
            Parsed::Done(
                ResponseView {
                    id: 5,
                    result: Err(())
                },
                err.len()
            )
        );
        let note = [0x93, 0x02, 0xa4, b'p', b'o', b'n', b'g', 0x90];
        assert_eq!(parse_response(&note), Parsed::Invalid("not a response"));
    }
}
