// ANCHOR: all
//! Requests and notifications in both directions: the server calls its client back.

use std::time::Duration;

use futures::future::{self, Either, FutureResult};
use futures::sync::mpsc;
use futures::{Future, Stream};
use minirpc::client::{connect, CallError, Client};
use minirpc::server::serve;
use minirpc::service::Service;
use rmpv::Value;
use tokio_core::net::TcpListener;
use tokio_core::reactor::{Core, Timeout};

// ANCHOR: greeter
/// The server's service: greets its client by the name the client gives, and answers
/// each `ping` with a `pong`.
struct Greeter {
    /// The client at the other end of this connection.
    peer: Client,
}

impl Service for Greeter {
    type RequestFuture = Box<dyn Future<Item = Value, Error = Value>>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, _params: Vec<Value>) -> Self::RequestFuture {
        if method != "greet" {
            return Box::new(future::err(format!("no method `{}`", method).into()));
        }
        // Ask the client its name, then answer.
        let name = self.peer.request("name", vec![]);
        Box::new(
            name.map(|name| Value::from(format!("hello, {}", name.as_str().unwrap_or("?"))))
                .map_err(|err| Value::from(format!("no name: {}", err))),
        )
    }

    fn handle_notification(
        &mut self,
        method: &str,
        params: Vec<Value>,
    ) -> Self::NotificationFuture {
        if method == "ping" {
            // Fails only when the connection is closing: then nobody hears the pong.
            let _ = self.peer.notify("pong", params);
        }
        future::ok(())
    }
}
// ANCHOR_END: greeter

// ANCHOR: guest
/// The client's service: tells its name, and passes on the `pong`s it gets.
struct Guest {
    name: Option<&'static str>,
    pongs: mpsc::UnboundedSender<Vec<Value>>,
}

impl Service for Guest {
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, _params: Vec<Value>) -> Self::RequestFuture {
        match (method, self.name) {
            ("name", Some(name)) => future::ok(Value::from(name)),
            _ => future::err(format!("no method `{}`", method).into()),
        }
    }

    fn handle_notification(
        &mut self,
        method: &str,
        params: Vec<Value>,
    ) -> Self::NotificationFuture {
        if method == "pong" {
            let _ = self.pongs.unbounded_send(params);
        }
        future::ok(())
    }
}
// ANCHOR_END: guest

// ANCHOR: helpers
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

/// A `Greeter` server and a `Guest` client called `name`, connected on `core`; and the
/// `pong`s the guest gets.
fn greeter_and_guest(
    core: &mut Core,
    name: Option<&'static str>,
) -> (Client, mpsc::UnboundedReceiver<Vec<Value>>) {
    let handle = core.handle();
    let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap(), &handle).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = serve(listener, &handle, |peer| Greeter { peer });
    handle.spawn(server.map_err(|err| panic!("the server stopped: {}", err)));
    let (pongs_sent, pongs) = mpsc::unbounded();
    let guest = move |_server| Guest {
        name,
        pongs: pongs_sent,
    };
    let client = run(core, connect(&addr, &handle, guest)).unwrap();
    (client, pongs)
}
// ANCHOR_END: helpers

// ANCHOR: tests
#[test]
fn a_ping_from_the_client_gets_a_pong_from_the_server() {
    let mut core = Core::new().unwrap();
    let (client, pongs) = greeter_and_guest(&mut core, Some("ada"));
    client
        .notify("ping", vec![Value::from(1), Value::from("two")])
        .unwrap();
    let (pong, _) = run(&mut core, pongs.into_future()).map_err(|_| ()).unwrap();
    assert_eq!(pong, Some(vec![Value::from(1), Value::from("two")]));
}

#[test]
fn the_server_calls_its_client_back_before_answering() {
    let mut core = Core::new().unwrap();
    let (client, _pongs) = greeter_and_guest(&mut core, Some("ada"));
    let greeting = client.request("greet", vec![]);
    assert_eq!(run(&mut core, greeting), Ok(Value::from("hello, ada")));
}

#[test]
fn an_error_from_the_client_reaches_the_server_handler() {
    let mut core = Core::new().unwrap();
    let (client, _pongs) = greeter_and_guest(&mut core, None);
    let greeting = client.request("greet", vec![]);
    let error = "no name: the peer answered with an error: \"no method `name`\"";
    assert_eq!(
        run(&mut core, greeting),
        Err(CallError::Remote(Value::from(error)))
    );
}
// ANCHOR_END: tests
// ANCHOR_END: all
