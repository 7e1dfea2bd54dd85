//! Typed handlers, routed by method name: [`Router`].
//!
//! A router is a [`Service`] made of closures, one per method. Each closure takes its
//! params as a typed value (a tuple, a struct, a `Vec`...), which the router decodes
//! straight from the read buffer with [`Params::deserialize`], and returns anything
//! that converts into a future ([`IntoFuture`]: a `Result` answers at once) of a
//! `Serialize` result or error, which the router encodes into a [`Reply`]. Params that
//! do not fit get an error response that names the method and what it expects; a method
//! nobody registered gets "unknown method `name`".

use std::fmt;
use std::rc::Rc;

use futures::{Async, Future, IntoFuture, Poll};
use rmpv::Value;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::errors::ParamsError;
use crate::params::{short_type_name, Params};
use crate::peer::Client;
use crate::reply::Reply;
use crate::service::{Service, ServiceBuilder};

/// Up to this many handlers, a lookup compares names one by one (cheaper than a binary
/// search's string comparisons); beyond, it searches the sorted names.
const LINEAR_LOOKUP: usize = 8;

/// A handler, types erased: the connection's peer (when the router has one), the
/// method's name, the params; what the handler started, or why it did not run.
type Handler<T> = dyn Fn(Option<&Client>, &str, Params<'_>) -> Result<T, Refusal>;
/// A request handler: it starts an answer.
type MethodFn = Handler<Answer>;
/// A notification handler.
type NotificationFn = Handler<Heard>;

/// Why a handler did not run.
enum Refusal {
    /// The params do not fit the handler's type.
    BadParams(ParamsError),
    /// Anything else, said in the error response.
    Other(String),
}

/// Routes requests and notifications to typed handlers by method name.
///
/// Build it once, with [`method`](Router::method) and
/// [`notification`](Router::notification) for each name, and hand it to a server or a
/// client as their [`ServiceBuilder`]: each connection gets a copy that shares the
/// handlers and knows the connection's peer, which the `*_with_peer` handlers receive.
/// A router is also a [`Service`] itself, without a peer until it is built for a
/// connection (its `*_with_peer` handlers then answer with an error that says so).
///
/// ```
/// use rmp_rpc_demo::Router;
///
/// let router = Router::new()
///     .method("add", |(a, b): (i64, i64)| a.checked_add(b).ok_or("overflow"))
///     .method("greet", |(name,): (String,)| Ok::<_, ()>(format!("hello, {}", name)));
/// ```
#[derive(Clone, Default)]
pub struct Router {
    /// The handlers, shared by every connection's copy.
    routes: Rc<Routes>,
    /// The connection's peer, once the router was built for a connection.
    peer: Option<Client>,
    /// The handler registered last, which [`Router::expects`] describes.
    last: Option<(Kind, Box<str>)>,
}

/// The handlers, each list sorted by name for a binary search.
#[derive(Clone, Default)]
struct Routes {
    methods: Vec<(Box<str>, Route<MethodFn>)>,
    notifications: Vec<(Box<str>, Route<NotificationFn>)>,
}

/// One handler and how to say what it expects.
struct Route<F: ?Sized> {
    handler: Rc<F>,
    expects: Expects,
}

impl<F: ?Sized> Clone for Route<F> {
    fn clone(&self) -> Self {
        Route {
            handler: Rc::clone(&self.handler),
            expects: self.expects.clone(),
        }
    }
}

/// What a handler's params should be, for people.
#[derive(Clone)]
enum Expects {
    /// The params type's name: shown with serde's reason.
    Type(String),
    /// A description given with [`Router::expects`]: shown with the params that came.
    Described(String),
}

impl Expects {
    /// The error response for params that do not fit.
    fn refusal(&self, method: &str, params: Params<'_>, err: &ParamsError) -> String {
        match *self {
            Expects::Type(ref name) => format!("{} expects {}: {}", method, name, err),
            Expects::Described(ref what) => format!("{} expects {}, got {}", method, what, params),
        }
    }
}

/// Which kind of handler was registered last.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Method,
    Notification,
}

impl Router {
    /// A router with no handlers: every request gets "unknown method `name`".
    pub fn new() -> Router {
        Router::default()
    }

