//! What a [`Server`](crate::Server) accepts connections on: a TCP socket ([`Tcp`], the
//! default) or a Unix domain socket ([`Unix`]).
//!
//! A Unix socket is a file, and the file outlives a server that crashed. So binding one
//! looks at what is already there: a socket file that nobody listens on any more (we
//! try to connect, and nobody answers) is stale and removed; a socket that answers, or
//! a file that is not a socket, is left alone and the bind fails, naming the path. The
//! file we create lets only its owner connect (mode 0600, as Neovim's own sockets are
//! private), and it is removed when the server stops listening.

use std::fmt;
use std::fs;
use std::io;
use std::net::{self, SocketAddr};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use futures::{Async, Poll};
use tokio_core::net::{TcpListener, TcpStream};
use tokio_core::reactor::Handle;
use tokio_io::{AsyncRead, AsyncWrite};
use tokio_uds::{UnixListener, UnixStream};

/// The permissions of a socket file we create: only its owner may connect (connecting
/// to a Unix socket needs write permission on its file).
pub(crate) const SOCKET_MODE: u32 = 0o600;

/// What a [`Server`](crate::Server) listens on: [`Tcp`] or [`Unix`]. Implemented by
/// this crate only.
pub trait Listener: sealed::Accept {}

pub(crate) mod sealed {
    use super::*;

    /// What the server needs of a listener.
    pub trait Accept: Sized + 'static {
        /// A connection it accepted, once a reactor has adopted it.
        type Stream: AsyncRead + AsyncWrite + 'static;
        /// A connection as it is accepted, before a reactor adopts it: for TCP, a std
        /// socket that can be handed to a reactor on another thread.
        type Socket: 'static;
        /// Where it listens.
        type Addr: Clone + fmt::Debug + 'static;

        /// Where it listens.
        fn addr(&self) -> Self::Addr;

        /// Accepts a waiting connection; `NotReady` once none waits (the listener wakes
        /// the task when one arrives).
        fn accept(&mut self) -> Poll<Self::Socket, io::Error>;

        /// Ties an accepted connection to the reactor of `handle`.
        fn adopt(socket: Self::Socket, handle: &Handle) -> io::Result<Self::Stream>;
    }
}

// ---------------------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------------------

