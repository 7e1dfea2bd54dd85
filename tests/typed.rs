//! Typed calls and typed handlers: `Client::call` and `cast`, `Router`, and the rules by
//! which params and results fit (or do not fit) the types asked for.
//!
//! Every test runs a `Router` server and our client on one reactor, over 127.0.0.1.
//! Params that our typed client could not send (a string that is not UTF-8, a map where
//! a struct is expected) are sent with the untyped `Client::request`.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::mpsc;

use common::reactor::recv_on;
use common::run;
use common::wire::nested;
use futures::future::{self, FutureResult};
use futures::Future;
use rmp_rpc_demo::{CallError, Client, ClosedReason, Params, Router, Server, Service, Value};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use tokio_core::reactor::Core;

/// Serves `router` on a port the system picks, on `core`; returns a client connected to
/// it.
fn connect(core: &mut Core, router: Router) -> Client {
    let handle = core.handle();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(&addr, router, &handle).expect("bind");
    let addr = server.local_addr();
    handle.spawn(server.map_err(|err| panic!("the server failed: {}", err)));
    run(core, Client::connect(&addr, &handle)).expect("connect")
}

/// The error a request got, as the text the server sent.
fn remote_error<T: std::fmt::Debug>(outcome: Result<T, CallError>) -> String {
    match outcome {
        Err(CallError::Remote(Value::String(text))) => text.into_str().expect("UTF-8"),
        other => panic!("expected an error response, got {:?}", other),
    }
}

fn arithmetic() -> Router {
    Router::new()
        .method("add", |(a, b): (i64, i64)| {
            a.checked_add(b).ok_or("the result does not fit in 64 bits")
        })
        .method("add_described", |(a, b): (i64, i64)| Ok::<_, ()>(a + b))
        .expects("two 64-bit signed integers")
}

#[test]
fn a_typed_call_reaches_a_typed_handler_and_its_result_comes_back_typed() {
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, arithmetic());
    let sum: i64 = run(&mut core, client.call("add", (40, 2))).unwrap();
    assert_eq!(sum, 42);
    // The handler's error is a `Serialize` too: here a string.
    let overflow = run(&mut core, client.call::<i64, _>("add", (i64::MAX, 1)));
    assert_eq!(remote_error(overflow), "the result does not fit in 64 bits");
    // The untyped client talks to the same handler.
    let sum = run(&mut core, client.request("add", vec![1.into(), 2.into()])).unwrap();
    assert_eq!(sum, Value::from(3));
}

#[test]
fn an_unknown_method_gets_the_example_contracts_error() {
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, arithmetic());
    let outcome = run(&mut core, client.call::<i64, _>("mul", (2, 3)));
    assert_eq!(remote_error(outcome), "unknown method `mul`");
}

/// `add [params...]` sent untyped, and the error it gets.
fn add_error(core: &mut Core, client: &Client, method: &str, params: Vec<Value>) -> String {
    remote_error(run(core, client.request(method, params)))
}

#[test]
fn params_that_do_not_fit_are_refused_with_the_method_the_type_and_the_reason() {
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, arithmetic());
    let mut refused = |params: Vec<Value>| add_error(&mut core, &client, "add", params);
    // Wrong arity: too few, too many (extra params are not ignored).
    assert_eq!(
        refused(vec![1.into()]),
        "add expects (i64, i64): invalid length 1, expected a tuple of size 2"
    );
    assert_eq!(
        refused(vec![1.into(), 2.into(), 3.into()]),
        "add expects (i64, i64): array had incorrect length, expected 2"
    );
    assert_eq!(
        refused(vec![]),
        "add expects (i64, i64): invalid length 0, expected a tuple of size 2"
    );
    // Wrong types.
    assert_eq!(
        refused(vec![1.into(), "x".into()]),
        "add expects (i64, i64): invalid type: string \"x\", expected i64"
    );
    assert_eq!(
        refused(vec![Value::Nil, 1.into()]),
        "add expects (i64, i64): invalid type: unit value, expected i64"
    );
    // Narrowing: no u64 above i64::MAX into an i64, no float into an integer.
    assert_eq!(
        refused(vec![u64::MAX.into(), 1.into()]),
        "add expects (i64, i64): invalid value: integer `18446744073709551615`, expected i64"
    );
    assert_eq!(
        refused(vec![1.5.into(), 2.into()]),
        "add expects (i64, i64): invalid type: floating point `1.5`, expected i64"
    );
}

