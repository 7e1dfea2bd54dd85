//! Child processes: `ClientBuilder::spawn` starts a program and talks to it over its
//! stdin and stdout. The program is `tests/peers/stdio_peer.py`, a peer written with
//! PyPI's msgpack only (`./test.sh` provides it), or one that is not there at all.
//! tests/neovim_transports.rs embeds Neovim the same way.

mod common;

use std::io::BufReader;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::python::{peer_script, require_python_msgpack};
use common::{example_binary, run, HANG};
use futures::future::{self, FutureResult};
use futures::{Future, Stream};
use rmp_rpc_demo::errors::CodecError;
use rmp_rpc_demo::process::{Child, ChildStderr};
use rmp_rpc_demo::{BoxFuture, CallError, Client, ClosedReason, Params, Service, Value};
use tokio_core::reactor::{Core, Handle, Timeout};

/// `python3 tests/peers/stdio_peer.py ARGS...`, its stderr piped.
fn stdio_peer(args: &[&str]) -> Command {
    require_python_msgpack();
    let mut command = Command::new("python3");
    command
        .arg(peer_script("stdio_peer.py"))
        .args(args)
        .stderr(Stdio::piped());
    command
}

fn spawn(core: &Core, command: &mut Command) -> Child {
    Client::builder()
        .timeout(HANG)
        .spawn(command, &core.handle())
        .expect("start the stdio peer")
}

/// The next line of a child's stderr, read on the reactor.
fn stderr_lines(stderr: ChildStderr) -> impl Stream<Item = String, Error = std::io::Error> {
    tokio_io::io::lines(BufReader::new(stderr))
}

fn next_line<S>(core: &mut Core, lines: S) -> (String, S)
where
    S: Stream<Item = String, Error = std::io::Error>,
{
    match run(core, lines.into_future()) {
        Ok((Some(line), rest)) => (line, rest),
        Ok((None, _)) => panic!("the child's stderr ended"),
        Err((err, _)) => panic!("cannot read the child's stderr: {}", err),
    }
}

fn add(core: &mut Core, client: &Client) -> Result<Value, CallError> {
    run(core, client.request("add", vec![40.into(), 2.into()]))
}

fn closed(core: &mut Core, client: &Client) -> ClosedReason {
    match run(core, client.closed()) {
        Ok(reason) => reason,
        Err(never) => match never {},
    }
}

#[test]
fn a_program_that_is_not_there_is_an_error_that_names_it() {
    let core = Core::new().unwrap();
    let err = Client::spawn(
        &mut Command::new("rmp-rpc-demo-no-such-program"),
        &core.handle(),
    )
    .expect_err("there is no such program");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(
        err.to_string(),
        "cannot start `rmp-rpc-demo-no-such-program`: No such file or directory (os error 2)"
    );
}

#[test]
fn calls_go_over_the_childs_stdin_and_stdout_and_its_stderr_is_ours_to_read() {
    let mut core = Core::new().unwrap();
    let mut child = spawn(&core, &mut stdio_peer(&[]));
    assert!(child.id() > 0);
    let stderr = child.take_stderr().expect("stderr is piped");
    assert!(child.take_stderr().is_none(), "stderr is taken once");
    let (line, _) = next_line(&mut core, stderr_lines(stderr));
    assert_eq!(line, "stdio peer ready");
    assert_eq!(add(&mut core, child.client()).unwrap(), Value::from(42));
    match run(&mut core, child.client().request("frobnicate", vec![])) {
        Err(CallError::Remote(error)) => assert_eq!(error, Value::from("no method frobnicate")),
        other => panic!("expected the peer's error, got {:?}", other),
    }
}

#[test]
fn a_child_that_exits_during_a_call_fails_it_with_its_exit_status() {
    let mut core = Core::new().unwrap();
    let child = spawn(&core, &mut stdio_peer(&[]));
    let client = child.client();
    let err = run(&mut core, client.request("exit", vec![3.into()])).unwrap_err();
    match err {
        CallError::ConnectionClosed(ClosedReason::Exited(status)) => {
            assert_eq!(status.code(), Some(3))
        }
        ref other => panic!("expected the exit status, got {:?}", other),
    }
    assert_eq!(
        err.to_string(),
        "no answer: the peer process exited (exit status: 3)"
    );
    // Later calls, and the end of the connection, say the same.
    match add(&mut core, client) {
        Err(CallError::ConnectionClosed(ClosedReason::Exited(status))) => {
            assert_eq!(status.code(), Some(3))
        }
        other => panic!("expected the exit status, got {:?}", other),
    }
    match closed(&mut core, client) {
        ClosedReason::Exited(status) => assert_eq!(status.code(), Some(3)),
        other => panic!("expected the exit status, got {:?}", other),
    }
}

#[test]
fn a_child_killed_by_a_signal_fails_the_call_with_that_signal() {
    let mut core = Core::new().unwrap();
    let child = spawn(&core, &mut stdio_peer(&[]));
    match run(&mut core, child.client().request("kill_myself", vec![])) {
        Err(CallError::ConnectionClosed(ClosedReason::Exited(status))) => {
            assert_eq!(status.signal(), Some(9));
            assert_eq!(status.code(), None);
        }
        other => panic!("expected the signal, got {:?}", other),
    }
}

