//! The codec, tested from the outside: what goes on the wire, how partial input, invalid
//! values and hostile input are handled, and property tests over arbitrary bytes and
//! arbitrary messages.
//!
//! The scanner (`src/scan.rs`) and the one-pass decoder (`src/slice.rs`) are private;
//! they are tested here through the codec: every prefix, every split point,
//! byte-at-a-time delivery and the limits exercise them. A message that is whole in the
//! buffer takes the one-pass decoder; one that arrives a byte at a time takes the
//! scanner, so comparing the two deliveries checks that both give the same answer.

mod common;

use std::io;

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use rmp_rpc_demo::codec::{Codec, Incoming, Limits};
use rmp_rpc_demo::errors::*;
use rmp_rpc_demo::message::*;
use rmp_rpc_demo::Value;
use tokio_io::codec::{Decoder, Encoder};

use common::wire::message::{err_response, notification, ok_response, request};
use common::wire::{self, nested};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn s(text: &str) -> Value {
    Value::from(text)
}

fn int(n: i64) -> Value {
    Value::from(n)
}

/// `msg` encoded through the `Encoder` trait.
fn encode(msg: &Message) -> Vec<u8> {
    let mut buf = BytesMut::new();
    Codec::default()
        .encode(msg.clone(), &mut buf)
        .expect("encoding a message");
    buf.to_vec()
}

fn encode_all(msgs: &[Message]) -> Vec<u8> {
    msgs.iter().flat_map(encode).collect()
}

/// Decodes until the codec asks for more bytes; panics on a stream error.
fn decode_all(codec: &mut Codec, buf: &mut BytesMut) -> Vec<Incoming> {
    let mut out = Vec::new();
    while let Some(item) = codec.decode(buf).expect("a valid stream") {
        out.push(item);
    }
    out
}

/// Decodes `bytes` in one read with a default codec.
fn decode_bytes(bytes: &[u8]) -> Vec<Incoming> {
    let mut buf = BytesMut::from(bytes);
    let out = decode_all(&mut Codec::default(), &mut buf);
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    out
}

