// ANCHOR: all
//! Calling a server over TCP: tokio-proto runs the connection, we wrap its `Service`.

use std::io;
use std::net::SocketAddr;

use futures::Future;
use rmpv::Value;
use tokio_core::net::TcpStream;
use tokio_core::reactor::Handle;
use tokio_proto::multiplex::ClientService;
use tokio_proto::TcpClient;
use tokio_service::Service;

use crate::message::Request;
use crate::protocol::Proto;

// ANCHOR: client
/// A connection to a MessagePack-RPC server.
pub struct Client(ClientService<TcpStream, Proto>);

impl Client {
    /// Connects to the server at `addr`; the connection runs on `handle`'s reactor.
    pub fn connect(
        addr: &SocketAddr,
        handle: &Handle,
    ) -> impl Future<Item = Client, Error = io::Error> {
        TcpClient::new(Proto).connect(addr, handle).map(Client)
    }

    /// Calls `method(params)` on the server.
    ///
    /// The future fails when the connection does; otherwise it resolves to the
    /// server's answer: `Ok(result)` or `Err(error value)`.
    pub fn request(
        &self,
        method: &str,
        params: Vec<Value>,
    ) -> impl Future<Item = Result<Value, Value>, Error = io::Error> {
        let request = Request {
            // tokio-proto numbers the requests itself: this id is replaced.
            id: 0,
            method: method.to_owned(),
            params,
        };
        self.0.call(request).map(|response| response.result)
    }
}
// ANCHOR_END: client
// ANCHOR_END: all
