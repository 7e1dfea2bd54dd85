//! Hostile peers against the example server (`examples/server.rs`, run as a child
//! process: a crash shows as an exit status, and its memory is its own).
//!
//! Each case starts a fresh server and a *bystander*: a well-behaved connection that
//! makes a call before, during and after the attack and must get the right answer every
//! time. At the end of each case the server process must still run, its open file
//! descriptors must be back to what they were (the attacker's connections are gone), and
//! its peak resident memory (VmHWM) must stay within a stated bound of where it started:
//!
//! - [`SMALL_BOUND_KIB`] (8 MiB) when nothing the attacker sends is a message the
//!   server may accept whole;
//! - [`LARGE_BOUND_KIB`] (48 MiB) when it is, or could be: `Limits::max_message_size`
//!   (16 MiB) of buffered message, and as much again while the read buffer grows, with
//!   room to spare.
//!
//! Memory is a resource bound, not a timing: asserting it is deterministic enough. The
//! figures of each case are printed (`cargo test --test hostile -- --nocapture`).

mod common;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Instant;

use rmpv::Value;

use common::faults::XorShift;
use common::panicky::PanickyServer;
use common::process::{mib, ProcStats};
use common::wire::{decode_values, encode, notification, parse_response, request};
use common::{ExampleServer, RawPeer, HANG};

/// Peak memory growth allowed when no large message may be accepted.
const SMALL_BOUND_KIB: u64 = 8 * 1024;
/// Peak memory growth allowed when one message up to the 16 MiB limit may be buffered.
const LARGE_BOUND_KIB: u64 = 48 * 1024;
/// Address space growth allowed while 64 connections each hold the head of a 16 MiB
/// message: 1 MiB each, when what it holds is the 13 bytes that arrived.
const VM_GROWTH_BOUND_KIB: u64 = 64 * 1024;
/// The example server's `Limits::max_message_size` (the library default).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// Bystander calls we make while waiting for the server to close the attacker's
/// sockets: each one is a full turn of the server's event loop, so this is a count of
/// turns, not a wait.
const SETTLE_CALLS: usize = 1000;

/// One hostile case: a fresh server, a bystander, and the server's figures at the start.
struct Case {
    name: &'static str,
    server: ExampleServer,
    bystander: RawPeer,
    start: ProcStats,
    checks: usize,
}

impl Case {
    fn begin(name: &'static str) -> Case {
        Case::begin_with(name, &[])
    }

    /// A case against the example server started with `flags`.
    fn begin_with(name: &'static str, flags: &[&str]) -> Case {
        Case::begin_on(name, ExampleServer::start_with(flags))
    }

    /// A case against `server`, already started.
    fn begin_on(name: &'static str, server: ExampleServer) -> Case {
        let mut bystander = RawPeer::connect(server.addr);
        bystander.check();
        let start = server.stats();
        Case {
            name,
            server,
            bystander,
            start,
            checks: 1,
        }
    }

    /// The server still runs and still answers the bystander correctly.
    fn check(&mut self) {
        self.server.assert_alive();
        self.bystander.check();
        self.checks += 1;
    }

    fn attacker(&self) -> RawPeer {
        RawPeer::connect(self.server.addr)
    }

    // ANCHOR: finish
    /// Checks the bystander, waits (in bystander calls, for at most [`HANG`]) for the
    /// server to drop every attacker connection, checks the memory bound, and prints
    /// the figures.
    fn finish(mut self, bound_kib: u64, sent: usize) {
        self.check();
        let mut end = self.server.stats();
        let deadline = Instant::now() + HANG;
        while end.fds > self.start.fds && Instant::now() < deadline {
            self.check();
            end = self.server.stats();
        }
        assert!(
            end.fds <= self.start.fds,
            "{}: the server still holds connections of the attacker ({} descriptors, {} at the start)",
            self.name,
            end.fds,
            self.start.fds
        );
        let growth = end.peak_kib.saturating_sub(self.start.rss_kib);
        println!(
            "{:<44} sent {:>11} B | bystander calls {:>5} | RSS start {:>9} peak {:>9} end {:>9} | growth {:>9} (bound {})",
            self.name,
            sent,
            self.checks,
            mib(self.start.rss_kib),
            mib(end.peak_kib),
            mib(end.rss_kib),
            mib(growth),
            mib(bound_kib)
        );
        assert!(
            growth < bound_kib,
            "{}: the server's peak memory grew by {} KiB, over the bound of {} KiB",
            self.name,
            growth,
            bound_kib
        );
    }
    // ANCHOR_END: finish
}

/// Writes `bytes` in `chunk`-sized writes, calling `between` after each, until done or
/// until the server closes the connection. Returns how many bytes went out, and
/// whether a write failed (the server closed).
fn send_in_chunks(
    stream: &mut TcpStream,
    bytes: &[u8],
    chunk: usize,
    mut between: impl FnMut(usize),
) -> (usize, bool) {
    let mut sent = 0;
    for (i, piece) in bytes.chunks(chunk).enumerate() {
        if stream.write_all(piece).is_err() {
            return (sent, true);
        }
        sent += piece.len();
        between(i);
    }
    (sent, false)
}

