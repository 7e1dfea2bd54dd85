//! Interoperability with Neovim 0.7 (Debian's `neovim` package), both ways.
//!
//! - Our client drives `nvim --headless --clean --listen 127.0.0.1:0`: API calls, API
//!   errors, notifications Neovim sends (subscribed events, `rpcnotify`, `nvim_error_event`)
//!   and requests Neovim sends (`rpcrequest`), nested ones included.
//! - Neovim is the client of our example server (`examples/server.rs`), through a proxy
//!   that records both directions, so that we can check what each side said.
//! - The Neovim example (`examples/neovim.rs`) against a live Neovim.
//!
//! They pin what Neovim does; see the book's "Talking to Neovim" chapter for why each
//! behaviour matters. Those that pin what one version does (Neovim 0.7, which Debian 12
//! ships: its error texts, its abort on deep nesting) check the version first, and on
//! another one say they are skipped and pass. When `nvim` is missing, every test that needs
//! it fails with a message naming the command that installs it.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::neovim::{nvim_command, runs_neovim};
use common::process::{KillOnDrop, Lines, TempDir};
use common::proxy::Proxy;
use common::reactor::{recv_on, turn_for};
use common::wire::{self, message};
use common::{example_binary, run, ExampleServer, HANG};
use futures::future::{self, FutureResult};
use futures::Future;
use rmp_rpc_demo::codec::Limits;
use rmp_rpc_demo::errors::CodecError;
use rmp_rpc_demo::message::Message;
use rmp_rpc_demo::neovim::ReverseOrder;
use rmp_rpc_demo::{BoxFuture, CallError, Client, ClosedReason, Config, Params, Service, Value};
use tokio_core::reactor::{Core, Handle, Timeout};

// ---------------------------------------------------------------------------------------
// A headless Neovim
// ---------------------------------------------------------------------------------------

/// `nvim --headless --clean --listen 127.0.0.1:0`, with its own empty configuration and
/// state directories. Killed when dropped.
struct Neovim {
    process: KillOnDrop,
    addr: SocketAddr,
    dir: TempDir,
}

impl Neovim {
    fn start() -> Neovim {
        let dir = TempDir::new("nvim");
        let addr_file = dir.path().join("addr");
        // Neovim picks the port (`:0`) and tells us through a file: v:servername holds the
        // real address once it listens.
        let write_addr = format!("call writefile([v:servername], '{}')", addr_file.display());
        let child = nvim_command(dir.path())
            .args(["--headless", "--listen", "127.0.0.1:0", "-c"])
            .arg(&write_addr)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start nvim: {}", err));
        let mut process = KillOnDrop(child);
        let deadline = Instant::now() + HANG;
        let addr = loop {
            let text = std::fs::read_to_string(&addr_file).unwrap_or_default();
            if let Ok(addr) = text.trim().parse() {
                break addr;
            }
            assert!(process.is_running(), "nvim exited before it listened");
            assert!(
                Instant::now() < deadline,
                "nvim did not listen within {:?}",
                HANG
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Neovim { process, addr, dir }
    }

    /// A client without a handler: for driving Neovim from a test.
    fn plain_client(&self, core: &mut Core) -> Client {
        let connect = Client::builder()
            .timeout(HANG)
            .connect(&self.addr, &core.handle());
        run(core, connect).expect("connect to nvim")
    }
}

/// Our channel's id, as Neovim numbers it (what `rpcrequest` and `rpcnotify` take).
fn channel_id(core: &mut Core, nvim: &Client) -> i64 {
    let info = run(core, nvim.request("nvim_get_api_info", vec![])).expect("api info");
    info.as_array()
        .and_then(|items| items.first())
        .and_then(Value::as_i64)
        .expect("nvim_get_api_info returns [channel, metadata]")
}

fn eval(core: &mut Core, nvim: &Client, expr: &str) -> Result<Value, CallError> {
    run(core, nvim.request("nvim_eval", vec![expr.into()]))
}

fn command(core: &mut Core, nvim: &Client, cmd: &str) {
    run(core, nvim.request("nvim_command", vec![cmd.into()]))
        .unwrap_or_else(|err| panic!("`{}` failed: {}", cmd, err));
}

fn remote_error(result: Result<Value, CallError>) -> Value {
    match result {
        Err(CallError::Remote(error)) => error,
        other => panic!("expected an error response, got {:?}", other),
    }
}

/// Neovim's error value: `[type, message]`, 0 = exception, 1 = validation.
fn nvim_error(kind: i64, message: &str) -> Value {
    Value::Array(vec![kind.into(), message.into()])
}

fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|&s| Value::from(s)).collect())
}

