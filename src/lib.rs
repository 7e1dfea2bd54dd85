//! A MessagePack-RPC client and server on the tokio 0.1 stack.
//!
//! MessagePack-RPC has three messages, each a MessagePack array:
//!
//! - a **request** `[0, msgid, method, params]` asks the peer to run `method` and answer;
//! - a **response** `[1, msgid, error, result]` answers the request with the same **msgid**,
//!   a 32-bit number the caller picked so it can tell answers apart when several requests
//!   are in flight;
//! - a **notification** `[2, method, params]` asks the peer to run `method` and expects no
//!   answer.
//!
//! Either side of a connection may send any of the three: the "server" is just the side
//! that accepted the connection.
//!
//! The modules follow the data, one layer each, bottom to top (no module imports one
//! above it; `tests/module_layers.rs` checks it):
//!
//! - [`errors`], and the settings [`Config`] and [`Limits`]: below everything;
//! - [`message`]: the three messages, decoded strictly and encoded;
//! - [`codec`]: frames messages on a byte stream, refusing hostile input;
//! - [`Client`]: the handle to a connection's peer, to send it requests and
//!   notifications; both sides have one;
//! - [`Params`] and [`Reply`]: a message's params, still bytes until a handler decodes
//!   them (as `Value`s, or as any serde type), and a handler's answer;
//! - [`service`]: what you implement to handle incoming requests and notifications;
//! - [`router`]: typed handlers routed by method name, a ready-made service;
//! - [`ShutdownHandle`]: the signal that drains servers and connections;
//! - `connection` (private): one future per connection, in two halves, the transport
//!   (bytes in and out) and the dispatch (handlers and calls);
//! - [`server`] and [`client`]: start connections (through one private `spawn` module),
//!   the server for each socket it accepts (TCP or Unix domain, through a private
//!   `listener` module), the client for the one it connects; a server with several
//!   reactors runs the others on threads (`reactors`, private);
//! - [`process`]: a child process as the peer, over its stdin and stdout
//!   ([`ClientBuilder::spawn`]); [`stdio`]: this program's own stdin and stdout, for a
//!   plugin that its peer started ([`ServerBuilder::serve_stdio`]);
//! - [`neovim`]: helpers for the most common peer.
//!
//! A server answers with a [`Service`], one per connection:
//!
//! ```no_run
//! use futures::future::{self, FutureResult};
//! use rmp_rpc_demo::{serve, Client, Params, Service, Value};
//!
//! struct Echo;
//!
//! impl Service for Echo {
//!     type Output = Value;
//!     type Error = Value;
//!     type RequestFuture = FutureResult<Value, Value>;
//!     type NotificationFuture = FutureResult<(), ()>;
//!
//!     fn handle_request(&mut self, method: &str, params: Params) -> Self::RequestFuture {
//!         match method {
//!             "echo" => future::ok(Value::Array(params.into_values())),
//!             _ => future::err(format!("unknown method `{}`", method).into()),
//!         }
//!     }
//!
//!     fn handle_notification(&mut self, _: &str, _: Params) -> Self::NotificationFuture {
//!         future::ok(())
//!     }
//! }
//!
//! let addr = "127.0.0.1:54321".parse().unwrap();
//! serve(&addr, |_peer: Client| Echo).unwrap();
//! ```
//!
//! and a [`Client`] calls it (see `examples/client.rs` for one that also handles what the
//! server sends):
//!
//! ```no_run
//! use rmp_rpc_demo::Client;
//! use tokio_core::reactor::Core;
//!
//! let mut core = Core::new().unwrap();
//! let addr = "127.0.0.1:54321".parse().unwrap();
//! let client = core.run(Client::connect(&addr, &core.handle())).unwrap();
//! let echoed = core.run(client.request("echo", vec![1.into()])).unwrap();
//! assert_eq!(echoed, rmp_rpc_demo::Value::Array(vec![1.into()]));
//! ```
//!
//! Not goals: other transports than byte streams, message-level compression or
//! authentication, and the tokio 0.2+ / futures 0.3 ecosystem (the book's appendix shows
//! how the same design carries over).

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod catch;
pub mod client;
pub mod codec;
mod config;
mod connection;
mod encode;
pub mod errors;
mod lenient;
mod listener;
pub mod message;
pub mod neovim;
mod outbox;
mod params;
mod peer;
mod pending;
pub mod process;
mod reactors;
mod reply;
pub mod router;
mod scan;
pub mod server;
pub mod service;
mod shutdown;
mod slice;
mod spawn;
pub mod stdio;

pub use crate::client::{CallFuture, Client, ClientBuilder, Closed, Config, ResponseFuture};
pub use crate::codec::Limits;
pub use crate::errors::{CallError, ClosedReason, ConfigError, EncodeError, ParamsError};
pub use crate::params::Params;
pub use crate::reply::Reply;
pub use crate::router::Router;
pub use crate::server::{serve, Server, ServerBuilder, ShutdownHandle};
pub use crate::service::{BoxFuture, NoHandler, Service, ServiceBuilder};
pub use rmpv::Value;

/// Compiles the code of README.md as doctests, so the README cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
