//! Fuzzes a whole server connection: arbitrary bytes from a peer, through an in-memory
//! pipe, into `ServerBuilder::serve_connection`, then end of stream.
//!
//! The first input byte picks the limits and how the rest is cut into writes. The
//! service answers every request with its params (at once, or after one more poll for
//! a method that starts with `l`), panics for a method that starts with `p` (when
//! called, or when polled for `pl...`), and on a notification `call` sends the peer a
//! request of its own. The end of the input is a half-close: the requests still
//! running must be answered all the same. Checked on every input:
//!
//! - the connection ends by itself (no hang: nothing but the pipe can wake it);
//! - what the server wrote is valid MessagePack-RPC, responses only to requests that
//!   were sent, each once: exactly the requests the codec finds in the input when the
//!   input is clean (in order, but for the ones answered later), some of them when the
//!   connection ended on an error;
//! - a panic in a handler is caught: the process goes on (a hook lets the service's
//!   own panics unwind and aborts on any other, as libFuzzer's does);
//! - every request the server made got an outcome (an answer from the input, or a
//!   connection error): nobody waits forever.
#![no_main]

#[path = "../../tests/common/pipe.rs"]
mod pipe;

use std::cell::RefCell;
use std::panic;
use std::rc::Rc;
use std::sync::Once;
use std::time::Duration;

use bytes::BytesMut;
use futures::future::{self, FutureResult};
use futures::{task, Async, Future, Poll};
use libfuzzer_sys::fuzz_target;
use rmp_rpc_demo::codec::{Codec, Incoming, Limits};
use rmp_rpc_demo::message::Message;
use rmp_rpc_demo::{BoxFuture, CallError, Client, Config, Params, Server, Service, Value};
use tokio_core::reactor::{Core, Handle};
use tokio_io::codec::Decoder;

/// Reactor turns one input may take: nothing here waits for time, so a connection that
/// is not done after this many turns is stuck.
const MAX_TURNS: usize = 100_000;

/// What the service's panics say: the hook lets those unwind, the connection must catch
/// them.
const DELIBERATE: &str = "the fuzzed service panics on purpose";

/// libFuzzer's hook aborts on every panic, caught or not; this one lets the service's
/// own panics unwind, and hands any other to it.
fn allow_deliberate_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let abort = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let deliberate = payload.downcast_ref::<&str>() == Some(&DELIBERATE)
                || payload.downcast_ref::<String>().map(String::as_str) == Some(DELIBERATE);
            if !deliberate {
                abort(info)
            }
        }));
    });
}

/// Answers after being polled once more (it wakes itself), or panics then.
struct Later {
    polled: bool,
    answer: Option<Value>,
}

impl Future for Later {
    type Item = Value;
    type Error = Value;

    fn poll(&mut self) -> Poll<Value, Value> {
        if !self.polled {
            self.polled = true;
            task::current().notify();
            return Ok(Async::NotReady);
        }
        match self.answer.take() {
            Some(answer) => Ok(Async::Ready(answer)),
            None => panic!("{}", DELIBERATE),
        }
    }
}

struct Echo {
    peer: Client,
    handle: Handle,
    /// How many requests the service sent, and how many have an outcome.
    calls: Rc<RefCell<(usize, usize)>>,
}

impl Service for Echo {
    type Output = Value;
    type Error = Value;
    type RequestFuture = BoxFuture<Value, Value>;
    type NotificationFuture = FutureResult<(), ()>;

    fn handle_request(&mut self, method: &str, params: Params) -> Self::RequestFuture {
        let params = params.into_values();
        if method.starts_with("pl") {
            return Box::new(Later {
                polled: false,
                answer: None,
            });
        }
        if method.starts_with('p') {
            panic!("{}", DELIBERATE);
        }
        let answer = Value::Array(params);
        if method.starts_with('l') {
            return Box::new(Later {
                polled: false,
                answer: Some(answer),
            });
        }
        if method.len() % 2 == 0 {
            Box::new(future::ok(answer))
        } else {
            Box::new(future::err(Value::from(method)))
        }
    }

