// ANCHOR: all
//! The first encoder that comes to mind, and the message that makes it fail.

use std::io;

use bytes::{BufMut, BytesMut};
use minirpc::message::{Message, Notification};
use rmpv::Value;

// ANCHOR: naive_encode
fn naive_encode(message: Message, dst: &mut BytesMut) -> io::Result<()> {
    message.encode(&mut dst.writer())
}
// ANCHOR_END: naive_encode

/// The size of the buffer tokio-io's `Framed` starts with.
const FRAMED_INITIAL_CAPACITY: usize = 8 * 1024;

fn notification_with(payload: usize) -> Message {
    Message::Notification(Notification {
        method: "log".into(),
        params: vec![Value::from("x".repeat(payload))],
    })
}

#[test]
fn naive_encoder_works_for_small_messages() {
    let mut dst = BytesMut::with_capacity(FRAMED_INITIAL_CAPACITY);
    naive_encode(notification_with(100), &mut dst).unwrap();
    assert!(dst.len() > 100);
}

#[test]
fn naive_encoder_fails_once_the_buffer_is_full() {
    let mut dst = BytesMut::with_capacity(FRAMED_INITIAL_CAPACITY);
    let err = naive_encode(notification_with(10_000), &mut dst).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WriteZero);
}
// ANCHOR_END: all
