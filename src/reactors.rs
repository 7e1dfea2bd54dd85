//! The reactors of a server: the caller's, which accepts every connection, and one
//! thread for each of the others.
//!
//! tokio-core's way to use several cores: one `Core` per thread, and sockets handed from
//! the thread that accepts them to the thread that serves them. The server accepts on
//! its own reactor and gives each std socket to the reactor with the fewest open
//! connections; a [`ReactorThread`] receives it on a channel and adopts it with
//! `TcpStream::from_stream`. Everything a connection touches (its service, its handler
//! futures, its timers) stays on the reactor that adopted it, so a service need not be
//! `Send`: each reactor gets its own service builder, made on its own thread.

use std::fmt;
use std::io;
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread;

use futures::stream::Stream;
use futures::sync::{mpsc, oneshot};
use futures::{task, Async, Future, Poll};
use tokio_core::reactor::{Core, Handle};

use crate::catch::catch;
use crate::config::Config;
use crate::connection::Duplex;
use crate::errors::ServerError;
use crate::listener::Listener;
use crate::service::ServiceBuilder;
use crate::shutdown::{Alive, ShutdownHandle, ShutdownSignal, Slot};
use crate::spawn::spawn_connection;

/// Sockets a reactor thread adopts in one poll before letting its connections run.
const ADOPT_BUDGET: usize = 64;

// ANCHOR: serving
/// What one reactor needs to serve the connections it is given.
pub(crate) struct Serving<B> {
    builder: B,
    config: Config,
    /// The signal every connection of the server listens to.
    shutdown: ShutdownHandle,
    /// Each connection holds a clone; dropped by `close`, after which `all_ended` ends
    /// when the last connection does.
    ended: Option<mpsc::UnboundedSender<()>>,
    all_ended: mpsc::UnboundedReceiver<()>,
    handle: Handle,
}

impl<B: ServiceBuilder> Serving<B> {
    pub(crate) fn new(
        builder: B,
        config: Config,
        shutdown: ShutdownHandle,
        handle: &Handle,
    ) -> Self {
        let (ended, all_ended) = mpsc::unbounded();
        Serving {
            builder,
            config,
            shutdown,
            ended: Some(ended),
            all_ended,
            handle: handle.clone(),
        }
    }

    /// Starts the connection of a socket accepted by an `L` on this reactor. `slot`
    /// counts it among the open connections until it ends.
    pub(crate) fn start<L: Listener>(&self, socket: L::Socket, slot: Slot) {
        let ended = match self.ended {
            Some(ref ended) => ended.clone(),
            // Closed: dropping the socket closes it.
            None => return,
        };
        let stream = match L::adopt(socket, &self.handle) {
            Ok(stream) => stream,
            Err(err) => {
                log::warn!("cannot serve an accepted connection: {}", err);
                return;
            }
        };
        let shutdown = ShutdownSignal {
            deadline: self.shutdown.listen(),
            _alive: Some(Alive {
                _ended: ended,
                _slot: slot,
            }),
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

    /// No more connections will come.
    pub(crate) fn close(&mut self) {
        self.ended = None;
    }

    /// Ready once closed and every connection started here has ended.
    pub(crate) fn poll_ended(&mut self) -> Async<()> {
        loop {
            match self.all_ended.poll() {
                Ok(Async::Ready(Some(()))) => continue,
                Ok(Async::Ready(None)) | Err(()) => return Async::Ready(()),
                // The last connection to end will wake us.
                Ok(Async::NotReady) => return Async::NotReady,
            }
        }
    }
}
// ANCHOR_END: serving

/// A socket on its way to a reactor thread, with its place in that reactor's count.
type Handover<L> = (<L as crate::listener::sealed::Accept>::Socket, Slot);

// ANCHOR: reactor_thread
/// The server's end of one reactor thread, which serves sockets accepted by an `L`.
pub(crate) struct ReactorThread<L: Listener> {
    name: String,
    /// Accepted sockets for the thread to adopt; dropped when the server stops accepting.
    sockets: Option<mpsc::UnboundedSender<Handover<L>>>,
    /// Fires when the thread is done: `Err` if it panicked. `None` once it fired.
    done: Option<oneshot::Receiver<Result<(), ServerError>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl<L: Listener> ReactorThread<L>
where
    L::Socket: Send,
{
    /// Starts reactor thread number `index`: a `Core`, a service builder made there by
    /// `per_reactor`, and its connections listening to `shutdown`. Returns once the
    /// thread is serving, or with why it could not start.
    pub(crate) fn spawn<F, B>(
        index: usize,
        per_reactor: Arc<F>,
        config: Config,
        shutdown: ShutdownHandle,
    ) -> io::Result<ReactorThread<L>>
    where
        F: Fn(&Handle) -> B + Send + Sync + 'static,
        B: ServiceBuilder,
    {
        let name = format!("rpc-reactor-{}", index);
        let (sockets, adopt) = mpsc::unbounded();
        let (done_sender, done) = oneshot::channel();
        let (ready_sender, ready) = std_mpsc::channel();
        let thread_name = name.clone();
        let thread = thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                let result =
                    run_reactor_thread(&thread_name, ready_sender, |handle| Adopt::<B, L> {
                        serving: Serving::new(per_reactor(handle), config, shutdown, handle),
                        sockets: Some(adopt),
                    });
                // Nobody listens if the server is gone: then there is nobody to tell.
                let _ = done_sender.send(result);
            })
            .map_err(|err| {
                io::Error::new(err.kind(), format!("cannot start thread {}: {}", name, err))
            })?;
        match ready.recv() {
            Ok(Ok(())) => Ok(ReactorThread {
                name,
                sockets: Some(sockets),
                done: Some(done),
                thread: Some(thread),
            }),
            Ok(Err(err)) => Err(err),
            Err(std_mpsc::RecvError) => Err(io::Error::other(format!(
                "thread {} ended before it started serving",
                name
            ))),
        }
    }
}
// ANCHOR_END: reactor_thread

impl<L: Listener> ReactorThread<L> {
    /// Gives the thread a socket to serve. If the thread is gone, the socket is closed;
    /// [`poll_done`](ReactorThread::poll_done) reports why the thread ended.
    pub(crate) fn hand_over(&self, socket: L::Socket, slot: Slot) {
        if let Some(ref sockets) = self.sockets {
            // An error gives the socket back, and dropping it closes it.
            let _ = sockets.unbounded_send((socket, slot));
        }
    }

