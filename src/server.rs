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
use std::path::Path;
use std::time::{Duration, Instant};

use futures::stream::Stream;
use futures::sync::{mpsc, oneshot};
use futures::{Async, Future, Poll};
use tokio_core::reactor::{Core, Handle, Timeout};
use tokio_io::{AsyncRead, AsyncWrite};

use crate::connection::{Duplex, Halves, Io};
use crate::peer::Client;
use crate::service::ServiceBuilder;
use crate::shutdown::ShutdownSignal;
use crate::spawn::spawn_connection;

pub use crate::config::Config;
pub use crate::listener::{Listener, Tcp, Unix};
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
        Ok(self.listen(Tcp::bind(addr, handle)?, builder, handle))
    }

    // ANCHOR: bind_unix
    /// Listens on the Unix domain socket `path` and serves every connection with a
    /// service from `builder`, once the server is spawned on the reactor (or run).
    ///
    /// The socket file is created with mode 0600: only its owner may connect. (It is
    /// made private right after it is bound; for a socket nobody else can reach even in
    /// that instant, put it in a directory only you can enter, such as
    /// `$XDG_RUNTIME_DIR`.) A socket file already at `path` that nobody listens on, left
    /// by a server that crashed, is replaced; if a program listens on it, or the file is
    /// not a socket, this fails with `AddrInUse` and a message that names the path. The
    /// file is removed when the server stops listening.
    pub fn bind_unix<B: ServiceBuilder, P: AsRef<Path>>(
        self,
        path: P,
        builder: B,
        handle: &Handle,
    ) -> io::Result<Server<B, Unix>> {
        Ok(self.listen(Unix::bind(path.as_ref(), handle)?, builder, handle))
    }
    // ANCHOR_END: bind_unix

    /// A server that accepts connections from `listener`.
    fn listen<B: ServiceBuilder, L: Listener>(
        self,
        listener: L,
        builder: B,
        handle: &Handle,
    ) -> Server<B, L> {
        let shutdown = self.shutdown.unwrap_or_default();
        let (alive_sender, alive) = mpsc::unbounded();
        Server {
            local_addr: listener.addr(),
            listener: Some(listener),
            builder,
            config: self.config,
            handle: handle.clone(),
            stop: shutdown.listen(),
            shutdown,
            alive_sender: Some(alive_sender),
            alive,
            backoff: None,
        }
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
/// Spawn it on the reactor (or `run` it); keep a [`ShutdownHandle`] to stop it. It
/// listens on TCP ([`Tcp`], made by [`bind`](ServerBuilder::bind)) or on a Unix domain
/// socket ([`Unix`], made by [`bind_unix`](ServerBuilder::bind_unix)).
pub struct Server<B, L: Listener = Tcp> {
    /// Where connections come from; `None` once shutting down.
    listener: Option<L>,
    local_addr: L::Addr,
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

impl<B, L: Listener> fmt::Debug for Server<B, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("accepting", &self.listener.is_some())
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
}

impl<B: ServiceBuilder, L: Listener> Server<B, L> {
    /// Where the server listens: a `SocketAddr` for TCP, the socket's path for a Unix
    /// socket.
    pub fn local_addr(&self) -> L::Addr {
        self.local_addr.clone()
    }

    /// The handle that shuts this server down (the one given to
    /// [`ServerBuilder::shutdown_handle`], if any).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Starts the connection of a newly accepted socket.
    fn start_connection(&mut self, stream: L::Stream) {
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
    /// Accepts the waiting connections, within a budget. Returns once the listener, the
    /// back-off timer or the budget has arranged for the task to be woken.
    fn accept(&mut self) {
        if let Some(ref mut backoff) = self.backoff {
            match backoff.poll() {
                // The timer will wake us.
                Ok(Async::NotReady) => return,
                Ok(Async::Ready(())) | Err(_) => {}
            }
        }
        self.backoff = None;
        for _ in 0..ACCEPT_BUDGET {
            let next = match self.listener {
                Some(ref mut listener) => listener.accept(),
                None => return,
            };
            match next {
                Ok(Async::Ready(stream)) => self.start_connection(stream),
                // The listener will wake us when a connection arrives.
                Ok(Async::NotReady) => return,
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
    }
    // ANCHOR_END: accept

    // ANCHOR: stop_accepting
    /// Stops accepting; the connections received the shutdown signal themselves, and
    /// each one drops its clone of `alive_sender` when it ends.
    fn stop_accepting(&mut self) {
        log::info!(
            "the server on {:?} stops accepting connections",
            self.local_addr
        );
        self.listener = None;
        self.backoff = None;
        self.alive_sender = None;
    }
    // ANCHOR_END: stop_accepting
}

// ANCHOR: server_poll
impl<B: ServiceBuilder, L: Listener> Future for Server<B, L> {
    type Item = ();
    type Error = ();

    fn poll(&mut self) -> Poll<(), ()> {
        if self.listener.is_some() {
            // The shutdown handle will wake us when a shutdown is asked for. (It cannot
            // be cancelled: we hold a clone of the handle.)
            if let Ok(Async::Ready(_deadline)) = self.stop.poll() {
                self.stop_accepting();
            }
        }
        if self.listener.is_some() {
            // The listener, the back-off timer or the budget will wake us.
            self.accept();
            return Ok(Async::NotReady);
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
