//! Talks to a running Neovim: evaluates an expression, lists the buffers, then prints what
//! happens in the editor (buffers entered, files written) until Neovim quits.
//!
//! Start Neovim so that it listens on a TCP port:
//!
//! ```console
//! $ nvim --listen 127.0.0.1:6666 notes.txt
//! ```
//!
//! then, in a second terminal (here we then opened `todo.txt` in Neovim, wrote it, went
//! back to `notes.txt` and quit):
//!
//! ```console
//! $ cargo run --example neovim -- 127.0.0.1:6666
//! connected to Neovim 0.7.2 on channel 3
//! 1 + 2 = 3
//! buffers:
//!   1 /tmp/demo/notes.txt
//! waiting for events (quit Neovim to stop)
//! BufEnter buffer 2 /tmp/demo/todo.txt
//! BufWritePost buffer 2 /tmp/demo/todo.txt
//! BufEnter buffer 1 /tmp/demo/notes.txt
//! VimLeavePre buffer 1 /tmp/demo/notes.txt
//! Neovim closed the connection
//! ```
//!
//! The address can also be the path of a Unix socket, where Neovim listens by default
//! (`:echo v:servername` in Neovim shows it). With `--embed` instead of an address, it
//! starts its own Neovim, `nvim --embed --headless`, and talks to it over the child's
//! stdin and stdout; nobody can type into that one, so it quits it itself:
//!
//! ```console
//! $ cargo run --example neovim -- --embed
//! connected to Neovim 0.7.2 on channel 1
//! 1 + 2 = 3
//! buffers:
//!   1 [No Name]
//! quitting Neovim
//! VimLeavePre buffer 1 [No Name]
//! Neovim exited (exit status: 0)
//! ```
//!
//! An expression to evaluate instead of `1 + 2` can follow the address. Without a Neovim
//! at that address (or without `nvim` to start), it says so and exits with status 1.

use std::env;
use std::net::SocketAddr;
use std::process::{self, Command};
use std::time::Duration;

use futures::future::{self, FutureResult};
use futures::sync::mpsc;
use futures::{Future, Stream};
use rmp_rpc_demo::client::Connect;
use rmp_rpc_demo::{CallError, Client, ClosedReason, Params, Service, Value};
use tokio_core::reactor::Core;

/// How long we wait for any answer from Neovim (it may be busy, not gone).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The autocommand events we ask Neovim to tell us about.
const EVENTS: [&str; 3] = ["BufEnter", "BufWritePost", "VimLeavePre"];

// ANCHOR: handler
/// What Neovim sends us: notifications go to `main` through a channel; requests are
/// refused, with an error in Neovim's own form.
struct Events {
    events: mpsc::UnboundedSender<(String, Vec<Value>)>,
}

impl Service for Events {
    type Output = Value;
    type Error = Value;
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, _params: Params) -> Self::RequestFuture {
        // Answered at once, so answers leave in the order Neovim expects (see the book).
        future::err(neovim_error(&format!(
            "the rmp-rpc-demo example answers no requests (got `{}`)",
            method
        )))
    }

    fn handle_notification(&mut self, method: &str, params: Params) -> Self::NotificationFuture {
        let params = params.into_values();
        // `main` stops listening only when it exits.
        let _ = self.events.unbounded_send((method.to_string(), params));
        future::ok(())
    }
}

/// An error as Neovim writes them: `[type, message]`, type 0 meaning "exception".
fn neovim_error(message: &str) -> Value {
    Value::Array(vec![0.into(), message.into()])
}
// ANCHOR_END: handler

// ANCHOR: describe
/// A failed call, in words. Neovim's errors are `[type, message]`: 0 is an exception
/// (Vim itself failed), 1 a validation error (the arguments were refused).
fn describe(err: &CallError) -> String {
    if let CallError::Remote(Value::Array(items)) = err {
        match (
            items.first().and_then(Value::as_i64),
            items.get(1).and_then(Value::as_str),
        ) {
            (Some(1), Some(message)) => return format!("Neovim refused the call: {}", message),
            (Some(_), Some(message)) => return format!("Neovim failed: {}", message),
            _ => {}
        }
    }
    err.to_string()
}
// ANCHOR_END: describe

