//! How fast the codec turns bytes into messages and back.
//!
//! Run it with:
//!
//! ```text
//! cargo bench --bench codec
//! ```
//!
//! It needs no benchmark framework: each case runs a fixed amount of work several times,
//! keeps the fastest run (the one least disturbed by the rest of the machine) and prints
//! one line of a table. The last case checks what the scanner is for: a large message
//! arriving in 4 KiB reads must not cost much more than the same message arriving at once.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rmp_rpc_demo::codec::{Codec, Incoming, Limits};
use rmp_rpc_demo::message::{Message, Request};
use rmp_rpc_demo::Value;
use tokio_io::codec::{Decoder, Encoder};

/// Each case is timed this many times; the fastest run is reported.
const RUNS: usize = 5;
/// Small requests per run: enough for a run to take milliseconds, not microseconds.
const SMALL_MESSAGES: usize = 200_000;
/// Large binary payload of the MB/s cases.
const ONE_MIB: usize = 1024 * 1024;
/// 1 MiB messages per run.
const LARGE_MESSAGES: usize = 64;
/// Size of the message that is decoded whole and in chunks.
const HUGE: usize = 16 * 1024 * 1024;
/// The size of one read in the chunked case, a typical socket read.
const CHUNK: usize = 4 * 1024;
/// The largest chunked/whole ratio the codec promises for the 16 MiB case.
const MAX_CHUNKED_RATIO: f64 = 3.0;

fn main() {
    println!(
        "{:<48} {:>12} {:>16}",
        "case (fastest of 5 runs)", "time/run", "throughput"
    );
    small_requests();
    large_binary();
    let binary_ok = huge_message(
        "16 MiB message, one 16 MiB binary param",
        binary_request(HUGE),
    );
    let strings_ok = huge_message(
        "16 MiB message, 262,144 strings of 62 bytes",
        strings_request(HUGE),
    );
    if !(binary_ok && strings_ok) {
        std::process::exit(1);
    }
}

/// `[0, id, "add", [1, 2]]`, the request of the examples.
fn small_request(id: u32) -> Message {
    Message::Request(Request {
        id,
        method: "add".to_string(),
        params: vec![Value::from(1), Value::from(2)],
    })
}

/// A request carrying one binary param of `size` bytes.
fn binary_request(size: usize) -> Message {
    Message::Request(Request {
        id: 1,
        method: "blob".to_string(),
        params: vec![Value::Binary(vec![0x5a; size])],
    })
}

/// A request of about `size` bytes made of many short strings: every value is scanned.
fn strings_request(size: usize) -> Message {
    // A 62-byte string encodes as 64 bytes (str8 marker and length).
    let text = "x".repeat(62);
    let params = (0..size / 64).map(|_| Value::from(text.as_str())).collect();
    Message::Request(Request {
        id: 2,
        method: "strings".to_string(),
        params,
    })
}

fn encoded(msgs: &[Message]) -> BytesMut {
    let mut buf = BytesMut::new();
    let codec = Codec::default();
    for msg in msgs {
        codec.encode_message(msg, &mut buf).expect("encoding");
    }
    buf
}

/// Runs `work` `RUNS` times and returns the fastest run.
fn fastest<F: FnMut()>(mut work: F) -> Duration {
    fastest_with(|| (), |()| work())
}

/// Like `fastest`, with an untimed `setup` before each run (to copy the input).
fn fastest_with<T, S, F>(mut setup: S, mut work: F) -> Duration
where
    S: FnMut() -> T,
    F: FnMut(T),
{
    (0..RUNS)
        .map(|_| {
            let input = setup();
            let start = Instant::now();
            work(input);
            start.elapsed()
        })
        .min()
        .expect("at least one run")
}

fn print_rate(case: &str, time: Duration, count: usize, unit: &str) {
    println!(
        "{:<48} {:>9.3} ms {:>12.0} {}",
        case,
        time.as_secs_f64() * 1e3,
        count as f64 / time.as_secs_f64(),
        unit
    );
}

fn print_bandwidth(case: &str, time: Duration, bytes: usize) {
    println!(
        "{:<48} {:>9.3} ms {:>11.0} MB/s",
        case,
        time.as_secs_f64() * 1e3,
        bytes as f64 / 1e6 / time.as_secs_f64()
    );
}