#[test]
fn a_described_handler_is_refused_in_words_with_the_params_that_came() {
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, arithmetic());
    let mut refused = |params: Vec<Value>| add_error(&mut core, &client, "add_described", params);
    assert_eq!(
        refused(vec![1.5.into(), 2.into()]),
        "add_described expects two 64-bit signed integers, got [1.5, 2]"
    );
    assert_eq!(
        refused(vec![Value::Binary(vec![0; 1 << 20]), "two".into()]),
        "add_described expects two 64-bit signed integers, got [<1048576 bytes>, \"two\"]"
    );
    let long = refused(vec!["x".repeat(500).into()]);
    assert!(long.ends_with("x…"), "{}", long);
    assert!(long.len() < 200, "{}", long);
}

#[test]
fn integers_widen_to_any_type_that_holds_them_and_narrow_only_when_they_fit() {
    let mut core = Core::new().unwrap();
    let router = Router::new()
        .method("u8", |(n,): (u8,)| Ok::<_, ()>(n))
        .method("i32", |(n,): (i32,)| Ok::<_, ()>(n))
        .method("u64", |(n,): (u64,)| Ok::<_, ()>(n))
        .method("f64", |(x,): (f64,)| Ok::<_, ()>(x))
        .method("f32", |(x,): (f32,)| Ok::<_, ()>(x));
    let client = connect(&mut core, router);
    let mut call = |method: &str, param: Value| run(&mut core, client.request(method, vec![param]));
    assert_eq!(call("u8", 255.into()).unwrap(), Value::from(255));
    assert_eq!(
        remote_error(call("u8", 256.into())),
        "u8 expects (u8,): invalid value: integer `256`, expected u8"
    );
    assert_eq!(call("i32", (-5).into()).unwrap(), Value::from(-5));
    assert_eq!(
        remote_error(call("i32", (1i64 << 40).into())),
        "i32 expects (i32,): invalid value: integer `1099511627776`, expected i32"
    );
    assert_eq!(call("u64", u64::MAX.into()).unwrap(), Value::from(u64::MAX));
    assert_eq!(
        remote_error(call("u64", (-1).into())),
        "u64 expects (u64,): invalid value: integer `-1`, expected u64"
    );
    // Integers widen into floats; a float64 narrows into an f32 (rounded).
    assert_eq!(call("f64", 3.into()).unwrap(), Value::F64(3.0));
    assert_eq!(call("f32", Value::F64(0.1)).unwrap(), Value::F32(0.1));
}

