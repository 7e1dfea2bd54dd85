//! Fuzzes the codec with arbitrary bytes.
//!
//! The first input byte picks the limits and how the rest is cut into chunks; the rest is
//! the byte stream. Besides "never panics, never overflows, never recurses too deep",
//! it checks the decoder's contract on every input:
//!
//! - `Ok(None)` leaves the incomplete message at the front untouched (it may have
//!   consumed whole values before it that are not messages: those are skipped);
//! - the same bytes give the same messages and the same error whether they arrive at once
//!   or in chunks (the scanner resumes correctly);
//! - every decoded message encodes, and decodes back to a message that encodes the same.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rmp_rpc_demo::codec::{Codec, Incoming, Limits};
use rmp_rpc_demo::message::Message;
use tokio_io::codec::Decoder;

/// What one decode produced, comparable across runs.
#[derive(Debug, PartialEq)]
enum Event {
    /// A message, by its encoding (a float NaN is not equal to itself, its bytes are).
    Message(Vec<u8>),
    InvalidRequest(u32, String),
    InvalidResponse(u32, String),
    Error(String),
}

fn limits(selector: u8) -> Limits {
    match selector % 3 {
        0 => Limits::default(),
        1 => Limits {
            max_depth: 4,
            max_message_size: 256,
            max_values: 32,
        },
        _ => Limits {
            max_depth: 1 + usize::from(selector % 16),
            max_message_size: 1 + usize::from(selector) * 7,
            max_values: 1 + usize::from(selector % 64),
        },
    }
}

fn encode(msg: &Message) -> Vec<u8> {
    let mut buf = BytesMut::new();
    Codec::default()
        .encode_message(msg, &mut buf)
        .expect("a decoded message encodes");
    buf.to_vec()
}

/// Decodes until `Ok(None)` or an error, checking the contract on the way. `fed` is
/// every byte appended to `buf` so far.
fn drain(codec: &mut Codec, buf: &mut BytesMut, fed: &[u8], events: &mut Vec<Event>) -> bool {
    loop {
        match codec.decode(buf) {
            Ok(Some(Incoming::Message(msg))) => {
                let bytes = encode(&msg);
                let mut again = BytesMut::from(&bytes[..]);
                match Codec::default().decode(&mut again) {
                    Ok(Some(Incoming::Message(back))) => {
                        assert_eq!(encode(&back), bytes, "re-encoding changed the message")
                    }
                    other => panic!("our own encoding of {:?} decodes as {:?}", msg, other),
                }
                assert!(again.is_empty(), "our own encoding has trailing bytes");
                events.push(Event::Message(bytes));
            }
            Ok(Some(Incoming::InvalidRequest { id, reason })) => {
                events.push(Event::InvalidRequest(id, reason.to_string()))
            }
            Ok(Some(Incoming::InvalidResponse { id, reason })) => {
                events.push(Event::InvalidResponse(id, reason.to_string()))
            }
            Ok(None) => {
                // What is left is the end of what was fed (its first bytes suffice to
                // catch a shifted or altered buffer, and keep this cheap).
                let start = fed.len() - buf.len().min(fed.len());
                let head = buf.len().min(64);
                assert!(
                    buf.len() <= fed.len() && buf[..head] == fed[start..start + head],
                    "Ok(None) must leave the incomplete message untouched"
                );
                return true;
            }
            Err(err) => {
                events.push(Event::Error(err.to_string()));
                return false;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (selector, stream) = match data.split_first() {
        Some((&selector, stream)) => (selector, stream),
        None => return,
    };
    let limits = limits(selector);

    // ANCHOR: whole_and_chunked
    // All at once.
    let mut whole = Vec::new();
    let mut codec = Codec::new(limits);
    let mut buf = BytesMut::from(stream);
    drain(&mut codec, &mut buf, stream, &mut whole);

    // In chunks of 1 to 16 bytes, sizes cycling from the selector.
    let mut chunked = Vec::new();
    let mut codec = Codec::new(limits);
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut size = usize::from(selector % 16) + 1;
    while fed < stream.len() {
        let end = (fed + size).min(stream.len());
        buf.extend_from_slice(&stream[fed..end]);
        fed = end;
        if !drain(&mut codec, &mut buf, &stream[..fed], &mut chunked) {
            break;
        }
        size = size % 16 + 1;
    }
    assert_eq!(whole, chunked, "chunking changed what was decoded");
    // ANCHOR_END: whole_and_chunked
});
