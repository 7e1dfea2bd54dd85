// ANCHOR: all
//! The handle through which a program, or a service, sends its peer requests and
//! notifications; and connecting to a server.

use std::error::Error;
use std::fmt;
use std::io;
use std::net::SocketAddr;

use futures::sync::{mpsc, oneshot};
use futures::Future;
use rmpv::Value;
use tokio_core::net::TcpStream;
use tokio_core::reactor::Handle;

use crate::connection::{Connection, Outgoing};
use crate::service::Service;

// ANCHOR: handle
/// A handle to a connection: sends the peer requests and notifications. Clones share
/// the connection.
#[derive(Clone)]
pub struct Client {
    outgoing: mpsc::UnboundedSender<Outgoing>,
}
// ANCHOR_END: handle

/// Why a call has no result.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The peer answered with this error value.
    Remote(Value),
    /// The connection ended before the answer came.
    ConnectionClosed,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Remote(error) => write!(f, "the peer answered with an error: {}", error),
            CallError::ConnectionClosed => {
                write!(f, "the connection closed before the answer came")
            }
        }
    }
}

impl Error for CallError {}

// ANCHOR: request
impl Client {
    /// Calls `method(params)` on the peer; the future resolves to its answer.
    pub fn request(
        &self,
        method: &str,
        params: Vec<Value>,
    ) -> impl Future<Item = Value, Error = CallError> {
        let (answer, response) = oneshot::channel();
        let request = Outgoing::Request {
            method: method.to_owned(),
            params,
            answer,
        };
        // If the connection is gone, the request is dropped here, `answer` with it, and
        // `response` fails: the caller learns it below.
        let _ = self.outgoing.unbounded_send(request);
        response.then(|answer| match answer {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(error)) => Err(CallError::Remote(error)),
            Err(oneshot::Canceled) => Err(CallError::ConnectionClosed),
        })
    }

    /// Sends the notification `method(params)` to the peer. Nothing comes back; the
    /// error says that the connection is gone.
    pub fn notify(&self, method: &str, params: Vec<Value>) -> Result<(), CallError> {
        let notification = Outgoing::Notification {
            method: method.to_owned(),
            params,
        };
        self.outgoing
            .unbounded_send(notification)
            .map_err(|_| CallError::ConnectionClosed)
    }
}
// ANCHOR_END: request

// ANCHOR: connect
/// Connects to the server at `addr`. The connection runs on `handle`'s reactor until the
/// server closes it; what the server sends goes to the service `new_service` makes.
pub fn connect<S, B>(
    addr: &SocketAddr,
    handle: &Handle,
    new_service: B,
) -> impl Future<Item = Client, Error = io::Error>
where
    S: Service + 'static,
    B: FnOnce(Client) -> S,
{
    let handle = handle.clone();
    TcpStream::connect(addr, &handle).map(move |io| spawn_connection(io, &handle, new_service))
}

/// Starts a connection over `io` on `handle`'s reactor. The service `new_service` makes
/// gets a handle to the connection, and so does the caller.
pub(crate) fn spawn_connection<S, B>(io: TcpStream, handle: &Handle, new_service: B) -> Client
where
    S: Service + 'static,
    B: FnOnce(Client) -> S,
{
    let (outgoing, from_handles) = mpsc::unbounded();
    let client = Client { outgoing };
    let service = new_service(client.clone());
    let connection = Connection::new(io, service, from_handles);
    handle.spawn(connection.map_err(|err| log::warn!("connection failed: {}", err)));
    client
}
// ANCHOR_END: connect
// ANCHOR_END: all
