//! Every way a connection reaches its peer, apart from TCP and child processes
//! (tests/process.rs): a reader and a writer that are two objects, and Unix domain
//! sockets (the library's server and client, and the example programs).

mod common;

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener as StdUnixListener, UnixStream as StdUnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::pipe::{pipe, End};
use common::process::{run_example, RunningExample, TempDir};
use common::wire;
use common::{run, HANG};
use futures::future::{self, FutureResult};
use futures::Future;
use rmp_rpc_demo::errors::CodecError;
use rmp_rpc_demo::{
    BoxFuture, CallError, Client, ClosedReason, Params, Server, Service, ShutdownHandle, Value,
};
use tokio_core::reactor::{Core, Handle};
use tokio_io::io::read_to_end;

// ---------------------------------------------------------------------------------------
// A service that answers, and calls its peer back
// ---------------------------------------------------------------------------------------

/// `add [a, b]` answers a + b; `ask [x]` asks the peer `echo [x]` and answers what the
/// peer answered; `echo [x]` answers x.
struct Calls {
    peer: Client,
}

impl Service for Calls {
    type Output = Value;
    type Error = Value;
    type RequestFuture = BoxFuture<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Params) -> Self::RequestFuture {
        let params = params.into_values();
        match (method, params.as_slice()) {
            ("add", [a, b]) => match (a.as_i64(), b.as_i64()) {
                (Some(a), Some(b)) => Box::new(future::ok((a + b).into())),
                _ => Box::new(future::err("expected two integers".into())),
            },
            ("ask", [x]) => Box::new(
                self.peer
                    .request("echo", vec![x.clone()])
                    .map_err(|err| err.to_string().into()),
            ),
            ("echo", [x]) => Box::new(future::ok(x.clone())),
            _ => Box::new(future::err(format!("no method `{}`", method).into())),
        }
    }

    fn handle_notification(&mut self, _: &str, _: Params) -> Self::NotificationFuture {
        future::ok(())
    }
}

/// A reader and a writer that are two objects, as a child process's stdout and stdin
/// are: two pipes, each used in one direction. Returns the end a peer reads what we
/// write from, and the end it writes to us through.
struct OneWayPipes {
    /// Where we read the peer's bytes.
    reader: End,
    /// Where we write ours.
    writer: End,
    /// The peer's view: it reads what we write here...
    peer_reads: End,
    /// ...and writes here what we read.
    peer_writes: End,
}

fn one_way_pipes() -> OneWayPipes {
    let (writer, peer_reads) = pipe(usize::MAX);
    let (peer_writes, reader) = pipe(usize::MAX);
    OneWayPipes {
        reader,
        writer,
        peer_reads,
        peer_writes,
    }
}

/// A client without a handler over one-way pipes, and the pipes, whose `peer_*` ends
/// the test holds to play the peer.
fn client_over_pipes(handle: &Handle) -> (Client, PeerEnds) {
    let pipes = one_way_pipes();
    let client = Client::builder()
        .start_halves(pipes.reader, pipes.writer, handle)
        .expect("a valid configuration");
    let ends = PeerEnds {
        peer_reads: pipes.peer_reads,
        peer_writes: pipes.peer_writes,
    };
    (client, ends)
}

/// The peer's ends of [`OneWayPipes`], once ours have gone to a connection.
struct PeerEnds {
    peer_reads: End,
    peer_writes: End,
}

/// A client (with a [`Calls`] handler) and a served connection over one-way pipes:
/// the client's handle and the server side's.
fn client_and_server_over_pipes(handle: &Handle) -> (Client, Client) {
    let pipes = one_way_pipes();
    let client = Client::builder()
        .handler(|peer| Calls { peer })
        .start_halves(pipes.reader, pipes.writer, handle)
        .expect("a valid configuration");
    let served = Server::builder()
        .serve_halves(
            pipes.peer_reads,
            pipes.peer_writes,
            &|peer| Calls { peer },
            handle,
        )
        .expect("a valid configuration");
    (client, served)
}