/// Reads every value until the server closes, and checks each is a response or a
/// notification: whatever it said before closing was still valid MessagePack-RPC.
fn read_valid_until_closed(peer: &mut RawPeer) -> Vec<Value> {
    let values = decode_values(&peer.read_until_closed());
    for value in &values {
        let kind = value
            .as_array()
            .and_then(|items| items.first())
            .and_then(Value::as_u64);
        assert!(
            kind == Some(1) || kind == Some(2),
            "the server wrote {}",
            value
        );
    }
    values
}

fn add(id: u64, a: i64, b: i64) -> Vec<u8> {
    encode(&request(id, "add", vec![a.into(), b.into()]))
}

// ---------------------------------------------------------------------------------------
// Garbage
// ---------------------------------------------------------------------------------------

#[test]
fn random_garbage_ends_only_its_own_connection() {
    let mut case = Case::begin("random garbage (200 seeds x 4 KiB)");
    let mut sent = 0;
    for seed in 0..200 {
        let mut attacker = case.attacker();
        let garbage = XorShift::new(seed).bytes(4096);
        // The server may close before reading it all: then the write fails, as it should.
        let _ = attacker.send(&garbage);
        sent += garbage.len();
        attacker.shutdown_write();
        read_valid_until_closed(&mut attacker);
        if seed % 10 == 0 {
            case.check();
        }
    }
    case.finish(SMALL_BOUND_KIB, sent);
}

#[test]
fn a_byte_that_is_not_messagepack_closes_the_connection_at_once() {
    let case = Case::begin("0xc1 after a valid request");
    let mut attacker = case.attacker();
    let request = add(7, 1, 2);
    attacker.send(&request).expect("send");
    assert_eq!(attacker.recv_response(), (7, Ok(Value::from(3))));
    attacker.send(&[0xc1]).expect("send");
    // No end of stream from us: the server must close on its own.
    assert!(read_valid_until_closed(&mut attacker).is_empty());
    case.finish(SMALL_BOUND_KIB, request.len() + 1);
}

#[test]
fn answers_queued_before_a_protocol_error_are_still_sent() {
    let case = Case::begin("valid request and 0xc1 in one write");
    let mut attacker = case.attacker();
    let mut bytes = add(7, 1, 2);
    bytes.push(0xc1);
    attacker.send(&bytes).expect("send");
    let values = read_valid_until_closed(&mut attacker);
    assert_eq!(
        values.iter().filter_map(parse_response).collect::<Vec<_>>(),
        vec![(7, Ok(Value::from(3)))],
        "the answer to the valid request was computed, then dropped"
    );
    case.finish(SMALL_BOUND_KIB, bytes.len());
}

// ---------------------------------------------------------------------------------------
// Deep nesting
// ---------------------------------------------------------------------------------------

#[test]
fn a_megabyte_of_nested_arrays_closes_the_connection() {
    // rmpv 0.4 decodes recursively: without the depth limit, this aborts the process.
    let mut case = Case::begin("1 MiB of 0x91 (nested arrays)");
    let mut attacker = case.attacker();
    let bytes = vec![0x91u8; 1024 * 1024];
    let (sent, _) = send_in_chunks(&mut attacker.stream, &bytes, 64 * 1024, |_| {});
    read_valid_until_closed(&mut attacker);
    case.check();
    // Maps too: {0: {0: {0: ...}}}.
    let mut attacker = case.attacker();
    let maps: Vec<u8> = [0x81u8, 0x00].repeat(512 * 1024);
    let (sent_maps, _) = send_in_chunks(&mut attacker.stream, &maps, 64 * 1024, |_| {});
    read_valid_until_closed(&mut attacker);
    case.finish(SMALL_BOUND_KIB, sent + sent_maps);
}

#[test]
fn nesting_up_to_the_limit_is_served_and_one_more_level_is_refused() {
    let mut case = Case::begin("params nested to depth 64, then 65");
    // The message array is level 1, params level 2: 62 more arrays reach 64.
    let deep = |levels: usize| {
        let mut bytes = encode(&Value::Array(vec![0.into(), 1.into(), "add".into()]));
        bytes[0] = 0x94; // four items: the params follow
        bytes.extend(std::iter::repeat_n(0x91, levels));
        bytes.push(0x90);
        bytes
    };
    let mut peer = case.attacker();
    let mut sent = deep(62).len() + deep(63).len();
    peer.send(&deep(62)).expect("send");
    let (id, result) = peer.recv_response();
    assert_eq!(id, 1);
    assert!(
        result.is_err(),
        "add with nested arrays is an error response"
    );
    peer.send(&add(2, 20, 22)).expect("send");
    sent += add(2, 20, 22).len();
    assert_eq!(peer.recv_response(), (2, Ok(Value::from(42))));
    drop(peer);
    case.check();
    let mut peer = case.attacker();
    peer.send(&deep(63)).expect("send");
    assert!(read_valid_until_closed(&mut peer).is_empty());
    case.finish(SMALL_BOUND_KIB, sent);
}

// ---------------------------------------------------------------------------------------
// Huge declared lengths
// ---------------------------------------------------------------------------------------

