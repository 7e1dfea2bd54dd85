//! The requests we sent that wait for their response.

use std::collections::HashMap;

use futures::sync::oneshot;
use rmpv::Value;

/// Where the answer to one of our requests goes: the caller waits on the other end.
pub type Answer = oneshot::Sender<Result<Value, Value>>;

/// Our requests in flight, by msgid.
#[derive(Default)]
pub struct Pending {
    /// The msgid of the next request.
    next_id: u32,
    /// The caller of each request in flight.
    waiting: HashMap<u32, Answer>,
}

impl Pending {
    /// Keeps `answer` until its response comes; returns the msgid its request carries.
    pub fn insert(&mut self, answer: Answer) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.waiting.insert(id, answer);
        id
    }

    /// Hands the response to request `id` to its caller.
    pub fn complete(&mut self, id: u32, result: Result<Value, Value>) {
        match self.waiting.remove(&id) {
            // The caller may have stopped waiting; then nobody needs the answer.
            Some(answer) => drop(answer.send(result)),
            None => log::debug!(
                "dropped the response to msgid {}: no request waits for it",
                id
            ),
        }
    }
}