// ---------------------------------------------------------------------------------------
// The handler of our client: what Neovim's notifications and requests reach
// ---------------------------------------------------------------------------------------

/// What our client's handler saw.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Notification(String, Vec<Value>),
    /// A request's answer left the handler (method, answer).
    Answered(String, Value),
}

/// The handler of our client in these tests.
struct TestHandler {
    /// Our connection to Neovim, to call it back from a handler.
    peer: Client,
    /// Arms timers.
    handle: Handle,
    /// Tells the test what arrived.
    seen: mpsc::Sender<Seen>,
    /// Answer in reverse order of arrival (Neovim's rule), or as soon as ready.
    order: Option<ReverseOrder>,
}

impl TestHandler {
    /// `answer` after `ms` milliseconds.
    fn after(&self, ms: u64, answer: Value) -> BoxFuture<Value, Value> {
        match Timeout::new(Duration::from_millis(ms), &self.handle) {
            Ok(timer) => Box::new(timer.then(move |_| Ok(answer))),
            Err(err) => Box::new(future::err(format!("no timer: {}", err).into())),
        }
    }

    fn answer(&mut self, method: &str, params: Vec<Value>) -> BoxFuture<Value, Value> {
        let int = |i: usize| params.get(i).and_then(Value::as_i64).unwrap_or(0);
        match method {
            "double" => Box::new(future::ok((int(0) * 2).into())),
            "fail" => Box::new(future::err("refused by the Rust client".into())),
            "fail_validation" => Box::new(future::err(nvim_error(1, "bad argument"))),
            "fail_strangely" => Box::new(future::err(Value::Map(vec![("code".into(), 7.into())]))),
            // [channel, n]: ask Neovim, which asks us `inner`; answer what it says + 100.
            "outer" => {
                let expr = format!("rpcrequest({}, 'inner', {}) + 1", int(0), int(1));
                Box::new(
                    self.peer
                        .request("nvim_eval", vec![expr.into()])
                        .map_err(|err| err.to_string().into())
                        .map(|v| (v.as_i64().unwrap_or(0) + 100).into()),
                )
            }
            "inner" => Box::new(future::ok((int(0) * 10).into())),
            // [ms, answer]
            "after" => {
                let answer = params.get(1).cloned().unwrap_or(Value::Nil);
                self.after(int(0) as u64, answer)
            }
            other => Box::new(future::err(format!("unknown method `{}`", other).into())),
        }
    }
}

impl Service for TestHandler {
    type Output = Value;
    type Error = Value;
    type RequestFuture = BoxFuture<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Params) -> Self::RequestFuture {
        let params = params.into_values();
        let seen = self.seen.clone();
        let name = method.to_string();
        let answer = self.answer(method, params).then(move |result| {
            let shown = match result {
                Ok(ref value) | Err(ref value) => value.clone(),
            };
            let _ = seen.send(Seen::Answered(name, shown));
            result
        });
        match self.order {
            Some(ref order) => Box::new(order.wrap(answer)),
            None => Box::new(answer),
        }
    }

    fn handle_notification(&mut self, method: &str, params: Params) -> FutureResult<(), ()> {
        let params = params.into_values();
        let _ = self
            .seen
            .send(Seen::Notification(method.to_string(), params));
        future::ok(())
    }
}

/// When our handler's answers leave.
#[derive(Clone, Copy)]
enum Order {
    /// As soon as each is ready (the library's default).
    AsReady,
    /// Through [`ReverseOrder`].
    Reverse,
    /// Through [`ReverseOrder`] without the round trips.
    ReverseWithoutRoundTrips,
}

/// Connects to `nvim` with a [`TestHandler`]; returns the client and what its handler sees.
fn handled_client(core: &mut Core, nvim: &Neovim, order: Order) -> (Client, mpsc::Receiver<Seen>) {
    let (seen, seen_rx) = mpsc::channel();
    let handle = core.handle();
    let connect = Client::builder()
        .timeout(HANG)
        .handler(move |peer: Client| TestHandler {
            order: match order {
                Order::AsReady => None,
                Order::Reverse => Some(ReverseOrder::new(peer.clone())),
                Order::ReverseWithoutRoundTrips => Some(ReverseOrder::without_round_trips()),
            },
            peer,
            handle: handle.clone(),
            seen: seen.clone(),
        })
        .connect(&nvim.addr, &core.handle());
    let client = run(core, connect).expect("connect to nvim");
    (client, seen_rx)
}