// ANCHOR: headers_4gib
#[test]
fn headers_declaring_4_gib_close_the_connection_without_allocating() {
    let mut case = Case::begin("headers declaring 4 GiB, then silence");
    let headers: &[&[u8]] = &[
        b"\xdd\xff\xff\xff\xff",     // array32
        b"\xdf\xff\xff\xff\xff",     // map32
        b"\xdb\xff\xff\xff\xff",     // str32
        b"\xc6\xff\xff\xff\xff",     // bin32
        b"\xc9\xff\xff\xff\xff\x01", // ext32
        b"\xdd\x00\x10\x00\x01",     // array32 of 1 Mi + 1 values: over max_values
    ];
    let mut sent = 0;
    for header in headers {
        // Alone, as the method of a request, and as its params.
        let prefix = encode(&Value::Array(vec![0.into(), 3.into()]));
        let mut as_method = prefix.clone();
        as_method[0] = 0x94;
        as_method.extend_from_slice(header);
        let mut as_params = as_method.clone();
        as_params.truncate(prefix.len());
        as_params.extend_from_slice(&encode(&Value::from("add")));
        as_params.extend_from_slice(header);
        for bytes in [header.to_vec(), as_method, as_params].iter() {
            let mut attacker = case.attacker();
            attacker.send(bytes).expect("send");
            sent += bytes.len();
            // We send nothing more: the header alone must get the connection closed.
            assert!(read_valid_until_closed(&mut attacker).is_empty());
            case.check();
        }
    }
    case.finish(SMALL_BOUND_KIB, sent);
}
// ANCHOR_END: headers_4gib

// ANCHOR: headers_16mib
/// The address space the server may have in the test below: a few MiB of its own, the
/// 64 MiB the attack may cost it, and one message of 16 MiB to receive and decode.
const ADDRESS_SPACE_LIMIT: u64 = 160 * 1024 * 1024;

#[test]
fn headers_declaring_16_mib_cost_what_arrived_not_what_they_declare() {
    // 64 connections each send the 13-byte head of `add [<bin32 of 16 MiB>]`, a message
    // exactly at the size limit, and nothing more. Reserving what the header declares
    // would take 1 GiB of address space; under a 160 MiB limit it would abort.
    let server = ExampleServer::start_with_address_space_limit(ADDRESS_SPACE_LIMIT, &[]);
    let mut case = Case::begin_on(
        "64 headers declaring 16 MiB, 160 MiB of address space",
        server,
    );
    let mut head = vec![0x94, 0x00, 0x01, 0xa3, b'a', b'd', b'd', 0x91, 0xc6];
    let payload = MAX_MESSAGE - head.len() - 4;
    head.extend_from_slice(&(payload as u32).to_be_bytes());
    assert_eq!(head.len(), 13);
    let mut attackers: Vec<RawPeer> = (0..64)
        .map(|_| {
            let mut attacker = case.attacker();
            attacker.send(&head).expect("send");
            attacker
        })
        .collect();
    // A turn of the server's event loop per call: the heads, sent before, are read.
    for _ in 0..10 {
        case.check();
    }
    let after = case.server.stats();
    let growth = after.vm_peak_kib.saturating_sub(case.start.vm_kib);
    println!(
        "  VmSize at the start {}, peak after 64 heads {} (growth {}, bound {})",
        mib(case.start.vm_kib),
        mib(after.vm_peak_kib),
        mib(growth),
        mib(VM_GROWTH_BOUND_KIB)
    );
    assert!(
        growth < VM_GROWTH_BOUND_KIB,
        "64 heads of 13 bytes grew the address space by {} KiB",
        growth
    );
    // The memory comes when the bytes do: one of them finishes its message, under the
    // same limit, and gets its answer.
    let rest = vec![0u8; payload];
    attackers[0].send(&rest).expect("send the payload");
    let (id, result) = attackers[0].recv_response();
    assert_eq!(id, 1);
    assert!(result.is_err(), "add of a binary is an error: {:?}", result);
    drop(attackers);
    case.finish(LARGE_BOUND_KIB, 64 * head.len() + payload);
}
// ANCHOR_END: headers_16mib

#[test]
fn a_message_one_byte_over_the_limit_is_refused_by_its_header() {
    let case = Case::begin("request declaring 16 MiB + 1 byte");
    let mut attacker = case.attacker();
    // [0, 1, "add", [bin32 N]]: 1 + 1 + 1 + 4 + 1 + 5 bytes of headers, then N bytes.
    let mut bytes = vec![0x94, 0x00, 0x01, 0xa3, b'a', b'd', b'd', 0x91, 0xc6];
    let payload = (MAX_MESSAGE - bytes.len() - 4 + 1) as u32;
    bytes.extend_from_slice(&payload.to_be_bytes());
    attacker.send(&bytes).expect("send");
    assert!(read_valid_until_closed(&mut attacker).is_empty());
    case.finish(SMALL_BOUND_KIB, bytes.len());
}

// ---------------------------------------------------------------------------------------
// Slow senders
// ---------------------------------------------------------------------------------------