/// Decodes `bytes` delivered in reads that end at each of `cuts` (sorted offsets).
fn decode_in_reads(bytes: &[u8], cuts: &[usize]) -> Vec<Incoming> {
    let mut codec = Codec::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(Some(&bytes.len())) {
        buf.extend_from_slice(&bytes[start..end]);
        start = end;
        out.extend(decode_all(&mut codec, &mut buf));
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    out
}

/// The first result of decoding `bytes` with `limits`, which must be an error.
fn decode_error(limits: Limits, bytes: &[u8]) -> CodecError {
    let mut buf = BytesMut::from(bytes);
    match Codec::new(limits).decode(&mut buf) {
        Err(err) => err,
        Ok(item) => panic!("expected an error, got {:?}", item),
    }
}

fn messages(items: Vec<Incoming>) -> Vec<Message> {
    items
        .into_iter()
        .map(|item| match item {
            Incoming::Message(msg) => msg,
            other => panic!("expected a message, got {:?}", other),
        })
        .collect()
}

/// A request whose arrays nest exactly `depth` deep: the message array is level 1, the
/// params array level 2, and the param adds `depth - 2` more.
fn request_nested(depth: usize) -> Message {
    request(1, "deep", vec![nested(depth - 2, Value::Nil)])
}

/// Params with one value of every MessagePack type, and every length class of each.
fn every_kind_of_param() -> Vec<Value> {
    vec![
        Value::Nil,
        Value::Boolean(true),
        Value::Boolean(false),
        int(0),
        int(127),
        int(-1),
        int(-32),
        int(-33),
        int(-129),
        int(-32769),
        int(i64::from(i32::MIN) - 1),
        int(i64::MIN),
        Value::from(u64::from(u8::MAX)),
        Value::from(u64::from(u16::MAX)),
        Value::from(u64::from(u32::MAX)),
        Value::from(u64::MAX),
        Value::F32(1.5),
        Value::F32(-0.0),
        Value::F64(std::f64::consts::PI),
        Value::F64(f64::INFINITY),
        s(""),
        s("héllo"),
        Value::from("x".repeat(40)),
        Value::from("y".repeat(300)),
        Value::Binary(vec![]),
        Value::Binary(vec![0, 1, 2, 255]),
        Value::Binary(vec![7; 300]),
        Value::Ext(1, vec![1]),
        Value::Ext(2, vec![1, 2]),
        Value::Ext(-3, vec![1, 2, 3, 4]),
        Value::Ext(4, vec![0; 8]),
        Value::Ext(5, vec![0; 16]),
        Value::Ext(6, vec![9; 3]),
        Value::Ext(7, vec![9; 300]),
        Value::Array(vec![]),
        Value::Array(vec![int(1), Value::Array(vec![s("a"), Value::Nil])]),
        Value::Array((0..20).map(int).collect()),
        Value::Map(vec![]),
        Value::Map(vec![
            (s("a"), int(1)),
            (
                int(2),
                Value::Array(vec![Value::Map(vec![(Value::Nil, s("deep"))])]),
            ),
        ]),
        Value::Map((0..20).map(|i| (int(i), s("v"))).collect()),
    ]
}

/// A few messages of every kind, for the stream tests.
fn sample_stream() -> Vec<Message> {
    vec![
        request(0, "add", vec![int(1), int(2)]),
        notification("ping", vec![s("a"), Value::Binary(vec![1, 2, 3])]),
        ok_response(0, int(3)),
        request(u32::MAX, "", vec![]),
        err_response(u32::MAX, s("no such method")),
        request(7, "every", every_kind_of_param()),
        notification("", vec![]),
    ]
}

/// What decoding a stream came to, in a form tests can compare.
#[derive(Debug, PartialEq)]
enum End {
    /// The codec asked for more bytes, with these left in the buffer.
    NeedMore(Vec<u8>),
    /// The codec reported a stream error.
    Failed(Failure),
}

/// `CodecError` without the `io::Error` payload, so that it can be compared.
#[derive(Debug, PartialEq)]
enum Failure {
    Io(io::ErrorKind),
    NotMessagePack { byte: u8, offset: usize },
    TooDeep { limit: usize },
    TooLarge { limit: usize, size: u64 },
    TooManyValues { limit: usize },
    UnreadableResponse(InvalidMessage),
}

fn failure(err: CodecError) -> Failure {
    match err {
        CodecError::Io(err) => Failure::Io(err.kind()),
        CodecError::NotMessagePack { byte, offset } => Failure::NotMessagePack { byte, offset },
        CodecError::TooDeep { limit } => Failure::TooDeep { limit },
        CodecError::TooLarge { limit, size } => Failure::TooLarge { limit, size },
        CodecError::TooManyValues { limit } => Failure::TooManyValues { limit },
        CodecError::UnreadableResponse(reason) => Failure::UnreadableResponse(reason),
    }
}

/// Feeds `bytes` to a codec in reads of the given sizes (cycled; the whole input in one
/// read when `sizes` is empty), decoding after each read until it asks for more or fails.
fn outcome(limits: Limits, bytes: &[u8], sizes: &[usize]) -> (Vec<Incoming>, End) {
    let mut codec = Codec::new(limits);
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut start = 0;
    let mut sizes = sizes.iter().cycle();
    loop {
        let size = sizes.next().copied().unwrap_or(bytes.len());
        let end = (start + size).min(bytes.len());
        buf.extend_from_slice(&bytes[start..end]);
        start = end;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(err) => return (items, End::Failed(failure(err))),
            }
        }
        if start == bytes.len() {
            return (items, End::NeedMore(buf.to_vec()));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------

fn assert_round_trip(msg: Message) {
    let bytes = encode(&msg);
    assert_eq!(decode_bytes(&bytes), vec![Incoming::Message(msg)]);
}

#[test]
fn request_with_every_kind_of_param_round_trips() {
    for &id in &[0, 1, u32::MAX] {
        assert_round_trip(request(id, "every", every_kind_of_param()));
    }
}

#[test]
fn request_with_empty_method_and_params_round_trips() {
    assert_round_trip(request(0, "", vec![]));
}

#[test]
fn request_with_long_method_name_round_trips() {
    assert_round_trip(request(3, &"m".repeat(70_000), vec![]));
}

#[test]
fn ok_response_round_trips() {
    for &id in &[0, u32::MAX] {
        assert_round_trip(ok_response(id, Value::Array(every_kind_of_param())));
    }
}

#[test]
fn ok_response_with_nil_result_round_trips() {
    assert_round_trip(ok_response(9, Value::Nil));
}

#[test]
fn err_response_round_trips() {
    for &id in &[0, u32::MAX] {
        assert_round_trip(err_response(id, s("boom")));
        assert_round_trip(err_response(id, Value::Map(vec![(s("code"), int(-2))])));
    }
}

#[test]
fn notification_with_every_kind_of_param_round_trips() {
    assert_round_trip(notification("every", every_kind_of_param()));
}

#[test]
fn notification_with_empty_params_round_trips() {
    assert_round_trip(notification("ping", vec![]));
}

#[test]
fn request_with_large_binary_and_string_params_round_trips() {
    // 70,000 bytes: past 65,535, so bin32 and str32 are used.
    let params = vec![
        Value::Binary(vec![0xab; 70_000]),
        Value::from("z".repeat(70_000)),
    ];
    assert_round_trip(request(5, "big", params));
}

#[test]
fn request_with_large_array_and_map_params_round_trips() {
    // 70,000 items: past 65,535, so array32 and map32 are used.
    let array = Value::Array((0..70_000).map(int).collect());
    let map = Value::Map((0..70_000).map(|i| (int(i), Value::Nil)).collect());
    assert_round_trip(request(5, "big", vec![array, map]));
}

#[test]
fn request_add_is_encoded_as_exact_bytes() {
    let msg = request(1, "add", vec![int(1), int(2)]);
    assert_eq!(
        encode(&msg),
        [0x94, 0x00, 0x01, 0xa3, 0x61, 0x64, 0x64, 0x92, 0x01, 0x02]
    );
}

#[test]
fn ok_response_is_encoded_with_nil_error_before_result() {
    assert_eq!(
        encode(&ok_response(1, int(3))),
        [0x94, 0x01, 0x01, 0xc0, 0x03]
    );
}

#[test]
fn err_response_is_encoded_with_nil_result_after_error() {
    assert_eq!(
        encode(&err_response(2, s("e"))),
        [0x94, 0x01, 0x02, 0xa1, 0x65, 0xc0]
    );
}

#[test]
fn notification_is_encoded_as_exact_bytes() {
    assert_eq!(
        encode(&notification("ping", vec![])),
        [0x93, 0x02, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0x90]
    );
}

#[test]
fn msgid_u32_max_is_encoded_as_uint32() {
    assert_eq!(
        encode(&request(u32::MAX, "", vec![])),
        [0x94, 0x00, 0xce, 0xff, 0xff, 0xff, 0xff, 0xa0, 0x90]
    );
}

#[test]
fn encoder_and_to_bytes_produce_the_same_bytes() {
    for msg in sample_stream() {
        assert_eq!(encode(&msg), msg.to_bytes().unwrap());
    }
}

#[test]
fn encoder_appends_without_disturbing_earlier_bytes() {
    let first = request(1, "add", vec![int(1), int(2)]);
    let second = notification("ping", vec![s("x")]);
    let mut buf = BytesMut::from(&b"earlier bytes"[..]);
    let mut codec = Codec::default();
    codec.encode(first.clone(), &mut buf).expect("encode");
    codec.encode(second.clone(), &mut buf).expect("encode");

    let mut expected = b"earlier bytes".to_vec();
    expected.extend(first.to_bytes().unwrap());
    expected.extend(second.to_bytes().unwrap());
    assert_eq!(&buf[..], &expected[..]);
}

#[test]
fn encode_message_appends_to_a_buffer_with_spare_capacity() {
    let msg = request(4, "m", vec![Value::Binary(vec![1; 1000])]);
    let mut buf = BytesMut::with_capacity(4096);
    buf.extend_from_slice(&[0xff, 0xfe]);
    Codec::default()
        .encode_message(&msg, &mut buf)
        .expect("encode");
    assert_eq!(&buf[..2], &[0xff, 0xfe]);
    assert_eq!(&buf[2..], &msg.to_bytes().unwrap()[..]);
}

/// A binary of exactly 2^32 bytes, one more than MessagePack can describe, or `None` when
/// the allocator refuses. The zeroed pages are mapped lazily by the kernel: they cost no
/// memory as long as nobody touches them, and an encoder that refuses the length first
/// never does.
#[cfg(target_pointer_width = "64")]
fn binary_of_4_gib() -> Option<Vec<u8>> {
    const LEN: usize = 1 << 32;
    let layout = std::alloc::Layout::array::<u8>(LEN).expect("layout");
    // Safety: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return None;
    }
    // Safety: allocated by the global allocator with the layout of a `Vec<u8>` of
    // capacity LEN, and every byte is initialised (to zero).
    Some(unsafe { Vec::from_raw_parts(ptr, LEN, LEN) })
}

#[cfg(target_pointer_width = "64")]
#[test]
fn nested_binary_too_long_for_messagepack_is_refused_and_the_buffer_left_as_it_was() {
    let huge = match binary_of_4_gib() {
        Some(huge) => huge,
        None => {
            eprintln!("skipped: the allocator refused 4 GiB of address space");
            return;
        }
    };
    let param = Value::Map(vec![(s("data"), Value::Binary(huge))]);
    let msg = request(1, "upload", vec![int(1), param]);
    let mut buf = BytesMut::from(&b"earlier"[..]);
    // Not `{:?}` on failure: that would print 4 GiB.
    match Codec::default().encode_message(&msg, &mut buf) {
        Err(err) => assert_eq!(err.kind(), io::ErrorKind::InvalidInput),
        Ok(()) => panic!("a 4 GiB binary was encoded into {} bytes", buf.len()),
    }
    assert_eq!(&buf[..], b"earlier");
}

#[test]
fn non_minimal_encodings_decode_to_the_same_values() {
    let bytes = [
        0xdd, 0, 0, 0, 4, // array32 of 4
        0xd0, 0x00, // int8 0: a request
        0xcf, 0, 0, 0, 0, 0, 0, 0, 42, // uint64 42: the msgid
        0xdb, 0, 0, 0, 3, b'a', b'd', b'd', // str32 "add"
        0xdc, 0, 5, // array16 of 5
        0xcc, 1, // uint8 1
        0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // int64 -1
        0xc6, 0, 0, 0, 2, 10, 11, // bin32 [10, 11]
        0xc9, 0, 0, 0, 1, 5, 0x63, // ext32 of type 5, one byte
        0xdf, 0, 0, 0, 1, 0xa1, b'k', 0xc0, // map32 {"k": nil}
    ];
    let expected = request(
        42,
        "add",
        vec![
            int(1),
            int(-1),
            Value::Binary(vec![10, 11]),
            Value::Ext(5, vec![0x63]),
            Value::Map(vec![(s("k"), Value::Nil)]),
        ],
    );
    assert_eq!(decode_bytes(&bytes), vec![Incoming::Message(expected)]);
}

#[test]
fn invalid_utf8_string_param_is_kept_as_is() {
    // [0, 1, "m", [<str with bytes ff fe>]]
    let bytes = [0x94, 0x00, 0x01, 0xa1, b'm', 0x91, 0xa2, 0xff, 0xfe];
    let items = decode_bytes(&bytes);
    let param = match &items[..] {
        [Incoming::Message(Message::Request(req))] => req.params[0].clone(),
        other => panic!("expected one request, got {:?}", other),
    };
    match param {
        Value::String(ref text) => {
            assert!(!text.is_str());
            assert_eq!(text.as_bytes(), &[0xff, 0xfe]);
        }
        ref other => panic!("expected a string, got {:?}", other),
    }
}

#[test]
fn invalid_utf8_string_param_is_re_encoded_as_a_string() {
    let bytes = [0x94, 0x00, 0x01, 0xa1, b'm', 0x91, 0xa2, 0xff, 0xfe];
    let msg = messages(decode_bytes(&bytes)).remove(0);
    assert_eq!(encode(&msg), bytes);
}

// ---------------------------------------------------------------------------------------
// Partial input
// ---------------------------------------------------------------------------------------

#[test]
fn decode_on_empty_buffer_returns_none() {
    let mut buf = BytesMut::new();
    assert_eq!(Codec::default().decode(&mut buf).expect("decode"), None);
    assert!(buf.is_empty());
}

#[test]
fn decode_returns_none_and_leaves_the_buffer_as_it_was_for_every_proper_prefix() {
    let msg = request(7, "every", every_kind_of_param());
    let bytes = encode(&msg);
    for len in 0..bytes.len() {
        let mut buf = BytesMut::from(&bytes[..len]);
        let result = Codec::default().decode(&mut buf).expect("decode");
        assert_eq!(result, None, "prefix of {} bytes", len);
        assert_eq!(&buf[..], &bytes[..len], "prefix of {} bytes", len);
    }
}

#[test]
fn decode_returns_none_for_every_proper_prefix_of_non_minimal_encodings() {
    // Every header and length field of the 16- and 32-bit forms, cut at every byte.
    let bytes = [
        0xdd, 0, 0, 0, 4, 0xd0, 0x00, 0xcf, 0, 0, 0, 0, 0, 0, 0, 42, 0xdb, 0, 0, 0, 3, b'a', b'd',
        b'd', 0xdc, 0, 4, 0xc6, 0, 0, 0, 2, 10, 11, 0xc9, 0, 0, 0, 1, 5, 0x63, 0xdf, 0, 0, 0, 1,
        0xda, 0, 1, b'k', 0xc5, 0, 1, 0xee, 0xde, 0, 1, 0xc0, 0xc8, 0, 1, 9, 0xaa,
    ];
    assert_eq!(decode_bytes(&bytes).len(), 1);
    for len in 0..bytes.len() {
        let mut buf = BytesMut::from(&bytes[..len]);
        let result = Codec::default().decode(&mut buf).expect("decode");
        assert_eq!(result, None, "prefix of {} bytes", len);
        assert_eq!(&buf[..], &bytes[..len], "prefix of {} bytes", len);
    }
}

#[test]
fn decode_returns_none_until_message_complete() {
    let msg = notification("ping", every_kind_of_param());
    let bytes = encode(&msg);
    let mut codec = Codec::default();
    let mut buf = BytesMut::new();
    for (i, &byte) in bytes.iter().enumerate() {
        buf.extend_from_slice(&[byte]);
        let result = codec.decode(&mut buf).expect("decode");
        if i + 1 < bytes.len() {
            assert_eq!(result, None, "after {} bytes", i + 1);
            assert_eq!(buf.len(), i + 1);
        } else {
            assert_eq!(result, Some(Incoming::Message(msg.clone())));
        }
    }
    assert!(buf.is_empty());
}

#[test]
fn decode_consumes_one_message_and_leaves_the_next_in_the_buffer() {
    let first = request(1, "add", vec![int(1), int(2)]);
    let second = encode(&notification("ping", vec![]));
    let mut bytes = encode(&first);
    bytes.extend_from_slice(&second[..3]);
    let mut buf = BytesMut::from(&bytes[..]);
    let mut codec = Codec::default();
    assert_eq!(
        codec.decode(&mut buf).expect("decode"),
        Some(Incoming::Message(first))
    );
    assert_eq!(&buf[..], &second[..3]);
    assert_eq!(codec.decode(&mut buf).expect("decode"), None);
    assert_eq!(&buf[..], &second[..3]);
}

#[test]
fn bytes_wanted_counts_the_missing_payload_bytes() {
    let msg = request(1, "blob", vec![Value::Binary(vec![0; 1000])]);
    let bytes = encode(&msg);
    let mut buf = BytesMut::from(&bytes[..20]);
    let mut codec = Codec::default();
    assert_eq!(codec.decode(&mut buf).expect("decode"), None);
    assert_eq!(codec.bytes_wanted(&buf), bytes.len() - 20);
}

#[test]
fn bytes_wanted_is_at_least_one_while_a_header_is_incomplete() {
    let mut buf = BytesMut::from(&[0xdd, 0, 0][..]);
    let mut codec = Codec::default();
    assert_eq!(codec.decode(&mut buf).expect("decode"), None);
    assert_eq!(codec.bytes_wanted(&buf), 1);
}

#[test]
fn a_codec_given_a_shorter_buffer_starts_over() {
    let long = encode(&request(1, "long", vec![Value::Binary(vec![0; 100])]));
    let short = request(2, "s", vec![]);
    let mut codec = Codec::default();
    let mut buf = BytesMut::from(&long[..50]);
    assert_eq!(codec.decode(&mut buf).expect("decode"), None);
    let mut other = BytesMut::from(&encode(&short)[..]);
    assert_eq!(
        codec.decode(&mut other).expect("decode"),
        Some(Incoming::Message(short))
    );
}

#[test]
fn decode_eof_with_a_partial_message_is_an_io_error() {
    let bytes = encode(&request(1, "add", vec![]));
    let mut buf = BytesMut::from(&bytes[..bytes.len() - 1]);
    match Codec::default().decode_eof(&mut buf) {
        Err(CodecError::Io(_)) => {}
        other => panic!("expected an I/O error, got {:?}", other),
    }
}

// ---------------------------------------------------------------------------------------
// Several messages, split anywhere
// ---------------------------------------------------------------------------------------

#[test]
fn several_messages_in_one_read_decode_in_order() {
    let msgs = sample_stream();
    assert_eq!(messages(decode_bytes(&encode_all(&msgs))), msgs);
}

#[test]
fn several_messages_decode_the_same_for_every_split_into_two_reads() {
    let msgs = sample_stream();
    let bytes = encode_all(&msgs);
    for cut in 0..=bytes.len() {
        assert_eq!(
            messages(decode_in_reads(&bytes, &[cut])),
            msgs,
            "cut at {}",
            cut
        );
    }
}

#[test]
fn several_messages_decode_the_same_when_delivered_one_byte_at_a_time() {
    let msgs = sample_stream();
    let bytes = encode_all(&msgs);
    let cuts: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(messages(decode_in_reads(&bytes, &cuts)), msgs);
}

// ---------------------------------------------------------------------------------------
// Invalid values are skipped
// ---------------------------------------------------------------------------------------

/// `Message::from_bytes` reports `reason` with no request id, and the codec skips the value
/// when it sits between two valid messages, whole or delivered byte by byte.
fn assert_skipped(invalid: &[u8], reason: InvalidMessage) {
    match Message::from_bytes(invalid) {
        Err(DecodeError::Invalid {
            request_id: None,
            reason: found,
        }) => assert_eq!(found, reason),
        other => panic!("expected Invalid {{ None, {:?} }}, got {:?}", reason, other),
    }
    let before = request(1, "before", vec![]);
    let after = notification("after", vec![int(2)]);
    let mut bytes = encode(&before);
    bytes.extend_from_slice(invalid);
    bytes.extend(encode(&after));
    let expected = vec![before, after];
    assert_eq!(messages(decode_bytes(&bytes)), expected);
    let cuts: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(messages(decode_in_reads(&bytes, &cuts)), expected);
}

#[test]
fn string_between_messages_is_skipped() {
    assert_skipped(&wire::encode(&s("hello")), InvalidMessage::NotAnArray);
}

#[test]
fn integer_between_messages_is_skipped() {
    assert_skipped(&wire::encode(&int(-5)), InvalidMessage::NotAnArray);
}

#[test]
fn nil_between_messages_is_skipped() {
    assert_skipped(&[0xc0], InvalidMessage::NotAnArray);
}

#[test]
fn map_between_messages_is_skipped() {
    let map = Value::Map(vec![(s("a"), Value::Array(vec![int(1), int(2)]))]);
    assert_skipped(&wire::encode(&map), InvalidMessage::NotAnArray);
}

#[test]
fn binary_between_messages_is_skipped() {
    assert_skipped(
        &wire::encode(&Value::Binary(vec![0x94; 300])),
        InvalidMessage::NotAnArray,
    );
}

#[test]
fn empty_array_is_skipped() {
    assert_skipped(&[0x90], InvalidMessage::UnknownType);
}

#[test]
fn array_with_type_7_is_skipped() {
    let value = Value::Array(vec![int(7), int(1), s("m"), Value::Array(vec![])]);
    assert_skipped(&wire::encode(&value), InvalidMessage::UnknownType);
}

#[test]
fn array_with_string_type_is_skipped() {
    let value = Value::Array(vec![s("0"), int(1), s("m"), Value::Array(vec![])]);
    assert_skipped(&wire::encode(&value), InvalidMessage::UnknownType);
}

#[test]
fn array_with_negative_type_is_skipped() {
    let value = Value::Array(vec![int(-1), int(1), s("m"), Value::Array(vec![])]);
    assert_skipped(&wire::encode(&value), InvalidMessage::UnknownType);
}

#[test]
fn one_item_request_is_skipped() {
    let wrong = InvalidMessage::WrongLength {
        kind: "request",
        expected: 4,
        found: 1,
    };
    assert_skipped(&[0x91, 0x00], wrong);
}

#[test]
fn five_item_request_without_readable_msgid_is_skipped() {
    let value = Value::Array(vec![int(0), s("x"), s("m"), Value::Array(vec![]), int(5)]);
    assert_skipped(&wire::encode(&value), InvalidMessage::InvalidMsgId);
}

#[test]
fn request_with_negative_msgid_is_skipped() {
    let value = Value::Array(vec![int(0), int(-1), s("m"), Value::Array(vec![])]);
    assert_skipped(&wire::encode(&value), InvalidMessage::InvalidMsgId);
}

#[test]
fn request_with_msgid_2_pow_32_is_skipped() {
    let value = Value::Array(vec![
        int(0),
        Value::from(1u64 << 32),
        s("m"),
        Value::Array(vec![]),
    ]);
    assert_skipped(&wire::encode(&value), InvalidMessage::InvalidMsgId);
}

#[test]
fn request_with_float_msgid_is_skipped() {
    let value = Value::Array(vec![int(0), Value::F64(1.0), s("m"), Value::Array(vec![])]);
    assert_skipped(&wire::encode(&value), InvalidMessage::InvalidMsgId);
}

#[test]
fn three_item_response_goes_to_its_caller_as_an_invalid_response() {
    let value = Value::Array(vec![int(1), int(1), Value::Nil]);
    let wrong = InvalidMessage::WrongLength {
        kind: "response",
        expected: 4,
        found: 3,
    };
    let after = notification("after", vec![]);
    let mut bytes = wire::encode(&value);
    bytes.extend(encode(&after));
    let expected = vec![
        Incoming::InvalidResponse {
            id: 1,
            reason: wrong,
        },
        Incoming::Message(after),
    ];
    assert_eq!(decode_bytes(&bytes), expected);
    let cuts: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(decode_in_reads(&bytes, &cuts), expected);
}

#[test]
fn response_whose_msgid_cannot_be_read_is_a_stream_error() {
    // Nobody can tell which call it answers: skipping it would leave that call waiting.
    let cases = [
        Value::Array(vec![int(1), Value::from(1u64 << 32), Value::Nil, int(1)]),
        Value::Array(vec![int(1), s("7"), Value::Nil, int(1)]),
        Value::Array(vec![int(1), int(-1), Value::Nil]),
        Value::Array(vec![int(1)]),
    ];
    for value in cases.iter() {
        let reason = match value.as_array().map(Vec::len) {
            Some(1) => InvalidMessage::WrongLength {
                kind: "response",
                expected: 4,
                found: 1,
            },
            _ => InvalidMessage::InvalidMsgId,
        };
        assert_eq!(
            failure(decode_error(Limits::default(), &wire::encode(value))),
            Failure::UnreadableResponse(reason),
            "{}",
            value
        );
    }
}

#[test]
fn four_item_notification_is_skipped() {
    let value = Value::Array(vec![int(2), s("m"), Value::Array(vec![]), int(9)]);
    let wrong = InvalidMessage::WrongLength {
        kind: "notification",
        expected: 3,
        found: 4,
    };
    assert_skipped(&wire::encode(&value), wrong);
}

#[test]
fn notification_with_integer_method_is_skipped() {
    let value = Value::Array(vec![int(2), int(5), Value::Array(vec![])]);
    assert_skipped(&wire::encode(&value), InvalidMessage::InvalidMethod);
}

#[test]
fn notification_with_map_params_is_skipped() {
    let value = Value::Array(vec![int(2), s("m"), Value::Map(vec![])]);
    assert_skipped(&wire::encode(&value), InvalidMessage::ParamsNotAnArray);
}

#[test]
fn skipped_value_before_a_partial_message_is_consumed_and_the_partial_one_kept() {
    let partial = encode(&request(1, "add", vec![int(1)]));
    let mut bytes = wire::encode(&s("junk"));
    bytes.extend_from_slice(&partial[..4]);
    let mut buf = BytesMut::from(&bytes[..]);
    assert_eq!(Codec::default().decode(&mut buf).expect("decode"), None);
    assert_eq!(&buf[..], &partial[..4]);
}

// ---------------------------------------------------------------------------------------
// Malformed requests with a readable msgid
// ---------------------------------------------------------------------------------------

/// The codec hands `invalid` over as an invalid request, then decodes the next message.
fn assert_invalid_request(invalid: &[u8], id: u32, reason: InvalidMessage) {
    let after = notification("after", vec![]);
    let mut bytes = invalid.to_vec();
    bytes.extend(encode(&after));
    assert_eq!(
        decode_bytes(&bytes),
        vec![
            Incoming::InvalidRequest { id, reason },
            Incoming::Message(after)
        ]
    );
}

#[test]
fn request_with_integer_method_is_an_invalid_request() {
    let value = Value::Array(vec![int(0), int(7), int(5), Value::Array(vec![])]);
    assert_invalid_request(&wire::encode(&value), 7, InvalidMessage::InvalidMethod);
}

#[test]
fn request_with_invalid_utf8_method_is_an_invalid_request() {
    let bytes = [0x94, 0x00, 0x07, 0xa2, 0xff, 0xfe, 0x90];
    assert_invalid_request(&bytes, 7, InvalidMessage::InvalidMethod);
}

#[test]
fn request_with_map_params_is_an_invalid_request() {
    let value = Value::Array(vec![int(0), int(7), s("m"), Value::Map(vec![])]);
    assert_invalid_request(&wire::encode(&value), 7, InvalidMessage::ParamsNotAnArray);
}

#[test]
fn request_with_nil_params_is_an_invalid_request() {
    let value = Value::Array(vec![int(0), Value::from(u32::MAX), s("m"), Value::Nil]);
    assert_invalid_request(
        &wire::encode(&value),
        u32::MAX,
        InvalidMessage::ParamsNotAnArray,
    );
}

#[test]
fn two_item_request_is_an_invalid_request() {
    let wrong = InvalidMessage::WrongLength {
        kind: "request",
        expected: 4,
        found: 2,
    };
    assert_invalid_request(&[0x92, 0x00, 0x07], 7, wrong);
}

#[test]
fn three_item_request_is_an_invalid_request() {
    let value = Value::Array(vec![int(0), int(7), s("m")]);
    let wrong = InvalidMessage::WrongLength {
        kind: "request",
        expected: 4,
        found: 3,
    };
    assert_invalid_request(&wire::encode(&value), 7, wrong);
}

#[test]
fn five_item_request_with_readable_msgid_is_an_invalid_request() {
    let value = Value::Array(vec![
        int(0),
        int(7),
        s("m"),
        Value::Array(vec![]),
        Value::Array(vec![int(1)]),
    ]);
    let wrong = InvalidMessage::WrongLength {
        kind: "request",
        expected: 4,
        found: 5,
    };
    assert_invalid_request(&wire::encode(&value), 7, wrong);
}

// ---------------------------------------------------------------------------------------
// Message::from_bytes: one message, checked like the codec checks a peer's bytes
// ---------------------------------------------------------------------------------------

#[test]
fn from_bytes_decodes_exactly_what_to_bytes_encoded() {
    for msg in sample_stream() {
        assert_eq!(Message::from_bytes(&encode(&msg)).unwrap(), msg);
    }
}

#[test]
fn from_bytes_says_truncated_for_every_cut_of_a_message() {
    let bytes = encode(&request(7, "add", vec![int(1), s("two")]));
    for cut in 0..bytes.len() {
        match Message::from_bytes(&bytes[..cut]) {
            Err(DecodeError::Truncated) => {}
            other => panic!("cut at {}: expected Truncated, got {:?}", cut, other),
        }
    }
}

#[test]
fn from_bytes_refuses_bytes_after_the_message() {
    let mut bytes = encode(&notification("ping", vec![]));
    bytes.extend_from_slice(&[0xc0, 0xc0]);
    match Message::from_bytes(&bytes) {
        Err(err @ DecodeError::TrailingBytes { count: 2 }) => assert_eq!(
            err.to_string(),
            "2 bytes follow the message: to read a stream of messages, use the Codec"
        ),
        other => panic!("expected TrailingBytes, got {:?}", other),
    }
}

#[test]
fn from_bytes_is_safe_on_a_megabyte_of_0x91() {
    let bytes = vec![0x91; 1024 * 1024];
    match Message::from_bytes(&bytes) {
        Err(DecodeError::Corrupt(CodecError::TooDeep { limit })) => {
            assert_eq!(limit, Limits::default().max_depth)
        }
        other => panic!("expected TooDeep, got {:?}", other),
    }
}

#[test]
fn from_bytes_refuses_a_header_over_the_size_limit_as_too_large_not_truncated() {
    // A binary that declares 4 GiB - 1 bytes, as the params of a notification.
    let bytes = [0x93, 0x02, 0xa1, b'm', 0x91, 0xc6, 0xff, 0xff, 0xff, 0xff];
    match Message::from_bytes(&bytes) {
        Err(DecodeError::Corrupt(CodecError::TooLarge { .. })) => {}
        other => panic!("expected TooLarge, got {:?}", other),
    }
}

// ---------------------------------------------------------------------------------------
// Hostile input and limits
// ---------------------------------------------------------------------------------------

#[test]
fn a_megabyte_of_0x91_is_too_deep() {
    let bytes = vec![0x91; 1024 * 1024];
    match decode_error(Limits::default(), &bytes) {
        CodecError::TooDeep { limit } => assert_eq!(limit, Limits::default().max_depth),
        other => panic!("expected TooDeep, got {:?}", other),
    }
}

#[test]
fn a_megabyte_of_0x81_is_too_deep() {
    // A map whose first key is a map whose first key is a map...
    let bytes = vec![0x81; 1024 * 1024];
    match decode_error(Limits::default(), &bytes) {
        CodecError::TooDeep { limit } => assert_eq!(limit, Limits::default().max_depth),
        other => panic!("expected TooDeep, got {:?}", other),
    }
}

/// A header declaring a huge value, and nothing after it: refused at once, the buffer
/// left as it was (nothing was reserved for the declared size).
fn assert_too_large_header(header: &[u8], size: u64) {
    let mut buf = BytesMut::from(header);
    let capacity = buf.capacity();
    match Codec::default().decode(&mut buf) {
        Err(CodecError::TooLarge { limit, size: found }) => {
            assert_eq!(limit, 16 * 1024 * 1024);
            assert_eq!(found, size);
        }
        other => panic!("expected TooLarge, got {:?}", other),
    }
    assert_eq!(&buf[..], header);
    assert_eq!(buf.capacity(), capacity);
}

#[test]
fn array32_header_declaring_4_gib_items_is_too_large() {
    assert_too_large_header(&[0xdd, 0xff, 0xff, 0xff, 0xff], 5 + 0xffff_ffff);
}

#[test]
fn map32_header_declaring_4_gib_entries_is_too_large() {
    assert_too_large_header(&[0xdf, 0xff, 0xff, 0xff, 0xff], 5 + 2 * 0xffff_ffff);
}

#[test]
fn str32_header_declaring_4_gib_is_too_large() {
    assert_too_large_header(&[0xdb, 0xff, 0xff, 0xff, 0xff], 5 + 0xffff_ffff);
}

#[test]
fn bin32_header_declaring_4_gib_is_too_large() {
    assert_too_large_header(&[0xc6, 0xff, 0xff, 0xff, 0xff], 5 + 0xffff_ffff);
}

#[test]
fn ext32_header_declaring_4_gib_is_too_large() {
    assert_too_large_header(&[0xc9, 0xff, 0xff, 0xff, 0xff], 6 + 0xffff_ffff);
}

#[test]
fn bin32_param_declaring_4_gib_is_too_large_counting_the_bytes_before_it() {
    // [0, 1, "m", [<bin32 of 4 GiB>: 12 bytes of header before the payload.
    let bytes = [
        0x94, 0x00, 0x01, 0xa1, b'm', 0x91, 0xc6, 0xff, 0xff, 0xff, 0xff,
    ];
    assert_too_large_header(&bytes, 11 + 0xffff_ffff);
}

#[test]
fn message_of_exactly_max_message_size_is_accepted() {
    let msg = request(1, "blob", vec![Value::Binary(vec![0; 500])]);
    let bytes = encode(&msg);
    let limits = Limits {
        max_message_size: bytes.len(),
        ..Limits::default()
    };
    let mut buf = BytesMut::from(&bytes[..]);
    assert_eq!(
        Codec::new(limits).decode(&mut buf).expect("decode"),
        Some(Incoming::Message(msg))
    );
}

#[test]
fn message_one_byte_over_max_message_size_is_too_large() {
    let bytes = encode(&request(1, "blob", vec![Value::Binary(vec![0; 500])]));
    let limits = Limits {
        max_message_size: bytes.len() - 1,
        ..Limits::default()
    };
    match decode_error(limits, &bytes) {
        CodecError::TooLarge { limit, size } => {
            assert_eq!(limit, bytes.len() - 1);
            assert_eq!(size, bytes.len() as u64);
        }
        other => panic!("expected TooLarge, got {:?}", other),
    }
}

#[test]
fn array_declaring_more_items_than_bytes_left_in_the_limit_is_too_large() {
    // An array16 of 1000 items needs at least 1003 bytes; the limit is 1000.
    let limits = Limits {
        max_message_size: 1000,
        ..Limits::default()
    };
    match decode_error(limits, &[0xdc, 0x03, 0xe8]) {
        CodecError::TooLarge { limit, size } => {
            assert_eq!(limit, 1000);
            assert_eq!(size, 1003);
        }
        other => panic!("expected TooLarge, got {:?}", other),
    }
}

#[test]
fn reserved_byte_0xc1_is_not_messagepack() {
    match decode_error(Limits::default(), &[0xc1]) {
        CodecError::NotMessagePack { byte, offset } => {
            assert_eq!(byte, 0xc1);
            assert_eq!(offset, 0);
        }
        other => panic!("expected NotMessagePack, got {:?}", other),
    }
}

#[test]
fn reserved_byte_inside_a_message_reports_its_offset() {
    // [0, 1, "m", [0xc1]]: the bad byte is at offset 6.
    let bytes = [0x94, 0x00, 0x01, 0xa1, b'm', 0x91, 0xc1];
    match decode_error(Limits::default(), &bytes) {
        CodecError::NotMessagePack { byte, offset } => {
            assert_eq!(byte, 0xc1);
            assert_eq!(offset, 6);
        }
        other => panic!("expected NotMessagePack, got {:?}", other),
    }
}

#[test]
fn reserved_byte_after_a_valid_message_comes_after_that_message() {
    let msg = request(1, "add", vec![]);
    let mut bytes = encode(&msg);
    bytes.push(0xc1);
    let mut buf = BytesMut::from(&bytes[..]);
    let mut codec = Codec::default();
    assert_eq!(
        codec.decode(&mut buf).expect("decode"),
        Some(Incoming::Message(msg))
    );
    match codec.decode(&mut buf) {
        Err(CodecError::NotMessagePack {
            byte: 0xc1,
            offset: 0,
        }) => {}
        other => panic!("expected NotMessagePack at offset 0, got {:?}", other),
    }
}

/// `msg` encodes to exactly `count` values: the message array, its items and every value
/// nested in them (a map entry counts as two).
fn values_in(msg: &Message) -> usize {
    fn count(value: &Value) -> usize {
        1 + match value {
            Value::Array(items) => items.iter().map(count).sum(),
            Value::Map(entries) => entries.iter().map(|(k, v)| count(k) + count(v)).sum(),
            _ => 0,
        }
    }
    match msg {
        Message::Request(req) => 4 + 1 + req.params.iter().map(count).sum::<usize>(),
        _ => unimplemented!("only requests are counted"),
    }
}

#[test]
fn message_with_exactly_max_values_is_accepted() {
    let msg = request(1, "m", vec![int(1), Value::Map(vec![(s("k"), int(2))])]);
    let limits = Limits {
        max_values: values_in(&msg),
        ..Limits::default()
    };
    assert_eq!(limits.max_values, 9);
    let mut buf = BytesMut::from(&encode(&msg)[..]);
    assert_eq!(
        Codec::new(limits).decode(&mut buf).expect("decode"),
        Some(Incoming::Message(msg))
    );
}

#[test]
fn message_with_one_value_over_max_values_is_refused() {
    let msg = request(1, "m", vec![int(1), Value::Map(vec![(s("k"), int(2))])]);
    let limits = Limits {
        max_values: values_in(&msg) - 1,
        ..Limits::default()
    };
    match decode_error(limits, &encode(&msg)) {
        CodecError::TooManyValues { limit } => assert_eq!(limit, 8),
        other => panic!("expected TooManyValues, got {:?}", other),
    }
}

#[test]
fn array_declaring_more_items_than_max_values_is_refused_at_its_header() {
    let limits = Limits {
        max_values: 100,
        ..Limits::default()
    };
    // An array16 header declaring 1000 items, and nothing else yet.
    match decode_error(limits, &[0xdc, 0x03, 0xe8]) {
        CodecError::TooManyValues { limit } => assert_eq!(limit, 100),
        other => panic!("expected TooManyValues, got {:?}", other),
    }
}

#[test]
fn default_max_values_refuses_a_message_of_small_integers_over_it() {
    // One byte per value: 2 Mi values fit in 16 MiB but are over the 1 Mi default.
    let mut bytes = vec![0x94, 0x00, 0x01, 0xa1, b'm', 0xdd, 0x00, 0x20, 0x00, 0x00];
    bytes.resize(bytes.len() + 2 * 1024 * 1024, 0x01);
    match decode_error(Limits::default(), &bytes) {
        CodecError::TooManyValues { limit } => assert_eq!(limit, 1024 * 1024),
        other => panic!("expected TooManyValues, got {:?}", other),
    }
}

#[test]
fn value_count_starts_over_for_each_message() {
    let msg = request(1, "m", vec![int(1), int(2), int(3)]);
    let limits = Limits {
        max_values: values_in(&msg),
        ..Limits::default()
    };
    let bytes = encode_all(&[msg.clone(), msg.clone(), msg.clone()]);
    let mut buf = BytesMut::from(&bytes[..]);
    let items = decode_all(&mut Codec::new(limits), &mut buf);
    assert_eq!(messages(items), vec![msg.clone(), msg.clone(), msg]);
}

#[test]
fn custom_max_depth_accepts_a_message_exactly_that_deep() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let msg = request(1, "m", vec![Value::Array(vec![int(1)])]);
    let mut buf = BytesMut::from(&encode(&msg)[..]);
    assert_eq!(
        Codec::new(limits).decode(&mut buf).expect("decode"),
        Some(Incoming::Message(msg))
    );
}