    fn handle_notification(&mut self, method: &str, params: Params) -> Self::NotificationFuture {
        let params = params.into_values();
        if method == "call" {
            self.calls.borrow_mut().0 += 1;
            let calls = self.calls.clone();
            self.handle
                .spawn(self.peer.request("back", params).then(move |outcome| {
                    match outcome {
                        Ok(_)
                        | Err(CallError::Remote(_))
                        | Err(CallError::InvalidResponse(_))
                        | Err(CallError::ConnectionClosed(_)) => {}
                        Err(other) => panic!("a request of the server failed with {:?}", other),
                    }
                    calls.borrow_mut().1 += 1;
                    Ok(())
                }));
        }
        future::ok(())
    }
}

fn limits(selector: u8) -> Limits {
    match selector % 2 {
        0 => Limits::default(),
        _ => Limits {
            max_depth: 4,
            max_message_size: 512,
            max_values: 48,
        },
    }
}

/// The msgids of the requests (valid or not) in `bytes`, and whether the codec ended on
/// an error.
fn requests_in(bytes: &[u8], limits: Limits) -> (Vec<u32>, bool) {
    let mut codec = Codec::new(limits);
    let mut buf = BytesMut::from(bytes);
    let mut ids = Vec::new();
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(Incoming::Message(Message::Request(req)))) => ids.push(req.id),
            Ok(Some(Incoming::InvalidRequest { id, .. })) => ids.push(id),
            Ok(Some(Incoming::Message(_))) | Ok(Some(Incoming::InvalidResponse { .. })) => {}
            Ok(None) => return (ids, false),
            Err(_) => return (ids, true),
        }
    }
}

thread_local! {
    static CORE: RefCell<Core> = RefCell::new(Core::new().expect("a reactor"));
}

fuzz_target!(|data: &[u8]| {
    allow_deliberate_panics();
    let (selector, input) = match data.split_first() {
        Some((&selector, input)) => (selector, input),
        None => return,
    };
    let limits = limits(selector);
    let config = Config {
        limits,
        max_in_flight: 1 + usize::from(selector % 8),
        max_write_buffer: 1 + usize::from(selector) * 4,
        ..Config::default()
    };
    CORE.with(|core| {
        let mut core = core.borrow_mut();
        let handle = core.handle();
        let calls = Rc::new(RefCell::new((0, 0)));
        let (peer, server_end) = pipe::pipe(usize::MAX);
        let builder = {
            let (handle, calls) = (handle.clone(), calls.clone());
            move |peer: Client| Echo {
                peer,
                handle: handle.clone(),
                calls: calls.clone(),
            }
        };
        let server = Server::builder()
            .config(config)
            .serve_connection(server_end, &builder, &handle)
            .expect("the configurations above are valid");

        // The peer writes the input in chunks, the reactor turning in between.
        let chunk = usize::from(selector / 2 % 32) + 1;
        for piece in input.chunks(chunk) {
            peer.feed(piece);
            core.turn(Some(Duration::from_millis(0)));
        }
        peer.close_write();
        let mut turns = 0;
        while server.closed_reason().is_none() || calls.borrow().0 != calls.borrow().1 {
            assert!(
                turns < MAX_TURNS,
                "hang: closed {:?}, calls {:?}",
                server.closed_reason(),
                calls.borrow()
            );
            core.turn(Some(Duration::from_millis(0)));
            turns += 1;
        }

        // What the server wrote: valid messages only, a response to each request.
        let output = peer.drain();
        let mut codec = Codec::default();
        let mut buf = BytesMut::from(&output[..]);
        let mut answered = Vec::new();
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(Incoming::Message(Message::Response(resp)))) => answered.push(resp.id),
                Ok(Some(Incoming::Message(Message::Request(req)))) => {
                    assert_eq!(
                        req.method, "back",
                        "the server sent a request it never made"
                    )
                }
                Ok(Some(other)) => panic!("the server wrote {:?}", other),
                Ok(None) => break,
                Err(err) => panic!("the server wrote invalid bytes: {}", err),
            }
        }
        assert!(buf.is_empty(), "the server wrote a truncated message");
        let (mut requested, corrupt) = requests_in(input, limits);
        // Answered later or at once, so in any order; msgids may repeat in the input.
        answered.sort_unstable();
        requested.sort_unstable();
        if corrupt {
            let mut left = requested.clone();
            for id in &answered {
                match left.binary_search(id) {
                    Ok(at) => {
                        left.remove(at);
                    }
                    Err(_) => panic!(
                        "an answer to {} that was not requested: answers {:?}, requests {:?}",
                        id, answered, requested
                    ),
                }
            }
        } else {
            assert_eq!(answered, requested, "every request answered once");
        }
    });
});