// ---------------------------------------------------------------------------------------
// Our client drives Neovim
// ---------------------------------------------------------------------------------------

#[test]
fn our_client_evaluates_expressions_and_calls_functions() {
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let client = nvim.plain_client(&mut core);

    assert_eq!(eval(&mut core, &client, "1 + 2").unwrap(), Value::from(3));
    assert_eq!(
        eval(&mut core, &client, "[1, 'two', {'k': v:true}, 1.5]").unwrap(),
        Value::Array(vec![
            1.into(),
            "two".into(),
            Value::Map(vec![("k".into(), true.into())]),
            1.5.into(),
        ])
    );
    let joined = run(
        &mut core,
        client.request(
            "nvim_call_function",
            vec![
                "join".into(),
                Value::Array(vec![strings(&["a", "b", "c"]), "-".into()]),
            ],
        ),
    );
    assert_eq!(joined.unwrap(), Value::from("a-b-c"));
    let abs = run(
        &mut core,
        client.request(
            "nvim_call_function",
            vec!["abs".into(), vec![Value::from(-5)].into()],
        ),
    );
    assert_eq!(abs.unwrap(), Value::from(5));
}

#[test]
fn neovim_api_errors_are_our_remote_errors_holding_type_and_message() {
    // Neovim 0.7's error texts.
    if !runs_neovim("0.7") {
        return;
    }
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let client = nvim.plain_client(&mut core);

    // 0 = exception: Vim itself failed.
    assert_eq!(
        remote_error(eval(&mut core, &client, "no_such_variable")),
        nvim_error(0, "Vim:E121: Undefined variable: no_such_variable")
    );
    // 1 = validation: the arguments were refused before anything ran.
    let lines = client.request(
        "nvim_buf_get_lines",
        vec![9999.into(), 0.into(), (-1).into(), false.into()],
    );
    assert_eq!(
        remote_error(run(&mut core, lines)),
        nvim_error(1, "Invalid buffer id: 9999")
    );
    assert_eq!(
        remote_error(run(&mut core, client.request("nvim_frobnicate", vec![]))),
        nvim_error(0, "Invalid method: nvim_frobnicate")
    );
    assert_eq!(
        remote_error(run(
            &mut core,
            client.request("nvim_eval", vec![1.into(), 2.into()])
        )),
        nvim_error(0, "Wrong number of arguments: expecting 1 but got 2")
    );
    // An error response is an answer like any other: the connection goes on.
    assert_eq!(eval(&mut core, &client, "40 + 2").unwrap(), Value::from(42));
}

#[test]
fn a_failed_notification_comes_back_as_an_nvim_error_event() {
    // Neovim 0.7's error texts.
    if !runs_neovim("0.7") {
        return;
    }
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let (client, seen) = handled_client(&mut core, &nvim, Order::AsReady);

    client
        .notify("nvim_command", vec!["frobnicate".into()])
        .unwrap();
    assert_eq!(
        recv_on(&mut core, &seen),
        Seen::Notification(
            "nvim_error_event".into(),
            vec![
                0.into(),
                "Vim:E492: Not an editor command: frobnicate".into()
            ]
        )
    );
    client.notify("nvim_frobnicate", vec![]).unwrap();
    assert_eq!(
        recv_on(&mut core, &seen),
        Seen::Notification(
            "nvim_error_event".into(),
            vec![0.into(), "Invalid method: nvim_frobnicate".into()]
        )
    );
    // A notification that succeeds sends nothing back.
    client
        .notify("nvim_set_var", vec!["x".into(), 1.into()])
        .unwrap();
    assert_eq!(eval(&mut core, &client, "g:x").unwrap(), Value::from(1));
    assert!(seen.try_recv().is_err(), "nothing else arrived");
}

#[test]
fn subscribed_events_and_rpcnotify_reach_our_handler_as_notifications() {
    // Neovim 0.7's subscriptions: since 0.11, rpcnotify(0) reaches every channel and
    // nvim_subscribe does nothing.
    if !runs_neovim("0.7") {
        return;
    }
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let (client, seen) = handled_client(&mut core, &nvim, Order::AsReady);
    let chan = channel_id(&mut core, &client);

    // Broadcast (channel 0) reaches the channels that subscribed to the event.
    run(
        &mut core,
        client.request("nvim_subscribe", vec!["greeting".into()]),
    )
    .unwrap();
    command(
        &mut core,
        &client,
        "call rpcnotify(0, 'greeting', 'hello', 42)",
    );
    assert_eq!(
        recv_on(&mut core, &seen),
        Seen::Notification("greeting".into(), vec!["hello".into(), 42.into()])
    );
    // An event nobody subscribed to is not sent.
    command(&mut core, &client, "call rpcnotify(0, 'other', 1)");
    // Sent to our channel directly, no subscription needed; Vim values map to MessagePack.
    command(
        &mut core,
        &client,
        &format!(
            "call rpcnotify({}, 'direct', [1, 2], {{'a': v:null}}, 0.5)",
            chan
        ),
    );
    assert_eq!(
        recv_on(&mut core, &seen),
        Seen::Notification(
            "direct".into(),
            vec![
                Value::Array(vec![1.into(), 2.into()]),
                Value::Map(vec![("a".into(), Value::Nil)]),
                0.5.into(),
            ]
        )
    );
    assert!(seen.try_recv().is_err(), "`other` was not sent to us");
}

