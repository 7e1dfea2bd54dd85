// ANCHOR: all
//! The client, calling our own server over TCP.

use std::net::SocketAddr;
use std::time::Duration;

use futures::future::{self, Either, FutureResult};
use futures::sync::oneshot;
use futures::Future;
use minirpc::client::{connect, CallError, Client};
use minirpc::server::serve;
use minirpc::service::Service;
use rmpv::Value;
use tokio_core::net::TcpListener;
use tokio_core::reactor::{Core, Timeout};

/// Answers `echo [x]` with `x` at once, and `wait` only once `open` has come.
struct Latch {
    open: Option<oneshot::Sender<()>>,
    opened: Option<oneshot::Receiver<()>>,
}

impl Latch {
    fn new() -> Latch {
        let (open, opened) = oneshot::channel();
        Latch {
            open: Some(open),
            opened: Some(opened),
        }
    }
}

impl Service for Latch {
    type RequestFuture = Box<dyn Future<Item = Value, Error = Value>>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Vec<Value>) -> Self::RequestFuture {
        match method {
            "echo" => Box::new(future::ok(params.into_iter().next().unwrap_or(Value::Nil))),
            "wait" => match self.opened.take() {
                Some(opened) => Box::new(
                    opened
                        .map(|()| Value::from("waited"))
                        .map_err(|_| Value::from("never opened")),
                ),
                None => Box::new(future::err(Value::from("somebody waits already"))),
            },
            "open" => {
                if let Some(open) = self.open.take() {
                    let _ = open.send(());
                }
                Box::new(future::ok(Value::from("opened")))
            }
            other => Box::new(future::err(format!("no method `{}`", other).into())),
        }
    }

    fn handle_notification(
        &mut self,
        _method: &str,
        _params: Vec<Value>,
    ) -> Self::NotificationFuture {
        future::ok(())
    }
}

/// How long a test waits for a future before calling it a hang.
const PATIENCE: Duration = Duration::from_secs(10);

/// Runs `future` on `core` to its end; panics if that takes longer than `PATIENCE`.
fn run<F: Future>(core: &mut Core, future: F) -> Result<F::Item, F::Error> {
    let timeout = Timeout::new(PATIENCE, &core.handle()).unwrap();
    match core.run(future.select2(timeout)) {
        Ok(Either::A((item, _))) => Ok(item),
        Err(Either::A((err, _))) => Err(err),
        _ => panic!("still running after {:?}", PATIENCE),
    }
}

/// A client connected to a `Latch` server, both on `core`. (The client's own service is
/// a `Latch` too; these tests send it nothing.)
fn latch_client(core: &mut Core) -> Client {
    let handle = core.handle();
    let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap(), &handle).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = serve(listener, &handle, |_client| Latch::new());
    handle.spawn(server.map_err(|err| panic!("the server stopped: {}", err)));
    run(core, connect(&addr, &handle, |_server| Latch::new())).unwrap()
}

#[test]
fn a_call_gets_the_server_answer() {
    let mut core = Core::new().unwrap();
    let client = latch_client(&mut core);
    let echo = client.request("echo", vec![Value::from("hi")]);
    assert_eq!(run(&mut core, echo), Ok(Value::from("hi")));
    let unknown = client.request("mul", vec![]);
    let error = Value::from("no method `mul`");
    assert_eq!(run(&mut core, unknown), Err(CallError::Remote(error)));
}

#[test]
fn answers_reach_their_callers_in_whatever_order_they_come() {
    let mut core = Core::new().unwrap();
    let client = latch_client(&mut core);
    // The server answers `open` first: `wait` cannot finish before it.
    let waited = client.request("wait", vec![]);
    let opened = client.request("open", vec![]);
    let echoes = (0..100).map(|i| client.request("echo", vec![Value::from(i)]));
    let echoes = future::join_all(echoes.collect::<Vec<_>>());
    let (waited, opened, echoes) = run(&mut core, waited.join3(opened, echoes)).unwrap();
    assert_eq!(waited, Value::from("waited"));
    assert_eq!(opened, Value::from("opened"));
    assert_eq!(echoes, (0..100).map(Value::from).collect::<Vec<_>>());
}

#[test]
fn a_call_fails_when_the_server_closes_the_connection() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = run(&mut core, connect(&addr, &handle, |_server| Latch::new())).unwrap();
    // Accept the connection, and close it at once.
    drop(listener.accept().unwrap());
    let call = client.request("echo", vec![Value::from(1)]);
    assert_eq!(run(&mut core, call), Err(CallError::ConnectionClosed));
}
// ANCHOR_END: all
