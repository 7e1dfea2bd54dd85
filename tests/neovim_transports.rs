//! Neovim reached the other ways its own clients reach it: over a Unix domain socket
//! (`nvim --listen PATH`, and Neovim connecting to our server's socket), embedded as a
//! child process (`nvim --embed`), and a plugin that Neovim starts, which talks over its
//! own stdin and stdout. tests/neovim.rs has the rules of the protocol itself, over TCP.
//!
//! When `nvim` is missing, these tests fail with a message naming the command that
//! installs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::neovim::{nvim_command, runs_neovim};
use common::process::{KillOnDrop, RunningExample, TempDir};
use common::{example_binary, run, HANG};
use futures::future::{self, FutureResult};
use futures::Future;
use rmp_rpc_demo::process::Child;
use rmp_rpc_demo::{CallError, Client, ClosedReason, Params, Server, Service, Value};
use tokio_core::reactor::Core;

/// A headless Neovim listening on the Unix socket `dir/nvim.sock`, once the socket is
/// there. Killed when dropped.
fn neovim_on_socket(dir: &Path) -> (KillOnDrop, PathBuf) {
    let path = dir.join("nvim.sock");
    let child = nvim_command(dir)
        .arg("--headless")
        .arg("--listen")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start nvim: {}", err));
    let mut process = KillOnDrop(child);
    // Neovim says nothing when it listens: wait for its socket file.
    let deadline = Instant::now() + HANG;
    while !path.exists() {
        assert!(process.is_running(), "nvim exited before it listened");
        assert!(
            Instant::now() < deadline,
            "nvim did not listen within {:?}",
            HANG
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (process, path)
}

fn eval(core: &mut Core, nvim: &Client, expr: &str) -> Value {
    run(core, nvim.request("nvim_eval", vec![expr.into()]))
        .unwrap_or_else(|err| panic!("nvim_eval({}) failed: {}", expr, err))
}

/// `add [a, b]` answers a + b.
struct Adder;

impl Service for Adder {
    type Output = Value;
    type Error = Value;
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Params) -> Self::RequestFuture {
        let params = params.into_values();
        match (method, params.as_slice()) {
            ("add", [a, b]) => match (a.as_i64(), b.as_i64()) {
                (Some(a), Some(b)) => future::ok((a + b).into()),
                _ => future::err("expected two integers".into()),
            },
            _ => future::err(format!("no method `{}`", method).into()),
        }
    }

    fn handle_notification(&mut self, _: &str, _: Params) -> Self::NotificationFuture {
        future::ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Unix domain sockets
// ---------------------------------------------------------------------------------------

#[test]
fn our_client_talks_to_neovim_listening_on_a_unix_socket() {
    let dir = TempDir::new("nvim-unix");
    let (_nvim, path) = neovim_on_socket(dir.path());
    let mut core = Core::new().unwrap();
    let connect = Client::builder()
        .timeout(HANG)
        .connect_unix(&path, &core.handle());
    let nvim = run(&mut core, connect).expect("connect to Neovim's socket");
    assert_eq!(eval(&mut core, &nvim, "1 + 2"), Value::from(3));
    // Neovim knows itself by that path.
    assert_eq!(
        eval(&mut core, &nvim, "v:servername"),
        Value::from(path.to_str().unwrap())
    );
}

#[test]
fn neovim_calls_our_server_on_a_unix_socket() {
    let dir = TempDir::new("nvim-unix");
    let (_nvim, nvim_path) = neovim_on_socket(dir.path());
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let ours = dir.path().join("ours.sock");
    let server = Server::builder()
        .bind_unix(&ours, |_peer| Adder, &handle)
        .expect("listen on our socket");
    handle.spawn(server.map_err(|err| panic!("the server failed: {}", err)));
    let connect = Client::builder()
        .timeout(HANG)
        .connect_unix(&nvim_path, &handle);
    let nvim = run(&mut core, connect).expect("connect to Neovim's socket");
    // Neovim opens a channel to our socket ('pipe' is its name for a Unix socket) and
    // asks our server, while it answers our own request.
    let script = format!(
        "rpcrequest(sockconnect('pipe', '{}', {{'rpc': v:true}}), 'add', 40, 2)",
        ours.display()
    );
    assert_eq!(eval(&mut core, &nvim, &script), Value::from(42));
}

// ---------------------------------------------------------------------------------------
// Neovim embedded: our child, over its stdin and stdout
// ---------------------------------------------------------------------------------------

/// `nvim --embed --headless`, our child, with a state of its own in `dir`.
fn embedded_neovim(core: &Core, dir: &Path) -> Child {
    Client::builder()
        .timeout(HANG)
        .spawn(
            nvim_command(dir).args(["--embed", "--headless"]),
            &core.handle(),
        )
        .expect("start nvim --embed")
}

#[test]
fn an_embedded_neovim_answers_and_its_exit_status_fails_the_call_it_did_not_answer() {
    let dir = TempDir::new("nvim-embed");
    let mut core = Core::new().unwrap();
    let child = embedded_neovim(&core, dir.path());
    let nvim = child.client();
    assert_eq!(eval(&mut core, nvim, "1 + 2"), Value::from(3));
    // `:cquit 5` exits at once, with status 5, and answers nothing.
    match run(
        &mut core,
        nvim.request("nvim_command", vec!["cquit 5".into()]),
    ) {
        Err(CallError::ConnectionClosed(ClosedReason::Exited(status))) => {
            assert_eq!(status.code(), Some(5))
        }
        other => panic!("expected Neovim's exit status, got {:?}", other),
    }
    match run(&mut core, nvim.closed()) {
        Ok(ClosedReason::Exited(status)) => assert_eq!(status.code(), Some(5)),
        other => panic!("expected Neovim's exit status, got {:?}", other),
    }
}

#[test]
fn the_neovim_example_embeds_its_own_neovim() {
    // The example prints the version, and its documentation shows a session with 0.7.2.
    if !runs_neovim("0.7.2") {
        return;
    }
    let dir = TempDir::new("nvim-embed");
    // The example's Neovim inherits the environment: a state of its own, no user config.
    let mut command = Command::new(example_binary("neovim"));
    command
        .arg("--embed")
        .env("NVIM_LOG_FILE", dir.path().join("log"))
        .env("XDG_CONFIG_HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_CACHE_HOME", dir.path())
        .current_dir(dir.path());
    let example = RunningExample::spawn(&mut command).finish();
    assert!(example.status.success(), "{:?}", example);
    assert_eq!(
        example.stdout,
        [
            "connected to Neovim 0.7.2 on channel 1",
            "1 + 2 = 3",
            "buffers:",
            "  1 [No Name]",
            "quitting Neovim",
            "VimLeavePre buffer 1 [No Name]",
            "Neovim exited (exit status: 0)",
        ]
    );
}

#[test]
fn the_neovim_example_says_so_when_there_is_no_nvim_to_embed() {
    let empty = TempDir::new("no-nvim");
    let mut command = Command::new(example_binary("neovim"));
    command.arg("--embed").env("PATH", empty.path());
    let example = RunningExample::spawn(&mut command).finish();
    assert_eq!(example.status.code(), Some(1), "{:?}", example);
    assert_eq!(
        example.stderr,
        ["error: cannot start `nvim`: No such file or directory (os error 2) (is Neovim installed?)"]
    );
}

#[test]
fn the_neovim_example_talks_to_neovim_on_a_unix_socket() {
    let dir = TempDir::new("nvim-unix");
    let (_nvim, path) = neovim_on_socket(dir.path());
    let example = RunningExample::start("neovim", &[path.to_str().unwrap()]);
    let mut lines = Vec::new();
    while lines.last().map(String::as_str) != Some("waiting for events (quit Neovim to stop)") {
        lines.push(example.next_line());
    }
    let mut core = Core::new().unwrap();
    let connect = Client::connect_unix(&path, &core.handle());
    let driver = run(&mut core, connect).expect("connect to Neovim's socket");
    // Quitting closes our connection too: Neovim may not answer, so we wait for that end.
    driver
        .notify("nvim_command", vec!["qa!".into()])
        .expect("send qa!");
    let _ = run(&mut core, driver.closed());
    let finished = example.finish();
    assert!(finished.status.success(), "{:?}", finished);
    lines.extend(finished.stdout);
    assert_eq!(
        normalise_channel(&lines),
        [
            "connected to Neovim on channel N",
            "1 + 2 = 3",
            "buffers:",
            "  1 [No Name]",
            "waiting for events (quit Neovim to stop)",
            "VimLeavePre buffer 1 [No Name]",
            "Neovim closed the connection",
        ]
    );
}

/// "connected to Neovim 0.7.2 on channel 3": the version and the channel depend on the
/// Neovim and on who else is connected.
fn normalise_channel(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| match line.find("Neovim ") {
            Some(at) if line.starts_with("connected") && line.contains(" on channel ") => {
                format!("{}Neovim on channel N", &line[..at])
            }
            _ => line.clone(),
        })
        .collect()
}
