//! A naive server connection: correct for a polite peer and a handful of requests.
//! Chapter 3.1 measures what it costs and shows how it breaks.

// ANCHOR: all
// ANCHOR: imports
use std::io;

use futures::{Async, AsyncSink, Future, Poll, Sink, Stream};
use tokio_core::net::TcpListener;
use tokio_core::reactor::Handle;
// `Framed` moved to the tokio-codec crate and is deprecated in tokio-io 0.1.
#[allow(deprecated)]
use tokio_io::codec::Framed;
use tokio_io::{AsyncRead, AsyncWrite};

use crate::codec::Codec;
use crate::message::{Message, Response};
use crate::service::Service;
// ANCHOR_END: imports

// ANCHOR: connection
/// One peer's connection: reads its messages, runs their handlers, writes the answers.
#[allow(deprecated)]
pub struct Connection<T, S: Service> {
    /// The socket, cut into messages by the codec of chapter 2.1.
    transport: Framed<T, Codec>,
    /// Answers the peer's requests and notifications.
    service: S,
    /// The request handlers still running, each with the msgid it must answer.
    requests: Vec<(u32, S::RequestFuture)>,
    /// The notification handlers still running.
    notifications: Vec<S::NotificationFuture>,
}

impl<T: AsyncRead + AsyncWrite, S: Service> Connection<T, S> {
    /// Serves `service` on `io`.
    #[allow(deprecated)]
    pub fn new(io: T, service: S) -> Self {
        Connection {
            transport: io.framed(Codec),
            service,
            requests: Vec::new(),
            notifications: Vec::new(),
        }
    }
}
// ANCHOR_END: connection

// ANCHOR: poll
impl<T: AsyncRead + AsyncWrite, S: Service> Future for Connection<T, S> {
    type Item = ();
    type Error = io::Error;

    fn poll(&mut self) -> Poll<(), io::Error> {
        // Read everything the peer sent, and start a handler for each message.
        loop {
            match self.transport.poll()? {
                Async::Ready(Some(Message::Request(request))) => {
                    let future = self.service.handle_request(&request.method, request.params);
                    self.requests.push((request.id, future));
                }
                Async::Ready(Some(Message::Notification(note))) => {
                    let future = self.service.handle_notification(&note.method, note.params);
                    self.notifications.push(future);
                }
                // We send no requests, so no response can be for us.
                Async::Ready(Some(Message::Response(_))) => {}
                // The peer closed the connection.
                Async::Ready(None) => return Ok(Async::Ready(())),
                // The socket will wake us when more bytes arrive.
                Async::NotReady => break,
            }
        }
        // Poll every running handler, and answer each request whose handler is done.
        let mut i = 0;
        while i < self.requests.len() {
            let result = match self.requests[i].1.poll() {
                Ok(Async::Ready(value)) => Ok(value.into()),
                Err(error) => Err(error.into()),
                Ok(Async::NotReady) => {
                    i += 1;
                    continue;
                }
            };
            let (id, _) = self.requests.remove(i);
            self.send(Message::Response(Response { id, result }))?;
        }
        self.notifications
            .retain_mut(|future| matches!(future.poll(), Ok(Async::NotReady)));
        // The socket and the handlers will wake us.
        Ok(Async::NotReady)
    }
}
// ANCHOR_END: poll

// ANCHOR: send
impl<T: AsyncRead + AsyncWrite, S: Service> Connection<T, S> {
    /// Writes one message to the peer, right now.
    fn send(&mut self, message: Message) -> io::Result<()> {
        match self.transport.start_send(message).unwrap() {
            AsyncSink::Ready => {}
            AsyncSink::NotReady(_) => panic!("the sink is full"),
        }
        self.transport.poll_complete()?;
        Ok(())
    }
}
// ANCHOR_END: send

// ANCHOR: serve
/// Serves each connection accepted on `listener` with a service from `new_service`.
pub fn serve<S, F>(
    listener: TcpListener,
    handle: &Handle,
    new_service: F,
) -> impl Future<Item = (), Error = io::Error>
where
    S: Service + 'static,
    F: Fn() -> S,
{
    let handle = handle.clone();
    listener.incoming().for_each(move |(socket, _peer)| {
        let connection = Connection::new(socket, new_service());
        handle.spawn(connection.map_err(|_| ()));
        Ok(())
    })
}
// ANCHOR_END: serve
// ANCHOR_END: all