    // ANCHOR: method
    /// Handles requests for `name` with `handler`, which takes the params decoded as a
    /// `P` and answers with a `Result`, or with any other future, of a `Serialize`
    /// result or error.
    ///
    /// Params that do not fit `P` get the error response
    /// "*name* expects *P*: *serde's reason*", for example
    /// "add expects (i64, i64): invalid type: string \"x\", expected i64"
    /// ([`expects`](Router::expects) describes them in words instead). Registering a
    /// name again replaces its handler.
    pub fn method<P, R, F>(self, name: &str, handler: F) -> Router
    where
        P: DeserializeOwned + 'static,
        R: IntoFuture + 'static,
        R::Item: Serialize,
        R::Error: Serialize,
        F: Fn(P) -> R + 'static,
    {
        self.add_method(name, move |_: Option<&Client>, _: &str, params: P| {
            Ok(Answer::from_future(handler(params)))
        })
    }
    // ANCHOR_END: method

    /// Like [`method`](Router::method), for a handler that also needs the connection's
    /// peer (to call it back, or to notify it).
    pub fn method_with_peer<P, R, F>(self, name: &str, handler: F) -> Router
    where
        P: DeserializeOwned + 'static,
        R: IntoFuture + 'static,
        R::Item: Serialize,
        R::Error: Serialize,
        F: Fn(&Client, P) -> R + 'static,
    {
        self.add_method(name, move |peer: Option<&Client>, name: &str, params: P| {
            let peer = peer.ok_or_else(|| no_peer(name))?;
            Ok(Answer::from_future(handler(peer, params)))
        })
    }

    /// Handles notifications for `name` with `handler`, which takes the params decoded
    /// as a `P` and returns a `Result`, or any other future; an error is logged.
    /// Notifications whose params do not fit `P`, and those for a name nobody
    /// registered, are dropped with a log line: the peer expects no answer.
    pub fn notification<P, R, F>(self, name: &str, handler: F) -> Router
    where
        P: DeserializeOwned + 'static,
        R: IntoFuture + 'static,
        R::Error: fmt::Display,
        F: Fn(P) -> R + 'static,
    {
        self.add_notification(name, move |_: Option<&Client>, name: &str, params: P| {
            Ok(Heard::from_future(name, handler(params)))
        })
    }

    /// Like [`notification`](Router::notification), for a handler that also needs the
    /// connection's peer.
    pub fn notification_with_peer<P, R, F>(self, name: &str, handler: F) -> Router
    where
        P: DeserializeOwned + 'static,
        R: IntoFuture + 'static,
        R::Error: fmt::Display,
        F: Fn(&Client, P) -> R + 'static,
    {
        self.add_notification(name, move |peer: Option<&Client>, name: &str, params: P| {
            let peer = peer.ok_or_else(|| no_peer(name))?;
            Ok(Heard::from_future(name, handler(peer, params)))
        })
    }

    /// Describes in words what the handler registered just before expects. Params that
    /// do not fit then get "*name* expects *description*, got *the params*", for example
    /// "add expects two 64-bit signed integers, got [1.5, 2]" (params longer than about
    /// 100 characters are cut short).
    pub fn expects(mut self, description: &str) -> Router {
        let expects = Expects::Described(description.to_owned());
        match self.last.clone() {
            Some((Kind::Method, name)) => {
                describe(&mut Rc::make_mut(&mut self.routes).methods, &name, expects)
            }
            Some((Kind::Notification, name)) => describe(
                &mut Rc::make_mut(&mut self.routes).notifications,
                &name,
                expects,
            ),
            None => log::warn!("Router::expects called before any handler was registered: ignored"),
        }
        self
    }

    /// Registers a request handler that takes its params decoded as a `P`.
    fn add_method<P, G>(mut self, name: &str, run: G) -> Router
    where
        P: DeserializeOwned + 'static,
        G: Fn(Option<&Client>, &str, P) -> Result<Answer, String> + 'static,
    {
        insert(
            &mut Rc::make_mut(&mut self.routes).methods,
            name,
            route(run),
        );
        self.last = Some((Kind::Method, name.into()));
        self
    }

    /// Registers a notification handler that takes its params decoded as a `P`.
    fn add_notification<P, G>(mut self, name: &str, run: G) -> Router
    where
        P: DeserializeOwned + 'static,
        G: Fn(Option<&Client>, &str, P) -> Result<Heard, String> + 'static,
    {
        insert(
            &mut Rc::make_mut(&mut self.routes).notifications,
            name,
            route(run),
        );
        self.last = Some((Kind::Notification, name.into()));
        self
    }
}