// ---------------------------------------------------------------------------------------
// Bytes that are not MessagePack-RPC before the first message
// ---------------------------------------------------------------------------------------

#[test]
fn ascii_text_before_the_first_message_is_skipped() {
    let mut core = Core::new().unwrap();
    // "starting up\n": each byte is a MessagePack integer, which is not a message.
    let banner: String = b"starting up\n"
        .iter()
        .map(|b| format!("{:02x}", b))
        .collect();
    let child = spawn(&core, &mut stdio_peer(&[&banner]));
    assert_eq!(add(&mut core, child.client()).unwrap(), Value::from(42));
}

#[test]
fn a_byte_that_is_not_messagepack_before_the_first_message_ends_the_connection() {
    let mut core = Core::new().unwrap();
    // 0xc1 starts no MessagePack value at all.
    let child = spawn(&core, &mut stdio_peer(&["c1"]));
    let reason = match add(&mut core, child.client()) {
        Err(CallError::ConnectionClosed(reason)) => reason,
        other => panic!("expected the connection to close, got {:?}", other),
    };
    match reason {
        ClosedReason::Protocol(ref err) => assert!(
            matches!(**err, CodecError::NotMessagePack { byte: 0xc1, .. }),
            "{:?}",
            err
        ),
        other => panic!("expected a protocol error, got {:?}", other),
    }
}

// ---------------------------------------------------------------------------------------
// Half-closed pipes
// ---------------------------------------------------------------------------------------

/// Answers `double [n]` at once.
struct Doubler;

impl Service for Doubler {
    type Output = Value;
    type Error = Value;
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Params) -> Self::RequestFuture {
        let params = params.into_values();
        match (method, params.as_slice()) {
            ("double", [n]) => match n.as_i64() {
                Some(n) => future::ok((n * 2).into()),
                None => future::err("expected an integer".into()),
            },
            _ => future::err(format!("no method {}", method).into()),
        }
    }

    fn handle_notification(&mut self, _: &str, _: Params) -> Self::NotificationFuture {
        future::ok(())
    }
}

#[test]
fn a_child_that_closes_its_stdout_after_a_request_still_reads_our_answer() {
    let mut core = Core::new().unwrap();
    let mut child = Client::builder()
        .handler(|_peer| Doubler)
        .spawn(
            &mut stdio_peer(&["--ask-then-close-stdout"]),
            &core.handle(),
        )
        .expect("start the stdio peer");
    let lines = stderr_lines(child.take_stderr().expect("piped"));
    let (ready, lines) = next_line(&mut core, lines);
    assert_eq!(ready, "stdio peer ready");
    // The child's stdout ends right after its request: the answer goes the other way.
    let (got, _) = next_line(&mut core, lines);
    assert_eq!(got, "got [1, 7, null, 42]");
    match closed(&mut core, child.client()) {
        ClosedReason::Exited(status) => assert_eq!(status.code(), Some(0)),
        other => panic!("expected the child's exit, got {:?}", other),
    }
}

/// Answers `double [n]` after 20 ms: still running when the child's stdout ends.
struct DoublesLater {
    handle: Handle,
}

impl Service for DoublesLater {
    type Output = Value;
    type Error = Value;
    type RequestFuture = BoxFuture<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, _: &str, params: Params) -> Self::RequestFuture {
        let n = params.into_values().first().and_then(Value::as_i64);
        let timer = Timeout::new(Duration::from_millis(20), &self.handle);
        Box::new(
            future::result(timer)
                .flatten()
                .map_err(|err| Value::from(err.to_string()))
                .and_then(move |()| n.map(|n| Value::from(n * 2)).ok_or_else(|| "no n".into())),
        )
    }

    fn handle_notification(&mut self, _: &str, _: Params) -> Self::NotificationFuture {
        future::ok(())
    }
}

#[test]
fn a_handler_still_running_when_the_child_closes_its_stdout_still_answers_it() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let mut child = Client::builder()
        .handler(move |_peer| DoublesLater {
            handle: handle.clone(),
        })
        .spawn(
            &mut stdio_peer(&["--ask-then-close-stdout"]),
            &core.handle(),
        )
        .expect("start the stdio peer");
    let lines = stderr_lines(child.take_stderr().expect("piped"));
    // The end of the child's stdout is a half-close: the handler still running
    // finishes, and its answer goes the other way before the connection closes.
    let rest = run(&mut core, lines.collect()).unwrap();
    assert_eq!(rest, ["stdio peer ready", "got [1, 7, null, 42]"]);
    match closed(&mut core, child.client()) {
        ClosedReason::Exited(status) => assert_eq!(status.code(), Some(0)),
        other => panic!("expected the child's exit, got {:?}", other),
    }
}

