//! The "limit" server: answers `add [a, b]` with as little work as this protocol allows,
//! to show the ceiling of a msgpack-rpc server on this machine over loopback.
//!
//! One thread, one epoll set (level-triggered), non-blocking sockets. Per readable socket:
//! one `read` into a reusable buffer, every complete request answered straight into the
//! write buffer without building a value (the fast path matches the bytes of
//! `[0, id, "add", [int, int]]`), then one `write` of all the answers. Anything else that
//! is a request (`add` with other params, another method) gets the example server's error
//! text, found by skipping values; `sleep` and `ping` are not implemented: the benchmark
//! does not send them here.
//!
//! With `--thread-per-connection`, the plain way to use every core instead: a thread per
//! connection, blocking sockets, one `read` and one `write` per round, answered the same
//! way.
//!
//! `server-limit [ADDR] [--thread-per-connection]` (default 127.0.0.1:0) prints
//! `listening on ADDR`.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::io::AsRawFd;
use std::thread;

use rmp_rpc_demo_bench::contract;
use rmp_rpc_demo_bench::wire::{get_int, put_int, put_uint, skip_value, Parsed};

const LISTENER: u64 = u64::MAX;
/// The least free space we offer to a read.
const MIN_READ: usize = 64 * 1024;

struct Conn {
    stream: TcpStream,
    /// `buf[start..end]` is received and not yet answered.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    /// Bytes of `out` already written.
    written: usize,
    /// Registered for EPOLLOUT too (a write was partial).
    want_out: bool,
}

fn main() {
    let addr = contract::listen_addr();
    let listener = TcpListener::bind(addr).unwrap_or_else(|err| {
        eprintln!("error: cannot listen on {}: {}", addr, err);
        std::process::exit(1)
    });
    let thread_per_connection = !contract::flags(&["--thread-per-connection"]).is_empty();
    if thread_per_connection {
        contract::announce(listener.local_addr().expect("local address"));
        run_threads(listener);
        return;
    }
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    contract::announce(listener.local_addr().expect("local address"));
    if let Err(err) = run(listener) {
        eprintln!("error: {}", err);
        std::process::exit(1);
    }
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn epoll_ctl(
    ep: libc::c_int,
    op: libc::c_int,
    fd: libc::c_int,
    events: u32,
    token: u64,
) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: token };
    cvt(unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) }).map(|_| ())
}

fn run(listener: TcpListener) -> io::Result<()> {
    let ep = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    epoll_ctl(
        ep,
        libc::EPOLL_CTL_ADD,
        listener.as_raw_fd(),
        libc::EPOLLIN as u32,
        LISTENER,
    )?;
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    loop {
        let n =
            unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as libc::c_int, -1) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        for ev in &events[..n as usize] {
            let token = ev.u64;
            let flags = ev.events;
            if token == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            stream.set_nonblocking(true)?;
                            stream.set_nodelay(true)?;
                            let slot = free.pop().unwrap_or_else(|| {
                                conns.push(None);
                                conns.len() - 1
                            });
                            epoll_ctl(
                                ep,
                                libc::EPOLL_CTL_ADD,
                                stream.as_raw_fd(),
                                libc::EPOLLIN as u32,
                                slot as u64,
                            )?;
                            conns[slot] = Some(Conn {
                                stream,
                                buf: vec![0; 2 * MIN_READ],
                                start: 0,
                                end: 0,
                                out: Vec::with_capacity(MIN_READ),
                                written: 0,
                                want_out: false,
                            });
                        }
                        Err(ref err) if err.kind() == io::ErrorKind::WouldBlock => break,
                        Err(err) => {
                            eprintln!("accept failed: {}", err);
                            break;
                        }
                    }
                }
                continue;
            }
            let slot = token as usize;
            let keep = match conns.get_mut(slot).and_then(Option::as_mut) {
                Some(conn) => conn.ready(ep, slot, flags),
                None => continue,
            };
            if !keep {
                // Dropping the stream closes it, which removes it from the epoll set.
                conns[slot] = None;
                free.push(slot);
            }
        }
    }
}

/// A thread per connection, each blocking on its socket.
fn run_threads(listener: TcpListener) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || serve_blocking(stream));
            }
            Err(err) => eprintln!("accept failed: {}", err),
        }
    }
}

