//! What you implement to answer the peer: a [`Service`] per connection, made by a
//! [`ServiceBuilder`].
//!
//! This mirrors tokio-service's `Service` and `NewService`, with two changes that
//! MessagePack-RPC needs: a service handles notifications as well as requests, and the
//! builder hands each new service a [`Client`] for its connection, so that the service
//! can send requests and notifications *to the peer* (the server can notify its client).

use futures::future::{self, FutureResult};
use futures::Future;
use rmpv::Value;

use crate::params::Params;
use crate::peer::Client;
use crate::reply::Reply;

/// A boxed future, for services whose handlers return different future types.
pub type BoxFuture<T, E> = Box<dyn Future<Item = T, Error = E>>;

/// Handles the requests and notifications that arrive on one connection.
///
/// Handlers are called in the order the messages arrive. The futures they return then
/// run concurrently: a slow request does not hold up the others, and each response is
/// sent as soon as its future completes, so responses can leave in a different order
/// than their requests came (the msgid pairs them up). Notification futures also run
/// concurrently and may complete in any order, unless
/// [`Config::ordered_notifications`](crate::config::Config::ordered_notifications) is set:
/// then each one starts only once the previous one has completed.
///
/// A service and the futures it returns live on the reactor for as long as their
/// connection runs, so they own what they use (`'static`): share state with `Rc` or
/// `Arc`, not with references.
///
/// # Panics
///
/// A panic in a handler costs that one call. The connection catches it (with
/// `catch_unwind`) in [`handle_request`](Service::handle_request) and
/// [`handle_notification`](Service::handle_notification), and in every poll of the
/// futures they return: a request gets the error response `"internal error in
/// METHOD"`, a notification nothing; the panic's message is logged with `log::error!`
/// (it is not sent: it is for you, not for the peer). The connection, its other calls,
/// the other connections and the process go on.
///
/// **The connection keeps the service that panicked**, so that the other calls of its
/// peer are not lost, and the state the service keeps across calls (subscriptions, a
/// cache) survives. Whatever the panic interrupted stays as it was left: if a handler
/// panicked halfway through updating the service's state (one of two fields updated,
/// an entry half-built), the next calls see that half-updated state. A `RefCell` is not
/// left borrowed (unwinding releases the borrow), but a `Mutex` that was locked is left
/// poisoned. Make such updates in one step, or after the code that may panic. A future
/// that panicked is dropped, never polled again.
///
/// A panic in [`ServiceBuilder::build`] closes that one connection before it serves
/// anything, with
/// [`ClosedReason::BuilderPanicked`](crate::errors::ClosedReason::BuilderPanicked).
///
/// Rust's default panic hook still prints each panic to stderr (`thread 'main' panicked
/// at ...`), as it does for any panic, before the connection catches it. To report
/// panics another way, install your own hook with `std::panic::set_hook`; the library
/// never installs one. Built with `panic = "abort"`, a panic cannot be caught and ends
/// the process.
pub trait Service: 'static {
    /// What a successful request answers: sent to the peer as the response's result.
    /// A `Value`, or a [`Reply`] (which a typed value becomes with [`Reply::serialize`]).
    type Output: Into<Reply>;
    /// What a failed request answers: sent to the peer as the response's error. The
    /// connection stays up.
    type Error: Into<Reply>;
    /// Answers a request.
    type RequestFuture: Future<Item = Self::Output, Error = Self::Error> + 'static;
    /// Processes a notification. Nothing is sent back.
    type NotificationFuture: Future<Item = (), Error = ()> + 'static;

    /// Called for each request, in arrival order. `params` still point into the read
    /// buffer: turn them into what the handler needs before returning.
    fn handle_request(&mut self, method: &str, params: Params<'_>) -> Self::RequestFuture;

    /// Called for each notification, in arrival order.
    fn handle_notification(&mut self, method: &str, params: Params<'_>)
        -> Self::NotificationFuture;
}

/// Makes the [`Service`] of each new connection.
///
/// `peer` is a handle to the new connection: keep it in the service to send requests and
/// notifications to the peer. It does not keep the connection open by itself. A closure
/// `Fn(Client) -> S` is a builder. Like the services it makes, a builder owns what it
/// uses (`'static`): a server keeps it for as long as it accepts connections.
pub trait ServiceBuilder: 'static {
    /// The service this builder makes.
    type Service: Service;

    /// Makes the service for a new connection.
    fn build(&self, peer: Client) -> Self::Service;
}

impl<F, S> ServiceBuilder for F
where
    F: Fn(Client) -> S + 'static,
    S: Service,
{
    type Service = S;

    fn build(&self, peer: Client) -> S {
        self(peer)
    }
}

/// The service of a client that installed no handler: it refuses every request with an
/// error response that says so, and drops notifications with a log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NoHandler;

impl Service for NoHandler {
    type Output = Value;
    type Error = Value;
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, _params: Params<'_>) -> Self::RequestFuture {
        future::err(Value::from(format!(
            "cannot handle request `{}`: this client installed no handler",
            method
        )))
    }

    fn handle_notification(
        &mut self,
        method: &str,
        _params: Params<'_>,
    ) -> Self::NotificationFuture {
        log::info!(
            "dropping notification `{}`: this client installed no handler",
            method
        );
        future::ok(())
    }
}

impl ServiceBuilder for NoHandler {
    type Service = NoHandler;

    fn build(&self, _peer: Client) -> NoHandler {
        NoHandler
    }
}
