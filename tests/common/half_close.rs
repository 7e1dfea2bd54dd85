//! Peers that half-close: send their requests, shut down their sending side ("that was
//! my last request"), and read the answers until the other side closes.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use futures::{Async, Future, Poll};
use tokio_core::net::TcpStream;
use tokio_io::{AsyncRead, AsyncWrite};

/// A loopback TCP stream whose `shutdown` half-closes it (tokio-core's does nothing).
pub struct HalfClosing(pub TcpStream);

impl Read for HalfClosing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for HalfClosing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl AsyncRead for HalfClosing {}

impl AsyncWrite for HalfClosing {
    fn shutdown(&mut self) -> Poll<(), io::Error> {
        self.0.shutdown(Shutdown::Write).map(Async::Ready)
    }
}

/// Writes `bytes`, half-closes, and reads until the other side closes, all at once (a
/// peer that wrote everything before reading could deadlock with a server that stops
/// reading while its answers wait).
pub fn send_then_half_close<T>(
    io: T,
    bytes: Vec<u8>,
) -> impl Future<Item = Vec<u8>, Error = io::Error>
where
    T: AsyncRead + AsyncWrite,
{
    let (reader, writer) = io.split();
    let sending = tokio_io::io::write_all(writer, bytes)
        .and_then(|(writer, _)| tokio_io::io::shutdown(writer));
    let reading = tokio_io::io::read_to_end(reader, Vec::new()).map(|(_, read)| read);
    sending.join(reading).map(|(_, read)| read)
}