#[test]
fn custom_max_depth_refuses_one_level_more() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let msg = request(1, "m", vec![Value::Array(vec![Value::Array(vec![])])]);
    match decode_error(limits, &encode(&msg)) {
        CodecError::TooDeep { limit } => assert_eq!(limit, 3),
        other => panic!("expected TooDeep, got {:?}", other),
    }
}

#[test]
fn maps_count_towards_the_depth() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let inner = Value::Map(vec![(s("k"), Value::Map(vec![]))]);
    let msg = request(1, "m", vec![inner]);
    match decode_error(limits, &encode(&msg)) {
        CodecError::TooDeep { limit } => assert_eq!(limit, 3),
        other => panic!("expected TooDeep, got {:?}", other),
    }
}

#[test]
fn depth_starts_over_for_each_message() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let msg = request(1, "m", vec![Value::Array(vec![int(1)])]);
    let bytes = encode_all(&[msg.clone(), msg.clone()]);
    let mut buf = BytesMut::from(&bytes[..]);
    let items = decode_all(&mut Codec::new(limits), &mut buf);
    assert_eq!(messages(items), vec![msg.clone(), msg]);
}

#[test]
fn default_max_depth_is_safe_on_a_2_mib_stack() {
    let depth = Limits::default().max_depth;
    let msg = request_nested(depth);
    let bytes = encode(&msg);
    let worker = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let mut buf = BytesMut::from(&bytes[..]);
            let decoded = match Codec::default().decode(&mut buf) {
                Ok(Some(Incoming::Message(msg))) => msg,
                other => panic!("expected a message, got {:?}", other),
            };
            let copy = decoded.clone();
            let mut out = BytesMut::new();
            Codec::default().encode(copy, &mut out).expect("encode");
            assert_eq!(&out[..], &bytes[..]);
            decoded == msg
        })
        .expect("spawning a thread");
    assert!(worker.join().expect("the decoding thread panicked"));
}