fn small_requests() {
    let msgs: Vec<Message> = (0..SMALL_MESSAGES as u32).map(small_request).collect();
    let wire = encoded(&msgs);

    let decode = fastest_with(
        || wire.clone(),
        |mut buf| {
            let mut codec = Codec::default();
            let mut count = 0;
            while let Some(item) = codec.decode(&mut buf).expect("decoding") {
                black_box(item);
                count += 1;
            }
            assert_eq!(count, SMALL_MESSAGES);
        },
    );
    print_rate(
        "decode [0, id, \"add\", [1, 2]]",
        decode,
        SMALL_MESSAGES,
        "msg/s",
    );

    let mut buf = BytesMut::with_capacity(wire.len());
    let encode = fastest(|| {
        buf.clear();
        let mut codec = Codec::default();
        for msg in &msgs {
            codec.encode(msg.clone(), &mut buf).expect("encoding");
        }
        assert_eq!(buf.len(), wire.len());
    });
    // Clone-free variant: what a caller that keeps its messages pays.
    let encode_ref = fastest(|| {
        buf.clear();
        let codec = Codec::default();
        for msg in &msgs {
            codec.encode_message(msg, &mut buf).expect("encoding");
        }
        assert_eq!(buf.len(), wire.len());
    });
    print_rate(
        "encode (Encoder::encode, a clone each)",
        encode,
        SMALL_MESSAGES,
        "msg/s",
    );
    print_rate(
        "encode (Codec::encode_message, by ref)",
        encode_ref,
        SMALL_MESSAGES,
        "msg/s",
    );
}

fn large_binary() {
    let msg = binary_request(ONE_MIB);
    let one = encoded(std::slice::from_ref(&msg));
    let wire = encoded(&vec![msg.clone(); LARGE_MESSAGES]);
    let bytes = wire.len();
    assert_eq!(bytes, one.len() * LARGE_MESSAGES);

    let decode = fastest_with(
        || wire.clone(),
        |mut buf| {
            let mut codec = Codec::default();
            for _ in 0..LARGE_MESSAGES {
                let item = codec.decode(&mut buf).expect("decoding");
                assert!(matches!(item, Some(Incoming::Message(_))));
                black_box(item);
            }
        },
    );
    print_bandwidth("decode request with a 1 MiB binary param", decode, bytes);

    let mut buf = BytesMut::with_capacity(bytes);
    let encode = fastest(|| {
        buf.clear();
        let codec = Codec::default();
        for _ in 0..LARGE_MESSAGES {
            codec.encode_message(&msg, &mut buf).expect("encoding");
        }
        assert_eq!(buf.len(), bytes);
    });
    print_bandwidth("encode request with a 1 MiB binary param", encode, bytes);
}

/// Decodes `msg` from a buffer that already holds all of it, then from 4 KiB reads
/// appended to one buffer with a decode after each; prints both and their ratio.
///
/// The chunked case also pays for copying the reads into the buffer (and growing it), as
/// a reader would; the whole case does not, which makes the ratio a pessimistic one.
/// Returns false when the ratio is over `MAX_CHUNKED_RATIO`.
fn huge_message(case: &str, msg: Message) -> bool {
    let wire = encoded(std::slice::from_ref(&msg));
    // The message is a little over 16 MiB, the default limit: raise it.
    let limits = Limits {
        max_message_size: 2 * HUGE,
        ..Limits::default()
    };
    let expect = Incoming::Message(msg);

    let whole = fastest_with(
        || wire.clone(),
        |mut buf| {
            let item = Codec::new(limits).decode(&mut buf).expect("decoding");
            assert!(item.as_ref() == Some(&expect));
            black_box(item);
        },
    );
    let mut calls = 0;
    let chunked = fastest(|| {
        let mut codec = Codec::new(limits);
        let mut buf = BytesMut::new();
        let mut decoded = None;
        calls = 0;
        for chunk in wire.chunks(CHUNK) {
            buf.extend_from_slice(chunk);
            calls += 1;
            if let Some(item) = codec.decode(&mut buf).expect("decoding") {
                decoded = Some(item);
            }
        }
        assert!(decoded.as_ref() == Some(&expect));
        black_box(decoded);
    });
    // The same reads without decoding: what the chunked case pays for the buffer alone.
    let append_only = fastest(|| {
        let mut buf = BytesMut::new();
        for chunk in wire.chunks(CHUNK) {
            buf.extend_from_slice(chunk);
        }
        black_box(buf);
    });
    let ratio = chunked.as_secs_f64() / whole.as_secs_f64();
    println!("{} ({} bytes):", case, wire.len());
    print_bandwidth("  decoded whole", whole, wire.len());
    print_bandwidth(
        &format!("  in 4 KiB reads ({} decode calls)", calls),
        chunked,
        wire.len(),
    );
    print_bandwidth(
        "  the same reads appended, no decode",
        append_only,
        wire.len(),
    );
    println!(
        "  {:<46} {:>9.2} x  (must be <= {})",
        "chunked / whole", ratio, MAX_CHUNKED_RATIO
    );
    if ratio > MAX_CHUNKED_RATIO {
        println!(
            "  FAIL: chunked decoding is more than {}x slower",
            MAX_CHUNKED_RATIO
        );
        return false;
    }
    true
}