#[test]
fn neovim_rpcrequest_is_answered_by_our_handler() {
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let (client, _seen) = handled_client(&mut core, &nvim, Order::AsReady);
    let chan = channel_id(&mut core, &client);

    let doubled = eval(
        &mut core,
        &client,
        &format!("rpcrequest({}, 'double', 21)", chan),
    );
    assert_eq!(doubled.unwrap(), Value::from(42));
    // Lua sees the same answer.
    let lua = run(
        &mut core,
        client.request(
            "nvim_exec_lua",
            vec![
                "return vim.fn.rpcrequest(...) + 1".into(),
                vec![Value::from(chan), "double".into(), 5.into()].into(),
            ],
        ),
    );
    assert_eq!(lua.unwrap(), Value::from(11));
}

#[test]
fn our_error_answer_becomes_a_vim_error_with_our_message() {
    // Neovim 0.7's error texts.
    if !runs_neovim("0.7") {
        return;
    }
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let (client, _seen) = handled_client(&mut core, &nvim, Order::AsReady);
    let chan = channel_id(&mut core, &client);
    let failing = |method: &str| format!("rpcrequest({}, '{}')", chan, method);
    let expect = |method: &str, message: &str| {
        nvim_error(
            0,
            &format!(
                "Vim:Error invoking '{}' on channel {}:\n{}",
                method, chan, message
            ),
        )
    };

    // A string error is the message Vim shows.
    assert_eq!(
        remote_error(eval(&mut core, &client, &failing("fail"))),
        expect("fail", "refused by the Rust client")
    );
    // So is the message of an error in Neovim's own form, [type, message].
    assert_eq!(
        remote_error(eval(&mut core, &client, &failing("fail_validation"))),
        expect("fail_validation", "bad argument")
    );
    // Anything else loses its content.
    assert_eq!(
        remote_error(eval(&mut core, &client, &failing("fail_strangely"))),
        expect("fail_strangely", "unknown error")
    );
    // In Vim script, the error can be caught like any other.
    let caught = eval(
        &mut core,
        &client,
        &format!(
            "luaeval('({{pcall(vim.fn.rpcrequest, {}, \"fail\")}})[2]')",
            chan
        ),
    );
    assert_eq!(
        caught.unwrap(),
        Value::from(format!(
            "Vim:Error invoking 'fail' on channel {}:\nrefused by the Rust client",
            chan
        ))
    );
}

#[test]
fn requests_nested_by_our_handler_are_answered_innermost_first() {
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let (client, seen) = handled_client(&mut core, &nvim, Order::AsReady);
    let chan = channel_id(&mut core, &client);

    // We ask Neovim, which asks us `outer`; our `outer` asks Neovim, which asks us
    // `inner`. `outer` waits for `inner`, so the answers nest by themselves.
    let result = eval(
        &mut core,
        &client,
        &format!("rpcrequest({0}, 'outer', {0}, 5)", chan),
    );
    assert_eq!(result.unwrap(), Value::from(151));
    assert_eq!(
        recv_on(&mut core, &seen),
        Seen::Answered("inner".into(), 50.into())
    );
    assert_eq!(
        recv_on(&mut core, &seen),
        Seen::Answered("outer".into(), 151.into())
    );
}

/// Sends two `nvim_eval`s that make Neovim send us two requests at once: `after [100,
/// "first"]`, then, while it waits for that one, `after [400, "second"]`. Our handler
/// finishes the first one first.
fn two_requests_from_neovim_at_once(
    core: &mut Core,
    client: &Client,
    chan: i64,
) -> (Result<Value, CallError>, Result<Value, CallError>) {
    let first = client.request(
        "nvim_eval",
        vec![format!("rpcrequest({}, 'after', 100, 'first')", chan).into()],
    );
    let second = client.request(
        "nvim_eval",
        vec![format!("rpcrequest({}, 'after', 400, 'second')", chan).into()],
    );
    run(core, first.then(Ok::<_, ()>).join(second.then(Ok::<_, ()>))).unwrap()
}

