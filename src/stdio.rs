//! This program's own stdin and stdout as a connection: for a plugin, a program that its
//! peer starts and talks to over pipes (Neovim's `jobstart(cmd, {'rpc': v:true})`).
//!
//! [`open`] makes the two streams; [`ServerBuilder::serve_stdio`] serves a connection
//! over them.
//!
//! **Print nothing to stdout.** Stdout *is* the connection: a line printed there with
//! `println!` lands in the middle of the MessagePack stream, and the peer reads garbage
//! (Neovim closes the channel). Log to stderr (`eprintln!`), which the peer keeps apart
//! (Neovim hands it to the job's `on_stderr` callback).
//!
//! [`open`] makes both descriptors non-blocking, as the reactor needs, and restores them
//! when the streams are dropped. Non-blocking is a property that every copy of a
//! descriptor shares: when stderr is the same pipe or terminal as stdout (`2>&1`, or
//! all three on one terminal), writes to stderr can then fail with "would block" while
//! the connection runs, and `eprintln!` panics on such a failure. A peer that starts a
//! plugin gives it separate pipes, as Neovim does.
//!
//! [`ServerBuilder::serve_stdio`]: crate::server::ServerBuilder::serve_stdio

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;

use futures::Poll;
use tokio_core::reactor::{Handle, PollEvented};
use tokio_io::{AsyncRead, AsyncWrite};

// ANCHOR: open
/// This program's stdin and stdout, on the reactor of `handle`, as the two halves of a
/// connection (for [`ServerBuilder::serve_halves`] or [`ClientBuilder::start_halves`]).
///
/// Each is a copy of the descriptor (`dup`), registered with the reactor; the standard
/// library's `stdin()` and `stdout()` stay as they are, and must not be used for
/// anything else meanwhile (see the [module documentation](self)).
///
/// [`ServerBuilder::serve_halves`]: crate::server::ServerBuilder::serve_halves
/// [`ClientBuilder::start_halves`]: crate::client::ClientBuilder::start_halves
pub fn open(handle: &Handle) -> io::Result<(Stdin, Stdout)> {
    let stdin = io::stdin().as_fd().try_clone_to_owned()?;
    let stdout = io::stdout().as_fd().try_clone_to_owned()?;
    Ok((
        Stdin(Pipe::new(File::from(stdin), handle)?),
        Stdout(Pipe::new(File::from(stdout), handle)?),
    ))
}
// ANCHOR_END: open

/// One of this program's standard streams, non-blocking on the reactor while it lives.
struct Pipe(PollEvented<tokio_file_unix::File<File>>);

impl Pipe {
    fn new(file: File, handle: &Handle) -> io::Result<Pipe> {
        let pipe = Pipe(tokio_file_unix::File::raw_new(file).into_io(handle)?);
        // Non-blocking once registered: if this fails, dropping `pipe` undoes it.
        pipe.0.get_ref().set_nonblocking(true)?;
        Ok(pipe)
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // Leave the descriptor as we found it: a shell that shares it would otherwise
        // find its terminal non-blocking.
        if let Err(err) = self.0.get_ref().set_nonblocking(false) {
            log::debug!("cannot make a standard stream blocking again: {}", err);
        }
    }
}

/// This program's stdin, to read on the reactor: made by [`open`].
pub struct Stdin(Pipe);

/// This program's stdout, to write on the reactor: made by [`open`].
pub struct Stdout(Pipe);

impl Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (self.0).0.read(buf)
    }
}

impl AsyncRead for Stdin {}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (self.0).0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (self.0).0.flush()
    }
}

impl AsyncWrite for Stdout {
    fn shutdown(&mut self) -> Poll<(), io::Error> {
        AsyncWrite::shutdown(&mut (self.0).0)
    }
}

impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Stdin")
    }
}

impl fmt::Debug for Stdout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Stdout")
    }
}