#[test]
fn a_client_and_a_server_call_each_other_over_a_reader_and_a_writer() {
    let mut core = Core::new().unwrap();
    let (client, served) = client_and_server_over_pipes(&core.handle());
    assert_eq!(
        run(&mut core, client.request("add", vec![2.into(), 3.into()])).unwrap(),
        Value::from(5)
    );
    // The server calls the client back from inside a request: both directions at once.
    assert_eq!(
        run(&mut core, client.request("ask", vec!["hello".into()])).unwrap(),
        Value::from("hello")
    );
    // And the server side's own handle calls the client.
    assert_eq!(
        run(&mut core, served.request("add", vec![40.into(), 2.into()])).unwrap(),
        Value::from(42)
    );
}

/// Turns the reactor until `end` has received one whole MessagePack value, and returns
/// it (bounded by [`HANG`]).
fn next_value(core: &mut Core, end: &End) -> Value {
    let deadline = Instant::now() + HANG;
    let mut bytes = Vec::new();
    loop {
        bytes.extend(end.drain());
        if let Some(value) = wire::decode_values(&bytes).into_iter().next() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "nothing arrived within {:?}",
            HANG
        );
        core.turn(Some(Duration::from_millis(20)));
    }
}

#[test]
fn requests_leave_through_the_writer_and_answers_come_through_the_reader() {
    let mut core = Core::new().unwrap();
    let (client, pipes) = client_over_pipes(&core.handle());
    let call = client.request("add", vec![1.into(), 2.into()]);
    assert_eq!(
        next_value(&mut core, &pipes.peer_reads),
        wire::request(0, "add", vec![1.into(), 2.into()])
    );
    assert!(
        pipes.peer_writes.drain().is_empty(),
        "nothing is written to the reader's pipe"
    );
    pipes
        .peer_writes
        .feed(&wire::encode(&wire::ok_response(0, 3.into())));
    assert_eq!(run(&mut core, call).unwrap(), Value::from(3));
}

#[test]
fn the_end_of_the_reader_fails_the_calls_in_flight_and_closes_the_writer() {
    let mut core = Core::new().unwrap();
    let (client, pipes) = client_over_pipes(&core.handle());
    let call = client.request("never_answered", vec![]);
    next_value(&mut core, &pipes.peer_reads);
    // The peer closes what we read: nothing more can arrive, no answer either.
    pipes.peer_writes.close_write();
    match run(&mut core, call) {
        Err(CallError::ConnectionClosed(ClosedReason::PeerClosed)) => {}
        other => panic!("expected the call to fail with PeerClosed, got {:?}", other),
    }
    // The writer went with the connection: the peer reads the end of its input, though
    // our handle is still alive.
    let (_, rest) = run(&mut core, read_to_end(pipes.peer_reads, Vec::new())).unwrap();
    assert!(rest.is_empty());
    assert!(matches!(
        client.closed_reason(),
        Some(ClosedReason::PeerClosed)
    ));
}

// ---------------------------------------------------------------------------------------
// The end of a connection, awaited
// ---------------------------------------------------------------------------------------

/// Waits for `client`'s connection to be gone and returns why.
fn closed(core: &mut Core, client: &Client) -> ClosedReason {
    match run(core, client.closed()) {
        Ok(reason) => reason,
        Err(never) => match never {},
    }
}

#[test]
fn closed_resolves_when_the_peer_goes_away_on_both_sides() {
    let mut core = Core::new().unwrap();
    let (client, served) = client_and_server_over_pipes(&core.handle());
    let served_closed = served.closed();
    assert_eq!(
        run(&mut core, client.request("add", vec![1.into(), 1.into()])).unwrap(),
        Value::from(2)
    );
    // The client's user is done: its side shuts down, and the server's peer is gone.
    let client_closed = client.closed();
    drop(client);
    assert!(matches!(
        run(&mut core, client_closed),
        Ok(ClosedReason::ShutDown)
    ));
    assert!(matches!(
        run(&mut core, served_closed),
        Ok(ClosedReason::PeerClosed)
    ));
    // Asked once the connection is gone, it answers at once, with the same reason.
    assert!(matches!(
        closed(&mut core, &served),
        ClosedReason::PeerClosed
    ));
}