    /// No more sockets: once its connections have ended, the thread ends.
    pub(crate) fn close(&mut self) {
        self.sockets = None;
    }

    /// Ready once the thread has ended: with `Some` error the first time, if it failed.
    pub(crate) fn poll_done(&mut self) -> Async<Option<ServerError>> {
        let result = match self.done {
            Some(ref mut done) => match done.poll() {
                // The thread will wake us when it ends.
                Ok(Async::NotReady) => return Async::NotReady,
                Ok(Async::Ready(result)) => result.err(),
                Err(oneshot::Canceled) => Some(ServerError::ReactorPanicked {
                    thread: self.name.clone(),
                    message: "the thread ended without saying why".to_string(),
                }),
            },
            None => return Async::Ready(None),
        };
        self.done = None;
        if let Some(thread) = self.thread.take() {
            // It has sent its last message: this returns at once.
            let _ = thread.join();
        }
        Async::Ready(result)
    }
}

impl<L: Listener> fmt::Debug for ReactorThread<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactorThread")
            .field("name", &self.name)
            .field("running", &self.done.is_some())
            .finish()
    }
}

// ANCHOR: run_reactor_thread
/// Runs a reactor thread: makes its `Core`, then the task `serve` builds on it, and
/// runs the task to its end. Says on `ready` when the thread serves, or why it could not
/// start (`spawn` waits for that); a panic after that is the result.
fn run_reactor_thread<S, T>(
    name: &str,
    ready: std_mpsc::Sender<io::Result<()>>,
    serve: S,
) -> Result<(), ServerError>
where
    S: FnOnce(&Handle) -> T,
    T: Future<Item = (), Error = ()>,
{
    let mut ready = Some(ready);
    let ran = catch(|| -> io::Result<()> {
        let mut core = Core::new()?;
        let task = serve(&core.handle());
        if let Some(ready) = ready.take() {
            let _ = ready.send(Ok(()));
        }
        // The task never fails.
        let _ = core.run(task);
        Ok(())
    });
    let failure = match ran {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(err)) => io::Error::new(
            err.kind(),
            format!("cannot start a reactor on thread {}: {}", name, err),
        ),
        Err(message) => {
            let err = ServerError::ReactorPanicked {
                thread: name.to_string(),
                message,
            };
            if ready.is_none() {
                return Err(err);
            }
            io::Error::other(err)
        }
    };
    if let Some(ready) = ready {
        let _ = ready.send(Err(failure));
    }
    Ok(())
}
// ANCHOR_END: run_reactor_thread

// ANCHOR: adopt
/// The task of a reactor thread: adopts the sockets the server hands over until it
/// stops accepting, then waits for the last connection to end.
struct Adopt<B, L: Listener> {
    serving: Serving<B>,
    /// `None` once the server stopped accepting.
    sockets: Option<mpsc::UnboundedReceiver<Handover<L>>>,
}

impl<B: ServiceBuilder, L: Listener> Future for Adopt<B, L> {
    type Item = ();
    type Error = ();

    fn poll(&mut self) -> Poll<(), ()> {
        if let Some(mut sockets) = self.sockets.take() {
            for _ in 0..ADOPT_BUDGET {
                match sockets.poll() {
                    Ok(Async::Ready(Some((socket, slot)))) => self.serving.start::<L>(socket, slot),
                    Ok(Async::NotReady) => {
                        // The server will wake us when it hands over a socket.
                        self.sockets = Some(sockets);
                        return Ok(Async::NotReady);
                    }
                    Ok(Async::Ready(None)) | Err(()) => {
                        self.serving.close();
                        return Ok(self.serving.poll_ended());
                    }
                }
            }
            // More sockets may be waiting: come back after the connections ran.
            self.sockets = Some(sockets);
            task::current().notify();
            return Ok(Async::NotReady);
        }
        Ok(self.serving.poll_ended())
    }
}
// ANCHOR_END: adopt
