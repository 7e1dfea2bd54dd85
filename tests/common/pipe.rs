//! An in-memory, full-duplex byte stream for tokio-io 0.1: two [`End`]s joined by two
//! one-way buffers. What one end writes, the other reads.
//!
//! It behaves like a non-blocking socket: a read with nothing to read returns
//! `WouldBlock` and remembers the task, which the next write (or close) from the other
//! end wakes; a write into a full buffer returns `WouldBlock` and remembers the task,
//! which the next read from the other end wakes. Shutting down an end's write side is a
//! half-close (the other end reads 0, "end of stream"); dropping an end closes both
//! directions (the other end reads 0 and its writes fail with `BrokenPipe`).
//!
//! Self-contained (std, futures 0.1, tokio-io 0.1) so that the fuzz targets can include
//! it with `#[path]`.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::task::{self, Task};
use futures::{Async, Poll};
use tokio_io::{AsyncRead, AsyncWrite};

/// One direction of the pipe.
#[derive(Default)]
struct Direction {
    /// Written, not yet read.
    bytes: VecDeque<u8>,
    /// The most bytes `bytes` may hold; a writer past it gets `WouldBlock`.
    capacity: usize,
    /// The writer shut down or dropped its end: once `bytes` is empty, reads return 0.
    write_closed: bool,
    /// The reader dropped its end: writes fail.
    read_closed: bool,
    /// The task that found nothing to read, to wake on the next write or close.
    reader: Option<Task>,
    /// The task that found the buffer full, to wake on the next read.
    writer: Option<Task>,
}

impl Direction {
    fn wake_reader(&mut self) {
        if let Some(task) = self.reader.take() {
            task.notify();
        }
    }

    fn wake_writer(&mut self) {
        if let Some(task) = self.writer.take() {
            task.notify();
        }
    }
}

/// Both directions: `dirs[i]` carries what end `i` writes to end `1 - i`.
struct Shared {
    dirs: [Direction; 2],
}

/// One end of an in-memory pipe. See the module documentation.
pub struct End {
    shared: Arc<Mutex<Shared>>,
    /// 0 or 1: which end this is.
    side: usize,
}

/// A connected pair of ends whose buffers each hold at most `capacity` bytes
/// (`usize::MAX` for no limit).
pub fn pipe(capacity: usize) -> (End, End) {
    let mut dirs: [Direction; 2] = Default::default();
    for dir in dirs.iter_mut() {
        dir.capacity = capacity.max(1);
    }
    let shared = Arc::new(Mutex::new(Shared { dirs }));
    (
        End {
            shared: shared.clone(),
            side: 0,
        },
        End { shared, side: 1 },
    )
}

impl End {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A test that panicked elsewhere must not hide its own message behind ours.
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `bytes` for the other end to read, ignoring the capacity, without a task:
    /// for code that drives the pipe from outside any future (the fuzz targets).
    pub fn feed(&self, bytes: &[u8]) {
        let mut shared = self.lock();
        let dir = &mut shared.dirs[self.side];
        dir.bytes.extend(bytes);
        dir.wake_reader();
    }

    /// Takes everything the other end wrote so far, without a task.
    pub fn drain(&self) -> Vec<u8> {
        let mut shared = self.lock();
        let dir = &mut shared.dirs[1 - self.side];
        let out: Vec<u8> = dir.bytes.drain(..).collect();
        dir.wake_writer();
        out
    }

    /// Half-closes: the other end reads what is buffered, then 0. Needs no task.
    pub fn close_write(&self) {
        let mut shared = self.lock();
        let dir = &mut shared.dirs[self.side];
        dir.write_closed = true;
        dir.wake_reader();
    }
}

impl Read for End {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut shared = self.lock();
        let dir = &mut shared.dirs[1 - self.side];
        if dir.bytes.is_empty() {
            if dir.write_closed || buf.is_empty() {
                return Ok(0);
            }
            dir.reader = Some(task::current());
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(dir.bytes.len());
        for (slot, byte) in buf.iter_mut().zip(dir.bytes.drain(..n)) {
            *slot = byte;
        }
        dir.wake_writer();
        Ok(n)
    }
}

impl Write for End {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut shared = self.lock();
        let dir = &mut shared.dirs[self.side];
        if dir.read_closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        if dir.write_closed {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            ));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let room = dir.capacity.saturating_sub(dir.bytes.len());
        if room == 0 {
            dir.writer = Some(task::current());
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = room.min(buf.len());
        dir.bytes.extend(&buf[..n]);
        dir.wake_reader();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for End {
    // `read` only writes into the buffer: no need to zero it first.
    unsafe fn prepare_uninitialized_buffer(&self, _buf: &mut [u8]) -> bool {
        false
    }
}

impl AsyncWrite for End {
    fn shutdown(&mut self) -> Poll<(), io::Error> {
        self.close_write();
        Ok(Async::Ready(()))
    }
}

impl Drop for End {
    fn drop(&mut self) {
        let mut shared = self.lock();
        let outgoing = &mut shared.dirs[self.side];
        outgoing.write_closed = true;
        outgoing.wake_reader();
        let incoming = &mut shared.dirs[1 - self.side];
        incoming.read_closed = true;
        incoming.bytes.clear();
        incoming.wake_writer();
    }
}
