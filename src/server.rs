//! The server: accepts connections and runs a service on each.
//!
//! [`serve`] is the one-liner that blocks, as in the tutorial. [`Server`] is the same
//! thing as a future, to run on a reactor you already have, with a [`ShutdownHandle`]
//! to stop it gracefully: stop accepting, let the running handlers finish within a
//! grace period, send their responses, close. [`ServerBuilder`] is the one place for a
//! server's settings: the connections' configuration, the shutdown signal, how many
//! reactors serve (one thread each) and how many connections may be open; it also
//! serves a single connection over any transport.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::sync::oneshot;
use futures::{Async, Future, Poll};
use tokio_core::reactor::{Core, Handle, Timeout};
use tokio_io::{AsyncRead, AsyncWrite};

use crate::connection::{Duplex, Halves, Io};
use crate::errors::{ConfigError, ServerError};
use crate::peer::Client;
use crate::reactors::{ReactorThread, Serving};
use crate::service::ServiceBuilder;
use crate::shutdown::{Deadline, ShutdownSignal, Slot};
use crate::spawn::spawn_connection;
use crate::stdio;

pub use crate::config::Config;
pub use crate::listener::{Listener, Tcp, Unix};
pub use crate::shutdown::ShutdownHandle;

/// After a failed `accept` (typically: out of file descriptors), wait this long before
/// trying again, instead of spinning on the same error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Connections accepted in one poll before letting the connections themselves run.
const ACCEPT_BUDGET: usize = 64;
/// Far more than a program that talks to a few editors or services ever opens; few
/// enough that connections cannot take the process's memory: 10,000 idle connections
/// that each served a request hold about 250 MiB (chapter 4.5 measures it).
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Listens on `addr` and serves every connection with a service from `builder`, on a
/// new reactor, forever. Returns only if the reactor or the listener cannot be set up.
pub fn serve<B: ServiceBuilder>(addr: &SocketAddr, builder: B) -> io::Result<()> {
    let mut core = Core::new()?;
    let server = Server::bind(addr, builder, &core.handle())?;
    // The server future only ends after a shutdown, and nobody holds its handle here;
    // with one reactor it cannot fail.
    core.run(server).map_err(io::Error::other)
}

