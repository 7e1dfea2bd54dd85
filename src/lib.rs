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
//! The modules follow the data, one layer each:
//!
//! - [`message`]: the three messages, decoded strictly and encoded;
//! - [`codec`]: frames messages on a byte stream, refusing hostile input;
//! - `connection`: one future per connection that reads, dispatches, writes (private);
//! - [`service`]: what you implement to handle incoming requests and notifications;
//! - [`server`]: accepts connections and runs a service on each;
//! - [`client`]: connects, sends requests and notifications, receives answers;
//! - [`errors`]: every error, by domain.
//!
//! Not goals: other transports than byte streams, message-level compression or
//! authentication, and the tokio 0.2+ / futures 0.3 ecosystem (the book's appendix shows
//! how the same design carries over).

#![warn(missing_docs)]

pub mod client;
pub mod codec;
mod connection;
mod encode;
pub mod errors;
pub mod message;
mod outbox;
mod pending;
mod scan;
pub mod server;
pub mod service;
mod slice;

pub use crate::client::{Client, ClientBuilder, Config, Response};
pub use crate::errors::{CallError, ClosedReason};
pub use crate::server::{serve, serve_connection, Server, ShutdownHandle};
pub use crate::service::{BoxFuture, NoHandler, Service, ServiceBuilder};
pub use rmpv::Value;

/// Compiles the code of README.md as doctests, so the README cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