#[test]
fn answering_an_outer_request_before_an_inner_one_makes_neovim_drop_the_channel() {
    // What Neovim 0.7 does with an answer out of order, and the line it logs.
    if !runs_neovim("0.7") {
        return;
    }
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let (client, seen) = handled_client(&mut core, &nvim, Order::AsReady);
    let chan = channel_id(&mut core, &client);

    let (first, second) = two_requests_from_neovim_at_once(&mut core, &client, chan);
    assert_eq!(
        recv_on(&mut core, &seen),
        Seen::Answered("after".into(), "first".into())
    );
    // Neovim 0.7 expected the answer to `second` (the innermost), got another one, logged
    // "returned a response with an unknown request id" and closed the channel.
    for result in [first, second] {
        match result {
            Err(CallError::ConnectionClosed(ClosedReason::PeerClosed)) => {}
            other => panic!("expected the connection to be closed, got {:?}", other),
        }
    }
    let log = std::fs::read_to_string(nvim.dir.path().join("log")).unwrap_or_default();
    assert!(
        log.contains("returned a response with an unknown request id"),
        "Neovim's log: {}",
        log
    );
    // Neovim itself is fine.
    let other = nvim.plain_client(&mut core);
    assert_eq!(eval(&mut core, &other, "1").unwrap(), Value::from(1));
}

#[test]
fn answering_in_reverse_order_of_arrival_keeps_neovim_happy() {
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let (client, seen) = handled_client(&mut core, &nvim, Order::Reverse);
    let chan = channel_id(&mut core, &client);

    let started = Instant::now();
    let (first, second) = two_requests_from_neovim_at_once(&mut core, &client, chan);
    assert_eq!(first.unwrap(), Value::from("first"));
    assert_eq!(second.unwrap(), Value::from("second"));
    // Both handlers finished in their own time (first at 100 ms)...
    assert_eq!(
        recv_on(&mut core, &seen),
        Seen::Answered("after".into(), "first".into())
    );
    assert_eq!(
        recv_on(&mut core, &seen),
        Seen::Answered("after".into(), "second".into())
    );
    // ...but the answer to `first` left after the one to `second`, at 400 ms.
    assert!(started.elapsed() >= Duration::from_millis(400));
    // Requests that do not overlap are answered at once, as usual.
    let doubled = eval(
        &mut core,
        &client,
        &format!("rpcrequest({}, 'double', 4)", chan),
    );
    assert_eq!(doubled.unwrap(), Value::from(8));
}

#[test]
fn reverse_order_alone_is_not_enough_when_two_answers_leave_together() {
    // What Neovim 0.7 does with two answers read together.
    if !runs_neovim("0.7") {
        return;
    }
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let (client, _seen) = handled_client(&mut core, &nvim, Order::ReverseWithoutRoundTrips);
    let chan = channel_id(&mut core, &client);

    // `second` completes at 400 ms and releases `first`, which completed long ago: the
    // connection writes both answers in one go. Neovim reads them together and checks
    // the answer to `first` before it has returned from `second`.
    let (first, second) = two_requests_from_neovim_at_once(&mut core, &client, chan);
    for result in [first, second] {
        match result {
            Err(CallError::ConnectionClosed(ClosedReason::PeerClosed)) => {}
            other => panic!("expected the connection to be closed, got {:?}", other),
        }
    }
    let log = std::fs::read_to_string(nvim.dir.path().join("log")).unwrap_or_default();
    assert!(
        log.contains("returned a response with an unknown request id"),
        "{}",
        log
    );
}

/// The nesting depth of a value, as Neovim and our codec count it (a scalar is 0, `[]` 1).
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Map(pairs) => {
            1 + pairs
                .iter()
                .map(|(k, v)| depth(k).max(depth(v)))
                .max()
                .unwrap_or(0)
        }
        _ => 0,
    }
}

