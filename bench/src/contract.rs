//! The wire contract of the example server, shared by the peer servers written for the
//! benchmark so that every server answers the same bytes with the same values.

/// The longest `sleep` the example server accepts, in milliseconds.
pub const MAX_SLEEP_MS: u64 = 10 * 60 * 1000;

/// What `add` and `sub` expect, in the error for params that do not fit.
pub const TWO_INTEGERS: &str = "two 64-bit signed integers";

/// `op(a, b)` for params `[a, b]` (`a` and `b` when they are 64-bit integers), or the
/// example server's error text; `shown` gives the params as the example server shows
/// them (`[1.5, 2]`), only for that error.
pub fn arithmetic(
    method: &str,
    a: Option<i64>,
    b: Option<i64>,
    len: usize,
    shown: impl FnOnce() -> String,
    op: fn(i64, i64) -> Option<i64>,
) -> Result<i64, String> {
    match (a, b) {
        (Some(a), Some(b)) if len == 2 => {
            op(a, b).ok_or_else(|| format!("{} and {}: the result does not fit in 64 bits", a, b))
        }
        _ => Err(format!(
            "{} expects {}, got {}",
            method,
            TWO_INTEGERS,
            shown()
        )),
    }
}

/// The duration asked by `sleep [ms]`, or the example server's error text.
pub fn sleep_ms(
    ms: Option<u64>,
    len: usize,
    shown: impl FnOnce() -> String,
) -> Result<u64, String> {
    match ms {
        Some(ms) if ms <= MAX_SLEEP_MS && len == 1 => Ok(ms),
        _ => Err(format!(
            "sleep expects a number of milliseconds from 0 to {}, got {}",
            MAX_SLEEP_MS,
            shown()
        )),
    }
}

/// The error for a method the contract does not have.
pub fn unknown_method(method: &str) -> String {
    format!("unknown method `{}`", method)
}

/// The address to listen on: the first argument, or an ephemeral port on loopback.
pub fn listen_addr() -> std::net::SocketAddr {
    let text = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    match text.parse() {
        Ok(addr) => addr,
        Err(_) => {
            eprintln!("error: `{}` is not a socket address", text);
            std::process::exit(1);
        }
    }
}

/// The flags after the address, each one of `known`; anything else stops the program
/// with a usage line.
pub fn flags(known: &[&str]) -> Vec<String> {
    let flags: Vec<String> = std::env::args().skip(2).collect();
    if let Some(unknown) = flags.iter().find(|flag| !known.contains(&flag.as_str())) {
        eprintln!(
            "error: unknown flag `{}`; usage: {} [ADDR] [{}]",
            unknown,
            std::env::args().next().unwrap_or_default(),
            known.join("] [")
        );
        std::process::exit(1);
    }
    flags
}

/// Prints the line the runner waits for, like the example server does.
pub fn announce(addr: std::net::SocketAddr) {
    use std::io::Write;
    println!("listening on {}", addr);
    let _ = std::io::stdout().flush();
}

/// How much of the params an error shows, as the example server does.
const SHOWN: usize = 100;

/// The params as the example server shows them in an error: `[1.5, "two", <3 bytes>]`,
/// cut short with `…` past 100 bytes. Written once for each `Value` type the peers use
/// (rmp-rpc's rmpv 0.4, msgpack-rpc's rmpv 1), which have the same variants.
pub fn shown<V: Show>(params: &[V]) -> String {
    let mut out = String::new();
    let whole = show_items(params, &mut out);
    if !whole {
        let mut end = SHOWN.min(out.len());
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

fn show_items<V: Show>(items: &[V], out: &mut String) -> bool {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if !item.show(out) {
            return false;
        }
    }
    out.push(']');
    out.len() <= SHOWN
}

/// A `Value` that can show itself; returns false once `out` is past the limit.
pub trait Show {
    fn show(&self, out: &mut String) -> bool;
}

macro_rules! show_for {
    ($value:ty) => {
        impl Show for $value {
            fn show(&self, out: &mut String) -> bool {
                use std::fmt::Write;
                use $value as V;
                let _ = match self {
                    V::Nil => write!(out, "nil"),
                    V::Boolean(b) => write!(out, "{}", b),
                    V::Integer(n) => write!(out, "{}", n),
                    V::F32(x) => write!(out, "{:?}", x),
                    V::F64(x) => write!(out, "{:?}", x),
                    V::String(s) => match s.as_str() {
                        Some(s) => write!(out, "{:?}", s),
                        None => {
                            write!(out, "<a string of {} bytes, not UTF-8>", s.as_bytes().len())
                        }
                    },
                    V::Binary(b) => write!(out, "<{} bytes>", b.len()),
                    V::Array(items) => return show_items(items, out),
                    V::Map(entries) => {
                        out.push('{');
                        for (i, (k, v)) in entries.iter().enumerate() {
                            if i > 0 {
                                out.push_str(", ");
                            }
                            if !k.show(out) {
                                return false;
                            }
                            out.push_str(": ");
                            if !v.show(out) {
                                return false;
                            }
                        }
                        write!(out, "}}")
                    }
                    V::Ext(..) => write!(out, "<ext>"),
                };
                out.len() <= SHOWN
            }
        }
    };
}

show_for!(rmp_rpc::Value);
show_for!(msgpack_rpc::Value);