#[test]
fn an_oversized_message_sent_slowly_is_refused_once_it_passes_the_limit() {
    // Its headers do not say how large it is: 65535 strings of 1000 bytes (65 MB). The
    // server can only tell by counting, and must stop at 16 MiB.
    let mut case = Case::begin("oversized message sent slowly (65 MB)");
    let mut attacker = case.attacker();
    let mut bytes = vec![0x94, 0x00, 0x01, 0xa3, b'a', b'd', b'd', 0xdc, 0xff, 0xff];
    let item: Vec<u8> = [&[0xda, 0x03, 0xe8][..], &[b'x'; 1000][..]].concat();
    for _ in 0..0xffff {
        bytes.extend_from_slice(&item);
    }
    let mut bystander_checks = 0;
    let (sent, refused) = {
        let bystander = &mut case.bystander;
        send_in_chunks(&mut attacker.stream, &bytes, 16 * 1024, |i| {
            // A bystander call every 256 KiB: the attack is paced by the server's turns.
            if i % 16 == 0 {
                bystander.check();
                bystander_checks += 1;
            }
        })
    };
    case.checks += bystander_checks;
    assert!(refused, "the server accepted all {} bytes", bytes.len());
    // What was in flight when it closed is at most the socket buffers' worth.
    assert!(
        sent < 2 * MAX_MESSAGE,
        "sent {} bytes before the server closed",
        sent
    );
    case.finish(LARGE_BOUND_KIB, sent);
}

#[test]
fn a_large_message_sent_slowly_is_answered_while_others_are_served() {
    // 8 MiB, under the limit, in 4 KiB writes with a bystander call every 64 KiB.
    let mut case = Case::begin("8 MiB request sent slowly (4 KiB writes)");
    let mut peer = case.attacker();
    let method = "x".repeat(8 * 1024 * 1024);
    let bytes = encode(&request(5, &method, vec![]));
    let mut bystander_checks = 0;
    let (sent, refused) = {
        let bystander = &mut case.bystander;
        send_in_chunks(&mut peer.stream, &bytes, 4096, |i| {
            if i % 16 == 0 {
                bystander.check();
                bystander_checks += 1;
            }
        })
    };
    case.checks += bystander_checks;
    assert!(!refused);
    let (id, result) = peer.recv_response();
    assert_eq!(id, 5);
    let error = result.expect_err("an unknown method is an error");
    assert!(
        error.as_str().is_some_and(|text| text.contains(&method)),
        "the error names the method"
    );
    drop(peer);
    case.finish(LARGE_BOUND_KIB, sent);
}

#[test]
fn requests_delivered_one_byte_per_write_are_answered() {
    let mut case = Case::begin("3 requests, one byte per write");
    let mut peer = case.attacker();
    let mut bytes = add(1, 2, 3);
    bytes.extend(encode(&request(2, &"m".repeat(300), vec![])));
    bytes.extend(add(3, -5, 5));
    let (sent, refused) = {
        let bystander = &mut case.bystander;
        send_in_chunks(&mut peer.stream, &bytes, 1, |i| {
            if i % 32 == 0 {
                bystander.check();
            }
        })
    };
    case.checks += bytes.len() / 32 + 1;
    assert!(!refused);
    assert_eq!(peer.recv_response(), (1, Ok(Value::from(5))));
    let (id, result) = peer.recv_response();
    assert!(id == 2 && result.is_err());
    assert_eq!(peer.recv_response(), (3, Ok(Value::from(0))));
    drop(peer);
    case.finish(SMALL_BOUND_KIB, sent);
}

// ANCHOR: trickling
#[test]
fn a_hundred_peers_trickling_bytes_are_closed_by_the_idle_timeout() {
    // 100 connections each send one byte of a request every 100 ms, and never finish
    // it. With `--idle-timeout 1`, no whole message arrives on any of them: each is
    // closed about a second after it started, while the bystander (a call per round)
    // is never idle.
    let mut case = Case::begin_with(
        "100 peers trickling 1 byte / 100 ms",
        &["--idle-timeout", "1"],
    );
    let request = encode(&request(
        1,
        "add",
        vec![Value::from("x".repeat(1000)), 1.into()],
    ));
    let mut peers: Vec<(TcpStream, usize)> = (0..100)
        .map(|_| {
            let stream = TcpStream::connect(case.server.addr).expect("connect");
            stream.set_nonblocking(true).expect("non-blocking");
            (stream, 0)
        })
        .collect();
    let mut sent = 0;
    let deadline = Instant::now() + HANG;
    while !peers.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} trickling peers still open after {:?}",
            peers.len(),
            HANG
        );
        // A peer is gone once a write fails or a read says the server closed.
        peers.retain_mut(|(stream, at)| {
            let mut buf = [0u8; 64];
            match io::Read::read(stream, &mut buf) {
                Ok(0) => return false,
                Ok(n) => panic!(
                    "the server answered a peer that sent no whole message: {:?}",
                    &buf[..n]
                ),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return false,
            }
            match stream.write(&request[*at..=*at]) {
                Ok(_) => {
                    *at += 1;
                    sent += 1;
                    assert!(*at < request.len() - 1, "the whole request went out");
                    true
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => true,
                Err(_) => false,
            }
        });
        case.check();
        thread::sleep(std::time::Duration::from_millis(100));
    }
    case.finish(SMALL_BOUND_KIB, sent);
}
// ANCHOR_END: trickling

// ---------------------------------------------------------------------------------------
// Peers that never read
// ---------------------------------------------------------------------------------------

