//! Services of our own, and a server of one on a thread of its own, for the tests that
//! need a setting or a behaviour the example server does not have.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use futures::future::{self, FutureResult};
use futures::Future;
use rmp_rpc_demo::{
    BoxFuture, Client, Config, Params, Server, Service, ServiceBuilder, ShutdownHandle, Value,
};
use tokio_core::reactor::{Core, Handle, Timeout};

use super::HANG;

/// `add [a, b]` answers `a + b` at once, `sleep [ms]` answers `ms` after `ms`
/// milliseconds; any other method, an error that names it.
pub struct Calc {
    pub handle: Handle,
}

impl Service for Calc {
    type Output = Value;
    type Error = Value;
    type RequestFuture = BoxFuture<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Params<'_>) -> Self::RequestFuture {
        let params = params.into_values();
        let arg = |i: usize| params.get(i).and_then(Value::as_u64).unwrap_or(0);
        match method {
            "add" => Box::new(future::ok(Value::from(arg(0) + arg(1)))),
            "sleep" => {
                let ms = arg(0);
                let timer = Timeout::new(Duration::from_millis(ms), &self.handle);
                Box::new(
                    future::result(timer)
                        .flatten()
                        .map(move |()| Value::from(ms))
                        .map_err(|err| Value::from(err.to_string())),
                )
            }
            other => Box::new(future::err(Value::from(format!("no method {}", other)))),
        }
    }

    fn handle_notification(&mut self, _: &str, _: Params<'_>) -> Self::NotificationFuture {
        future::ok(())
    }
}

/// The builder of [`Calc`] services on the reactor of `handle`.
pub fn calc(handle: &Handle) -> impl Fn(Client) -> Calc {
    let handle = handle.clone();
    move |_peer: Client| Calc {
        handle: handle.clone(),
    }
}

/// A server on 127.0.0.1, on a thread of its own. Dropping it shuts the server down and
/// checks that its thread ended without a panic: one escaping a handler would have
/// ended it early.
pub struct ServerThread {
    pub addr: SocketAddr,
    shutdown: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    /// Serves with `config` and the builder `make` makes on the server's reactor.
    pub fn start<F, B>(config: Config, make: F) -> ServerThread
    where
        F: FnOnce(&Handle) -> B + Send + 'static,
        B: ServiceBuilder,
    {
        let (ready_tx, ready) = mpsc::channel();
        let thread = thread::spawn(move || {
            let mut core = Core::new().expect("a reactor");
            let handle = core.handle();
            let addr = "127.0.0.1:0".parse().expect("an address");
            let server = Server::builder()
                .config(config)
                .bind(&addr, make(&handle), &handle)
                .expect("bind");
            ready_tx
                .send((server.local_addr(), server.shutdown_handle()))
                .expect("the test waits");
            let _ = core.run(server);
        });
        let (addr, shutdown) = ready.recv_timeout(HANG).expect("the server thread starts");
        ServerThread {
            addr,
            shutdown,
            thread: Some(thread),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.shutdown.shutdown(Duration::from_secs(0));
        if let Some(thread) = self.thread.take() {
            let ended = thread.join();
            if !thread::panicking() {
                assert!(ended.is_ok(), "a panic escaped into the server's reactor");
            }
        }
    }
}