/// `run` behind a handler that first decodes its params as a `P`.
fn route<P, T, G>(run: G) -> Route<Handler<T>>
where
    P: DeserializeOwned + 'static,
    T: 'static,
    G: Fn(Option<&Client>, &str, P) -> Result<T, String> + 'static,
{
    let erased = move |peer: Option<&Client>, name: &str, params: Params<'_>| {
        let params = params.deserialize::<P>().map_err(Refusal::BadParams)?;
        run(peer, name, params).map_err(Refusal::Other)
    };
    Route {
        handler: Rc::new(erased) as Rc<Handler<T>>,
        expects: Expects::Type(short_type_name::<P>()),
    }
}

/// Gives the route `name` the description `expects`.
fn describe<F: ?Sized>(routes: &mut [(Box<str>, Route<F>)], name: &str, expects: Expects) {
    if let Some(route) = find_mut(routes, name) {
        route.expects = expects;
    }
}

// ANCHOR: service
impl Service for Router {
    type Output = Reply;
    type Error = Reply;
    type RequestFuture = Answer;
    type NotificationFuture = Heard;

    fn handle_request(&mut self, method: &str, params: Params<'_>) -> Answer {
        let route = match find(&self.routes.methods, method) {
            Some(route) => route,
            None => return Answer::error(format!("unknown method `{}`", method)),
        };
        match (route.handler)(self.peer.as_ref(), method, params) {
            Ok(answer) => answer,
            Err(Refusal::BadParams(err)) => {
                Answer::error(route.expects.refusal(method, params, &err))
            }
            Err(Refusal::Other(why)) => Answer::error(why),
        }
    }

    fn handle_notification(&mut self, method: &str, params: Params<'_>) -> Heard {
        let route = match find(&self.routes.notifications, method) {
            Some(route) => route,
            None => {
                log::info!("dropping notification `{}`: no handler for it", method);
                return Heard::done();
            }
        };
        match (route.handler)(self.peer.as_ref(), method, params) {
            Ok(heard) => heard,
            Err(Refusal::BadParams(err)) => {
                log::warn!(
                    "dropping notification: {}",
                    route.expects.refusal(method, params, &err)
                );
                Heard::done()
            }
            Err(Refusal::Other(why)) => {
                log::warn!("dropping notification `{}`: {}", method, why);
                Heard::done()
            }
        }
    }
}

/// Each connection gets a copy of the router that shares its handlers and knows the
/// connection's peer.
impl ServiceBuilder for Router {
    type Service = Router;

    fn build(&self, peer: Client) -> Router {
        Router {
            routes: Rc::clone(&self.routes),
            peer: Some(peer),
            last: None,
        }
    }
}
// ANCHOR_END: service

/// A typed handler's answer, as a future: ready at once when the handler's future was
/// (no allocation), boxed otherwise.
#[must_use = "futures do nothing unless polled"]
pub struct Answer(AnswerState);

enum AnswerState {
    Ready(Option<Result<Reply, Reply>>),
    Later(Box<dyn Future<Item = Reply, Error = Reply>>),
}

impl Answer {
    // ANCHOR: answer
    /// Polls the handler's future once (handlers run inside the connection's task, so
    /// this is allowed): most answer at once and need no box.
    fn from_future<R>(answer: R) -> Answer
    where
        R: IntoFuture + 'static,
        R::Item: Serialize,
        R::Error: Serialize,
    {
        let mut future = answer.into_future();
        match future.poll() {
            Ok(Async::Ready(result)) => Answer(AnswerState::Ready(Some(Ok(encode(&result))))),
            Err(error) => Answer(AnswerState::Ready(Some(Err(encode(&error))))),
            Ok(Async::NotReady) => {
                Answer(AnswerState::Later(Box::new(future.then(
                    |outcome| match outcome {
                        Ok(result) => Ok(encode(&result)),
                        Err(error) => Err(encode(&error)),
                    },
                ))))
            }
        }
    }
    // ANCHOR_END: answer

    fn error(text: String) -> Answer {
        Answer(AnswerState::Ready(Some(Err(Value::from(text).into()))))
    }
}

