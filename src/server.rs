//! The server: accepts connections and runs a service on each.
//!
//! [`serve`] is the one-liner that blocks, as in the tutorial. [`Server`] is the same
//! thing as a future, to run on a reactor you already have, with a [`ShutdownHandle`]
//! to stop it gracefully: stop accepting, let the running handlers finish within a
//! grace period, send their responses, close. [`ServerBuilder`] is the one place for a
//! server's settings; it also serves a single connection over any transport.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::stream::Stream;
use futures::sync::{mpsc, oneshot};
use futures::{Async, Future, Poll};
use tokio_core::net::{Incoming, TcpListener, TcpStream};
use tokio_core::reactor::{Core, Handle, Timeout};
use tokio_io::{AsyncRead, AsyncWrite};

use crate::connection::{Duplex, Halves, Io};
use crate::peer::Client;
use crate::service::ServiceBuilder;
use crate::shutdown::ShutdownSignal;
use crate::spawn::spawn_connection;

pub use crate::config::Config;
pub use crate::shutdown::ShutdownHandle;

/// After a failed `accept` (typically: out of file descriptors), wait this long before
/// trying again, instead of spinning on the same error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Connections accepted in one poll before letting the connections themselves run.
const ACCEPT_BUDGET: usize = 64;

/// Listens on `addr` and serves every connection with a service from `builder`, on a
/// new reactor, forever. Returns only if the reactor or the listener cannot be set up.
pub fn serve<B: ServiceBuilder>(addr: &SocketAddr, builder: B) -> io::Result<()> {
    let mut core = Core::new()?;
    let server = Server::bind(addr, builder, &core.handle())?;
    // The server future only ends after a shutdown, and nobody holds its handle here.
    let _ = core.run(server);
    Ok(())
}

// ANCHOR: server_builder
/// A server's settings: the configuration of its connections and the shutdown signal
/// they listen to. Made by [`Server::builder`]; [`bind`](ServerBuilder::bind) starts a
/// TCP server, [`serve_connection`](ServerBuilder::serve_connection) serves one
/// connection over any transport with the same settings.
#[derive(Debug, Clone, Default)]
pub struct ServerBuilder {
    config: Config,
    /// The signal to listen to; `None` until one is given, then a server makes its own.
    shutdown: Option<ShutdownHandle>,
}

impl ServerBuilder {
    /// Every connection uses `config` (limits, backpressure, ordering).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Servers and connections started by this builder stop when `shutdown` says so:
    /// give the same handle to several of them to drain them all at once. Without it,
    /// [`bind`](ServerBuilder::bind) makes a handle for its server
    /// ([`Server::shutdown_handle`]) and
    /// [`serve_connection`](ServerBuilder::serve_connection) runs its connection until
    /// the peer or the reactor ends it.
    pub fn shutdown_handle(mut self, shutdown: ShutdownHandle) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// Binds `addr` (use port 0 to let the system pick one, then ask
    /// [`local_addr`](Server::local_addr)) and serves every connection with a service
    /// from `builder`, once the server is spawned on the reactor (or run).
    pub fn bind<B: ServiceBuilder>(
        self,
        addr: &SocketAddr,
        builder: B,
        handle: &Handle,
    ) -> io::Result<Server<B>> {
        let listener = TcpListener::bind(addr, handle).map_err(|err| {
            io::Error::new(err.kind(), format!("cannot listen on {}: {}", addr, err))
        })?;
        let local_addr = listener.local_addr()?;
        let shutdown = self.shutdown.unwrap_or_default();
        let (alive_sender, alive) = mpsc::unbounded();
        Ok(Server {
            incoming: Some(listener.incoming()),
            local_addr,
            builder,
            config: self.config,
            handle: handle.clone(),
            stop: shutdown.listen(),
            shutdown,
            alive_sender: Some(alive_sender),
            alive,
            backoff: None,
        })
    }

    // ANCHOR: serve_connection
    /// Serves one already connected transport (a Unix socket, an in-memory pipe...) with
    /// a service from `builder`, on the reactor of `handle`, until the peer closes it or
    /// the [shutdown handle](ServerBuilder::shutdown_handle), if one was given, drains
    /// it.
    ///
    /// Returns the handle that the service also received: use it to send requests or
    /// notifications to the peer, or to see why the connection has closed
    /// ([`Client::closed_reason`]). It does not keep the connection open.
    pub fn serve_connection<T, B>(&self, transport: T, builder: &B, handle: &Handle) -> Client
    where
        T: AsyncRead + AsyncWrite + 'static,
        B: ServiceBuilder,
    {
        self.serve_io(Duplex(transport), builder, handle)
    }
    // ANCHOR_END: serve_connection