/// The command line, for error messages.
const USAGE: &str = "usage: neovim ADDR [EXPRESSION]   (ADDR where `nvim --listen` listens: host:port like 127.0.0.1:6666, or a socket path)
       neovim --embed [EXPRESSION]   (starts `nvim --embed --headless`)";

/// Where the Neovim to talk to is.
enum Target {
    Tcp(SocketAddr),
    Unix(String),
    /// Our own child.
    Embed,
}

fn main() {
    let mut args = env::args().skip(1);
    let target = match args.next() {
        Some(arg) if arg == "--embed" => Target::Embed,
        Some(arg) => match arg.parse::<SocketAddr>() {
            Ok(addr) => Target::Tcp(addr),
            Err(_) if arg.contains('/') => Target::Unix(arg),
            Err(_) => usage(),
        },
        None => usage(),
    };
    let expression = args.next().unwrap_or_else(|| "1 + 2".to_string());
    let mut core =
        Core::new().unwrap_or_else(|err| fail(&format!("cannot start the reactor: {}", err)));
    let handle = core.handle();

    // ANCHOR: connect
    let (events_sender, events) = mpsc::unbounded();
    let builder = Client::builder()
        .handler(move |_peer: Client| Events {
            events: events_sender.clone(),
        })
        .timeout(REQUEST_TIMEOUT);
    let embedded = matches!(target, Target::Embed);
    let nvim = match target {
        Target::Tcp(addr) => connected(
            &mut core,
            builder.connect(&addr, &handle),
            &addr.to_string(),
        ),
        Target::Unix(path) => connected(&mut core, builder.connect_unix(&path, &handle), &path),
        // Our own Neovim, a child that talks over its stdin and stdout.
        Target::Embed => builder
            .spawn(
                Command::new("nvim").args(["--embed", "--headless"]),
                &handle,
            )
            .map(|child| child.client().clone())
            .unwrap_or_else(|err| fail(&format!("{} (is Neovim installed?)", err))),
    };
    // ANCHOR_END: connect

    // ANCHOR: calls
    // Our channel id (Neovim's name for this connection) and Neovim's version.
    let info = call(&mut core, &nvim, "nvim_get_api_info", vec![]);
    let (channel, version) = match info.as_array().map(Vec::as_slice) {
        Some([channel, metadata]) => (channel.clone(), version_of(metadata)),
        _ => fail(&format!("unexpected answer to nvim_get_api_info: {}", info)),
    };
    println!("connected to Neovim {} on channel {}", version, channel);

    let value = call(
        &mut core,
        &nvim,
        "nvim_eval",
        vec![expression.as_str().into()],
    );
    println!("{} = {}", expression, value);

    // Buffers are handles (a MessagePack extension type): pass them back as they came.
    let buffers = call(&mut core, &nvim, "nvim_list_bufs", vec![]);
    let buffers = buffers.as_array().cloned().unwrap_or_default();
    // One request per buffer, all sent at once; the answers come back in any order and
    // `join_all` puts them in the order of `buffers`.
    let names = future::join_all(
        buffers
            .iter()
            .map(|buffer| nvim.request("nvim_buf_get_name", vec![buffer.clone()])),
    );
    let names = core
        .run(names)
        .unwrap_or_else(|err| fail(&format!("nvim_buf_get_name failed: {}", describe(&err))));
    println!("buffers:");
    for (buffer, name) in buffers.iter().zip(names) {
        println!("  {} {}", handle_number(buffer), show_name(&name));
    }
    // ANCHOR_END: calls

    // ANCHOR: events
    // One autocommand per event, in a group of our own so that running the example
    // twice does not install them twice. Each sends us [buffer number, buffer name].
    let mut script = String::from("augroup rmp_rpc_demo\nautocmd!\n");
    for event in &EVENTS {
        script.push_str(&format!(
            "autocmd {0} * call rpcnotify({1}, '{0}', str2nr(expand('<abuf>')), nvim_buf_get_name(str2nr(expand('<abuf>'))))\n",
            event, channel
        ));
    }
    script.push_str("augroup END");
    call(
        &mut core,
        &nvim,
        "nvim_exec",
        vec![script.into(), false.into()],
    );
    if embedded {
        // Nobody can type into our headless child: quit it ourselves. It may quit
        // before it answers, so this is a notification, not a request.
        println!("quitting Neovim");
        if let Err(err) = nvim.notify("nvim_command", vec!["qa!".into()]) {
            fail(&format!("cannot ask Neovim to quit: {}", err));
        }
    } else {
        println!("waiting for events (quit Neovim to stop)");
    }

    // The stream ends when the connection does: the handler, which holds the sender, is
    // dropped with it. Then the connection tells us why it ended.
    let printed = events.for_each(|(method, params)| {
        match (method.as_str(), params.as_slice()) {
            ("nvim_error_event", [_, message]) => {
                eprintln!("Neovim reported an error: {}", show_name(message))
            }
            (event, [buffer, name]) => {
                println!("{} buffer {} {}", event, buffer, show_name(name))
            }
            (other, _) => println!("{} {}", other, Value::from(params.clone())),
        }
        Ok(())
    });
    let closed = nvim.closed();
    let reason = match core.run(printed.then(|_| closed)) {
        Ok(reason) => reason,
        Err(never) => match never {},
    };
    match reason {
        ClosedReason::PeerClosed => println!("Neovim closed the connection"),
        ClosedReason::Exited(status) => println!("Neovim exited ({})", status),
        other => fail(&format!("the connection to Neovim ended: {}", other)),
    }
    // ANCHOR_END: events
}

