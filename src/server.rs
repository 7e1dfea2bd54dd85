//! The server: accepts connections and runs a service on each.
//!
//! [`serve`] is the one-liner that blocks, as in the tutorial. [`Server`] is the same
//! thing as a future, to run on a reactor you already have, with a [`ShutdownHandle`]
//! to stop it gracefully: stop accepting, let the running handlers finish within a
//! grace period, send their responses, close.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::stream::Stream;
use futures::sync::{mpsc, oneshot};
use futures::{Async, Future, Poll};
use tokio_core::net::{Incoming, TcpListener, TcpStream};
use tokio_core::reactor::{Core, Handle, Timeout};
use tokio_io::{AsyncRead, AsyncWrite};

use crate::connection::{Duplex, ShutdownSignal};
use crate::peer::Client;
use crate::service::{Service, ServiceBuilder};
use crate::spawn::spawn_connection;

pub use crate::config::Config;

/// After a failed `accept` (typically: out of file descriptors), wait this long before
/// trying again, instead of spinning on the same error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Connections accepted in one poll before letting the connections themselves run.
const ACCEPT_BUDGET: usize = 64;

// ANCHOR: serve
/// Listens on `addr` and serves every connection with a service from `builder`, on a
/// new reactor, forever. Returns only if the reactor or the listener cannot be set up.
pub fn serve<B>(addr: &SocketAddr, builder: B) -> io::Result<()>
where
    B: ServiceBuilder + 'static,
    B::Service: 'static,
    <B::Service as Service>::RequestFuture: 'static,
    <B::Service as Service>::NotificationFuture: 'static,
{
    let mut core = Core::new()?;
    let server = Server::bind(addr, builder, &core.handle())?;
    // The server future only ends after a shutdown, and nobody holds its handle here.
    let _ = core.run(server);
    Ok(())
}
// ANCHOR_END: serve

// ANCHOR: serve_connection
/// Serves one already connected transport (a Unix socket, an in-memory pipe...) with a
/// service from `builder`, on the reactor of `handle`.
///
/// Returns the handle that the service also received: use it to send requests or
/// notifications to the peer, or to see when the connection has closed
/// ([`Client::closed`]). It does not keep the connection open.
pub fn serve_connection<T, B>(transport: T, builder: &B, config: Config, handle: &Handle) -> Client
where
    T: AsyncRead + AsyncWrite + 'static,
    B: ServiceBuilder,
    B::Service: 'static,
    <B::Service as Service>::RequestFuture: 'static,
    <B::Service as Service>::NotificationFuture: 'static,
{
    spawn_connection(Duplex(transport), builder, config, None, None, handle)
}
// ANCHOR_END: serve_connection

// ANCHOR: server
/// A listening server, as a future that runs until it has shut down.
///
/// Spawn it on the reactor (or `run` it); keep a [`ShutdownHandle`] to stop it.
pub struct Server<B> {
    /// Accepted connections; `None` once shutting down.
    incoming: Option<Incoming>,
    local_addr: SocketAddr,
    builder: B,
    config: Config,
    handle: Handle,
    /// Shutdown requests from the handles.
    shutdown_requests: mpsc::UnboundedReceiver<Duration>,
    shutdown_sender: mpsc::UnboundedSender<Duration>,
    /// One shutdown signal per live connection.
    connections: Vec<oneshot::Sender<Instant>>,
    /// How many entries `connections` had after its last clean-up.
    connections_kept: usize,
    /// Each connection holds a clone; the original is dropped at shutdown, and the
    /// receiver ends when the last connection does.
    alive_sender: Option<mpsc::UnboundedSender<()>>,
    alive: mpsc::UnboundedReceiver<()>,
    /// Set after a failed accept: wait before accepting again.
    backoff: Option<Timeout>,
}
// ANCHOR_END: server

// ANCHOR: shutdown_handle
/// Stops a [`Server`] gracefully. Cloneable; dropping every handle does not stop the server.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    sender: mpsc::UnboundedSender<Duration>,
}

impl ShutdownHandle {
    /// Asks the server to stop accepting, give the running handlers `grace` to finish
    /// and send their responses, then close every connection. The server future
    /// completes once every connection is closed.
    pub fn shutdown(&self, grace: Duration) {
        // If the server is gone, there is nothing left to stop.
        let _ = self.sender.unbounded_send(grace);
    }
}
// ANCHOR_END: shutdown_handle

