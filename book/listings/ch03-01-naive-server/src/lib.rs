//! Chapter 3.1 of the book: a first server connection, written the obvious way.
//!
//! The codec, the messages and the errors are the files of the chapter 2.1 listing, as
//! the clean-up of chapter 3.0 left them. The `Service` trait is the final crate's, the
//! one chapter 3.1 shows from `src/service.rs`. The tests in `tests/what_breaks.rs`
//! show what goes wrong with this connection, next to the final one.

// ANCHOR: modules
#[path = "../../ch02-01-codec/src/codec.rs"]
pub mod codec;
#[path = "../../ch02-01-codec/src/errors.rs"]
pub mod errors;
#[path = "../../ch02-01-codec/src/message.rs"]
pub mod message;
pub use rmp_rpc_demo::service;

pub mod server;
// ANCHOR_END: modules
