//! The wire contract of the example server, shared by the peer servers written for the
//! benchmark so that every server answers the same bytes with the same values.

/// The longest `sleep` the example server accepts, in milliseconds.
pub const MAX_SLEEP_MS: u64 = 10 * 60 * 1000;

/// The error of `add`/`sub` when the params are not two 64-bit integers.
pub const NOT_TWO_INTEGERS: &str = "expected two integers between -2^63 and 2^63 - 1";

/// `op(a, b)` for params `[a, b]`, or the example server's error text.
pub fn arithmetic(
    a: Option<i64>,
    b: Option<i64>,
    len: usize,
    op: fn(i64, i64) -> Option<i64>,
) -> Result<i64, String> {
    if len != 2 {
        return Err(format!("expected 2 arguments, got {}", len));
    }
    match (a, b) {
        (Some(a), Some(b)) => {
            op(a, b).ok_or_else(|| format!("{} and {}: the result does not fit in 64 bits", a, b))
        }
        _ => Err(NOT_TWO_INTEGERS.to_owned()),
    }
}

/// The duration asked by `sleep [ms]`, or the example server's error text.
pub fn sleep_ms(ms: Option<u64>, len: usize) -> Result<u64, String> {
    if len != 1 {
        return Err(format!("expected 1 argument, got {}", len));
    }
    match ms {
        Some(ms) if ms <= MAX_SLEEP_MS => Ok(ms),
        _ => Err(format!(
            "expected a number of milliseconds from 0 to {}",
            MAX_SLEEP_MS
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

/// Prints the line the runner waits for, like the example server does.
pub fn announce(addr: std::net::SocketAddr) {
    use std::io::Write;
    println!("listening on {}", addr);
    let _ = std::io::stdout().flush();
}
