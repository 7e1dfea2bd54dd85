// ANCHOR: all
//! Serving requests over TCP: tokio-proto runs the connections, we supply a `Service`.

use std::io;

use futures::{Future, Stream};
use rmpv::Value;
use tokio_core::net::TcpListener;
use tokio_core::reactor::Handle;
use tokio_proto::BindServer;
use tokio_service::Service;

use crate::message::{Request, Response};
use crate::protocol::Proto;

// ANCHOR: handler
/// What a server does with a request. Implement it for your type.
pub trait Handler {
    /// Answers `method(params)`: the reply resolves to the result, or fails with the
    /// error value that goes back to the caller.
    fn handle_request(&self, method: &str, params: &[Value]) -> Reply;
}

/// A handler's answer, ready now or later.
pub type Reply = Box<dyn Future<Item = Value, Error = Value>>;
// ANCHOR_END: handler

// ANCHOR: server
/// A [`Handler`] seen as a tokio-service `Service`: the shape tokio-proto drives.
pub struct Server<H>(pub H);

impl<H: Handler> Service for Server<H> {
    type Request = Request;
    type Response = Response;
    type Error = io::Error;
    type Future = Box<dyn Future<Item = Response, Error = io::Error>>;

    fn call(&self, request: Request) -> Self::Future {
        let id = request.id;
        let reply = self.0.handle_request(&request.method, &request.params);
        // Success or failure of the handler, both are an answer for the peer.
        Box::new(reply.then(move |result| Ok(Response { id, result })))
    }
}
// ANCHOR_END: server

// ANCHOR: serve
/// Serves every connection accepted on `listener` with a handler made by `new_handler`.
///
/// Each connection runs as its own task on `handle`'s reactor. The returned future
/// accepts connections until accepting fails.
pub fn serve<H, F>(
    listener: TcpListener,
    handle: &Handle,
    new_handler: F,
) -> impl Future<Item = (), Error = io::Error>
where
    H: Handler + 'static,
    F: Fn() -> H,
{
    let handle = handle.clone();
    listener.incoming().for_each(move |(socket, _peer)| {
        Proto.bind_server(&handle, socket, Server(new_handler()));
        Ok(())
    })
}
// ANCHOR_END: serve
// ANCHOR_END: all
