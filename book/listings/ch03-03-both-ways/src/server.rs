//! Serving every connection a listener accepts.

use std::io;

use futures::{Future, Stream};
use tokio_core::net::TcpListener;
use tokio_core::reactor::Handle;

use crate::client::{spawn_connection, Client};
use crate::service::Service;

/// Serves every connection that `listener` accepts, on `handle`'s reactor, each with a
/// service of its own made by `new_service`, which gets a handle to its peer.
///
/// The future runs until accepting a connection fails.
pub fn serve<S, F>(
    listener: TcpListener,
    handle: &Handle,
    new_service: F,
) -> impl Future<Item = (), Error = io::Error>
where
    S: Service + 'static,
    F: Fn(Client) -> S,
{
    let handle = handle.clone();
    // `incoming` is `NotReady` until a peer connects: the reactor wakes us then.
    listener.incoming().for_each(move |(io, _peer_addr)| {
        spawn_connection(io, &handle, &new_service);
        Ok(())
    })
}
