// ANCHOR: all
//! The three MessagePack-RPC messages.

use std::convert::TryFrom;
use std::io::{self, Read, Write};

use rmpv::decode::read_value;
use rmpv::Value;

use crate::errors::DecodeError;

// ANCHOR: types
/// A MessagePack-RPC message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `[0, msgid, method, params]`: a call that expects an answer.
    Request(Request),
    /// `[1, msgid, error, result]`: the answer to a request.
    Response(Response),
    /// `[2, method, params]`: a call that expects no answer.
    Notification(Notification),
}

/// A call that expects a [`Response`] with the same `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Chosen by the caller, echoed in the response.
    pub id: u32,
    /// The name of the procedure to call.
    pub method: String,
    /// The arguments.
    pub params: Vec<Value>,
}

/// The answer to the [`Request`] with the same `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The id of the request this answers.
    pub id: u32,
    /// `Ok(result)` when the error item is nil, `Err(error)` otherwise.
    pub result: Result<Value, Value>,
}

/// A call that expects no answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The name of the procedure to call.
    pub method: String,
    /// The arguments.
    pub params: Vec<Value>,
}
// ANCHOR_END: types

// ANCHOR: type_tags
/// The first item of each message array says which message it is.
const REQUEST: u64 = 0;
const RESPONSE: u64 = 1;
const NOTIFICATION: u64 = 2;
// ANCHOR_END: type_tags

impl Message {
    // ANCHOR: decode
    /// Reads one MessagePack value from `rd` and turns it into a message.
    ///
    /// The whole value is read even when it is not a valid message, so that the
    /// next call starts at the next value.
    pub fn decode<R: Read>(rd: &mut R) -> Result<Message, DecodeError> {
        let value = read_value(rd)?;
        Message::from_value(value).ok_or(DecodeError::Invalid)
    }
    // ANCHOR_END: decode

    // ANCHOR: from_value
    /// `None` when `value` does not have the shape of one of the three messages.
    fn from_value(value: Value) -> Option<Message> {
        let items = match value {
            Value::Array(items) => items,
            _ => return None,
        };
        let message = match items.as_slice() {
            [kind, id, method, params] if kind.as_u64() == Some(REQUEST) => {
                Message::Request(Request {
                    id: msgid(id)?,
                    method: method.as_str()?.to_owned(),
                    params: params.as_array()?.clone(),
                })
            }
            [kind, id, error, result] if kind.as_u64() == Some(RESPONSE) => {
                Message::Response(Response {
                    id: msgid(id)?,
                    result: match error {
                        Value::Nil => Ok(result.clone()),
                        error => Err(error.clone()),
                    },
                })
            }
            [kind, method, params] if kind.as_u64() == Some(NOTIFICATION) => {
                Message::Notification(Notification {
                    method: method.as_str()?.to_owned(),
                    params: params.as_array()?.clone(),
                })
            }
            _ => return None,
        };
        Some(message)
    }
    // ANCHOR_END: from_value

    // ANCHOR: encode
    /// The message as the MessagePack array that goes on the wire.
    pub fn as_value(&self) -> Value {
        match self {
            Message::Request(req) => Value::Array(vec![
                Value::from(REQUEST),
                Value::from(req.id),
                Value::from(req.method.as_str()),
                Value::Array(req.params.clone()),
            ]),
            Message::Response(resp) => {
                let (error, result) = match &resp.result {
                    Ok(result) => (Value::Nil, result.clone()),
                    Err(error) => (error.clone(), Value::Nil),
                };
                Value::Array(vec![
                    Value::from(RESPONSE),
                    Value::from(resp.id),
                    error,
                    result,
                ])
            }
            Message::Notification(note) => Value::Array(vec![
                Value::from(NOTIFICATION),
                Value::from(note.method.as_str()),
                Value::Array(note.params.clone()),
            ]),
        }
    }

    /// Writes the message to `wr`.
    pub fn encode<W: Write>(&self, wr: &mut W) -> io::Result<()> {
        rmpv::encode::write_value(wr, &self.as_value())?;
        Ok(())
    }
    // ANCHOR_END: encode
}

// ANCHOR: msgid
/// A msgid is an unsigned 32-bit integer: refuse anything else rather than truncate it.
fn msgid(value: &Value) -> Option<u32> {
    value.as_u64().and_then(|id| u32::try_from(id).ok())
}
// ANCHOR_END: msgid

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(msg: Message) {
        let mut bytes = Vec::new();
        msg.encode(&mut bytes).unwrap();
        assert_eq!(Message::decode(&mut &bytes[..]).unwrap(), msg);
    }

    #[test]
    fn each_message_decodes_to_what_was_encoded() {
        roundtrip(Message::Request(Request {
            id: 7,
            method: "add".into(),
            params: vec![Value::from(1), Value::from(2)],
        }));
        roundtrip(Message::Response(Response {
            id: 7,
            result: Ok(Value::from(3)),
        }));
        roundtrip(Message::Response(Response {
            id: 8,
            result: Err(Value::from("no such method")),
        }));
        roundtrip(Message::Notification(Notification {
            method: "ping".into(),
            params: vec![],
        }));
    }

    #[test]
    fn a_request_is_the_array_of_four_items_the_spec_describes() {
        let msg = Message::Request(Request {
            id: 1,
            method: "add".into(),
            params: vec![Value::from(1), Value::from(2)],
        });
        let mut bytes = Vec::new();
        msg.encode(&mut bytes).unwrap();
        assert_eq!(
            bytes,
            [0x94, 0x00, 0x01, 0xa3, b'a', b'd', b'd', 0x92, 0x01, 0x02]
        );
    }

    #[test]
    fn a_msgid_above_u32_is_invalid_not_truncated() {
        // [0, 2^32, "f", []]
        let bytes = [0x94, 0x00, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 0xa1, b'f', 0x90];
        assert!(matches!(
            Message::decode(&mut &bytes[..]),
            Err(DecodeError::Invalid)
        ));
    }

    #[test]
    fn a_cut_message_is_truncated() {
        let bytes = [0x94, 0x00, 0x01, 0xa3, b'a'];
        assert!(matches!(
            Message::decode(&mut &bytes[..]),
            Err(DecodeError::Truncated)
        ));
    }
}
// ANCHOR_END: all