#[test]
fn default_max_depth_refuses_one_level_more() {
    let depth = Limits::default().max_depth;
    match decode_error(Limits::default(), &encode(&request_nested(depth + 1))) {
        CodecError::TooDeep { limit } => assert_eq!(limit, depth),
        other => panic!("expected TooDeep, got {:?}", other),
    }
}

#[test]
fn too_deep_message_names_the_limit() {
    let text = CodecError::TooDeep { limit: 64 }.to_string();
    assert!(text.contains("64"), "{}", text);
    assert!(text.contains("max_depth"), "{}", text);
}

#[test]
fn too_large_message_names_the_limit_and_the_size() {
    let text = CodecError::TooLarge {
        limit: 16_777_216,
        size: 4_294_967_300,
    }
    .to_string();
    assert!(text.contains("16777216"), "{}", text);
    assert!(text.contains("4294967300"), "{}", text);
    assert!(text.contains("max_message_size"), "{}", text);
}

// ---------------------------------------------------------------------------------------
// The one-pass decoder and the scanner agree
// ---------------------------------------------------------------------------------------

/// Decodes `bytes` whole (the one-pass decoder) and one byte at a time (the scanner),
/// checks that both come to the same, and returns it.
fn same_whole_and_byte_by_byte(limits: Limits, bytes: &[u8]) -> (Vec<Incoming>, End) {
    let whole = outcome(limits, bytes, &[]);
    assert_eq!(outcome(limits, bytes, &[1]), whole, "bytes {:02x?}", bytes);
    whole
}