// ANCHOR: server_builder
/// A server's settings: the configuration of its connections, the shutdown signal they
/// listen to, how many reactors serve them and how many may be open. Made by
/// [`Server::builder`]; [`bind`](ServerBuilder::bind) and
/// [`bind_per_reactor`](ServerBuilder::bind_per_reactor) start a TCP server,
/// [`serve_connection`](ServerBuilder::serve_connection) serves one connection over any
/// transport with the same configuration and shutdown signal.
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    config: Config,
    /// The signal to listen to; `None` until one is given, then a server makes its own.
    shutdown: Option<ShutdownHandle>,
    threads: usize,
    max_connections: usize,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            config: Config::default(),
            shutdown: None,
            threads: 1,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
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

    /// How many reactors serve the connections: the one the server runs on, which also
    /// accepts them, and `threads - 1` threads that the server starts, each with a
    /// reactor of its own. Each new connection goes to the reactor with the fewest open
    /// connections, and stays there. More than 1 needs a service builder for each
    /// reactor: [`bind_per_reactor`](ServerBuilder::bind_per_reactor). Default: 1, the
    /// caller's reactor alone; 0 is refused.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// The most connections open at once, counted over all reactors. Beyond it, a new
    /// connection is accepted and closed at once (the peer sees its connection closed
    /// before any answer), rather than left waiting in the listen backlog; the open
    /// connections are untouched. Default: 10,000, which bounds what idle connections
    /// can hold to a few hundred MiB; 0 is refused.
    ///
    /// The cap only works below the process's limit of open file descriptors
    /// (`ulimit -n`): at that limit accepting fails, and the server tries again every
    /// 100 ms while new connections wait. Keep the cap below that limit, minus what
    /// your service opens itself.
    pub fn max_connections(mut self, max_connections: usize) -> Self {
        self.max_connections = max_connections;
        self
    }

    /// Binds `addr` (use port 0 to let the system pick one, then ask
    /// [`local_addr`](Server::local_addr)) and serves every connection with a service
    /// from `builder`, on the reactor of `handle`, once the server is spawned there (or
    /// run). One reactor only: with [`threads`](ServerBuilder::threads) above 1, this
    /// returns an error that says to use
    /// [`bind_per_reactor`](ServerBuilder::bind_per_reactor).
    pub fn bind<B: ServiceBuilder>(
        self,
        addr: &SocketAddr,
        builder: B,
        handle: &Handle,
    ) -> io::Result<Server<B>> {
        self.one_reactor(
            " need a service builder each, made on each reactor's thread: use ServerBuilder::bind_per_reactor",
        )?;
        let listener = Tcp::bind(addr, handle)?;
        Ok(self.listen(listener, builder, Vec::new(), ShutdownHandle::new(), handle))
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
    ///
    /// One reactor only: with [`threads`](ServerBuilder::threads) above 1, this returns
    /// an error (tokio-uds 0.1 cannot hand an accepted socket to another reactor).
    pub fn bind_unix<B: ServiceBuilder, P: AsRef<Path>>(
        self,
        path: P,
        builder: B,
        handle: &Handle,
    ) -> io::Result<Server<B, Unix>> {
        self.one_reactor(
            ", but a Unix socket server runs on one (tokio-uds 0.1 cannot hand an accepted socket to another reactor); use 1",
        )?;
        let listener = Unix::bind(path.as_ref(), handle)?;
        Ok(self.listen(listener, builder, Vec::new(), ShutdownHandle::new(), handle))
    }
    // ANCHOR_END: bind_unix

    // ANCHOR: bind_per_reactor
    /// Like [`bind`](ServerBuilder::bind), on [`threads`](ServerBuilder::threads)
    /// reactors: `per_reactor` makes the service builder of each reactor, on that
    /// reactor's thread, given its handle (to arm timers there, say). Each builder, its
    /// services and their futures stay on their reactor, so none of them needs to be
    /// `Send`; `per_reactor` itself is shared by the threads, hence `Send + Sync`. The
    /// [`Client`] a service receives runs on its service's reactor.
    ///
    /// Returns once every reactor thread serves, or with why one could not start (the
    /// threads already started then end).
    pub fn bind_per_reactor<F, B>(
        self,
        addr: &SocketAddr,
        per_reactor: F,
        handle: &Handle,
    ) -> io::Result<Server<B>>
    where
        F: Fn(&Handle) -> B + Send + Sync + 'static,
        B: ServiceBuilder,
    {
        self.check()?;
        let listener = Tcp::bind(addr, handle)?;
        let connections = ShutdownHandle::new();
        let builder = per_reactor(handle);
        let per_reactor = Arc::new(per_reactor);
        let threads = (1..self.threads)
            .map(|index| {
                let config = self.config.clone();
                ReactorThread::spawn(index, per_reactor.clone(), config, connections.clone())
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(self.listen(listener, builder, threads, connections, handle))
    }

    // ANCHOR_END: bind_per_reactor

    /// Refuses the settings that cannot work.
    fn check(&self) -> Result<(), ConfigError> {
        self.config.validate()?;
        if self.threads == 0 {
            return Err(ConfigError::new(
                "ServerBuilder::threads",
                "0 would leave no reactor to serve connections; use at least 1".to_string(),
            ));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::new(
                "ServerBuilder::max_connections",
                "0 would close every connection as soon as it is accepted; use at least 1"
                    .to_string(),
            ));
        }
        Ok(())
    }

    /// Refuses the settings that cannot work, and more than one reactor, for `why`.
    fn one_reactor(&self, why: &str) -> Result<(), ConfigError> {
        self.check()?;
        if self.threads > 1 {
            return Err(ConfigError::new(
                "ServerBuilder::threads",
                format!("{} reactors{}", self.threads, why),
            ));
        }
        Ok(())
    }

    /// A server that accepts connections from `listener`, with the local reactor serving
    /// through `builder` and `threads` serving the others; every connection listens to
    /// `connections`.
    fn listen<B: ServiceBuilder, L: Listener>(
        self,
        listener: L,
        builder: B,
        threads: Vec<ReactorThread<L>>,
        connections: ShutdownHandle,
        handle: &Handle,
    ) -> Server<B, L> {
        let shutdown = self.shutdown.unwrap_or_default();
        let open = (0..=threads.len())
            .map(|_| Arc::new(AtomicUsize::new(0)))
            .collect();
        Server {
            local_addr: listener.addr(),
            listener: Some(listener),
            local: Serving::new(builder, self.config, connections.clone(), handle),
            threads,
            open,
            next: 0,
            max_connections: self.max_connections,
            at_cap: false,
            stop: shutdown.listen(),
            shutdown,
            connections,
            handle: handle.clone(),
            backoff: None,
            failure: None,
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
    /// ([`Client::closed_reason`]). It does not keep the connection open. Fails,
    /// starting nothing, if the configuration cannot work.
    pub fn serve_connection<T, B>(
        &self,
        transport: T,
        builder: &B,
        handle: &Handle,
    ) -> Result<Client, ConfigError>
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
    /// process's stdout and stdin. Once `reader` reaches its end, the connection finishes
    /// what it was sent (handlers, answers) and closes.
    /// Fails, starting nothing, if the configuration cannot work.
    pub fn serve_halves<R, W, B>(
        &self,
        reader: R,
        writer: W,
        builder: &B,
        handle: &Handle,
    ) -> Result<Client, ConfigError>
    where
        R: AsyncRead + 'static,
        W: AsyncWrite + 'static,
        B: ServiceBuilder,
    {
        self.serve_io(Halves { reader, writer }, builder, handle)
    }

    // ANCHOR: serve_stdio
    /// Serves one connection over this program's own stdin and stdout: the program is a
    /// plugin that its peer started (Neovim's `jobstart(cmd, {'rpc': v:true})`). Returns
    /// the handle the service also received, to call the peer back, or to wait for it
    /// to go away ([`Client::closed`]).
    ///
    /// **Print nothing to stdout** while it runs: stdout is the connection. Log to
    /// stderr. See [`stdio`] for what this does to the standard streams. A configuration
    /// that cannot work is refused before the streams are touched (`InvalidInput`,
    /// holding a [`ConfigError`]).
    pub fn serve_stdio<B: ServiceBuilder>(
        &self,
        builder: &B,
        handle: &Handle,
    ) -> io::Result<Client> {
        self.config.validate()?;
        let (stdin, stdout) = stdio::open(handle)?;
        Ok(self.serve_halves(stdin, stdout, builder, handle)?)
    }
    // ANCHOR_END: serve_stdio

    /// Serves one connection, once its configuration is found valid.
    fn serve_io<I: Io + 'static, B: ServiceBuilder>(
        &self,
        io: I,
        builder: &B,
        handle: &Handle,
    ) -> Result<Client, ConfigError> {
        self.config.validate()?;
        let shutdown = self.shutdown.as_ref().map(|shutdown| ShutdownSignal {
            deadline: shutdown.listen(),
            _alive: None,
        });
        Ok(spawn_connection(
            io,
            builder,
            self.config.clone(),
            None,
            shutdown,
            handle,
        ))
    }
}
// ANCHOR_END: server_builder

/// A listening server, as a future that runs until it has shut down.
///
/// Spawn it on the reactor (or `run` it); keep a [`ShutdownHandle`] to stop it. It
/// listens on TCP ([`Tcp`], made by [`bind`](ServerBuilder::bind) and
/// [`bind_per_reactor`](ServerBuilder::bind_per_reactor)) or on a Unix domain socket
/// ([`Unix`], made by [`bind_unix`](ServerBuilder::bind_unix)). It accepts on that
/// reactor, and serves there and on the reactor threads it started
/// ([`ServerBuilder::threads`]). It completes once every connection on every reactor
/// has ended and every thread it started has ended; it fails with a [`ServerError`] if
/// one of those threads panicked, after closing the connections of the others at once.
/// Dropping it before it completes closes its connections at once, as a shutdown with
/// no grace period would.
pub struct Server<B, L: Listener = Tcp> {
    /// Where connections come from; `None` once shutting down.
    listener: Option<L>,
    local_addr: L::Addr,
    /// Reactor 0: the one this future runs on.
    local: Serving<B>,
    /// The other reactors, a thread each: reactor `i` is `threads[i - 1]`.
    threads: Vec<ReactorThread<L>>,
    /// How many connections each reactor has open.
    open: Vec<Arc<AtomicUsize>>,
    /// The reactor to try first for the next connection, so that ties go round.
    next: usize,
    max_connections: usize,
    /// Set while new connections are refused for the cap, to log that once.
    at_cap: bool,
    /// The signal this server listens to, and gives out.
    shutdown: ShutdownHandle,
    /// Fires when a shutdown is asked for: stop accepting.
    stop: oneshot::Receiver<Deadline>,
    /// The signal every connection of this server listens to: passes `shutdown` on, and
    /// also stops them when a reactor thread fails or the server is dropped.
    connections: ShutdownHandle,
    handle: Handle,
    /// Set after a failed accept: wait before accepting again.
    backoff: Option<Timeout>,
    /// Why the server stops, if a reactor thread failed.
    failure: Option<ServerError>,
}

impl<B, L: Listener> fmt::Debug for Server<B, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open: Vec<usize> = self
            .open
            .iter()
            .map(|open| open.load(Ordering::Acquire))
            .collect();
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("accepting", &self.listener.is_some())
            .field("open_per_reactor", &open)
            .field("max_connections", &self.max_connections)
            .field("shutdown", &self.shutdown)
            .field("failure", &self.failure)
            .finish()
    }
}

