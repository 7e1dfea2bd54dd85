//! minirpc: MessagePack-RPC on the tokio 0.1 stack, one step at a time.
//!
//! The messages, the codec, and one connection core for the server and the client, on
//! futures: requests and notifications go both ways.

pub mod client;
pub mod codec;
mod connection;
pub mod errors;
pub mod message;
mod pending;
pub mod server;
pub mod service;
mod transport;