/// One connection on its own thread: read what came, answer every complete request,
/// write the answers, until the peer closes.
fn serve_blocking(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 2 * MIN_READ];
    let (mut start, mut end) = (0, 0);
    let mut out = Vec::with_capacity(MIN_READ);
    loop {
        if start == end {
            start = 0;
            end = 0;
        } else if buf.len() - end < MIN_READ {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            if buf.len() - end < MIN_READ {
                let len = buf.len() * 2;
                buf.resize(len, 0);
            }
        }
        match stream.read(&mut buf[end..]) {
            Ok(0) => return,
            Ok(n) => end += n,
            Err(ref err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
        loop {
            match answer(&buf[start..end], &mut out) {
                Parsed::Done((), len) => start += len,
                Parsed::Incomplete => break,
                Parsed::Invalid(why) => {
                    eprintln!("closing a connection: {}", why);
                    return;
                }
            }
        }
        if stream.write_all(&out).is_err() {
            return;
        }
        out.clear();
    }
}

impl Conn {
    /// Handles readiness; returns false when the connection is over.
    fn ready(&mut self, ep: libc::c_int, slot: usize, flags: u32) -> bool {
        if flags & libc::EPOLLOUT as u32 != 0 && !self.flush(ep, slot) {
            return false;
        }
        if flags & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0 {
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            } else if self.buf.len() - self.end < MIN_READ {
                if self.start > 0 {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                }
                if self.buf.len() - self.end < MIN_READ {
                    let len = self.buf.len() * 2;
                    self.buf.resize(len, 0);
                }
            }
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => return false,
                Ok(n) => self.end += n,
                Err(ref err) if err.kind() == io::ErrorKind::WouldBlock => return true,
                Err(ref err) if err.kind() == io::ErrorKind::Interrupted => return true,
                Err(_) => return false,
            }
            loop {
                match answer(&self.buf[self.start..self.end], &mut self.out) {
                    Parsed::Done((), len) => self.start += len,
                    Parsed::Incomplete => break,
                    Parsed::Invalid(why) => {
                        eprintln!("closing a connection: {}", why);
                        return false;
                    }
                }
            }
            return self.flush(ep, slot);
        }
        true
    }

    /// Writes what is pending, in one call when the socket takes it all.
    fn flush(&mut self, ep: libc::c_int, slot: usize) -> bool {
        while self.written < self.out.len() {
            match self.stream.write(&self.out[self.written..]) {
                Ok(n) => self.written += n,
                Err(ref err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(ref err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        let pending = self.written < self.out.len();
        if !pending {
            self.out.clear();
            self.written = 0;
        }
        if pending != self.want_out {
            let events = if pending {
                (libc::EPOLLIN | libc::EPOLLOUT) as u32
            } else {
                libc::EPOLLIN as u32
            };
            if epoll_ctl(
                ep,
                libc::EPOLL_CTL_MOD,
                self.stream.as_raw_fd(),
                events,
                slot as u64,
            )
            .is_err()
            {
                return false;
            }
            self.want_out = pending;
        }
        true
    }
}

/// Answers the request at the front of `buf` into `out`.
fn answer(buf: &[u8], out: &mut Vec<u8>) -> Parsed<()> {
    match buf {
        [] | [_] => return Parsed::Incomplete,
        [0x94, 0x00, ..] => {}
        _ => return Parsed::Invalid("not a request"),
    }
    let (id, id_len) = match get_int(buf, 2) {
        Parsed::Done(id, len) if (0..=i64::from(u32::MAX)).contains(&id) => (id as u64, len),
        Parsed::Done(..) => return Parsed::Invalid("bad msgid"),
        Parsed::Incomplete => return Parsed::Incomplete,
        Parsed::Invalid(why) => return Parsed::Invalid(why),
    };
    let mut pos = 2 + id_len;
    // Fast path: "add", then [int, int].
    if let Some(b"\xa3add\x92") = buf.get(pos..pos + 5) {
        pos += 5;
        if let Parsed::Done(a, a_len) = get_int(buf, pos) {
            if let Parsed::Done(b, b_len) = get_int(buf, pos + a_len) {
                out.extend_from_slice(&[0x94, 0x01]);
                put_uint(out, id);
                match a.checked_add(b) {
                    Some(sum) => {
                        out.push(0xc0);
                        put_int(out, sum);
                    }
                    None => {
                        put_str(
                            out,
                            &format!("{} and {}: the result does not fit in 64 bits", a, b),
                        );
                        out.push(0xc0);
                    }
                }
                return Parsed::Done((), pos + a_len + b_len);
            } else if buf.len() < pos + a_len + 9 {
                // Maybe the second integer has not fully arrived.
                if let Parsed::Incomplete = get_int(buf, pos + a_len) {
                    return Parsed::Incomplete;
                }
            }
        } else if buf.len() < pos + 9 {
            if let Parsed::Incomplete = get_int(buf, pos) {
                return Parsed::Incomplete;
            }
        }
    }
    // Slow path: wait for the whole value, then answer with an error.
    let total = match skip_value(buf, 0) {
        Parsed::Done((), len) => len,
        Parsed::Incomplete => return Parsed::Incomplete,
        Parsed::Invalid(why) => return Parsed::Invalid(why),
    };
    let method_pos = 2 + id_len;
    let method: &[u8] = match buf.get(method_pos) {
        Some(&m) if (0xa0..=0xbf).contains(&m) => {
            let len = usize::from(m & 0x1f);
            buf.get(method_pos + 1..method_pos + 1 + len).unwrap_or(b"")
        }
        _ => b"",
    };
    let error = if method == b"add" {
        // The limit server does not decode what it refuses: it names the params only by
        // their size.
        format!(
            "add expects {}, got {} bytes of params",
            contract::TWO_INTEGERS,
            total
        )
    } else {
        contract::unknown_method(&String::from_utf8_lossy(method))
    };
    out.extend_from_slice(&[0x94, 0x01]);
    put_uint(out, id);
    put_str(out, &error);
    out.push(0xc0);
    Parsed::Done((), total)
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    let len = text.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    }
    out.extend_from_slice(text.as_bytes());
}
