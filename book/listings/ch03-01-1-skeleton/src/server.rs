//! The server's side of a connection.

use std::io;

use futures::{Future, Poll};
use tokio_core::net::TcpStream;

use crate::service::Service;

/// One accepted connection: reads the peer's messages, runs the service's handlers,
/// and writes their answers back.
// The fields are read from the next step on; until then the compiler would say so.
#[allow(dead_code)]
pub struct Connection<S> {
    /// The socket to the peer.
    io: TcpStream,
    /// Handles what the peer sends.
    service: S,
}

impl<S: Service> Connection<S> {
    /// A connection that serves `io` with `service`. Nothing happens until it is polled.
    pub fn new(io: TcpStream, service: S) -> Self {
        Connection { io, service }
    }
}

impl<S: Service> Future for Connection<S> {
    /// The connection ends when the peer has closed it and every answer is written.
    type Item = ();
    /// Or when the socket fails.
    type Error = io::Error;

    fn poll(&mut self) -> Poll<(), io::Error> {
        // 1. Read the messages that arrived, and call the service for each.
        // 2. Poll the handlers that are still running.
        // 3. Write the answers of those that are done.
        // 4. Say whether we are done.
        todo!()
    }
}
