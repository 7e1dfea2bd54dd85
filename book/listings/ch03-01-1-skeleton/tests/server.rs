//! The server, tested from the outside.

use futures::future::{self, FutureResult};
use futures::Future;
use minirpc::service::Service;
use rmpv::Value;

/// Answers `add` with the sum of its params.
struct Adder;

impl Service for Adder {
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Vec<Value>) -> Self::RequestFuture {
        match method {
            "add" => future::result(add(&params)),
            _ => future::err(format!("no method `{}`", method).into()),
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

/// The sum of `params`, or an error value if one is not an integer or the sum overflows.
fn add(params: &[Value]) -> Result<Value, Value> {
    let sum = params
        .iter()
        .try_fold(0i64, |sum, param| sum.checked_add(param.as_i64()?));
    sum.map(Value::from)
        .ok_or_else(|| Value::from("expected integers with a sum that fits in 64 bits"))
}

#[test]
fn a_service_can_be_called_without_a_network() {
    let mut adder = Adder;
    let sum = adder.handle_request("add", vec![Value::from(1), Value::from(2)]);
    assert_eq!(sum.wait(), Ok(Value::from(3)));
    let unknown = adder.handle_request("mul", vec![]);
    assert_eq!(unknown.wait(), Err(Value::from("no method `mul`")));
}
