//! Neovim reached the other ways its own clients reach it: over a Unix domain socket
//! (`nvim --listen PATH`, and Neovim connecting to our server's socket), embedded as a
//! child process (`nvim --embed`), and a plugin that Neovim starts, which talks over its
//! own stdin and stdout. tests/neovim.rs has the rules of the protocol itself, over TCP.
//!
//! When `nvim` is missing, these tests fail with a message naming the command that
//! installs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::neovim::nvim_command;
use common::process::{KillOnDrop, TempDir};
use common::{run, HANG};
use futures::future::{self, FutureResult};
use futures::Future;
use rmp_rpc_demo::{Client, Params, Server, Service, Value};
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
