// ANCHOR: all
//! The client: a handle that sends requests, and the connection that carries them.

use std::error::Error;
use std::fmt;
use std::io;
use std::net::SocketAddr;

use futures::sync::{mpsc, oneshot};
use futures::{Async, Future, Poll, Stream};
use rmpv::Value;
use tokio_core::net::TcpStream;
use tokio_core::reactor::Handle;

use crate::message::{Message, Request, Response};
use crate::pending::{Answer, Pending};
use crate::transport::Transport;

// ANCHOR: client
/// A call on its way from a `Client` to the connection.
struct Call {
    method: String,
    params: Vec<Value>,
    /// Where the answer goes.
    answer: Answer,
}

/// A handle to a connection to a server. Clones share the connection.
#[derive(Clone)]
pub struct Client {
    calls: mpsc::UnboundedSender<Call>,
}
// ANCHOR_END: client

// ANCHOR: call_error
/// Why a call has no result.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The server answered with this error value.
    Remote(Value),
    /// The connection ended before the answer came.
    ConnectionClosed,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Remote(error) => write!(f, "the server answered with an error: {}", error),
            CallError::ConnectionClosed => {
                write!(f, "the connection closed before the answer came")
            }
        }
    }
}

impl Error for CallError {}
// ANCHOR_END: call_error

// ANCHOR: request
impl Client {
    /// Calls `method(params)` on the server; the future resolves to its answer.
    pub fn request(
        &self,
        method: &str,
        params: Vec<Value>,
    ) -> impl Future<Item = Value, Error = CallError> {
        let (answer, response) = oneshot::channel();
        let call = Call {
            method: method.to_owned(),
            params,
            answer,
        };
        // If the connection is gone, the call is dropped here, `answer` with it, and
        // `response` fails: the caller learns it below.
        let _ = self.calls.unbounded_send(call);
        response.then(|answer| match answer {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(error)) => Err(CallError::Remote(error)),
            Err(oneshot::Canceled) => Err(CallError::ConnectionClosed),
        })
    }
}
// ANCHOR_END: request

// ANCHOR: connect
/// Connects to the server at `addr`. The connection runs on `handle`'s reactor until the
/// server closes it.
pub fn connect(
    addr: &SocketAddr,
    handle: &Handle,
) -> impl Future<Item = Client, Error = io::Error> {
    let handle = handle.clone();
    TcpStream::connect(addr, &handle).map(move |io| {
        let (calls, from_clients) = mpsc::unbounded();
        let connection = ClientConnection {
            transport: Transport::new(io),
            calls: from_clients,
            pending: Pending::default(),
            server_closed: false,
        };
        handle.spawn(connection.map_err(|err| log::warn!("connection failed: {}", err)));
        Client { calls }
    })
}
// ANCHOR_END: connect

// ANCHOR: connection
/// The client's side of a connection: sends the calls, and hands each response to the
/// caller waiting for it.
struct ClientConnection {
    /// The socket to the server, and its buffers.
    transport: Transport,
    /// The calls of the `Client` handles.
    calls: mpsc::UnboundedReceiver<Call>,
    /// The calls sent, waiting for their response.
    pending: Pending,
    /// The server has closed its side: no response will come any more.
    server_closed: bool,
}

impl Future for ClientConnection {
    type Item = ();
    type Error = io::Error;

    fn poll(&mut self) -> Poll<(), io::Error> {
        self.read_responses()?;
        self.send_calls()?;
        self.transport.flush()?;
        if self.server_closed {
            // Dropping the connection drops the calls still pending: their callers get
            // `ConnectionClosed`.
            return Ok(Async::Ready(()));
        }
        // `read_responses` stopped at a `NotReady` of the socket, which wakes us.
        Ok(Async::NotReady)
    }
}

impl ClientConnection {
    /// Reads what the server sent, and hands each response to its caller.
    fn read_responses(&mut self) -> io::Result<()> {
        while !self.server_closed {
            match self.transport.read_message()? {
                Async::Ready(Some(Message::Response(Response { id, result }))) => {
                    self.pending.complete(id, result)
                }
                // This client handles nothing else (yet).
                Async::Ready(Some(_)) => {}
                Async::Ready(None) => self.server_closed = true,
                // The transport registered us with the socket.
                Async::NotReady => break,
            }
        }
        Ok(())
    }

    /// Sends the calls of the `Client` handles, each with a msgid of its own.
    fn send_calls(&mut self) -> io::Result<()> {
        // `NotReady`: no call is waiting, and the channel wakes us when one comes.
        // `Ready(None)`: every handle is gone. (The error type is `()`: no errors.)
        while let Ok(Async::Ready(Some(call))) = self.calls.poll() {
            let id = self.pending.insert(call.answer);
            let request = Request {
                id,
                method: call.method,
                params: call.params,
            };
            self.transport.send(Message::Request(request))?;
        }
        Ok(())
    }
}
// ANCHOR_END: connection
// ANCHOR_END: all