#[test]
fn closed_gives_the_reason_the_calls_in_flight_failed_with() {
    let mut core = Core::new().unwrap();
    let (client, pipes) = client_over_pipes(&core.handle());
    let call = client.request("add", vec![1.into(), 1.into()]);
    next_value(&mut core, &pipes.peer_reads);
    // Not MessagePack: the connection ends with a protocol error.
    pipes.peer_writes.feed(&[0xc1]);
    let reason = closed(&mut core, &client);
    assert!(
        matches!(
            reason,
            ClosedReason::Protocol(ref err)
                if matches!(**err, CodecError::NotMessagePack { byte: 0xc1, offset: 0 })
        ),
        "{:?}",
        reason
    );
    match run(&mut core, call) {
        Err(CallError::ConnectionClosed(ClosedReason::Protocol(_))) => {}
        other => panic!("expected the protocol error, got {:?}", other),
    }
}

// ---------------------------------------------------------------------------------------
// Unix domain sockets
// ---------------------------------------------------------------------------------------

/// A server of [`Calls`] on the Unix socket `path`, spawned on `core`, with the handle
/// that shuts it down.
fn unix_server(core: &Core, path: &Path) -> io::Result<ShutdownHandle> {
    let handle = core.handle();
    let server = Server::builder().bind_unix(path, |peer| Calls { peer }, &handle)?;
    assert_eq!(server.local_addr(), path);
    let shutdown = server.shutdown_handle();
    handle.spawn(server.map_err(|err| panic!("the server failed: {}", err)));
    Ok(shutdown)
}

fn add_over_unix(core: &mut Core, path: &Path) -> Value {
    let connect = Client::connect_unix(path, &core.handle());
    let client = run(core, connect).expect("connect to the Unix socket");
    run(core, client.request("add", vec![20.into(), 22.into()])).expect("add")
}

#[test]
fn a_server_on_a_unix_socket_answers_a_client_that_connects_to_its_path() {
    let dir = TempDir::new("unix");
    let path = dir.path().join("server.sock");
    let mut core = Core::new().unwrap();
    let _shutdown = unix_server(&core, &path).unwrap();
    assert_eq!(add_over_unix(&mut core, &path), Value::from(42));
}

