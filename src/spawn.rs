//! What starts a connection, on either side: builds its service, wires it to its
//! handles, and spawns it on the reactor.
//!
//! [`Server`](crate::server::Server),
//! [`ServerBuilder::serve_connection`](crate::server::ServerBuilder::serve_connection) and
//! [`ClientBuilder`](crate::client::ClientBuilder) all start their connections here, so
//! that the two sides cannot drift apart.

use std::sync::Arc;

use futures::sync::mpsc;
use tokio_core::reactor::Handle;

use crate::catch::catch;
use crate::config::Config;
use crate::connection::{Connection, Io, Wiring};
use crate::errors::ClosedReason;
use crate::message::Message;
use crate::peer::Client;
use crate::pending::Pending;
use crate::service::ServiceBuilder;
use crate::shutdown::ShutdownSignal;

/// Builds the service of a new connection, with a handle to that connection, and spawns
/// the connection on the reactor. Returns the handle the service received. If the
/// builder panics, the connection is closed at once, and the handle says why.
pub(crate) fn spawn_connection<I, B>(
    io: I,
    builder: &B,
    config: Config,
    from_handles: Option<mpsc::UnboundedReceiver<Message>>,
    shutdown: Option<ShutdownSignal>,
    handle: &Handle,
) -> Client
where
    I: Io + 'static,
    B: ServiceBuilder,
{
    let pending = Arc::new(Pending::default());
    let (service_sender, from_service) = mpsc::unbounded();
    let peer = Client::new_handle(
        service_sender,
        pending.clone(),
        handle.remote().clone(),
        config.max_outgoing_depth,
    );
    let service = match catch(|| builder.build(peer.clone())) {
        Ok(service) => service,
        Err(panic) => {
            log::error!(
                "the ServiceBuilder panicked building the service of a new connection: {}; closing that connection",
                panic
            );
            // Dropping `io` closes the connection; the handle says why.
            pending.close(ClosedReason::BuilderPanicked(panic.into()));
            return peer;
        }
    };
    let wiring = Wiring {
        pending,
        from_handles,
        from_service,
        shutdown,
        handle: handle.clone(),
    };
    let connection = Connection::new(io, service, config, wiring);
    handle.spawn(connection);
    peer
}
