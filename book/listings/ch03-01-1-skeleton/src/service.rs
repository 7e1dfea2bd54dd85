//! What a user of the crate writes: the answers to the peer's calls.

use futures::Future;
use rmpv::Value;

/// Handles the requests and notifications that arrive on one connection.
///
/// The connection calls it once per message, in the order the messages arrive; the
/// futures it returns then run side by side.
pub trait Service {
    /// The answer to a request: the result, or the error value sent back.
    type RequestFuture: Future<Item = Value, Error = Value>;
    /// The work a notification starts. Nothing is sent back.
    type NotificationFuture: Future<Item = (), Error = ()>;

    /// Starts answering the request `method(params)`.
    fn handle_request(&mut self, method: &str, params: Vec<Value>) -> Self::RequestFuture;

    /// Starts handling the notification `method(params)`.
    fn handle_notification(&mut self, method: &str, params: Vec<Value>)
        -> Self::NotificationFuture;
}
