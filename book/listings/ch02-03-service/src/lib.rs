//! Chapter 2.3 of the book: a server and a client built on tokio-service.
//!
//! The module tree is the one a reader builds in their own crate at this step. The
//! modules this step does not change are the files of the chapter 2.1 and 2.2 listings.

// ANCHOR: modules
#[path = "../../ch02-01-codec/src/codec.rs"]
pub mod codec;
#[path = "../../ch02-01-codec/src/errors.rs"]
pub mod errors;
#[path = "../../ch02-01-codec/src/message.rs"]
pub mod message;
#[path = "../../ch02-02-proto/src/protocol.rs"]
pub mod protocol;

pub mod client;
pub mod server;
// ANCHOR_END: modules
