//! minirpc: MessagePack-RPC on the tokio 0.1 stack, one step at a time.
//!
//! So far: the three messages, a codec, and MessagePack-RPC as a tokio-proto protocol.

pub mod codec;
pub mod errors;
pub mod message;
pub mod protocol;