#[test]
fn a_message_complete_but_for_its_last_byte_waits_with_the_buffer_untouched() {
    for msg in sample_stream() {
        let bytes = encode(&msg);
        let (all_but_last, _) = bytes.split_at(bytes.len() - 1);
        let mut codec = Codec::default();
        let mut buf = BytesMut::from(all_but_last);
        assert_eq!(codec.decode(&mut buf).expect("decode"), None, "{:?}", msg);
        assert_eq!(&buf[..], all_but_last);
        assert_eq!(codec.bytes_wanted(&buf), 1);
        buf.extend_from_slice(&bytes[bytes.len() - 1..]);
        assert_eq!(
            codec.decode(&mut buf).expect("decode"),
            Some(Incoming::Message(msg))
        );
        assert!(buf.is_empty());
    }
}

#[test]
fn a_reserved_byte_in_a_whole_message_is_reported_as_the_scanner_reports_it() {
    // [0, 1, "m", [1, 0xc1]], whole.
    let bytes = [0x94, 0x00, 0x01, 0xa1, b'm', 0x92, 0x01, 0xc1];
    let (items, end) = same_whole_and_byte_by_byte(Limits::default(), &bytes);
    assert!(items.is_empty());
    assert_eq!(
        end,
        End::Failed(Failure::NotMessagePack {
            byte: 0xc1,
            offset: 7
        })
    );
}

