//! minirpc: MessagePack-RPC on the tokio 0.1 stack, one step at a time.
//!
//! So far: the messages, the codec, and a server written by hand on futures.

pub mod codec;
pub mod errors;
pub mod message;
pub mod poll_all;
pub mod server;
pub mod service;
