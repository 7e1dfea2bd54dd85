//! minirpc: MessagePack-RPC on the tokio 0.1 stack, one step at a time.
//!
//! So far: the messages, the codec, a server and a client written by hand on futures.

pub mod client;
pub mod codec;
pub mod errors;
pub mod message;
mod pending;
pub mod server;
pub mod service;
mod transport;