#[test]
fn a_reserved_byte_inside_an_array_longer_than_the_buffer_is_still_reported() {
    // [0, 1, "m", [0xc1, ...14 more]]: the array cannot be whole, the bad byte is there.
    let bytes = [0x94, 0x00, 0x01, 0xa1, b'm', 0x9f, 0xc1];
    let (_, end) = same_whole_and_byte_by_byte(Limits::default(), &bytes);
    assert_eq!(
        end,
        End::Failed(Failure::NotMessagePack {
            byte: 0xc1,
            offset: 6
        })
    );
}

#[test]
fn a_limit_broken_in_the_middle_of_a_whole_message_is_reported_as_the_scanner_reports_it() {
    let msg = request(
        1,
        "m",
        vec![int(1), Value::Map(vec![(s("k"), nested(3, Value::Nil))])],
    );
    let bytes = encode(&msg);
    let too_deep = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let (_, end) = same_whole_and_byte_by_byte(too_deep, &bytes);
    assert_eq!(end, End::Failed(Failure::TooDeep { limit: 3 }));
    let too_many = Limits {
        max_values: 8,
        ..Limits::default()
    };
    let (_, end) = same_whole_and_byte_by_byte(too_many, &bytes);
    assert_eq!(end, End::Failed(Failure::TooManyValues { limit: 8 }));
}

