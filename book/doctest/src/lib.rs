//! The book's chapters, compiled.
//!
//! Each chapter's markdown is the documentation of one module below, so `cargo test`
//! hands its Rust blocks to rustdoc as doctests: a snippet that stops compiling, or an
//! assertion in it that stops holding, fails the build. Blocks marked `rust,ignore` are
//! `{{#include}}`s of listing files, which rustdoc does not expand; they are compiled
//! with their listing crates, and `tests/lint.rs` checks that they are nothing else.
//!
//! Snippets are compiled with `deny(warnings)`, so one that uses a deprecated API (or
//! leaves an import unused) fails too; `allow(unused)` spares them the unused-variable
//! noise that illustrations cannot avoid.

#![doc(test(attr(deny(warnings), allow(unused))))]
// The chapters are written for mdBook, not rustdoc: their markdown is not doc-comment style.
#![allow(clippy::all, rustdoc::all)]

#[doc = include_str!("../../src/introduction.md")]
pub mod introduction {}

#[doc = include_str!("../../src/ch01-01-msgpack-rpc.md")]
pub mod ch01_01_msgpack_rpc {}

#[doc = include_str!("../../src/ch01-02-tokio-stack.md")]
pub mod ch01_02_tokio_stack {}

#[doc = include_str!("../../src/ch02-00-first-implementation.md")]
pub mod ch02_00_first_implementation {}

#[doc = include_str!("../../src/ch02-01-codec.md")]
pub mod ch02_01_codec {}

#[doc = include_str!("../../src/ch02-02-protocol.md")]
pub mod ch02_02_protocol {}

#[doc = include_str!("../../src/ch02-03-service.md")]
pub mod ch02_03_service {}

#[doc = include_str!("../../src/ch03-00-by-hand.md")]
pub mod ch03_00_by_hand {}

#[doc = include_str!("../../src/ch03-01-server.md")]
pub mod ch03_01_server {}

#[doc = include_str!("../../src/ch03-02-client.md")]
pub mod ch03_02_client {}

#[doc = include_str!("../../src/ch03-03-both-directions.md")]
pub mod ch03_03_both_directions {}

#[doc = include_str!("../../src/ch03-04-examples.md")]
pub mod ch03_04_examples {}

#[doc = include_str!("../../src/ch04-00-from-tutorial-to-library.md")]
pub mod ch04_00_from_tutorial_to_library {}

#[doc = include_str!("../../src/ch04-01-hardening.md")]
pub mod ch04_01_hardening {}

#[doc = include_str!("../../src/ch04-02-backpressure.md")]
pub mod ch04_02_backpressure {}

#[doc = include_str!("../../src/ch04-03-timeouts-shutdown.md")]
pub mod ch04_03_timeouts_shutdown {}

#[doc = include_str!("../../src/ch04-04-neovim.md")]
pub mod ch04_04_neovim {}

#[doc = include_str!("../../src/ch04-05-performance.md")]
pub mod ch04_05_performance {}

#[doc = include_str!("../../src/ch04-06-typed-calls.md")]
pub mod ch04_06_typed_calls {}

#[doc = include_str!("../../src/ch04-07-more-than-one-core.md")]
pub mod ch04_07_more_than_one_core {}

#[doc = include_str!("../../src/appendix.md")]
pub mod appendix {}
