//! minirpc: MessagePack-RPC on the tokio 0.1 stack, one step at a time.
//!
//! So far: the three messages, a codec, MessagePack-RPC as a tokio-proto protocol, and
//! on top of it a server API (`server::Handler`, `server::serve`) and a client
//! (`client::Client`).

pub mod client;
pub mod codec;
pub mod errors;
pub mod message;
pub mod protocol;
pub mod server;
