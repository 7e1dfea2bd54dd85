//! Chapter 2.1 shows the error the naive encoder of `tests/naive_encoder.rs` returns for
//! a message larger than `Framed`'s first buffer: check the chapter shows it as it is.

use std::fs;

use bytes::{BufMut, BytesMut};
use minirpc::message::{Message, Notification};
use rmpv::Value;

#[test]
fn chapter_2_1_shows_the_naive_encoders_error() {
    let big = Message::Notification(Notification {
        method: "log".into(),
        params: vec![Value::from("x".repeat(10_000))],
    });
    // What `naive_encode` does: write through `BufMut::writer`, into Framed's 8 KiB.
    let dst = BytesMut::with_capacity(8 * 1024);
    let err = big.encode(&mut dst.writer()).unwrap_err();
    let shown = format!("{:?}", err);

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../src/ch02-01-codec.md");
    let chapter = fs::read_to_string(path).unwrap();
    assert!(
        chapter.contains(&shown),
        "chapter 2.1 should show the error `{}`",
        shown
    );
}
