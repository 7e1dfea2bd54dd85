// ANCHOR: all
//! MessagePack-RPC as a tokio-proto multiplexed protocol.

use std::convert::TryFrom;
use std::io;

use bytes::BytesMut;
// `Framed` and `AsyncRead::framed` moved to the tokio-codec crate, and tokio-io 0.1.7
// and later deprecate them; tokio-proto 0.1 is written against them.
#[allow(deprecated)]
use tokio_io::codec::Framed;
use tokio_io::codec::{Decoder, Encoder};
use tokio_io::{AsyncRead, AsyncWrite};
use tokio_proto::multiplex::{ClientProto, RequestId, ServerProto};

use crate::codec::Codec;
use crate::message::{Message, Request, Response};

// ANCHOR: server_codec
/// The server's side of the wire: requests in, responses out, each with its id.
#[derive(Debug, Default)]
pub struct ServerCodec(Codec);

impl Decoder for ServerCodec {
    type Item = (RequestId, Request);
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Self::Item>> {
        loop {
            match self.0.decode(src)? {
                Some(Message::Request(request)) => {
                    return Ok(Some((RequestId::from(request.id), request)));
                }
                // A notification (or a stray response) has no place in a
                // request/response protocol: drop it and look at the next message.
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }
}

impl Encoder for ServerCodec {
    type Item = (RequestId, Response);
    type Error = io::Error;

    fn encode(&mut self, (id, mut response): Self::Item, dst: &mut BytesMut) -> io::Result<()> {
        // The id tokio-proto hands back is the one `decode` read from a request: it fits.
        response.id = msgid(id)?;
        self.0.encode(Message::Response(response), dst)
    }
}
// ANCHOR_END: server_codec

// ANCHOR: client_codec
/// The client's side of the wire: requests out, responses in.
#[derive(Debug, Default)]
pub struct ClientCodec(Codec);

impl Decoder for ClientCodec {
    type Item = (RequestId, Response);
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Self::Item>> {
        loop {
            match self.0.decode(src)? {
                Some(Message::Response(response)) => {
                    return Ok(Some((RequestId::from(response.id), response)));
                }
                // What the server sends on its own initiative has nowhere to go.
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }
}

impl Encoder for ClientCodec {
    type Item = (RequestId, Request);
    type Error = io::Error;

    fn encode(&mut self, (id, mut request): Self::Item, dst: &mut BytesMut) -> io::Result<()> {
        // tokio-proto numbers requests itself, from 0 up, with a u64.
        request.id = msgid(id)?;
        self.0.encode(Message::Request(request), dst)
    }
}
// ANCHOR_END: client_codec

// ANCHOR: msgid
/// tokio-proto's ids are u64, MessagePack-RPC's are u32: refuse to truncate.
fn msgid(id: RequestId) -> io::Result<u32> {
    u32::try_from(id).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "request id {} does not fit in a MessagePack-RPC msgid (u32)",
                id
            ),
        )
    })
}
// ANCHOR_END: msgid

// ANCHOR: proto
/// MessagePack-RPC, as tokio-proto sees it: a multiplexed request/response protocol.
#[derive(Debug, Clone, Copy, Default)]
pub struct Proto;

// tokio-proto 0.1 wants the deprecated `Framed` (see the imports).
#[allow(deprecated)]
impl<T: AsyncRead + AsyncWrite + 'static> ServerProto<T> for Proto {
    type Request = Request;
    type Response = Response;
    type Transport = Framed<T, ServerCodec>;
    type BindTransport = io::Result<Self::Transport>;

    fn bind_transport(&self, io: T) -> Self::BindTransport {
        Ok(io.framed(ServerCodec::default()))
    }
}

#[allow(deprecated)]
impl<T: AsyncRead + AsyncWrite + 'static> ClientProto<T> for Proto {
    type Request = Request;
    type Response = Response;
    type Transport = Framed<T, ClientCodec>;
    type BindTransport = io::Result<Self::Transport>;

    fn bind_transport(&self, io: T) -> Self::BindTransport {
        Ok(io.framed(ClientCodec::default()))
    }
}
// ANCHOR_END: proto

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Notification;
    use rmpv::Value;

    fn bytes_of(messages: &[Message]) -> BytesMut {
        let mut buf = BytesMut::new();
        for message in messages {
            Codec.encode(message.clone(), &mut buf).unwrap();
        }
        buf
    }

    fn request(id: u32) -> Request {
        Request {
            id,
            method: "add".into(),
            params: vec![Value::from(1), Value::from(2)],
        }
    }

    #[test]
    fn the_server_codec_drops_notifications() {
        let note = Notification {
            method: "ping".into(),
            params: vec![],
        };
        let mut buf = bytes_of(&[Message::Notification(note), Message::Request(request(5))]);
        let mut codec = ServerCodec::default();
        assert_eq!(codec.decode(&mut buf).unwrap(), Some((5, request(5))));
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
    }

    #[test]
    fn the_client_codec_drops_requests_from_the_server() {
        let answer = Response {
            id: 9,
            result: Ok(Value::from(3)),
        };
        let mut buf = bytes_of(&[
            Message::Request(request(1)),
            Message::Response(answer.clone()),
        ]);
        let mut codec = ClientCodec::default();
        assert_eq!(codec.decode(&mut buf).unwrap(), Some((9, answer)));
    }

    #[test]
    fn the_client_codec_writes_the_id_tokio_proto_chose() {
        let mut buf = BytesMut::new();
        ClientCodec::default()
            .encode((42, request(0)), &mut buf)
            .unwrap();
        assert_eq!(
            Codec.decode(&mut buf).unwrap(),
            Some(Message::Request(request(42)))
        );
    }

    #[test]
    fn an_id_beyond_u32_is_an_error_not_a_wrapped_id() {
        let mut buf = BytesMut::new();
        let err = ClientCodec::default()
            .encode((1 << 32, request(0)), &mut buf)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(buf.is_empty());
    }
}
// ANCHOR_END: all