// ANCHOR: write_until_stalled
/// Writes `bytes` without reading anything back until the socket refuses more for
/// `stalls` bystander calls in a row (the server has stopped reading us: backpressure).
/// Returns how many bytes went out.
fn write_until_stalled(case: &mut Case, stream: &mut TcpStream, bytes: &[u8]) -> usize {
    stream.set_nonblocking(true).expect("non-blocking");
    let mut sent = 0;
    let mut stalls = 0;
    while sent < bytes.len() && stalls < 20 {
        let end = (sent + 64 * 1024).min(bytes.len());
        match stream.write(&bytes[sent..end]) {
            Ok(n) => {
                sent += n;
                stalls = 0;
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                stalls += 1;
                case.check();
            }
            Err(err) => panic!(
                "the server closed a peer that only sent valid requests: {}",
                err
            ),
        }
    }
    stream.set_nonblocking(false).expect("blocking");
    sent
}
// ANCHOR_END: write_until_stalled

/// Where each message in `bytes` ends.
fn message_ends(messages: &[Vec<u8>]) -> Vec<usize> {
    messages
        .iter()
        .scan(0, |end, msg| {
            *end += msg.len();
            Some(*end)
        })
        .collect()
}

/// After `sent` bytes: how many messages will have been sent once the one cut in the
/// middle (if any) is finished, and where that one ends.
fn complete_prefix(ends: &[usize], sent: usize) -> (usize, usize) {
    let whole = ends.iter().take_while(|&&end| end <= sent).count();
    let whole_to = if whole == 0 { 0 } else { ends[whole - 1] };
    if sent > whole_to {
        (whole + 1, ends[whole])
    } else {
        (whole, sent)
    }
}

#[test]
fn a_peer_that_never_reads_is_held_back_and_loses_nothing() {
    let mut case = Case::begin("3 M requests, no reads until stalled");
    let mut peer = case.attacker();
    let requests: Vec<Vec<u8>> = (0..3_000_000u64).map(|i| add(i, i as i64, 1)).collect();
    let ends = message_ends(&requests);
    let bytes = requests.concat();
    let sent = write_until_stalled(&mut case, &mut peer.stream, &bytes);
    assert!(
        sent < bytes.len(),
        "the server read all {} bytes without the peer reading: no backpressure",
        bytes.len()
    );
    case.check();
    let stalled = case.server.stats();

    // Now read: every request sent whole, plus the one cut in the middle, is answered,
    // once, in order, correctly.
    let (expected, complete_to) = complete_prefix(&ends, sent);
    let mut reader = peer.stream.try_clone().expect("clone the socket");
    let reading = thread::spawn(move || {
        let mut rd = io::BufReader::new(&mut reader);
        for i in 0..expected as u64 {
            let value = rmpv::decode::read_value(&mut rd).expect("a response");
            assert_eq!(
                parse_response(&value),
                Some((i, Ok(Value::from(i + 1)))),
                "response {}",
                i
            );
        }
    });
    peer.stream
        .write_all(&bytes[sent..complete_to])
        .expect("finish the cut request");
    reading.join().expect("every response, in order");
    println!(
        "  stalled after {} of {} bytes ({} requests); server RSS then {}, peak {}",
        sent,
        bytes.len(),
        expected,
        mib(stalled.rss_kib),
        mib(stalled.peak_kib)
    );
    drop(peer);
    case.finish(SMALL_BOUND_KIB, sent);
}

#[test]
fn a_ping_flood_that_never_reads_its_pongs_is_held_back() {
    // Notifications: the server's answers (pongs) go through the service's own channel.
    let mut case = Case::begin("3 M pings, no reads until stalled");
    let mut peer = case.attacker();
    let pings: Vec<Vec<u8>> = (0..3_000_000u64)
        .map(|i| encode(&notification("ping", vec![i.into()])))
        .collect();
    let ends = message_ends(&pings);
    let bytes = pings.concat();
    let sent = write_until_stalled(&mut case, &mut peer.stream, &bytes);
    assert!(sent < bytes.len(), "no backpressure on pings");
    let (expected, complete_to) = complete_prefix(&ends, sent);
    let mut reader = peer.stream.try_clone().expect("clone the socket");
    let reading = thread::spawn(move || {
        let mut rd = io::BufReader::new(&mut reader);
        for i in 0..expected as u64 {
            let value = rmpv::decode::read_value(&mut rd).expect("a pong");
            assert_eq!(value, notification("pong", vec![i.into()]), "pong {}", i);
        }
    });
    peer.stream
        .write_all(&bytes[sent..complete_to])
        .expect("finish the cut ping");
    reading.join().expect("every pong, in order");
    drop(peer);
    case.finish(SMALL_BOUND_KIB, sent);
}

#[test]
fn slow_requests_beyond_the_in_flight_cap_wait_and_are_all_answered() {
    // 3000 `sleep [300]`: at most 1024 handlers run at once (Config::max_in_flight);
    // the rest wait in the socket. All are answered, none twice.
    let mut case = Case::begin("3000 sleeps of 300 ms (cap 1024)");
    let mut peer = case.attacker();
    let bytes: Vec<u8> = (0..3000u64)
        .flat_map(|i| encode(&request(i, "sleep", vec![300.into()])))
        .collect();
    peer.send(&bytes).expect("send");
    case.check();
    let mut seen = vec![false; 3000];
    for _ in 0..3000 {
        let (id, result) = peer.recv_response();
        assert_eq!(result, Ok(Value::from(300)));
        assert!(
            !std::mem::replace(&mut seen[id as usize], true),
            "msgid {} twice",
            id
        );
    }
    drop(peer);
    case.finish(SMALL_BOUND_KIB, bytes.len());
}

