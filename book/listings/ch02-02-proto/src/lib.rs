//! Chapter 2.2 of the book: a multiplexed protocol on top of the codec of chapter 2.1.
//!
//! The module tree is the one a reader builds in their own crate at this step. The
//! modules this step does not change are the files of the chapter 2.1 listing.

// ANCHOR: modules
#[path = "../../ch02-01-codec/src/codec.rs"]
pub mod codec;
#[path = "../../ch02-01-codec/src/errors.rs"]
pub mod errors;
#[path = "../../ch02-01-codec/src/message.rs"]
pub mod message;
pub mod protocol;
// ANCHOR_END: modules
