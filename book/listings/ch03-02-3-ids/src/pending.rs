// ANCHOR: all
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
    // ANCHOR: insert
    /// Keeps `answer` until its response comes; returns the msgid its request carries.
    pub fn insert(&mut self, answer: Answer) -> u32 {
        // After 2^32 requests the ids wrap around, and the one we reach may still be in
        // flight: skip it. Fewer than 2^32 requests can wait at once (each takes memory),
        // so the loop ends.
        let mut id = self.next_id;
        while self.waiting.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_id = id.wrapping_add(1);
        self.waiting.insert(id, answer);
        id
    }
    // ANCHOR_END: insert

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

// ANCHOR: tests
#[cfg(test)]
mod tests {
    use super::*;
    use futures::Future;

    /// Registers a request; returns its msgid and the receiving end of its answer.
    fn call(pending: &mut Pending) -> (u32, oneshot::Receiver<Result<Value, Value>>) {
        let (answer, response) = oneshot::channel();
        (pending.insert(answer), response)
    }

    #[test]
    fn ids_follow_each_other_and_wrap_around() {
        let mut pending = Pending::default();
        assert_eq!(call(&mut pending).0, 0);
        assert_eq!(call(&mut pending).0, 1);
        pending.next_id = u32::MAX;
        assert_eq!(call(&mut pending).0, u32::MAX);
        assert_eq!(call(&mut pending).0, 2);
    }

    #[test]
    fn an_id_still_in_flight_is_not_given_again() {
        let mut pending = Pending::default();
        let (first, _waiting) = call(&mut pending);
        // 2^32 - 1 requests later, the ids come back to `first`, still waiting.
        pending.next_id = first;
        let (second, _) = call(&mut pending);
        assert_ne!(second, first);
        assert_eq!(second, first + 1);
    }

    #[test]
    fn each_response_goes_to_the_caller_of_its_id() {
        let mut pending = Pending::default();
        let (first, first_answer) = call(&mut pending);
        let (second, second_answer) = call(&mut pending);
        pending.complete(second, Ok(Value::from("two")));
        pending.complete(first, Err(Value::from("one")));
        // A response to no request is dropped.
        pending.complete(7, Ok(Value::Nil));
        assert_eq!(first_answer.wait(), Ok(Err(Value::from("one"))));
        assert_eq!(second_answer.wait(), Ok(Ok(Value::from("two"))));
    }
}
// ANCHOR_END: tests
// ANCHOR_END: all
