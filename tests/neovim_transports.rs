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
    // Neovim says nothing when it listens: wait until its socket takes a connection
    // (the file appears a moment before the socket listens).
    let deadline = Instant::now() + HANG;
    while std::os::unix::net::UnixStream::connect(&path).is_err() {
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

// ---------------------------------------------------------------------------------------
// A plugin: Neovim starts our program, which talks over its own stdin and stdout
// ---------------------------------------------------------------------------------------

/// A headless Neovim on a Unix socket, and our client driving it.
fn driven_neovim(core: &mut Core, dir: &Path) -> (KillOnDrop, Client) {
    let (process, path) = neovim_on_socket(dir);
    let connect = Client::builder()
        .timeout(HANG)
        .connect_unix(&path, &core.handle());
    let nvim = run(core, connect).expect("connect to Neovim's socket");
    (process, nvim)
}

fn exec(core: &mut Core, nvim: &Client, script: &str) {
    run(
        core,
        nvim.request("nvim_exec", vec![script.into(), false.into()]),
    )
    .unwrap_or_else(|err| panic!("`{}` failed: {}", script, err));
}

/// Vim script that starts `command` as a job with `rpc` on, its id in `g:job`, and
/// what it writes to stderr collected in `g:log` (whole, once the job has closed it).
fn job_script(command: &str) -> String {
    format!(
        "let g:log = []\n\
         let g:job = jobstart({}, {{'rpc': v:true, 'stderr_buffered': v:true, \
         'on_stderr': {{j, d, e -> extend(g:log, d)}}}})",
        command
    )
}

fn plugin_path() -> String {
    example_binary("neovim_plugin")
        .to_str()
        .expect("a UTF-8 path")
        .to_string()
}

#[test]
fn neovim_starts_our_plugin_calls_it_and_the_plugin_calls_neovim_back() {
    let dir = TempDir::new("nvim-plugin");
    let mut core = Core::new().unwrap();
    let (_nvim, nvim) = driven_neovim(&mut core, dir.path());
    exec(
        &mut core,
        &nvim,
        "call setline(1, ['one two three', 'four five'])",
    );
    exec(
        &mut core,
        &nvim,
        &job_script(&format!("['{}']", plugin_path())),
    );
    assert_eq!(
        eval(&mut core, &nvim, "rpcrequest(g:job, 'add', 40, 2)"),
        Value::from(42)
    );
    // The plugin asks Neovim for the buffer while Neovim waits for its answer.
    assert_eq!(
        eval(&mut core, &nvim, "rpcrequest(g:job, 'word_count')"),
        Value::from(5)
    );
    match run(
        &mut core,
        nvim.request("nvim_eval", vec!["rpcrequest(g:job, 'frobnicate')".into()]),
    ) {
        Err(CallError::Remote(Value::Array(error))) => {
            let message = error.get(1).and_then(Value::as_str).unwrap_or_default();
            assert!(
                message.ends_with("the plugin has no method `frobnicate` taking 0 arguments"),
                "{}",
                message
            );
        }
        other => panic!("expected the plugin's error, got {:?}", other),
    }
    // Closing the channel ends the plugin, cleanly; all it said went to stderr. (Wait
    // in the same breath: once Neovim has seen the job exit, its id is forgotten.)
    exec(
        &mut core,
        &nvim,
        "call chanclose(g:job, 'rpc')\nlet g:code = jobwait([g:job], 10000)",
    );
    assert_eq!(
        eval(&mut core, &nvim, "g:code"),
        Value::Array(vec![0.into()])
    );
    assert_eq!(
        eval(&mut core, &nvim, "g:log"),
        Value::Array(
            [
                "neovim_plugin: serving Neovim over stdin and stdout",
                "neovim_plugin: add 40 + 2",
                "neovim_plugin: 5 words in 2 lines",
                "neovim_plugin: the peer closed the connection: exiting",
                "",
            ]
            .iter()
            .map(|&line| Value::from(line))
            .collect()
        )
    );
}

#[test]
fn a_plugin_that_prints_to_its_stdout_loses_its_channel() {
    // Neovim 0.7's messages for a channel that sent something that is not a message.
    if !runs_neovim("0.7") {
        return;
    }
    let dir = TempDir::new("nvim-plugin");
    let mut core = Core::new().unwrap();
    let (_nvim, nvim) = driven_neovim(&mut core, dir.path());
    // One line on stdout before the plugin starts, as a stray `println!` would print it,
    // and a call at once, as a plugin's first call usually comes.
    let command = format!(
        "['sh', '-c', 'echo hello from the plugin; exec {}']",
        plugin_path()
    );
    let call = |name: &str, a: i64, b: i64| {
        format!(
            "try\n\
               let {0} = rpcrequest(g:job, 'add', {1}, {2})\n\
             catch\n\
               let {0} = v:exception\n\
             endtry",
            name, a, b
        )
    };
    exec(
        &mut core,
        &nvim,
        &format!("{}\n{}", job_script(&command), call("g:first", 40, 2)),
    );
    let channel = eval(&mut core, &nvim, "g:job");
    // Neovim closes the channel as soon as it reads the line. The call in flight fails
    // with that, unless its answer came in the same read, which happens under load.
    let first = eval(&mut core, &nvim, "g:first");
    let closed = format!(
        "Vim(let):Error invoking 'add' on channel {0}:\nch {0} sent an invalid message, closed.",
        channel
    );
    assert!(
        first == Value::from(closed.as_str()) || first == Value::from(42),
        "{}",
        first
    );
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    assert!(
        log.contains(&format!(
            "RPC: ch {} sent an invalid message, closed.",
            channel
        )),
        "Neovim's log: {}",
        log
    );
    // Whatever became of that call, the channel is gone.
    exec(&mut core, &nvim, &call("g:second", 1, 2));
    assert_eq!(
        eval(&mut core, &nvim, "g:second"),
        Value::from(format!(
            "Vim(let):Error invoking 'add' on channel {0}:\nInvalid channel: {0}",
            channel
        ))
    );
}
