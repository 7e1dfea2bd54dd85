//! minirpc: MessagePack-RPC on the tokio 0.1 stack, one step at a time.
//!
//! So far: the three messages, and a codec that cuts a byte stream into them.

pub mod codec;
pub mod errors;
pub mod message;