/// `value` as a reply; one that cannot be encoded becomes an error reply that says so.
fn encode<T: Serialize>(value: &T) -> Reply {
    Reply::serialize(value).unwrap_or_else(|err| {
        log::error!("a handler's answer could not be encoded: {}", err);
        Value::from(format!("the answer could not be encoded: {}", err)).into()
    })
}

impl Future for Answer {
    type Item = Reply;
    type Error = Reply;

    fn poll(&mut self) -> Poll<Reply, Reply> {
        match self.0 {
            AnswerState::Ready(ref mut answer) => match answer.take() {
                Some(Ok(result)) => Ok(Async::Ready(result)),
                Some(Err(error)) => Err(error),
                // Polled again after it completed: the connection never does that.
                None => Ok(Async::NotReady),
            },
            // The handler's future will wake us.
            AnswerState::Later(ref mut future) => future.poll(),
        }
    }
}

/// A typed notification handler at work, as a future: done at once when its future
/// was, boxed otherwise. Its error is logged.
#[must_use = "futures do nothing unless polled"]
pub struct Heard(Option<Box<dyn Future<Item = (), Error = ()>>>);

impl Heard {
    fn from_future<R>(method: &str, heard: R) -> Heard
    where
        R: IntoFuture + 'static,
        R::Error: fmt::Display,
    {
        let mut future = heard.into_future();
        let method = method.to_owned();
        let log_error = move |err: R::Error| {
            log::warn!("the handler of notification `{}` failed: {}", method, err)
        };
        match future.poll() {
            Ok(Async::Ready(_)) => Heard::done(),
            Err(err) => {
                log_error(err);
                Heard::done()
            }
            Ok(Async::NotReady) => Heard(Some(Box::new(future.map(drop).map_err(log_error)))),
        }
    }

    fn done() -> Heard {
        Heard(None)
    }
}

impl Future for Heard {
    type Item = ();
    type Error = ();

    fn poll(&mut self) -> Poll<(), ()> {
        match self.0 {
            None => Ok(Async::Ready(())),
            // The handler's future will wake us.
            Some(ref mut future) => future.poll(),
        }
    }
}

/// The error of a `*_with_peer` handler in a router that was not built for a
/// connection.
fn no_peer(method: &str) -> String {
    format!(
        "`{}` needs the connection's peer, and this router has none: pass the Router as the ServiceBuilder, not as a Service",
        method
    )
}

fn names<F: ?Sized>(routes: &[(Box<str>, Route<F>)]) -> Vec<&str> {
    routes.iter().map(|(name, _)| &**name).collect()
}

fn find<'r, F: ?Sized>(routes: &'r [(Box<str>, Route<F>)], name: &str) -> Option<&'r Route<F>> {
    if routes.len() <= LINEAR_LOOKUP {
        // A few names: comparing lengths first rejects most at once.
        return routes
            .iter()
            .find(|(key, _)| key.len() == name.len() && **key == *name)
            .map(|(_, route)| route);
    }
    routes
        .binary_search_by(|(key, _)| (**key).cmp(name))
        .ok()
        .and_then(|at| routes.get(at))
        .map(|(_, route)| route)
}

fn find_mut<'r, F: ?Sized>(
    routes: &'r mut [(Box<str>, Route<F>)],
    name: &str,
) -> Option<&'r mut Route<F>> {
    match routes.binary_search_by(|(key, _)| (**key).cmp(name)) {
        Ok(at) => routes.get_mut(at).map(|(_, route)| route),
        Err(_) => None,
    }
}

fn insert<F: ?Sized>(routes: &mut Vec<(Box<str>, Route<F>)>, name: &str, route: Route<F>) {
    match routes.binary_search_by(|(key, _)| (**key).cmp(name)) {
        Ok(at) => {
            if let Some(slot) = routes.get_mut(at) {
                slot.1 = route;
            }
        }
        Err(at) => routes.insert(at, (name.into(), route)),
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("methods", &names(&self.routes.methods))
            .field("notifications", &names(&self.routes.notifications))
            .field("has_peer", &self.peer.is_some())
            .finish()
    }
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ready = matches!(self.0, AnswerState::Ready(_));
        f.debug_struct("Answer").field("ready", &ready).finish()
    }
}

impl fmt::Debug for Heard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Heard")
            .field("done", &self.0.is_none())
            .finish()
    }
}
