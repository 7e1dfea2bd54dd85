//! Chapter 2.1 of the book: the three messages and a first codec.
//!
//! The module tree is the one a reader builds in their own crate at this step.

// ANCHOR: modules
pub mod codec;
pub mod errors;
pub mod message;
// ANCHOR_END: modules
