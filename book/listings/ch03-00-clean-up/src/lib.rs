//! Chapter 3.0 of the book: the crate once the tokio-proto layer is gone.
//!
//! The module tree is the one a reader has in their own crate at this step. The codec,
//! the messages and the errors are the files of the chapter 2.1 listing, unchanged;
//! `server` and `client` are empty, waiting for chapters 3.1 and 3.2.

// ANCHOR: modules
#[path = "../../ch02-01-codec/src/codec.rs"]
pub mod codec;
#[path = "../../ch02-01-codec/src/errors.rs"]
pub mod errors;
#[path = "../../ch02-01-codec/src/message.rs"]
pub mod message;

pub mod client;
pub mod server;
// ANCHOR_END: modules