impl Server<()> {
    /// A builder to choose the configuration, the shutdown signal, the number of
    /// reactors and the cap on connections.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }
}

impl<B: ServiceBuilder> Server<B> {
    /// Binds `addr` with the default settings (use port 0 to let the system pick a
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
                Ok(Async::Ready(socket)) => self.hand_over(socket),
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

    // ANCHOR: hand_over
    /// Gives a newly accepted socket to the reactor with the fewest open connections,
    /// or closes it at once if the server is at its cap.
    fn hand_over(&mut self, socket: L::Socket) {
        let open: usize = self
            .open
            .iter()
            .map(|open| open.load(Ordering::Acquire))
            .sum();
        if open >= self.max_connections {
            if !self.at_cap {
                log::warn!(
                    "{} connections open, the most allowed (ServerBuilder::max_connections): closing new ones at once",
                    open
                );
                self.at_cap = true;
            }
            // Dropping the socket closes it.
            return;
        }
        self.at_cap = false;
        let reactor = self.least_busy();
        let slot = Slot::take(&self.open[reactor]);
        match reactor.checked_sub(1) {
            None => self.local.start::<L>(socket, slot),
            Some(thread) => self.threads[thread].hand_over(socket, slot),
        }
    }

    /// The reactor with the fewest open connections; ties go to the reactor after the
    /// last one chosen, so that connections opened together spread evenly.
    fn least_busy(&mut self) -> usize {
        let reactors = self.open.len();
        let load = |reactor: usize| self.open[reactor].load(Ordering::Acquire);
        let mut best = self.next % reactors;
        for step in 1..reactors {
            let reactor = (self.next + step) % reactors;
            if load(reactor) < load(best) {
                best = reactor;
            }
        }
        self.next = best + 1;
        best
    }
    // ANCHOR_END: hand_over

