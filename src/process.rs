//! Child processes: start a program and talk to it over its stdin and stdout, as a GUI
//! or a test harness talks to `nvim --embed`.
//!
//! [`ClientBuilder::spawn`] starts the program with its stdin and stdout piped to a
//! connection, and returns a [`Child`]: the [`Client`] of that connection, the
//! program's stderr if the command piped it, and its process id. The program is the
//! peer: when it exits, the connection ends, and the calls still waiting fail with
//! [`ClosedReason::Exited`], which holds its exit status. When our side ends the
//! connection instead (every handle dropped, or a shutdown), the program's stdin is
//! closed, which asks it to exit; one that is still running [`EXIT_GRACE`] later is
//! killed. Either way it is reaped: no zombie is left behind.
//!
//! Anything the program writes to its stdout is read as MessagePack-RPC; see
//! [`ClientBuilder::spawn`] for what happens to bytes that are not.
//!
//! The exit is learnt from `SIGCHLD`: tokio-process (through tokio-signal) installs a
//! handler for it, for the whole process, the first time a child is spawned, and keeps
//! it. That handler calls the one installed before it; a handler installed after it
//! replaces it, and then the exit status is not learnt (the connection ends with the
//! reason its streams gave, [`ClosedReason::PeerClosed`] for instance).

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use futures::future::Either;
use futures::{Async, Future, Poll};
use tokio_core::reactor::{Handle, Timeout};
use tokio_io::{AsyncRead, AsyncWrite};
use tokio_process::{ChildStdin, ChildStdout, CommandExt};

use crate::client::ClientBuilder;
use crate::connection::Io;
use crate::errors::ClosedReason;
use crate::peer::Client;
use crate::service::ServiceBuilder;

/// How long a program whose stdin we closed may take to exit before it is killed.
pub const EXIT_GRACE: Duration = Duration::from_secs(5);

/// How long we wait, once the program's stdout has ended, to learn its exit status.
/// A program closes its pipes as it exits and the system reports the exit a moment
/// later; one that closed its stdout and goes on running is not waited for longer.
const EXIT_STATUS_WAIT: Duration = Duration::from_secs(5);

impl Client {
    /// Starts `command` and talks to it over its stdin and stdout, without a handler
    /// (see [`ClientBuilder::spawn`]).
    pub fn spawn(command: &mut Command, handle: &Handle) -> io::Result<Child> {
        Client::builder().spawn(command, handle)
    }
}

impl<B: ServiceBuilder> ClientBuilder<B> {
    // ANCHOR: spawn
    /// Starts `command` with its stdin and stdout piped to a new connection, on the
    /// reactor of `handle`.
    ///
    /// Its stderr is what the command says: inherited by default, or, with
    /// `command.stderr(Stdio::piped())`, yours to read with [`Child::take_stderr`]. A
    /// program that cannot be started is an error that names it, of the kind the system
    /// gave (`NotFound` for a program that is not there); a configuration that cannot
    /// work is refused before the program starts (`InvalidInput`, holding a
    /// [`ConfigError`](crate::ConfigError)).
    ///
    /// Every byte the program writes to its stdout is read as MessagePack. Text it
    /// prints before its first message is skipped if it is ASCII (each byte is a
    /// MessagePack integer, which is not a message: skipped with a warning in the log);
    /// other bytes may be taken for the start of a larger value, or refused as not
    /// MessagePack, which ends the connection ([`ClosedReason::Protocol`]). A program
    /// meant to be spawned must write its logs to stderr.
    pub fn spawn(self, command: &mut Command, handle: &Handle) -> io::Result<Child> {
        self.validate()?;
        let program = command.get_program().to_owned();
        let cannot = |err: io::Error| {
            io::Error::new(
                err.kind(),
                format!("cannot start `{}`: {}", display(&program), err),
            )
        };
        let mut process = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn_async(handle)
            .map_err(cannot)?;
        let id = process.id();
        let missing = || cannot(io::Error::other("its stdin or stdout is not piped"));
        let stdin = process.stdin().take().ok_or_else(missing)?;
        let stdout = process.stdout().take().ok_or_else(missing)?;
        let stderr = process.stderr().take().map(ChildStderr);
        let io = ChildIo {
            stdout,
            stdin: ChildInput(Some(stdin)),
            process: Some(process),
            status: None,
            status_wait: None,
            handle: handle.clone(),
        };
        Ok(Child {
            client: self.start_io(io, handle),
            stderr,
            id,
        })
    }
    // ANCHOR_END: spawn
}

/// `nvim` from a program name, for messages.
fn display(program: &OsStr) -> String {
    Path::new(program).display().to_string()
}

/// A program started by [`ClientBuilder::spawn`], and the connection to it.
pub struct Child {
    client: Client,
    stderr: Option<ChildStderr>,
    id: u32,
}

impl Child {
    /// The connection to the program: send it requests and notifications, or wait for
    /// its end with [`Client::closed_reason`]. Dropping every handle closes the
    /// program's stdin (see the [module documentation](self)).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The program's stderr, if the command piped it: the first call takes it, later
    /// ones return `None`. Read it on the reactor, as any `AsyncRead`, or it may fill
    /// up and block the program.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.stderr.take()
    }

    /// The program's process id.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id)
            .field("client", &self.client)
            .field("stderr", &self.stderr.is_some())
            .finish()
    }
}