#[test]
fn a_whole_message_over_the_size_limit_is_refused_with_the_size_its_header_declares() {
    // The whole message is in the buffer, and more than the limit: the answer is the
    // one its header gets when it arrives alone.
    let msg = request(1, "blob", vec![Value::Binary(vec![7; 100])]);
    let bytes = encode(&msg);
    let limits = Limits {
        max_message_size: 50,
        ..Limits::default()
    };
    let (_, end) = same_whole_and_byte_by_byte(limits, &bytes);
    assert_eq!(
        end,
        End::Failed(Failure::TooLarge {
            limit: 50,
            size: bytes.len() as u64
        })
    );
}

#[test]
fn a_skipped_value_then_a_message_decode_the_same_whole_and_byte_by_byte() {
    let mut bytes = wire::encode(&Value::Map(vec![(s("not"), s("a message"))]));
    bytes.extend(encode(&request(3, "add", vec![int(1), int(2)])));
    bytes.extend(wire::encode(&Value::Array(vec![
        int(0),
        s("bad msgid"),
        s("m"),
        Value::Array(vec![]),
    ])));
    let (items, end) = same_whole_and_byte_by_byte(Limits::default(), &bytes);
    assert_eq!(
        items,
        vec![Incoming::Message(request(3, "add", vec![int(1), int(2)]))]
    );
    assert_eq!(end, End::NeedMore(vec![]));
}