    // ANCHOR: stop_accepting
    /// Stops accepting; the connections of every reactor received the shutdown signal
    /// themselves, and each reactor ends once its last connection has.
    fn stop_accepting(&mut self) {
        log::info!(
            "the server on {:?} stops accepting connections",
            self.local_addr
        );
        self.listener = None;
        self.backoff = None;
        self.local.close();
        for thread in &mut self.threads {
            thread.close();
        }
    }
    // ANCHOR_END: stop_accepting

    // ANCHOR: watch_threads
    /// Sees which reactor threads have ended; stops the server on the first one that
    /// failed.
    fn watch_threads(&mut self) -> Async<()> {
        let mut all_done = Async::Ready(());
        for thread in &mut self.threads {
            match thread.poll_done() {
                Async::NotReady => all_done = Async::NotReady,
                Async::Ready(None) => {}
                Async::Ready(Some(err)) => {
                    log::error!("the server on {:?} stops: {}", self.local_addr, err);
                    if self.failure.is_none() {
                        self.failure = Some(err);
                    }
                }
            }
        }
        all_done
    }
    // ANCHOR_END: watch_threads
}

// ANCHOR: server_poll
impl<B: ServiceBuilder, L: Listener> Future for Server<B, L> {
    type Item = ();
    type Error = ServerError;

    fn poll(&mut self) -> Poll<(), ServerError> {
        // Every thread will wake us when it ends.
        let threads_done = self.watch_threads();
        if self.failure.is_some() {
            // No grace (unless a shutdown already gave one): a panic may have left
            // shared state broken.
            self.connections.shutdown(Duration::from_secs(0));
            if self.listener.is_some() {
                self.stop_accepting();
            }
        }
        if self.listener.is_some() {
            if let Ok(Async::Ready(deadline)) = self.stop.poll() {
                // The shutdown handle will wake us when a shutdown is asked for. (It
                // cannot be cancelled: we hold a clone of the handle.)
                self.connections.shutdown_at(deadline);
                self.stop_accepting();
            } else {
                self.accept();
                return Ok(Async::NotReady);
            }
        }
        // Shutting down: done when every reactor has seen its last connection end.
        if self.local.poll_ended().is_not_ready() || threads_done.is_not_ready() {
            return Ok(Async::NotReady);
        }
        match self.failure.take() {
            Some(err) => Err(err),
            None => Ok(Async::Ready(())),
        }
    }
}
// ANCHOR_END: server_poll

impl<B, L: Listener> Drop for Server<B, L> {
    fn drop(&mut self) {
        // Done already if the server completed; otherwise nothing is left to wait for
        // its connections, on any reactor.
        self.connections.shutdown(Duration::from_secs(0));
    }
}