impl<B> Server<B>
where
    B: ServiceBuilder,
    B::Service: 'static,
    <B::Service as Service>::RequestFuture: 'static,
    <B::Service as Service>::NotificationFuture: 'static,
{
    /// Binds `addr` (use port 0 to let the system pick one, then ask
    /// [`local_addr`](Server::local_addr)) with the default [`Config`].
    pub fn bind(addr: &SocketAddr, builder: B, handle: &Handle) -> io::Result<Self> {
        Server::bind_with_config(addr, builder, Config::default(), handle)
    }

    /// Binds `addr`; every connection uses `config`.
    pub fn bind_with_config(
        addr: &SocketAddr,
        builder: B,
        config: Config,
        handle: &Handle,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(addr, handle).map_err(|err| {
            io::Error::new(err.kind(), format!("cannot listen on {}: {}", addr, err))
        })?;
        let local_addr = listener.local_addr()?;
        let (shutdown_sender, shutdown_requests) = mpsc::unbounded();
        let (alive_sender, alive) = mpsc::unbounded();
        Ok(Server {
            incoming: Some(listener.incoming()),
            local_addr,
            builder,
            config,
            handle: handle.clone(),
            shutdown_requests,
            shutdown_sender,
            connections: Vec::new(),
            connections_kept: 0,
            alive_sender: Some(alive_sender),
            alive,
            backoff: None,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle to shut the server down.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            sender: self.shutdown_sender.clone(),
        }
    }

    // ANCHOR: start_connection
    /// Starts the connection of a newly accepted socket.
    fn start_connection(&mut self, stream: TcpStream) {
        if let Err(err) = stream.set_nodelay(true) {
            log::debug!("could not set TCP_NODELAY: {}", err);
        }
        let alive = match self.alive_sender {
            Some(ref alive) => alive.clone(),
            None => return,
        };
        let (signal, deadline) = oneshot::channel();
        self.forget_closed_connections();
        self.connections.push(signal);
        let shutdown = ShutdownSignal {
            deadline,
            _alive: alive,
        };
        spawn_connection(
            Duplex(stream),
            &self.builder,
            self.config.clone(),
            None,
            Some(shutdown),
            &self.handle,
        );
    }
    // ANCHOR_END: start_connection

    /// Drops the signals of connections that have ended, now and then (amortised O(1)).
    fn forget_closed_connections(&mut self) {
        if self.connections.len() >= 2 * self.connections_kept.max(32) {
            self.connections.retain(|signal| !signal.is_canceled());
            self.connections_kept = self.connections.len();
        }
    }

    // ANCHOR: accept
    /// Accepts the waiting connections, within a budget.
    fn accept(&mut self) -> Poll<(), ()> {
        if let Some(ref mut backoff) = self.backoff {
            match backoff.poll() {
                // The timer will wake us.
                Ok(Async::NotReady) => return Ok(Async::NotReady),
                Ok(Async::Ready(())) | Err(_) => {}
            }
        }
        self.backoff = None;
        for _ in 0..ACCEPT_BUDGET {
            let next = match self.incoming {
                Some(ref mut incoming) => incoming.poll(),
                None => return Ok(Async::NotReady),
            };
            match next {
                Ok(Async::Ready(Some((stream, peer)))) => {
                    log::debug!("accepted a connection from {}", peer);
                    self.start_connection(stream);
                }
                Ok(Async::Ready(None)) => return Ok(Async::Ready(())),
                // The listener will wake us when a connection arrives.
                Ok(Async::NotReady) => return Ok(Async::NotReady),
                Err(err) => {
                    // One failed accept must not end the server.
                    log::warn!("accept failed, retrying in {:?}: {}", ACCEPT_BACKOFF, err);
                    match Timeout::new(ACCEPT_BACKOFF, &self.handle) {
                        Ok(timer) => {
                            self.backoff = Some(timer);
                            // Poll it once so that it wakes us.
                            return self.accept();
                        }
                        Err(err) => log::error!("cannot arm the accept back-off timer: {}", err),
                    }
                }
            }
        }
        // More connections may be waiting: come back after the others ran.
        futures::task::current().notify();
        Ok(Async::NotReady)
    }
    // ANCHOR_END: accept

    // ANCHOR: begin_shutdown
    /// Stops accepting and tells every connection to drain by `now + grace`.
    fn begin_shutdown(&mut self, grace: Duration) {
        log::info!(
            "shutting down: {} ms of grace for running handlers",
            grace.as_millis()
        );
        self.incoming = None;
        self.backoff = None;
        self.alive_sender = None;
        let deadline = Instant::now() + grace;
        for signal in self.connections.drain(..) {
            // A connection that already ended has nothing to drain.
            let _ = signal.send(deadline);
        }
    }
    // ANCHOR_END: begin_shutdown
}

// ANCHOR: server_poll
impl<B> Future for Server<B>
where
    B: ServiceBuilder,
    B::Service: 'static,
    <B::Service as Service>::RequestFuture: 'static,
    <B::Service as Service>::NotificationFuture: 'static,
{
    type Item = ();
    type Error = ();

    fn poll(&mut self) -> Poll<(), ()> {
        if self.incoming.is_some() {
            // The handles will wake us when one asks for a shutdown.
            if let Ok(Async::Ready(Some(grace))) = self.shutdown_requests.poll() {
                self.begin_shutdown(grace);
            }
        }
        if self.incoming.is_some() {
            if let Ok(Async::Ready(())) = self.accept() {
                log::error!("the listener stopped accepting connections");
                self.begin_shutdown(Duration::from_secs(0));
            }
            if self.incoming.is_some() {
                return Ok(Async::NotReady);
            }
        }
        // Shutting down: done when the last connection drops its token.
        loop {
            match self.alive.poll() {
                Ok(Async::Ready(Some(()))) => continue,
                Ok(Async::Ready(None)) | Err(()) => return Ok(Async::Ready(())),
                // The last connection to end will wake us.
                Ok(Async::NotReady) => return Ok(Async::NotReady),
            }
        }
    }
}
// ANCHOR_END: server_poll