#[test]
fn a_child_that_closes_its_stdin_fails_our_next_call_with_a_broken_pipe() {
    let mut core = Core::new().unwrap();
    let mut child = spawn(&core, &mut stdio_peer(&[]));
    let lines = stderr_lines(child.take_stderr().expect("piped"));
    let (_, lines) = next_line(&mut core, lines);
    let client = child.client();
    assert_eq!(
        run(&mut core, client.request("close_stdin", vec![])).unwrap(),
        Value::from(true)
    );
    let (closed_stdin, _) = next_line(&mut core, lines);
    assert_eq!(closed_stdin, "stdin closed");
    // It runs on, so there is no exit status to give: the write's own error it is.
    match add(&mut core, client) {
        Err(CallError::ConnectionClosed(ClosedReason::Io(err))) => {
            assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe)
        }
        other => panic!("expected a broken pipe, got {:?}", other),
    }
}

// ---------------------------------------------------------------------------------------
// The end of the child
// ---------------------------------------------------------------------------------------

/// Turns the reactor until process `pid` is gone: exited and reaped, not a zombie.
fn wait_reaped(core: &mut Core, pid: u32, limit: Duration) {
    let proc_dir = format!("/proc/{}", pid);
    let deadline = Instant::now() + limit;
    while Path::new(&proc_dir).exists() {
        assert!(
            Instant::now() < deadline,
            "process {} is still there after {:?}",
            pid,
            limit
        );
        core.turn(Some(Duration::from_millis(20)));
    }
}

#[test]
fn dropping_every_handle_closes_the_childs_stdin_and_it_is_reaped_once_it_exits() {
    let mut core = Core::new().unwrap();
    let child = spawn(&core, &mut stdio_peer(&[]));
    assert_eq!(add(&mut core, child.client()).unwrap(), Value::from(42));
    let pid = child.id();
    // The peer exits when its stdin ends; we reap it, long before the grace period.
    drop(child);
    wait_reaped(&mut core, pid, HANG);
}

#[test]
fn a_child_that_ignores_the_end_of_its_stdin_is_killed_after_the_grace_period() {
    let mut core = Core::new().unwrap();
    let mut child = spawn(&core, &mut stdio_peer(&[]));
    let lines = stderr_lines(child.take_stderr().expect("piped"));
    let (_, lines) = next_line(&mut core, lines);
    assert_eq!(
        run(&mut core, child.client().request("close_stdin", vec![])).unwrap(),
        Value::from(true)
    );
    // It has closed its stdin, so closing ours cannot ask it to stop: it sleeps on.
    let (closed_stdin, _) = next_line(&mut core, lines);
    assert_eq!(closed_stdin, "stdin closed");
    let pid = child.id();
    let dropped = Instant::now();
    drop(child);
    wait_reaped(&mut core, pid, rmp_rpc_demo::process::EXIT_GRACE + HANG);
    assert!(
        dropped.elapsed() >= rmp_rpc_demo::process::EXIT_GRACE,
        "killed before its grace period was over"
    );
}

// ---------------------------------------------------------------------------------------
// Our own plugin example as the child: it serves over its stdin and stdout
// ---------------------------------------------------------------------------------------

/// Plays Neovim for the plugin: answers `nvim_buf_get_lines` with two lines.
struct FakeNeovim;

impl Service for FakeNeovim {
    type Output = Value;
    type Error = Value;
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, _: Params) -> Self::RequestFuture {
        match method {
            "nvim_buf_get_lines" => future::ok(Value::Array(vec![
                "one two three".into(),
                "four five".into(),
            ])),
            _ => future::err(format!("no method {}", method).into()),
        }
    }

    fn handle_notification(&mut self, _: &str, _: Params) -> Self::NotificationFuture {
        future::ok(())
    }
}

#[test]
fn the_plugin_example_serves_over_its_stdin_and_stdout_and_logs_to_stderr() {
    let mut core = Core::new().unwrap();
    let mut command = Command::new(example_binary("neovim_plugin"));
    command.stderr(Stdio::piped());
    let mut plugin = Client::builder()
        .handler(|_peer| FakeNeovim)
        .timeout(HANG)
        .spawn(&mut command, &core.handle())
        .expect("start the plugin example");
    let lines = stderr_lines(plugin.take_stderr().expect("piped"));
    let client = plugin.client().clone();
    assert_eq!(add(&mut core, &client).unwrap(), Value::from(42));
    // It calls us back for the buffer's lines, and counts their words.
    assert_eq!(
        run(&mut core, client.request("word_count", vec![])).unwrap(),
        Value::from(5)
    );
    // Our side goes: its stdin ends, and it says so on stderr, and exits.
    let pid = plugin.id();
    drop((plugin, client));
    let logged = run(&mut core, lines.collect()).unwrap();
    assert_eq!(
        logged,
        [
            "neovim_plugin: serving Neovim over stdin and stdout",
            "neovim_plugin: add 40 + 2",
            "neovim_plugin: 5 words in 2 lines",
            "neovim_plugin: the peer closed the connection: exiting",
        ]
    );
    wait_reaped(&mut core, pid, HANG);
}