    /// Serves one connection over a reader and a writer that are two objects, like
    /// [`serve_connection`](ServerBuilder::serve_connection): this program's own stdin
    /// and stdout (a plugin started by its peer, for example), or a child
    /// process's stdout and stdin. The connection ends when `reader` reaches its end.
    pub fn serve_halves<R, W, B>(
        &self,
        reader: R,
        writer: W,
        builder: &B,
        handle: &Handle,
    ) -> Client
    where
        R: AsyncRead + 'static,
        W: AsyncWrite + 'static,
        B: ServiceBuilder,
    {
        self.serve_io(Halves { reader, writer }, builder, handle)
    }

    fn serve_io<I: Io + 'static, B: ServiceBuilder>(
        &self,
        io: I,
        builder: &B,
        handle: &Handle,
    ) -> Client {
        let shutdown = self.shutdown.as_ref().map(|shutdown| ShutdownSignal {
            deadline: shutdown.listen(),
            _alive: None,
        });
        spawn_connection(io, builder, self.config.clone(), None, shutdown, handle)
    }
}
// ANCHOR_END: server_builder

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
    /// The signal this server and its connections listen to.
    shutdown: ShutdownHandle,
    /// Fires when a shutdown is asked for: stop accepting.
    stop: oneshot::Receiver<Instant>,
    /// Each connection holds a clone; the original is dropped at shutdown, and the
    /// receiver ends when the last connection does.
    alive_sender: Option<mpsc::UnboundedSender<()>>,
    alive: mpsc::UnboundedReceiver<()>,
    /// Set after a failed accept: wait before accepting again.
    backoff: Option<Timeout>,
}

impl<B> fmt::Debug for Server<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("accepting", &self.incoming.is_some())
            .field("config", &self.config)
            .field("shutdown", &self.shutdown)
            .finish()
    }
}

impl Server<()> {
    /// A builder to choose the configuration and the shutdown signal.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }
}

impl<B: ServiceBuilder> Server<B> {
    /// Binds `addr` with the default [`Config`] (use port 0 to let the system pick a
    /// port, then ask [`local_addr`](Server::local_addr)). [`Server::builder`] chooses
    /// the settings.
    pub fn bind(addr: &SocketAddr, builder: B, handle: &Handle) -> io::Result<Self> {
        Server::builder().bind(addr, builder, handle)
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The handle that shuts this server down (the one given to
    /// [`ServerBuilder::shutdown_handle`], if any).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Starts the connection of a newly accepted socket.
    fn start_connection(&mut self, stream: TcpStream) {
        if let Err(err) = stream.set_nodelay(true) {
            log::debug!("could not set TCP_NODELAY: {}", err);
        }
        let alive = match self.alive_sender {
            Some(ref alive) => alive.clone(),
            None => return,
        };
        let shutdown = ShutdownSignal {
            deadline: self.shutdown.listen(),
            _alive: Some(alive),
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

    // ANCHOR: stop_accepting
    /// Stops accepting; the connections received the shutdown signal themselves, and
    /// each one drops its clone of `alive_sender` when it ends.
    fn stop_accepting(&mut self) {
        log::info!(
            "the server on {} stops accepting connections",
            self.local_addr
        );
        self.incoming = None;
        self.backoff = None;
        self.alive_sender = None;
    }
    // ANCHOR_END: stop_accepting
}

// ANCHOR: server_poll
impl<B: ServiceBuilder> Future for Server<B> {
    type Item = ();
    type Error = ();

    fn poll(&mut self) -> Poll<(), ()> {
        if self.incoming.is_some() {
            // The shutdown handle will wake us when a shutdown is asked for. (It cannot
            // be cancelled: we hold a clone of the handle.)
            if let Ok(Async::Ready(_deadline)) = self.stop.poll() {
                self.stop_accepting();
            }
        }
        if self.incoming.is_some() {
            if let Ok(Async::Ready(())) = self.accept() {
                log::error!("the listener stopped accepting connections");
                self.shutdown.shutdown(Duration::from_secs(0));
                self.stop_accepting();
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