#[test]
fn neovim_0_7_aborts_on_a_message_nested_deeper_than_32_levels() {
    // Neovim 0.7's limit, and its abort.
    if !runs_neovim("0.7") {
        return;
    }
    // [0, id, "nvim_call_function", ["type", [arg]]]: the message is 2 levels deeper
    // than `arg`'s list.
    let message_depth = |arg: &Value| {
        depth(&Value::Array(vec![
            0.into(),
            Value::Array(vec!["type".into(), Value::Array(vec![arg.clone()])]),
        ]))
    };
    let mut core = Core::new().expect("reactor");
    let nvim = Neovim::start();
    let client = nvim.plain_client(&mut core);
    let arg = wire::nested(29, 1.into());
    assert_eq!(message_depth(&arg), 32);
    let call = client.request("nvim_call_function", vec!["type".into(), vec![arg].into()]);
    // v:t_list
    assert_eq!(run(&mut core, call).unwrap(), Value::from(3));

    let mut nvim = Neovim::start();
    let client = nvim.plain_client(&mut core);
    let arg = wire::nested(30, 1.into());
    assert_eq!(message_depth(&arg), 33);
    let call = client.request("nvim_call_function", vec!["type".into(), vec![arg].into()]);
    match run(&mut core, call) {
        Err(CallError::ConnectionClosed(_)) => {}
        other => panic!("expected Neovim to go away, got {:?}", other),
    }
    // Not just the connection: the whole editor is gone (SIGABRT after "E41: Out of
    // memory!"). Never send Neovim anything nested deeper than 32 levels.
    let status = nvim.process.wait_exit(HANG).expect("nvim exited");
    assert!(!status.success(), "nvim aborted: {:?}", status);
}

#[test]
fn neovim_sends_values_deeper_than_our_limit_and_we_close_the_connection() {
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let (client, seen) = handled_client(&mut core, &nvim, Order::AsReady);
    let chan = channel_id(&mut core, &client);
    let send_nested = |levels: usize| {
        format!(
            "let l = 1 | for i in range({}) | let l = [l] | endfor | call rpcnotify({}, 'deep', l)",
            levels, chan
        )
    };

    // [2, "deep", [l]]: 60 levels in `l` make a message of 62, within our default 64.
    command(&mut core, &client, &send_nested(60));
    match recv_on(&mut core, &seen) {
        Seen::Notification(method, params) => {
            assert_eq!(method, "deep");
            assert_eq!(depth(&Value::Array(params)), 61);
        }
        other => panic!("expected the notification, got {:?}", other),
    }
    // Neovim does not limit what it sends: a Vim list 100 levels deep goes out as is, and
    // our codec refuses it before decoding. That ends the connection (the byte stream
    // cannot be resynchronised without decoding the value).
    let request = client.request("nvim_command", vec![send_nested(100).into()]);
    match run(&mut core, request) {
        Err(CallError::ConnectionClosed(ClosedReason::Protocol(err))) => match *err {
            CodecError::TooDeep { limit } => assert_eq!(limit, Limits::default().max_depth),
            ref other => panic!("expected TooDeep, got {:?}", other),
        },
        other => panic!("expected the connection to close, got {:?}", other),
    }
}

#[test]
fn a_larger_depth_limit_lets_deep_values_from_neovim_through() {
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let mut config = Config::default();
    config.limits.max_depth = 110;
    let connect = Client::builder()
        .timeout(HANG)
        .config(config)
        .connect(&nvim.addr, &core.handle());
    let client = run(&mut core, connect).expect("connect");
    let value = eval(
        &mut core,
        &client,
        "eval(repeat('[', 100) . '1' . repeat(']', 100))",
    );
    assert_eq!(value.unwrap(), wire::nested(100, 1.into()));
}

// ---------------------------------------------------------------------------------------
// Neovim is the client of our example server
// ---------------------------------------------------------------------------------------

/// Lua that Neovim runs: connects to our server, makes the calls, returns what it saw.
const NEOVIM_AS_CLIENT: &str = r#"
local addr = ...
local chan = vim.fn.sockconnect('tcp', addr, { rpc = true })
local out = { chan = chan }
out.add = vim.fn.rpcrequest(chan, 'add', 40, 2)
out.sub = vim.fn.rpcrequest(chan, 'sub', 10, 4)
out.unknown_ok, out.unknown_err = pcall(vim.fn.rpcrequest, chan, 'frobnicate', 1)
out.bad_ok, out.bad_err = pcall(vim.fn.rpcrequest, chan, 'add', 'one', 2)
local start = vim.loop.hrtime()
out.sleep = vim.fn.rpcrequest(chan, 'sleep', 200)
out.slept_ms = (vim.loop.hrtime() - start) / 1e6
vim.fn.rpcnotify(chan, 'ping', 1, 'hello')
out.after_ping = vim.fn.rpcrequest(chan, 'add', 1, 2)
return out
"#;

fn field<'a>(map: &'a Value, key: &str) -> &'a Value {
    map.as_map()
        .and_then(|pairs| pairs.iter().find(|(k, _)| k.as_str() == Some(key)))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no `{}` in {}", key, map))
}