/// The stderr of a [`Child`], to read on the reactor.
#[derive(Debug)]
pub struct ChildStderr(tokio_process::ChildStderr);

impl Read for ChildStderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl AsyncRead for ChildStderr {}

// ANCHOR: child_io
/// The connection's two streams, the program's stdout and stdin, and the program
/// itself, which explains why the streams ended.
struct ChildIo {
    stdout: ChildStdout,
    /// Closed once the connection is over, which asks the program to exit.
    stdin: ChildInput,
    /// `None` once handed to the task that reaps it, when the connection is dropped.
    process: Option<tokio_process::Child>,
    /// Its exit status, once we have it (the process is reaped then, and must not be
    /// polled again).
    status: Option<ExitStatus>,
    /// The limit on waiting for the status, armed when the streams end.
    status_wait: Option<Timeout>,
    handle: Handle,
}

impl Io for ChildIo {
    type Reader = ChildStdout;
    type Writer = ChildInput;

    fn reader(&mut self) -> &mut ChildStdout {
        &mut self.stdout
    }

    fn writer(&mut self) -> &mut ChildInput {
        &mut self.stdin
    }

    /// The program's stdout ended, or writing to its stdin failed: it has exited, most
    /// likely. Its exit status is the reason to give the callers.
    fn explain_end(&mut self, reason: &ClosedReason) -> Async<Option<ClosedReason>> {
        match reason {
            ClosedReason::PeerClosed | ClosedReason::Io(_) => {}
            // We closed it, or the program broke the protocol: it may well be running.
            ClosedReason::ShutDown
            | ClosedReason::Protocol(_)
            | ClosedReason::Exited(_)
            | ClosedReason::BuilderPanicked(_)
            | ClosedReason::Idle(_) => return Async::Ready(None),
        }
        // We will write nothing more: a program that waits for the end of its stdin
        // before it exits must not wait for us.
        self.stdin.close();
        match self.poll_status() {
            Ok(Async::Ready(status)) => return Async::Ready(Some(ClosedReason::Exited(status))),
            Ok(Async::NotReady) => {}
            Err(err) => {
                log::warn!("cannot learn how the child process exited: {}", err);
                return Async::Ready(None);
            }
        }
        if self.status_wait.is_none() {
            match Timeout::new(EXIT_STATUS_WAIT, &self.handle) {
                Ok(timer) => self.status_wait = Some(timer),
                Err(_) => return Async::Ready(None),
            }
        }
        match self.status_wait.as_mut().map(Future::poll) {
            // The timer, and the process's exit, will wake us.
            Some(Ok(Async::NotReady)) => Async::NotReady,
            _ => {
                log::info!("the child process closed its stdout and is still running");
                Async::Ready(None)
            }
        }
    }
}
// ANCHOR_END: child_io

/// The program's stdin, until we close it; writing after that is a broken pipe.
struct ChildInput(Option<ChildStdin>);

impl ChildInput {
    fn close(&mut self) {
        self.0 = None;
    }

    fn open(&mut self) -> io::Result<&mut ChildStdin> {
        self.0
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "the child's stdin is closed"))
    }
}

impl Write for ChildInput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.open()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.open()?.flush()
    }
}

impl AsyncWrite for ChildInput {
    fn shutdown(&mut self) -> Poll<(), io::Error> {
        self.close();
        Ok(Async::Ready(()))
    }
}

impl ChildIo {
    /// The exit status, once the program has exited; `NotReady` registers the task.
    fn poll_status(&mut self) -> Poll<ExitStatus, io::Error> {
        if let Some(status) = self.status {
            return Ok(Async::Ready(status));
        }
        let process = match self.process {
            Some(ref mut process) => process,
            None => return Err(io::Error::other("the child process was handed off")),
        };
        let status = futures::try_ready!(process.poll());
        self.status = Some(status);
        Ok(Async::Ready(status))
    }
}

// ANCHOR: child_drop
impl Drop for ChildIo {
    fn drop(&mut self) {
        // `stdin`, if still open, is closed right after this, before the task below
        // first runs.
        let process = match self.process.take() {
            Some(process) if self.status.is_none() => process,
            // Exited and reaped already.
            _ => return,
        };
        let id = process.id();
        let grace = match Timeout::new(EXIT_GRACE, &self.handle) {
            Ok(grace) => grace,
            // No timer: kill it now (dropping it does).
            Err(_) => return,
        };
        // Reap it when it exits, or kill it when the grace period is over. (If the reactor
        // goes away first, dropping the process kills it.)
        let reaped = process.select2(grace).then(move |outcome| {
            match outcome {
                Ok(Either::A((status, _))) => {
                    log::debug!("child process {} exited ({})", id, status)
                }
                Ok(Either::B((_, mut process))) => {
                    log::warn!(
                        "child process {} still runs {:?} after its stdin was closed: killing it",
                        id,
                        EXIT_GRACE
                    );
                    if let Err(err) = process.kill() {
                        log::warn!("cannot kill child process {}: {}", id, err);
                    }
                }
                Err(Either::A((err, _))) => {
                    log::warn!("cannot wait for child process {}: {}", id, err)
                }
                // The timer failed: dropping the process kills it.
                Err(Either::B(_)) => {}
            }
            Ok(())
        });
        self.handle.spawn(reaped);
    }
}
// ANCHOR_END: child_drop