#[test]
fn the_socket_file_lets_only_its_owner_connect() {
    let dir = TempDir::new("unix");
    let path = dir.path().join("private.sock");
    let core = Core::new().unwrap();
    let _shutdown = unix_server(&core, &path).unwrap();
    let metadata = fs::symlink_metadata(&path).unwrap();
    assert!(metadata.file_type().is_socket());
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_stale_socket_file_that_nobody_listens_on_is_replaced() {
    let dir = TempDir::new("unix");
    let path = dir.path().join("stale.sock");
    // A server that went away without removing its socket file.
    drop(StdUnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let mut core = Core::new().unwrap();
    let _shutdown = unix_server(&core, &path).unwrap();
    assert_eq!(add_over_unix(&mut core, &path), Value::from(42));
}

#[test]
fn a_socket_another_program_listens_on_is_left_to_it() {
    let dir = TempDir::new("unix");
    let path = dir.path().join("taken.sock");
    let other = StdUnixListener::bind(&path).unwrap();
    let core = Core::new().unwrap();
    let err = unix_server(&core, &path).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    assert_eq!(
        err.to_string(),
        format!(
            "cannot listen on {}: another program is listening on it",
            path.display()
        )
    );
    // The other program still has its socket. (Our probe is in its queue: accept it,
    // then one more to be sure the socket still takes new connections.)
    other.set_nonblocking(false).unwrap();
    let _probe = other.accept().unwrap();
    let _client = StdUnixStream::connect(&path).expect("the other program still listens");
    assert!(other.accept().is_ok());
}

#[test]
fn a_file_that_is_not_a_socket_is_never_removed() {
    let dir = TempDir::new("unix");
    let path = dir.path().join("notes.txt");
    fs::write(&path, "my notes").unwrap();
    let core = Core::new().unwrap();
    let err = unix_server(&core, &path).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    assert_eq!(
        err.to_string(),
        format!(
            "cannot listen on {}: the file exists and is not a socket (remove it yourself, or choose another path)",
            path.display()
        )
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "my notes");
}

#[test]
fn the_socket_file_is_removed_when_the_server_stops_listening() {
    let dir = TempDir::new("unix");
    let path = dir.path().join("gone.sock");
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let server = Server::builder()
        .bind_unix(&path, |peer| Calls { peer }, &handle)
        .unwrap();
    let shutdown = server.shutdown_handle();
    assert!(path.exists());
    shutdown.shutdown(Duration::from_secs(0));
    run(&mut core, server).unwrap();
    assert!(!path.exists(), "{} is still there", path.display());
}

#[test]
fn a_socket_file_replaced_by_another_server_is_not_removed() {
    let dir = TempDir::new("unix");
    let path = dir.path().join("replaced.sock");
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let server = Server::builder()
        .bind_unix(&path, |peer| Calls { peer }, &handle)
        .unwrap();
    // Someone removed our file and listens on the same path now.
    fs::remove_file(&path).unwrap();
    let _other = StdUnixListener::bind(&path).unwrap();
    server.shutdown_handle().shutdown(Duration::from_secs(0));
    run(&mut core, server).unwrap();
    assert!(path.exists(), "the other server's socket file was removed");
}

#[test]
fn connecting_to_a_path_where_nothing_listens_fails_with_the_os_error() {
    let dir = TempDir::new("unix");
    let mut core = Core::new().unwrap();
    let connect = Client::connect_unix(dir.path().join("nothing.sock"), &core.handle());
    match run(&mut core, connect) {
        Err(err) => assert_eq!(err.kind(), io::ErrorKind::NotFound),
        Ok(client) => panic!("connected to nothing: {:?}", client),
    }
}

// ---------------------------------------------------------------------------------------
// The example programs on a Unix socket
// ---------------------------------------------------------------------------------------

/// What the example client prints against the example server.
const CLIENT_SESSION: [&str; 4] = [
    "add [1, 2] = 3",
    "sub [10, 4] = 6",
    "add [\"one\", 2] failed as expected: the peer answered with an error: \"add expects two 64-bit signed integers, got [\\\"one\\\", 2]\"",
    "ping [1, \"hello\"] -> pong [1, \"hello\"]",
];

/// Starts the example server on `path` and checks the line it prints once it listens.
fn example_server_on(path: &Path) -> RunningExample {
    let path = path.to_str().expect("a UTF-8 path");
    let server = RunningExample::start("server", &[path]);
    assert_eq!(server.next_line(), format!("listening on {}", path));
    server
}

fn assert_client_session(path: &Path) {
    let client = run_example("client", &[path.to_str().expect("a UTF-8 path")]);
    assert!(client.status.success(), "{:?}", client);
    assert_eq!(client.stdout, CLIENT_SESSION);
}

#[test]
fn the_example_server_and_client_talk_over_a_unix_socket_path() {
    let dir = TempDir::new("unix-example");
    let path = dir.path().join("demo.sock");
    let _server = example_server_on(&path);
    assert_client_session(&path);
}

#[test]
fn the_example_server_refuses_a_path_in_use_and_replaces_a_stale_socket() {
    let dir = TempDir::new("unix-example");
    let path = dir.path().join("demo.sock");
    let mut first = example_server_on(&path);

    let second = run_example("server", &[path.to_str().unwrap()]);
    assert_eq!(second.status.code(), Some(1), "{:?}", second);
    assert!(second.stdout.is_empty(), "{:?}", second);
    assert_eq!(
        second.stderr,
        [format!(
            "error: cannot listen on {}: another program is listening on it",
            path.display()
        )]
    );
    // The first server still has its socket.
    assert_client_session(&path);

    // Killed, the first server leaves its socket file behind: a stale one.
    first.process.kill();
    assert!(path.exists(), "a killed server cannot remove its socket");
    let _third = example_server_on(&path);
    assert_client_session(&path);
}