#[test]
fn neovim_as_client_of_our_example_server() {
    // Neovim 0.7's error texts.
    if !runs_neovim("0.7") {
        return;
    }
    let server = ExampleServer::start();
    let proxy = Proxy::start(server.addr);
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let driver = nvim.plain_client(&mut core);

    let script = driver.request(
        "nvim_exec_lua",
        vec![
            NEOVIM_AS_CLIENT.into(),
            vec![Value::from(proxy.addr.to_string())].into(),
        ],
    );
    let out = run(&mut core, script).expect("the Lua script ran");
    let chan = field(&out, "chan").as_i64().expect("a channel id");

    assert_eq!(field(&out, "add"), &Value::from(42));
    assert_eq!(field(&out, "sub"), &Value::from(6));
    // Neovim raises our string error as a Vim error whose message is ours.
    assert_eq!(field(&out, "unknown_ok"), &Value::from(false));
    assert_eq!(
        field(&out, "unknown_err"),
        &Value::from(format!(
            "Vim:Error invoking 'frobnicate' on channel {}:\nunknown method `frobnicate`",
            chan
        ))
    );
    assert_eq!(field(&out, "bad_ok"), &Value::from(false));
    assert_eq!(
        field(&out, "bad_err"),
        &Value::from(format!(
            "Vim:Error invoking 'add' on channel {}:\nadd expects two 64-bit signed integers, got [\"one\", 2]",
            chan
        ))
    );
    assert_eq!(field(&out, "sleep"), &Value::from(200));
    let slept = field(&out, "slept_ms").as_f64().expect("a duration");
    assert!(slept >= 199.0, "slept {} ms", slept);
    assert_eq!(field(&out, "after_ping"), &Value::from(3));

    // Neovim treats every notification it receives as an API call: our `pong` is not one,
    // so it answers with an nvim_error_event notification. Wait for it (it may come just
    // after the script returned).
    let deadline = Instant::now() + HANG;
    let error_event = message::notification(
        "nvim_error_event",
        vec![0.into(), "Invalid method: pong".into()],
    );
    while !Proxy::messages(&proxy.from_client).contains(&error_event) {
        assert!(Instant::now() < deadline, "no nvim_error_event came back");
        turn_for(&mut core, Duration::from_millis(20));
    }

    // What went over the wire, each way.
    use message::{err_response, notification, ok_response, request};
    let pong = notification("pong", vec![1.into(), "hello".into()]);
    // Where the error event and the pong fall relative to the last request depends on
    // timing: take them out, then compare the rest.
    let without = |mut messages: Vec<Message>, which: &Message| {
        let at = messages.iter().position(|m| m == which);
        let at = at.unwrap_or_else(|| panic!("{:?} is not in {:?}", which, messages));
        messages.remove(at);
        messages
    };
    let from_nvim = without(Proxy::messages(&proxy.from_client), &error_event);
    let from_server = without(Proxy::messages(&proxy.from_server), &pong);
    assert_eq!(
        from_nvim,
        vec![
            request(1, "add", vec![40.into(), 2.into()]),
            request(2, "sub", vec![10.into(), 4.into()]),
            request(3, "frobnicate", vec![1.into()]),
            request(4, "add", vec!["one".into(), 2.into()]),
            request(5, "sleep", vec![200.into()]),
            notification("ping", vec![1.into(), "hello".into()]),
            request(6, "add", vec![1.into(), 2.into()]),
        ]
    );
    assert_eq!(
        from_server,
        vec![
            ok_response(1, 42.into()),
            ok_response(2, 6.into()),
            err_response(3, "unknown method `frobnicate`".into()),
            err_response(
                4,
                "add expects two 64-bit signed integers, got [\"one\", 2]".into(),
            ),
            ok_response(5, 200.into()),
            ok_response(6, 3.into()),
        ]
    );

    // The channel is still open and works.
    let again = run(
        &mut core,
        driver.request(
            "nvim_eval",
            vec![format!("rpcrequest({}, 'sub', 1, 2)", chan).into()],
        ),
    );
    assert_eq!(again.unwrap(), Value::from(-1));
    drop(nvim);
    let mut server = server;
    assert!(
        server.process.is_running(),
        "the example server is still up"
    );
}

// ---------------------------------------------------------------------------------------
// The example
// ---------------------------------------------------------------------------------------

