//! MessagePack-RPC messages built by hand: as rmpv values for the raw peer (none of the
//! crate's code, so that a test of the crate does not check it against itself), and, in
//! [`message`], as the crate's own `Message` for tests that look at what it decodes.

use rmpv::Value;

/// `[0, id, method, params]`. The msgid is a u64 so that a test can send one that does
/// not fit the protocol's u32.
pub fn request(id: u64, method: &str, params: Vec<Value>) -> Value {
    Value::Array(vec![
        0.into(),
        id.into(),
        method.into(),
        Value::Array(params),
    ])
}

/// `[1, id, nil, result]`.
pub fn ok_response(id: u64, result: Value) -> Value {
    Value::Array(vec![1.into(), id.into(), Value::Nil, result])
}

/// `[1, id, error, nil]`.
pub fn err_response(id: u64, error: Value) -> Value {
    Value::Array(vec![1.into(), id.into(), error, Value::Nil])
}

/// `[2, method, params]`.
pub fn notification(method: &str, params: Vec<Value>) -> Value {
    Value::Array(vec![2.into(), method.into(), Value::Array(params)])
}

/// `innermost` wrapped in `levels` single-item arrays.
pub fn nested(levels: usize, innermost: Value) -> Value {
    (0..levels).fold(innermost, |inner, _| Value::Array(vec![inner]))
}

/// Any value, encoded by rmpv (which trusts us: it is our own output).
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).expect("writing to a Vec cannot fail");
    out
}

/// Every complete value at the start of `bytes`, decoded by rmpv; stops at the first
/// that is cut short or invalid.
pub fn decode_values(bytes: &[u8]) -> Vec<Value> {
    let mut rd = bytes;
    let mut values = Vec::new();
    while !rd.is_empty() {
        match rmpv::decode::read_value(&mut rd) {
            Ok(value) => values.push(value),
            Err(_) => break,
        }
    }
    values
}

/// A response as a peer sees it: msgid, then `Ok(result)` or `Err(error)`; `None` for
/// any other value.
pub fn parse_response(value: &Value) -> Option<(u64, Result<Value, Value>)> {
    match value.as_array().map(|items| &items[..]) {
        Some([kind, id, error, result]) if kind.as_u64() == Some(1) => {
            let id = id.as_u64()?;
            Some(if error.is_nil() {
                (id, Ok(result.clone()))
            } else {
                (id, Err(error.clone()))
            })
        }
        _ => None,
    }
}

/// The same messages as the crate's `Message`, and a stream of them decoded by its codec.
pub mod message {
    use bytes::BytesMut;
    use rmp_rpc_demo::codec::{Codec, Incoming};
    use rmp_rpc_demo::message::{Message, Notification, Request, Response};
    use rmp_rpc_demo::Value;
    use tokio_io::codec::Decoder;

    pub fn request(id: u32, method: &str, params: Vec<Value>) -> Message {
        Message::Request(Request {
            id,
            method: method.to_string(),
            params,
        })
    }

    pub fn ok_response(id: u32, result: Value) -> Message {
        Message::Response(Response {
            id,
            result: Ok(result),
        })
    }

    pub fn err_response(id: u32, error: Value) -> Message {
        Message::Response(Response {
            id,
            result: Err(error),
        })
    }

    pub fn notification(method: &str, params: Vec<Value>) -> Message {
        Message::Notification(Notification {
            method: method.to_string(),
            params,
        })
    }

    /// Every whole message at the start of `bytes`, decoded by our codec with its default
    /// limits (a message cut short at the end is left out); panics on a stream error or an
    /// invalid request: the bytes must be a valid MessagePack-RPC stream.
    pub fn decode_stream(bytes: &[u8]) -> Vec<Message> {
        let mut codec = Codec::default();
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(item) = codec
            .decode(&mut buf)
            .expect("a valid MessagePack-RPC stream")
        {
            match item {
                Incoming::Message(msg) => out.push(msg),
                Incoming::InvalidRequest { id, reason } => {
                    panic!("invalid request {} on the wire: {}", id, reason)
                }
                Incoming::InvalidResponse { id, reason } => {
                    panic!("invalid response {} on the wire: {}", id, reason)
                }
            }
        }
        out
    }
}