/// A TCP listening socket.
#[derive(Debug)]
pub struct Tcp {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Tcp {
    pub(crate) fn bind(addr: &SocketAddr, handle: &Handle) -> io::Result<Tcp> {
        let listener = TcpListener::bind(addr, handle).map_err(|err| {
            io::Error::new(err.kind(), format!("cannot listen on {}: {}", addr, err))
        })?;
        let addr = listener.local_addr()?;
        Ok(Tcp { listener, addr })
    }
}

impl Listener for Tcp {}

impl sealed::Accept for Tcp {
    type Stream = TcpStream;
    type Socket = net::TcpStream;
    type Addr = SocketAddr;

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Accepts a std socket, which any reactor can adopt: the same system calls as
    /// tokio-core's `accept`, which registers the socket with the listener's reactor.
    fn accept(&mut self) -> Poll<net::TcpStream, io::Error> {
        let (stream, peer) = match self.listener.accept_std() {
            Ok(accepted) => accepted,
            // The listener will wake us when a connection arrives.
            Err(ref err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(Async::NotReady),
            Err(err) => return Err(err),
        };
        log::debug!("accepted a connection from {}", peer);
        // Requests are small and latency matters: do not wait to fill a segment.
        if let Err(err) = stream.set_nodelay(true) {
            log::debug!("could not set TCP_NODELAY: {}", err);
        }
        Ok(Async::Ready(stream))
    }

    fn adopt(socket: net::TcpStream, handle: &Handle) -> io::Result<TcpStream> {
        TcpStream::from_stream(socket, handle)
    }
}

// ---------------------------------------------------------------------------------------
// Unix domain sockets
// ---------------------------------------------------------------------------------------

// ANCHOR: unix
/// A Unix domain socket listening on a path. See the module documentation for what
/// happens to the file.
pub struct Unix {
    listener: UnixListener,
    path: PathBuf,
    /// The device and inode of the file we created: we remove the file at the end only
    /// if it is still ours.
    file_id: (u64, u64),
}

impl Unix {
    pub(crate) fn bind(path: &Path, handle: &Handle) -> io::Result<Unix> {
        let cannot = |err: io::Error| {
            io::Error::new(
                err.kind(),
                format!("cannot listen on {}: {}", path.display(), err),
            )
        };
        let listener = match UnixListener::bind(path, handle) {
            Ok(listener) => listener,
            Err(ref err) if err.kind() == io::ErrorKind::AddrInUse => {
                remove_stale_socket(path, handle)?;
                UnixListener::bind(path, handle).map_err(cannot)?
            }
            Err(err) => return Err(cannot(err)),
        };
        // The listener is ours from here: if anything below fails, dropping it removes
        // the file (`Drop` checks that the file is the one we created).
        let metadata = fs::metadata(path).map_err(cannot)?;
        let unix = Unix {
            listener,
            path: path.to_owned(),
            file_id: (metadata.dev(), metadata.ino()),
        };
        fs::set_permissions(path, fs::Permissions::from_mode(SOCKET_MODE)).map_err(cannot)?;
        Ok(unix)
    }
}
// ANCHOR_END: unix

// ANCHOR: stale
/// `path` exists where we want to listen. Removes it if it is a socket nobody listens
/// on (left by a server that did not remove it: it crashed, or was killed); anything
/// else is an error that says what is there.
fn remove_stale_socket(path: &Path, handle: &Handle) -> io::Result<()> {
    let in_use = |why: &str| {
        io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("cannot listen on {}: {}", path.display(), why),
        )
    };
    let metadata = fs::symlink_metadata(path)?;
    if !metadata.file_type().is_socket() {
        return Err(in_use(
            "the file exists and is not a socket (remove it yourself, or choose another path)",
        ));
    }
    // A non-blocking connect: it fails at once with "refused" when nobody listens, and
    // does not wait when a busy server's queue is full (that is "would block": in use).
    match UnixStream::connect(path, handle) {
        Ok(_) => Err(in_use("another program is listening on it")),
        Err(ref err) if err.kind() == io::ErrorKind::WouldBlock => {
            Err(in_use("another program is listening on it"))
        }
        Err(ref err) if err.kind() == io::ErrorKind::ConnectionRefused => {
            log::info!("removing the stale socket {}", path.display());
            fs::remove_file(path)
        }
        Err(err) => Err(in_use(&format!(
            "a socket file is there, and trying it to see whether it is in use failed: {}",
            err
        ))),
    }
}
// ANCHOR_END: stale

impl Drop for Unix {
    fn drop(&mut self) {
        // Only the file we created: another server may have replaced it since.
        let ours = fs::symlink_metadata(&self.path)
            .map(|metadata| (metadata.dev(), metadata.ino()) == self.file_id)
            .unwrap_or(false);
        if ours {
            if let Err(err) = fs::remove_file(&self.path) {
                log::warn!("could not remove {}: {}", self.path.display(), err);
            }
        }
    }
}

impl fmt::Debug for Unix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unix").field("path", &self.path).finish()
    }
}

impl Listener for Unix {}

impl sealed::Accept for Unix {
    type Stream = UnixStream;
    /// Accepted on the listener's reactor, the only one a Unix socket server has
    /// (tokio-uds 0.1 gives no std socket to hand to another).
    type Socket = UnixStream;
    type Addr = PathBuf;

    fn addr(&self) -> PathBuf {
        self.path.clone()
    }

    fn accept(&mut self) -> Poll<UnixStream, io::Error> {
        match self.listener.accept() {
            Ok((stream, _)) => {
                log::debug!("accepted a connection on {}", self.path.display());
                Ok(Async::Ready(stream))
            }
            // The listener will wake us when a connection arrives.
            Err(ref err) if err.kind() == io::ErrorKind::WouldBlock => Ok(Async::NotReady),
            Err(err) => Err(err),
        }
    }

    fn adopt(socket: UnixStream, _same_reactor: &Handle) -> io::Result<UnixStream> {
        Ok(socket)
    }
}