// ---------------------------------------------------------------------------------------
// Handlers that panic
// ---------------------------------------------------------------------------------------

// ANCHOR: panics
#[test]
fn a_thousand_calls_of_which_a_hundred_panic_get_nine_hundred_answers_and_a_hundred_errors() {
    // The example server's handlers never panic: this server's do, on demand (see
    // tests/common/panicky.rs). Every tenth call panics, half of them when the handler
    // is called, half when its future is polled.
    let server = PanickyServer::start(None);
    let mut bystander = RawPeer::connect(server.addr);
    bystander.check();
    let mut peer = RawPeer::connect(server.addr);
    let method = |i: u64| match i % 20 {
        0 => "panic_now",
        10 => "panic_later",
        odd if odd % 2 == 1 => "add_later",
        _ => "add",
    };
    let bytes: Vec<u8> = (0..1000u64)
        .flat_map(|i| encode(&request(i, method(i), vec![i.into(), 1.into()])))
        .collect();
    peer.send(&bytes).expect("send");
    bystander.check();
    let (mut right, mut errors) = (0, 0);
    let mut seen = vec![false; 1000];
    for _ in 0..1000 {
        let (id, result) = peer.recv_response();
        assert!(
            !std::mem::replace(&mut seen[id as usize], true),
            "msgid {} twice",
            id
        );
        match result {
            Ok(sum) => {
                assert_eq!(sum, Value::from(id + 1), "the answer to {}", id);
                right += 1;
            }
            Err(error) => {
                let expected = format!("internal error in {}", method(id));
                assert_eq!(error, Value::from(expected), "the error of {}", id);
                errors += 1;
            }
        }
        if id % 100 == 0 {
            bystander.check();
        }
    }
    assert_eq!((right, errors), (900, 100));
    // The connection goes on, and so does the bystander's.
    peer.check_add(1000, 2, 2);
    bystander.check();
    // Dropping the server checks that no panic escaped into its reactor thread.
    drop(peer);
    drop(server);
}
// ANCHOR_END: panics

// ---------------------------------------------------------------------------------------
// Half-closed sockets, storms
// ---------------------------------------------------------------------------------------

#[test]
fn a_half_closed_peer_gets_the_answers_to_what_it_sent() {
    let case = Case::begin("requests then half-close");
    let mut peer = case.attacker();
    let bytes = [add(1, 1, 1), add(2, 2, 2)].concat();
    peer.send(&bytes).expect("send");
    peer.shutdown_write();
    let responses: Vec<_> = read_valid_until_closed(&mut peer)
        .iter()
        .filter_map(parse_response)
        .collect();
    assert_eq!(
        responses,
        vec![(1, Ok(Value::from(2))), (2, Ok(Value::from(4)))]
    );
    case.finish(SMALL_BOUND_KIB, bytes.len());
}

// ANCHOR: half_close
#[test]
fn a_slow_request_then_a_half_close_gets_its_answer() {
    // `nc -N` and friends: send the request, then `shutdown(SHUT_WR)`, "that was my last
    // request", and read the answer.
    let case = Case::begin("sleep [100] then half-close");
    let mut peer = case.attacker();
    let bytes = encode(&request(1, "sleep", vec![100.into()]));
    peer.send(&bytes).expect("send");
    peer.shutdown_write();
    let responses: Vec<_> = read_valid_until_closed(&mut peer)
        .iter()
        .filter_map(parse_response)
        .collect();
    assert_eq!(responses, vec![(1, Ok(Value::from(100)))]);
    case.finish(SMALL_BOUND_KIB, bytes.len());
}

#[test]
fn a_hundred_pipelined_requests_then_a_half_close_get_a_hundred_answers() {
    let case = Case::begin("100 sleeps of 5 ms then half-close");
    let mut peer = case.attacker();
    let bytes: Vec<u8> = (0..100u64)
        .flat_map(|i| encode(&request(i, "sleep", vec![5.into()])))
        .collect();
    peer.send(&bytes).expect("send");
    peer.shutdown_write();
    let mut responses: Vec<_> = read_valid_until_closed(&mut peer)
        .iter()
        .filter_map(parse_response)
        .collect();
    responses.sort_by_key(|(id, _)| *id);
    let expected: Vec<_> = (0..100u64).map(|i| (i, Ok(Value::from(5)))).collect();
    assert_eq!(responses, expected);
    case.finish(SMALL_BOUND_KIB, bytes.len());
}
// ANCHOR_END: half_close