#[test]
fn nil_is_none_unit_or_an_error_depending_on_the_type() {
    let mut core = Core::new().unwrap();
    let router = Router::new()
        .method("maybe", |(n,): (Option<i64>,)| Ok::<_, ()>(n.unwrap_or(-1)))
        .method("nothing", |(): ()| Ok::<_, ()>("no params"))
        .method("strict", |(n,): (i64,)| Ok::<_, ()>(n));
    let client = connect(&mut core, router);
    let mut call =
        |method: &str, params: Vec<Value>| run(&mut core, client.request(method, params));
    assert_eq!(call("maybe", vec![Value::Nil]).unwrap(), Value::from(-1));
    assert_eq!(call("maybe", vec![7.into()]).unwrap(), Value::from(7));
    assert_eq!(call("nothing", vec![]).unwrap(), Value::from("no params"));
    assert_eq!(
        remote_error(call("strict", vec![Value::Nil])),
        "strict expects (i64,): invalid type: unit value, expected i64"
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Customer {
    name: String,
    tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u32,
    customer: Customer,
    quantities: BTreeMap<String, u32>,
}

fn order() -> Order {
    let mut quantities = BTreeMap::new();
    quantities.insert("apples".to_owned(), 3);
    quantities.insert("pears".to_owned(), 0);
    Order {
        id: 7,
        customer: Customer {
            name: "Ada".to_owned(),
            tags: vec!["new".to_owned()],
        },
        quantities,
    }
}

#[test]
fn nested_structs_and_maps_go_both_ways_as_arrays_of_fields() {
    let mut core = Core::new().unwrap();
    let router = Router::new().method("echo_order", |(order,): (Order,)| Ok::<_, ()>(order));
    let client = connect(&mut core, router);
    let echoed: Order = run(&mut core, client.call("echo_order", (order(),))).unwrap();
    assert_eq!(echoed, order());
    // On the wire a struct is the array of its fields, a map a map: a tuple of the
    // same shape reads it.
    let fields: (u32, (String, Vec<String>), BTreeMap<String, u32>) =
        run(&mut core, client.call("echo_order", (order(),))).unwrap();
    assert_eq!(fields.0, 7);
    assert_eq!((fields.1).0, "Ada");
    assert_eq!(fields.2.get("apples"), Some(&3));
}

#[test]
fn a_struct_param_may_also_come_as_a_map_of_its_field_names() {
    let mut core = Core::new().unwrap();
    let router = Router::new().method("name", |(c,): (Customer,)| Ok::<_, ()>(c.name));
    let client = connect(&mut core, router);
    // What a Python or Lua peer sends for a dict or table.
    let customer = Value::Map(vec![
        ("tags".into(), Value::Array(vec![])),
        ("name".into(), "Grace".into()),
    ]);
    let name = run(&mut core, client.request("name", vec![customer])).unwrap();
    assert_eq!(name, Value::from("Grace"));
    let missing = Value::Map(vec![("name".into(), "Grace".into())]);
    assert_eq!(
        remote_error(run(&mut core, client.request("name", vec![missing]))),
        "name expects (Customer,): missing field `tags`"
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Colour {
    Red,
    Rgb(u8, u8, u8),
}

#[test]
fn enums_are_a_variant_name_or_a_map_from_the_variant_to_its_fields() {
    let mut core = Core::new().unwrap();
    let router = Router::new().method("paint", |(c,): (Colour,)| Ok::<_, ()>(c));
    let client = connect(&mut core, router);
    let red = run(&mut core, client.request("paint", vec!["Red".into()])).unwrap();
    assert_eq!(red, Value::from("Red"));
    let rgb = Value::Map(vec![(
        "Rgb".into(),
        Value::Array(vec![1.into(), 2.into(), 3.into()]),
    )]);
    assert_eq!(
        run(&mut core, client.request("paint", vec![rgb.clone()])).unwrap(),
        rgb
    );
    let typed: Colour = run(&mut core, client.call("paint", (Colour::Rgb(1, 2, 3),))).unwrap();
    assert_eq!(typed, Colour::Rgb(1, 2, 3));
}

/// A string of bytes that are not UTF-8, as a `Value` rmpv keeps as a string.
fn not_utf8() -> Value {
    rmpv::decode::read_value(&mut &[0xa2, 0xff, 0xfe][..]).unwrap()
}

#[test]
fn strings_that_are_not_utf8_are_refused_as_strings_and_taken_as_bytes() {
    let mut core = Core::new().unwrap();
    let router = Router::new()
        .method("text", |(s,): (String,)| Ok::<_, ()>(s.len()))
        .method("bytes", |(b,): (ByteBuf,)| Ok::<_, ()>(b.into_vec()));
    let client = connect(&mut core, router);
    assert_eq!(
        remote_error(run(&mut core, client.request("text", vec![not_utf8()]))),
        "text expects (String,): string found to be invalid utf8: invalid utf-8 sequence of 1 bytes from index 0"
    );
    // serde_bytes takes the bytes as they are; a Vec<u8> result is an array of integers.
    let bytes = run(&mut core, client.request("bytes", vec![not_utf8()])).unwrap();
    assert_eq!(bytes, Value::Array(vec![0xff.into(), 0xfe.into()]));
}

#[test]
fn binaries_fit_a_vec_of_u8_and_serde_bytes_and_serde_bytes_answers_a_binary() {
    let mut core = Core::new().unwrap();
    let router = Router::new()
        .method("vec", |(b,): (Vec<u8>,)| Ok::<_, ()>(b.len()))
        .method("bytebuf", |(b,): (ByteBuf,)| Ok::<_, ()>(b))
        .method("text", |(s,): (String,)| Ok::<_, ()>(s));
    let client = connect(&mut core, router);
    let binary = Value::Binary(vec![1, 2, 3]);
    let mut call = |method: &str, param: Value| run(&mut core, client.request(method, vec![param]));
    assert_eq!(call("vec", binary.clone()).unwrap(), Value::from(3));
    // An array of small integers fits a Vec<u8> too.
    assert_eq!(
        call("vec", Value::Array(vec![1.into(), 2.into()])).unwrap(),
        Value::from(2)
    );
    assert_eq!(call("bytebuf", binary.clone()).unwrap(), binary);
    // A binary that holds UTF-8 fits a String.
    assert_eq!(
        call("text", Value::Binary(b"hi".to_vec())).unwrap(),
        Value::from("hi")
    );
    // The typed client sends ByteBuf as a binary.
    let back: ByteBuf = run(
        &mut core,
        client.call("bytebuf", (ByteBuf::from(vec![9u8; 3]),)),
    )
    .unwrap();
    assert_eq!(back.into_vec(), vec![9, 9, 9]);
}

/// A tree of arrays as deep as the peer likes: its `Deserialize` recurses once per level.
#[derive(Debug, Serialize, Deserialize)]
struct Tree(Vec<Tree>);

impl Tree {
    fn depth(&self) -> usize {
        1 + self.0.iter().map(Tree::depth).max().unwrap_or(0)
    }
}

#[test]
fn the_codec_bounds_the_depth_before_rmp_serde_recurses() {
    let mut core = Core::new().unwrap();
    let router = Router::new().method("depth", |(tree,): (Tree,)| Ok::<_, ()>(tree.depth()));
    let client = connect(&mut core, router);
    // The message is level 1, the params level 2: a tree of 62 levels makes 64, the
    // default `Limits::max_depth`, and decodes on this test's thread (2 MiB of stack,
    // debug build).
    let deepest = nested(61, Value::Array(vec![]));
    let depth = run(&mut core, client.request("depth", vec![deepest])).unwrap();
    assert_eq!(depth, Value::from(62));
    // One more level: the codec refuses the message before any handler sees it, and
    // closes the connection.
    let too_deep = nested(62, Value::Array(vec![]));
    match run(&mut core, client.request("depth", vec![too_deep])) {
        Err(CallError::ConnectionClosed(ClosedReason::PeerClosed)) => {}
        Err(CallError::ConnectionClosed(ClosedReason::Io(_))) => {}
        other => panic!(
            "expected the server to close the connection, got {:?}",
            other
        ),
    }
}

#[test]
fn params_that_are_not_an_array_are_refused_before_anything_is_sent() {
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, arithmetic());
    let outcome = run(&mut core, client.call::<i64, _>("add", 5));
    match outcome {
        Err(CallError::Unsendable(why)) => assert_eq!(
            why,
            "the params must encode as a MessagePack array (a tuple, a Vec or a struct), and i32 encodes as an integer"
        ),
        other => panic!("unexpected {:?}", other),
    }
    let mut map = BTreeMap::new();
    map.insert("a", 1);
    match client.cast("add", map) {
        Err(CallError::Unsendable(why)) => assert!(why.ends_with("encodes as a map"), "{}", why),
        other => panic!("unexpected {:?}", other),
    }
    assert_eq!(client.pending_requests(), 0);
    // The connection is fine.
    let sum: i64 = run(&mut core, client.call("add", (1, 1))).unwrap();
    assert_eq!(sum, 2);
}

#[test]
fn a_result_of_the_wrong_shape_says_what_was_expected_and_what_arrived() {
    let mut core = Core::new().unwrap();
    let client = connect(&mut core, arithmetic());
    let err = run(&mut core, client.call::<String, _>("add", (1, 2))).unwrap_err();
    match err {
        CallError::UnexpectedResult {
            ref expected,
            ref got,
            ref reason,
        } => {
            assert_eq!(expected, "String");
            assert_eq!(*got, Value::from(3));
            assert_eq!(reason, "invalid type: integer `3`, expected a string");
        }
        ref other => panic!("unexpected {:?}", other),
    }
    assert_eq!(
        err.to_string(),
        "the peer answered with 3, which is not String: invalid type: integer `3`, expected a string"
    );
}

#[test]
fn notifications_are_routed_and_a_handler_with_the_peer_can_answer_back() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let router = Router::new().notification_with_peer("ping", |peer: &Client, (n,): (u32,)| {
        peer.cast("pong", (n + 1,))
    });
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(&addr, router, &handle).unwrap();
    let addr = server.local_addr();
    handle.spawn(server.map_err(|err| panic!("the server failed: {}", err)));
    let (pongs, heard) = mpsc::channel();
    let client_router = Router::new().notification("pong", move |(n,): (u32,)| pongs.send(n));
    let client = run(
        &mut core,
        Client::builder()
            .handler(client_router)
            .connect(&addr, &handle),
    )
    .unwrap();
    client.cast("ping", (41,)).unwrap();
    assert_eq!(recv_on(&mut core, &heard), 42);
    // A notification whose params do not fit is dropped, and the connection goes on.
    client.cast("ping", ("not a number",)).unwrap();
    client.cast("ping", (1,)).unwrap();
    assert_eq!(recv_on(&mut core, &heard), 2);
}

#[test]
fn a_router_used_as_a_plain_service_has_no_peer_for_the_handlers_that_need_one() {
    let mut core = Core::new().unwrap();
    let router = Router::new()
        .method_with_peer("who", |_: &Client, (): ()| Ok::<_, ()>("me"))
        .method("plain", |(): ()| Ok::<_, ()>("fine"));
    let handle = core.handle();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    // A builder that hands every connection a clone of the router, not built for it.
    let server = Server::bind(&addr, move |_: Client| router.clone(), &handle).unwrap();
    let addr = server.local_addr();
    handle.spawn(server.map_err(|err| panic!("the server failed: {}", err)));
    let client = run(&mut core, Client::connect(&addr, &handle)).unwrap();
    assert_eq!(
        remote_error(run(&mut core, client.request("who", vec![]))),
        "`who` needs the connection's peer, and this router has none: pass the Router as the ServiceBuilder, not as a Service"
    );
    let fine = run(&mut core, client.request("plain", vec![])).unwrap();
    assert_eq!(fine, Value::from("fine"));
}

/// A hand-written service that borrows its params from the read buffer.
struct Lengths;

impl Service for Lengths {
    type Output = Value;
    type Error = Value;
    type RequestFuture = FutureResult<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, _method: &str, params: Params) -> Self::RequestFuture {
        // `&str` and `&[u8]` point into the connection's read buffer: no copy.
        match params.deserialize::<(&str, &serde_bytes::Bytes)>() {
            Ok((text, bytes)) => future::ok(Value::from(text.len() + bytes.len())),
            Err(err) => future::err(Value::from(err.to_string())),
        }
    }

    fn handle_notification(&mut self, _: &str, _: Params) -> Self::NotificationFuture {
        future::ok(())
    }
}

#[test]
fn a_service_can_borrow_strings_and_bytes_from_the_read_buffer() {
    let mut core = Core::new().unwrap();
    let handle = core.handle();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(&addr, |_: Client| Lengths, &handle).unwrap();
    let addr = server.local_addr();
    handle.spawn(server.map_err(|err| panic!("the server failed: {}", err)));
    let client = run(&mut core, Client::connect(&addr, &handle)).unwrap();
    let params = vec!["four".into(), Value::Binary(vec![0; 3])];
    let len = run(&mut core, client.request("len", params)).unwrap();
    assert_eq!(len, Value::from(7));
    let err = run(&mut core, client.request("len", vec![1.into()])).unwrap_err();
    assert_eq!(
        remote_error::<Value>(Err(err)),
        "invalid type: integer `1`, expected a borrowed string"
    );
}
