//! A Neovim plugin: a program that Neovim starts, and that talks to Neovim over its own
//! stdin and stdout. Neovim calls it with `rpcrequest`, and it calls Neovim back.
//!
//! Build it, then start it from Neovim as a job with `rpc` on, keeping what it writes to
//! stderr:
//!
//! ```console
//! $ cargo build --example neovim_plugin
//! $ printf 'one two three\nfour five\n' > notes.txt
//! $ nvim notes.txt
//! ```
//!
//! ```vim
//! :let g:log = []
//! :let job = jobstart(['target/debug/examples/neovim_plugin'], {'rpc': v:true, 'stderr_buffered': v:true, 'on_stderr': {j, d, e -> extend(g:log, d)}})
//! :echo rpcrequest(job, 'add', 40, 2)
//! 42
//! :echo rpcrequest(job, 'word_count')
//! 5
//! :call chanclose(job, 'rpc')
//! :echo jobwait([job])
//! [0]
//! :echo g:log
//! ['neovim_plugin: serving Neovim over stdin and stdout', 'neovim_plugin: add 40 + 2', 'neovim_plugin: 5 words in 2 lines', 'neovim_plugin: the peer closed the connection: exiting', '']
//! ```
//!
//! (`word_count` counts the words of the current buffer, which it asks Neovim for; the
//! log is collected once the plugin has closed its stderr, `stderr_buffered`.)
//!
//! **Everything it prints goes to stderr**: stdout is the connection, and one line
//! printed there reaches Neovim in the middle of the MessagePack stream, and Neovim closes
//! the channel. It exits when Neovim closes the channel (`chanclose(job, 'rpc')`, or
//! Neovim quitting).

use std::io::{self, Write};
use std::process;

use futures::future::{self, FutureResult};
use futures::Future;
use rmp_rpc_demo::{neovim, BoxFuture, Client, Params, Server, Service, Value};
use tokio_core::reactor::Core;

// ANCHOR: plugin
/// What Neovim can ask of us.
struct Plugin {
    /// The channel back to Neovim.
    nvim: Client,
}

impl Service for Plugin {
    type Output = Value;
    type Error = Value;
    type RequestFuture = BoxFuture<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Params) -> Self::RequestFuture {
        let params = params.into_values();
        match (method, params.as_slice()) {
            ("add", [a, b]) => Box::new(future::result(add(a, b))),
            ("word_count", []) => self.word_count(),
            _ => Box::new(future::err(neovim::error(&format!(
                "the plugin has no method `{}` taking {} arguments",
                method,
                params.len()
            )))),
        }
    }

    fn handle_notification(&mut self, _: &str, _: Params) -> Self::NotificationFuture {
        future::ok(())
    }
}

impl Plugin {
    /// Asks Neovim for the lines of the current buffer, then counts their words. Neovim
    /// waits in `rpcrequest` meanwhile, and answers our request all the same.
    fn word_count(&self) -> BoxFuture<Value, Value> {
        let lines = self.nvim.request(
            "nvim_buf_get_lines",
            vec![0.into(), 0.into(), (-1).into(), false.into()],
        );
        Box::new(
            lines
                .map(|lines| {
                    let lines = lines.as_array().cloned().unwrap_or_default();
                    let words: usize = lines
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|line| line.split_whitespace().count())
                        .sum();
                    log(&format!("{} words in {} lines", words, lines.len()));
                    Value::from(words)
                })
                .map_err(|err| neovim::error(&format!("cannot read the buffer: {}", err))),
        )
    }
}

/// `a + b`, or an error Neovim shows.
fn add(a: &Value, b: &Value) -> Result<Value, Value> {
    match (a.as_i64(), b.as_i64()) {
        (Some(a), Some(b)) => {
            log(&format!("add {} + {}", a, b));
            a.checked_add(b)
                .map(Value::from)
                .ok_or_else(|| neovim::error("the sum does not fit in 64 bits"))
        }
        _ => Err(neovim::error("add takes two integers")),
    }
}
// ANCHOR_END: plugin

fn main() {
    let mut core =
        Core::new().unwrap_or_else(|err| fail(&format!("cannot start the reactor: {}", err)));
    let handle = core.handle();
    // ANCHOR: main
    let nvim = Server::builder()
        .serve_stdio(&|nvim: Client| Plugin { nvim }, &handle)
        .unwrap_or_else(|err| fail(&format!("cannot use stdin and stdout: {}", err)));
    log("serving Neovim over stdin and stdout");
    // Serve until Neovim goes away, then say why and exit.
    let reason = match core.run(nvim.closed()) {
        Ok(reason) => reason,
        Err(never) => match never {},
    };
    log(&format!("{}: exiting", reason));
    // ANCHOR_END: main
}

// ANCHOR: log
/// Writes one line to stderr, never to stdout (which is the connection). One write per
/// line, so that Neovim's `on_stderr` gets it whole; and no panic if Neovim has closed
/// the pipe already, as `eprintln!` would.
fn log(line: &str) {
    let _ = io::stderr().write_all(format!("neovim_plugin: {}\n", line).as_bytes());
}
// ANCHOR_END: log

/// Says what went wrong, on stderr like everything else, and exits with status 1.
fn fail(message: &str) -> ! {
    log(&format!("error: {}", message));
    process::exit(1);
}