#[test]
fn two_hundred_large_answers_reach_a_slow_reader_that_half_closed() {
    // 200 requests for unknown methods with 64 KiB names: each error answer repeats its
    // name, 64 KiB each way. One thread sends them all and half-closes; this one reads
    // the answers 4 KiB at a time, with a bystander call every 256 KiB. The server's
    // write buffer (256 KiB) fills and empties many times after the end of our stream.
    let mut case = Case::begin("200 x 64 KiB answers, slow reader, half-closed");
    let mut peer = case.attacker();
    let name = |i: u64| format!("{:03}{}", i, "x".repeat(64 * 1024));
    let bytes: Vec<u8> = (0..200u64)
        .flat_map(|i| encode(&request(i, &name(i), vec![])))
        .collect();
    let sent = bytes.len();
    let mut writer = peer.stream.try_clone().expect("clone the socket");
    let sending = thread::spawn(move || {
        writer
            .write_all(&bytes)
            .expect("the server reads every request");
        writer
            .shutdown(std::net::Shutdown::Write)
            .expect("half-close");
    });
    let mut read = Vec::new();
    let mut chunk = [0u8; 4096];
    for reads in 1.. {
        match io::Read::read(&mut peer.stream, &mut chunk) {
            Ok(0) => break,
            Ok(n) => read.extend_from_slice(&chunk[..n]),
            Err(err) => panic!("reading the answers: {}", err),
        }
        if reads % 64 == 0 {
            case.check();
        }
    }
    sending.join().expect("the sending thread");
    let values = decode_values(&read);
    assert_eq!(values.len(), 200, "answers before the server closed");
    for (i, value) in values.iter().enumerate() {
        let (id, result) = parse_response(value).expect("a response");
        assert_eq!(id, i as u64, "the answers come in order");
        let error = result.expect_err("an unknown method is an error");
        assert!(
            error.as_str().is_some_and(|text| text.contains(&name(id))),
            "the answer to {} names its own method",
            id
        );
    }
    case.finish(SMALL_BOUND_KIB, sent);
}

#[test]
fn a_half_close_in_the_middle_of_a_message_ends_the_connection() {
    let mut case = Case::begin("half a request then half-close (100x)");
    let mut sent = 0;
    for cut in 1..=100 {
        let mut peer = case.attacker();
        let bytes = encode(&request(
            1,
            "add",
            vec![Value::from("x".repeat(200)), 1.into()],
        ));
        let cut = cut * (bytes.len() - 1) / 100;
        peer.send(&bytes[..cut.max(1)]).expect("send");
        sent += cut.max(1);
        peer.shutdown_write();
        assert!(read_valid_until_closed(&mut peer).is_empty());
        if cut.is_multiple_of(10) {
            case.check();
        }
    }
    case.finish(SMALL_BOUND_KIB, sent);
}

#[test]
fn a_peer_that_leaves_with_the_in_flight_cap_reached_is_let_go_once_its_handlers_are_done() {
    // From the server's side, a peer that has gone looks like one that half-closed: its
    // requests are still handled (1024 at a time, Config::max_in_flight), and the
    // connection closes when the first answer cannot be written, or all are.
    let mut case = Case::begin("1100 sleeps of 300 ms, then close");
    let mut peer = case.attacker();
    let bytes: Vec<u8> = (0..1100u64)
        .flat_map(|i| encode(&request(i, "sleep", vec![300.into()])))
        .collect();
    peer.send(&bytes).expect("send");
    case.check();
    drop(peer);
    // `finish` waits (in bystander calls) for the server to close the socket.
    case.finish(SMALL_BOUND_KIB, bytes.len());
}

#[test]
fn a_connect_and_close_storm_leaves_nothing_behind() {
    let mut case = Case::begin("storm: 3000 connections");
    let mut sent = 0;
    let request = add(1, 1, 1);
    for i in 0..3000 {
        let mut stream = TcpStream::connect(case.server.addr).expect("connect");
        match i % 3 {
            // Connect and close.
            0 => {}
            // Half a request, then close.
            1 => {
                let _ = stream.write_all(&request[..request.len() / 2]);
                sent += request.len() / 2;
            }
            // A whole request, closed before the answer comes (often a reset).
            _ => {
                let _ = stream.write_all(&request);
                sent += request.len();
            }
        }
        drop(stream);
        if i % 100 == 0 {
            case.check();
        }
    }
    case.finish(SMALL_BOUND_KIB, sent);
}

#[test]
fn invalid_messages_are_answered_or_skipped_and_the_connection_stays_up() {
    let case = Case::begin("invalid messages on one connection");
    let mut peer = case.attacker();
    let msgid_too_large = Value::Array(vec![
        0.into(),
        (1u64 << 32).into(),
        "add".into(),
        Value::Array(vec![1.into(), 2.into()]),
    ]);
    let params_map = Value::Array(vec![
        0.into(),
        9.into(),
        "add".into(),
        Value::Map(vec![(1.into(), 2.into())]),
    ]);
    let mut bytes = Vec::new();
    bytes.extend(encode(&msgid_too_large)); // no msgid to answer: skipped
    bytes.extend(encode(&Value::from("not a message"))); // skipped
    bytes.extend(encode(&Value::Array(vec![7.into(), 1.into()]))); // unknown type: skipped
    bytes.extend(encode(&params_map)); // answered with an error
    bytes.extend(add(10, 4, 5)); // and the connection still works
    peer.send(&bytes).expect("send");
    let (id, result) = peer.recv_response();
    assert!(
        id == 9 && result.is_err(),
        "params that are a map get an error"
    );
    assert_eq!(peer.recv_response(), (10, Ok(Value::from(9))));
    drop(peer);
    case.finish(SMALL_BOUND_KIB, bytes.len());
}

