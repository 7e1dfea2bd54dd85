//! The client: connects to a peer and returns a [`Client`] handle to the connection.
//!
//! [`Client::connect`] is the one-liner; [`ClientBuilder`] chooses a handler for what the
//! peer sends, the configuration and a default timeout. The connection itself runs as its
//! own task on the reactor: the same core as a server connection, so a client can also
//! answer requests and notifications from its peer, through the handler it was built
//! with. The handle and the future of each call live in a module of their own, below the
//! services that also receive one.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use futures::sync::mpsc;
use futures::{future, Future};
use tokio_core::net::TcpStream;
use tokio_core::reactor::Handle;
use tokio_io::{AsyncRead, AsyncWrite};
use tokio_uds::UnixStream;

use crate::connection::{Duplex, Halves, Io};
use crate::errors::ConfigError;
use crate::service::{NoHandler, ServiceBuilder};
use crate::spawn::spawn_connection;

pub use crate::config::Config;
pub use crate::peer::{CallFuture, Client, Closed, ResponseFuture};

/// The future returned by [`Client::connect`] and [`ClientBuilder::connect`].
pub type Connect = Box<dyn Future<Item = Client, Error = io::Error>>;

impl Client {
    /// Connects over TCP, without a handler for what the server sends (see
    /// [`Client::builder`] to install one).
    pub fn connect(addr: &SocketAddr, handle: &Handle) -> Connect {
        Client::builder().connect(addr, handle)
    }

    /// Connects to the Unix domain socket at `path` (where `nvim --listen` listens by
    /// default), without a handler.
    pub fn connect_unix<P: AsRef<Path>>(path: P, handle: &Handle) -> Connect {
        Client::builder().connect_unix(path, handle)
    }

    /// Runs a client over an already connected transport (a TCP or Unix socket, an
    /// in-memory pipe...), without a handler.
    pub fn new<T>(transport: T, handle: &Handle) -> Client
    where
        T: AsyncRead + AsyncWrite + 'static,
    {
        // The default configuration is valid (a unit test of `Config` checks it).
        Client::builder().start_io(Duplex(transport), handle)
    }

    /// A builder to choose the handler, the configuration and the default timeout.
    pub fn builder() -> ClientBuilder<NoHandler> {
        ClientBuilder {
            handler: NoHandler,
            config: Config::default(),
            timeout: None,
        }
    }
}

/// Configures a [`Client`] before it connects.
#[derive(Clone)]
pub struct ClientBuilder<B> {
    handler: B,
    config: Config,
    timeout: Option<Duration>,
}

impl<B> fmt::Debug for ClientBuilder<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("handler", &std::any::type_name::<B>())
            .field("config", &self.config)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<B: ServiceBuilder> ClientBuilder<B> {
    /// Handles the requests and notifications the peer sends, with the service `handler`
    /// builds. Without one, requests get an error response and notifications are dropped.
    pub fn handler<H: ServiceBuilder>(self, handler: H) -> ClientBuilder<H> {
        ClientBuilder {
            handler,
            config: self.config,
            timeout: self.timeout,
        }
    }

    /// Sets the connection's configuration (limits, backpressure, ordering).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Every request made through the client times out after `timeout`
    /// (see [`Client::with_timeout`] to choose per handle).
    ///
    /// Poll the futures of its requests on the reactor's thread: see [`Client::request`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Connects over TCP and starts the connection on the reactor.
    ///
    /// Fails at once, before connecting, if the configuration cannot work: the
    /// `io::Error` (kind `InvalidInput`) then holds a [`ConfigError`], which
    /// `err.get_ref()` downcasts to.
    pub fn connect(self, addr: &SocketAddr, handle: &Handle) -> Connect {
        if let Err(err) = self.config.validate() {
            return Box::new(future::err(err.into()));
        }
        let handle = handle.clone();
        Box::new(TcpStream::connect(addr, &handle).map(move |stream| {
            // Requests are small and latency matters: do not wait to fill a segment.
            if let Err(err) = stream.set_nodelay(true) {
                log::debug!("could not set TCP_NODELAY: {}", err);
            }
            self.start_io(Duplex(stream), &handle)
        }))
    }

    // ANCHOR: connect_unix
    /// Connects to the Unix domain socket at `path` and starts the connection on the
    /// reactor. A Unix socket connects at once or not at all, so the future is ready
    /// when it is first polled. Fails, before connecting, if the configuration cannot
    /// work, as [`connect`](ClientBuilder::connect) does.
    pub fn connect_unix<P: AsRef<Path>>(self, path: P, handle: &Handle) -> Connect {
        if let Err(err) = self.config.validate() {
            return Box::new(future::err(err.into()));
        }
        let connected =
            UnixStream::connect(path, handle).map(|stream| self.start_io(Duplex(stream), handle));
        Box::new(future::result(connected))
    }
    // ANCHOR_END: connect_unix

    /// Starts the connection over `transport` on the reactor and returns its handle;
    /// fails, starting nothing, if the configuration cannot work.
    pub fn start<T>(self, transport: T, handle: &Handle) -> Result<Client, ConfigError>
    where
        T: AsyncRead + AsyncWrite + 'static,
    {
        self.config.validate()?;
        Ok(self.start_io(Duplex(transport), handle))
    }

    // ANCHOR: start_halves
    /// Starts the connection over a reader and a writer that are two objects, on the
    /// reactor, and returns its handle: a child process's stdout and stdin, or this
    /// program's own stdin and stdout. Once `reader` reaches its end (or fails), the
    /// connection finishes what it was sent and closes; dropping `writer` with it tells
    /// the peer that we are gone. Fails, starting nothing, if the configuration cannot
    /// work.
    pub fn start_halves<R, W>(
        self,
        reader: R,
        writer: W,
        handle: &Handle,
    ) -> Result<Client, ConfigError>
    where
        R: AsyncRead + 'static,
        W: AsyncWrite + 'static,
    {
        self.config.validate()?;
        Ok(self.start_io(Halves { reader, writer }, handle))
    }
    // ANCHOR_END: start_halves

    /// Refuses a configuration that cannot work (see [`Config::validate`]).
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        self.config.validate()
    }

    /// Starts the connection, its configuration already checked.
    pub(crate) fn start_io<I: Io + 'static>(self, io: I, handle: &Handle) -> Client {
        let (sender, receiver) = mpsc::unbounded();
        let peer = spawn_connection(io, &self.handler, self.config, Some(receiver), None, handle);
        peer.with_queue(sender, self.timeout)
    }
}