// ---------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------

/// Any value without children. Floats exclude NaN, which is not equal to itself.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f32>()
            .prop_filter("NaN != NaN", |f| !f.is_nan())
            .prop_map(Value::F32),
        any::<f64>()
            .prop_filter("NaN != NaN", |f| !f.is_nan())
            .prop_map(Value::F64),
        ".{0,40}".prop_map(Value::from),
        vec(any::<u8>(), 0..300).prop_map(Value::Binary),
        (any::<i8>(), vec(any::<u8>(), 0..20)).prop_map(|(ty, data)| Value::Ext(ty, data)),
    ]
}

/// Any value, nesting at most 4 levels of arrays and maps.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((inner.clone(), inner), 0..4).prop_map(Value::Map),
        ]
    })
}

fn message() -> impl Strategy<Value = Message> {
    let method = ".{0,20}";
    let params = || vec(value(), 0..4);
    prop_oneof![
        (any::<u32>(), method, params())
            .prop_map(|(id, method, params)| { Message::Request(Request { id, method, params }) }),
        (any::<u32>(), value()).prop_map(|(id, result)| ok_response(id, result)),
        // A nil error reads back as success: the protocol cannot tell them apart.
        (
            any::<u32>(),
            value().prop_filter("nil error", |v| !v.is_nil())
        )
            .prop_map(|(id, error)| err_response(id, error)),
        (method, params()).prop_map(|(method, params)| {
            Message::Notification(Notification { method, params })
        }),
    ]
}

/// Bytes that look like MessagePack often enough to get past the first marker: random
/// bytes, whole encoded messages, truncated ones and single interesting markers.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        vec(any::<u8>(), 0..64),
        message().prop_map(|msg| msg.to_bytes().unwrap()),
        (message(), any::<Index>()).prop_map(|(msg, cut)| {
            let bytes = msg.to_bytes().unwrap();
            bytes[..cut.index(bytes.len())].to_vec()
        }),
        prop::sample::select(vec![
            0x90u8, 0x91, 0x94, 0x80, 0x81, 0xc1, 0xdc, 0xdd, 0xde, 0xdf, 0xc4, 0xc6, 0xdb, 0xc9,
            0xd8,
        ])
        .prop_map(|byte| vec![byte]),
    ];
    vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

/// Small limits, so that random input reaches them.
fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        (1usize..8, 1usize..2048, 1usize..64).prop_map(|(max_depth, size, values)| Limits {
            max_depth,
            max_message_size: size,
            max_values: values,
        }),
    ]
}

/// Sorted, distinct offsets into `0..=len` taken from `picks`.
fn cuts(len: usize, picks: &[Index]) -> Vec<usize> {
    let mut cuts: Vec<usize> = picks.iter().map(|pick| pick.index(len + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..2048), limits in limits()) {
        outcome(limits, &bytes, &[]);
    }

    #[test]
    fn arbitrary_bytes_decode_the_same_in_random_chunks_as_whole(
        bytes in hostile_bytes(),
        limits in limits(),
        sizes in vec(1usize..40, 1..16),
    ) {
        let whole = outcome(limits, &bytes, &[]);
        let chunked = outcome(limits, &bytes, &sizes);
        prop_assert_eq!(chunked, whole);
    }

    #[test]
    fn arbitrary_bytes_decode_the_same_one_byte_at_a_time_as_whole(
        bytes in hostile_bytes(),
        limits in limits(),
    ) {
        // Whole: the one-pass decoder answers, unless a value is cut short. One byte at
        // a time: the scanner finds the end of every value before it is decoded.
        let whole = outcome(limits, &bytes, &[]);
        let byte_by_byte = outcome(limits, &bytes, &[1]);
        prop_assert_eq!(byte_by_byte, whole);
    }

    #[test]
    fn arbitrary_messages_round_trip(msg in message()) {
        let bytes = encode(&msg);
        prop_assert_eq!(&bytes, &msg.to_bytes().unwrap());
        prop_assert_eq!(decode_bytes(&bytes), vec![Incoming::Message(msg)]);
    }

    #[test]
    fn arbitrary_message_streams_split_anywhere_decode_to_the_original_list(
        msgs in vec(message(), 1..8),
        picks in vec(any::<Index>(), 0..12),
    ) {
        let bytes = encode_all(&msgs);
        let cuts = cuts(bytes.len(), &picks);
        prop_assert_eq!(messages(decode_in_reads(&bytes, &cuts)), msgs);
    }
}