#[test]
fn the_neovim_example_lists_buffers_then_prints_events_until_neovim_quits() {
    // The example prints the version, and the book shows a session with 0.7.2.
    if !runs_neovim("0.7.2") {
        return;
    }
    let nvim = Neovim::start();
    let mut core = Core::new().expect("reactor");
    let driver = nvim.plain_client(&mut core);
    let file = nvim.dir.path().join("notes.txt");
    std::fs::write(&file, "hello\n").expect("write a file");
    command(&mut core, &driver, &format!("edit {}", file.display()));

    let path = example_binary("neovim");
    let mut child = Command::new(&path)
        .arg(nvim.addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {}", path.display(), err));
    let stdout = Lines::new(child.stdout.take().expect("piped"));
    let stderr = Lines::new(child.stderr.take().expect("piped"));
    let mut example = KillOnDrop(child);
    let mut lines = Vec::new();
    while !lines
        .iter()
        .any(|l: &String| l.starts_with("waiting for events"))
    {
        match stdout.next_within(HANG) {
            Some(line) => lines.push(line),
            None => panic!(
                "the example stopped early; it printed {:?}, stderr {:?}",
                lines,
                stderr.rest_within(Duration::from_millis(100))
            ),
        }
    }
    // The session the book's chapter 4.4 shows: open todo.txt, write a line in it, go back
    // to notes.txt, quit.
    let todo = nvim.dir.path().join("todo.txt");
    command(&mut core, &driver, &format!("edit {}", todo.display()));
    command(&mut core, &driver, "call setline(1, 'x')");
    command(&mut core, &driver, "write");
    command(&mut core, &driver, &format!("buffer {}", 1));
    // Quitting closes our connection too; Neovim may not answer.
    let _ = driver.notify("nvim_command", vec!["qa!".into()]);
    turn_for(&mut core, Duration::from_millis(100));
    let status = example.wait_exit(HANG).expect("the example exited");
    lines.extend(stdout.rest_within(Duration::from_secs(1)));
    let dir = nvim.dir.path().display().to_string();
    let shown: Vec<String> = lines.iter().map(|l| l.replace(&dir, "DIR")).collect();
    assert!(
        status.success(),
        "exit {:?}, output {:?}, stderr {:?}",
        status,
        shown,
        stderr.rest_within(Duration::from_millis(100))
    );
    assert_eq!(
        shown,
        vec![
            "connected to Neovim 0.7.2 on channel 4".to_string(),
            "1 + 2 = 3".to_string(),
            "buffers:".to_string(),
            "  1 DIR/notes.txt".to_string(),
            "waiting for events (quit Neovim to stop)".to_string(),
            "BufEnter buffer 2 DIR/todo.txt".to_string(),
            "BufWritePost buffer 2 DIR/todo.txt".to_string(),
            "BufEnter buffer 1 DIR/notes.txt".to_string(),
            "VimLeavePre buffer 1 DIR/notes.txt".to_string(),
            "Neovim closed the connection".to_string(),
        ]
    );
    // The chapter shows the same session, run by hand in /tmp/demo: it must match what the
    // example really prints (but for the channel number, which depends on who else is
    // connected).
    assert_eq!(
        normalise_channel(&book_session()),
        normalise_channel(&shown.join("\n").replace("DIR", "/tmp/demo"))
    );
}

/// The first session of chapter 4.4: the output of `cargo run --example neovim`, then
/// the events block that follows it.
fn book_session() -> String {
    let chapter = concat!(env!("CARGO_MANIFEST_DIR"), "/book/src/ch04-04-neovim.md");
    let text = std::fs::read_to_string(chapter).expect("read chapter 4.4");
    let blocks: Vec<&str> = text.split("```console\n").skip(1).collect();
    let body = |block: &str| {
        block
            .split("```")
            .next()
            .unwrap_or("")
            .trim_end()
            .to_owned()
    };
    let start = blocks
        .iter()
        .position(|b| b.starts_with("$ cargo run --example neovim -- 127.0.0.1:6666\n"))
        .expect("the chapter shows a run of the example");
    let first = body(blocks[start]);
    let first = first
        .split_once('\n')
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .to_owned();
    format!("{}\n{}", first, body(blocks[start + 1]))
}

/// "on channel 3" and "on channel 4" are the same line for our purpose.
fn normalise_channel(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("on channel ") {
            Some(at) => format!("{}on channel N", &line[..at]),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_neovim_example_says_so_when_no_neovim_is_there() {
    // A port that nobody listens on: bind one, note it, close it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let path = example_binary("neovim");
    let output = Command::new(&path)
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run the example");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!("error: cannot connect to Neovim at {}:", addr)),
        "{}",
        stderr
    );
    assert!(stderr.contains("nvim --listen"), "{}", stderr);
}