/// Raises this process's soft limit of open files (`RLIMIT_NOFILE`) to at least
/// `needed`, within its hard limit; children started afterwards inherit it. Fails the
/// test, saying what to do, if the hard limit is lower.
fn raise_open_files_limit(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0, "getrlimit: {}", io::Error::last_os_error());
    if limit.rlim_cur >= needed as libc::rlim_t {
        return;
    }
    assert!(
        limit.rlim_max >= needed as libc::rlim_t,
        "this test needs {} open files, and the hard limit is {}: raise it (ulimit -Hn)",
        needed,
        limit.rlim_max
    );
    limit.rlim_cur = needed as libc::rlim_t;
    // SAFETY: as above.
    let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(set, 0, "setrlimit: {}", io::Error::last_os_error());
}

/// The connections `--max-connections` allows in [`connections_beyond_the_cap_are_closed_at_once_and_the_others_go_on`].
const CAP: usize = 1000;
/// The connections opened beyond [`CAP`], in batches held open together.
const EXTRA: usize = 4000;
const EXTRA_BATCH: usize = 500;

#[test]
fn connections_beyond_the_cap_are_closed_at_once_and_the_others_go_on() {
    // Ours and the server's: the connections held at once, and room for the rest.
    raise_open_files_limit((CAP + EXTRA_BATCH + 200) as u64);
    let cap = CAP.to_string();
    // Two reactors: the cap counts the connections of both.
    let mut case = Case::begin_with(
        "cap: 5000 connections, 1000 allowed",
        &["--max-connections", &cap, "--threads", "2"],
    );
    // The bystander is one of the allowed connections. A round trip on each of the
    // others makes sure the server has counted it before any extra one arrives.
    let mut allowed: Vec<RawPeer> = (1..CAP).map(|_| case.attacker()).collect();
    for (id, peer) in allowed.iter_mut().enumerate() {
        peer.check_add(id as u64, id as i64, 1);
    }
    let request = add(1, 2, 3);
    let mut sent = 0;
    for _ in 0..EXTRA / EXTRA_BATCH {
        let mut extra: Vec<RawPeer> = (0..EXTRA_BATCH).map(|_| case.attacker()).collect();
        for peer in &mut extra {
            // It may already be closed: then the write fails, which is fine too.
            if peer.send(&request).is_ok() {
                sent += request.len();
            }
            assert!(
                peer.read_until_closed().is_empty(),
                "a connection beyond the cap got an answer"
            );
        }
        case.check();
    }
    // Every allowed connection was left alone.
    for (id, peer) in allowed.iter_mut().enumerate() {
        peer.check_add(id as u64, id as i64, 2);
    }
    // Closing some gives their places back.
    let before = case.server.stats().fds;
    allowed.truncate(CAP - 1 - 10);
    let mut calls = 0;
    while case.server.stats().fds > before - 10 && calls < SETTLE_CALLS {
        case.check();
        calls += 1;
    }
    let mut newcomer = case.attacker();
    newcomer.check_add(1, 40, 2);
    drop(newcomer);
    drop(allowed);
    // Each allowed connection keeps a read buffer and a write buffer (chapter 4.5).
    case.finish(SMALL_BOUND_KIB + (CAP as u64) * 32, sent);
}

#[test]
fn at_the_descriptor_limit_new_connections_wait_and_are_served_once_descriptors_free_up() {
    const OPEN_FILES: usize = 40;
    let mut server = ExampleServer::start_with_open_files_limit(OPEN_FILES, &["--threads", "2"]);
    let room = OPEN_FILES - descriptors_below(server.pid(), OPEN_FILES);
    // Every descriptor the server may have, taken by a served connection.
    let mut served: Vec<RawPeer> = (0..room)
        .map(|i| {
            let mut peer = RawPeer::connect(server.addr);
            peer.check_add(i as u64, i as i64, 1);
            peer
        })
        .collect();
    assert_eq!(descriptors_below(server.pid(), OPEN_FILES), OPEN_FILES);
    // The system completes these connections; the server cannot accept them (EMFILE),
    // so it backs off and tries again, while they wait.
    let mut waiting: Vec<RawPeer> = (0..5)
        .map(|i| {
            let mut peer = RawPeer::connect(server.addr);
            peer.request(i, "add", vec![Value::from(i), 100.into()]);
            peer
        })
        .collect();
    for peer in &mut waiting {
        peer.stream.set_nonblocking(true).expect("non-blocking");
        let mut byte = [0u8; 1];
        let read = peer.stream.read(&mut byte);
        assert!(
            matches!(read, Err(ref err) if err.kind() == io::ErrorKind::WouldBlock),
            "a connection the server has no descriptor for was served: {:?}",
            read
        );
        peer.stream.set_nonblocking(false).expect("blocking");
    }
    server.assert_alive();
    served.truncate(room - 5);
    for (i, peer) in waiting.iter_mut().enumerate() {
        assert_eq!(
            peer.recv_response(),
            (i as u64, Ok(Value::from(i as i64 + 100)))
        );
    }
    for (i, peer) in served.iter_mut().enumerate() {
        peer.check_add(i as u64, i as i64, 2);
    }
    server.assert_alive();
}

/// How many of a process's open descriptors are numbered below `limit`: those that
/// count against an `RLIMIT_NOFILE` of `limit`. (A process can hold higher ones it
/// inherited, such as the pipes of cargo's jobserver.)
fn descriptors_below(pid: u32, limit: usize) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", pid))
        .expect("the server's /proc/PID/fd")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<usize>().ok())
        .filter(|fd| *fd < limit)
        .count()
}