/// The client, once `connect` has connected to `addr`; or a message and the exit.
fn connected(core: &mut Core, connect: Connect, addr: &str) -> Client {
    core.run(connect).unwrap_or_else(|err| {
        fail(&format!(
            "cannot connect to Neovim at {}: {} (start it with `nvim --listen {}`)",
            addr, err, addr
        ))
    })
}

/// Sends a request and waits for the answer; on failure, says what failed and exits.
fn call(core: &mut Core, nvim: &Client, method: &str, params: Vec<Value>) -> Value {
    core.run(nvim.request(method, params))
        .unwrap_or_else(|err| fail(&format!("{} failed: {}", method, describe(&err))))
}

/// "0.7.2", from the metadata of nvim_get_api_info.
fn version_of(metadata: &Value) -> String {
    let version = field(metadata, "version");
    let part = |name| {
        version
            .and_then(|v| field(v, name))
            .and_then(Value::as_i64)
            .map_or_else(|| "?".to_string(), |n| n.to_string())
    };
    format!("{}.{}.{}", part("major"), part("minor"), part("patch"))
}

/// The value under `key` in a map.
fn field<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// The number inside a handle (an extension value whose data is a MessagePack integer).
fn handle_number(handle: &Value) -> String {
    match handle {
        Value::Ext(_, data) => match rmpv::decode::read_value(&mut data.as_slice()) {
            Ok(number) => number.to_string(),
            Err(_) => "?".to_string(),
        },
        other => other.to_string(),
    }
}

/// A buffer name as Neovim shows it.
fn show_name(name: &Value) -> String {
    match name.as_str() {
        Some("") => "[No Name]".to_string(),
        Some(name) => name.to_string(),
        None => name.to_string(),
    }
}

fn usage() -> ! {
    eprintln!("{}", USAGE);
    process::exit(2);
}

fn fail(message: &str) -> ! {
    eprintln!("error: {}", message);
    process::exit(1);
}
