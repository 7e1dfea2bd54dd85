//! Interoperability tests between `rmp-rpc-demo` and `rmp-rpc` 0.3, the crates.io library
//! this project's tutorial grew into. The tests are in `tests/`; this crate has no code.
//!
//! `cargo test -p interop-rmp-rpc` runs them (so does `cargo test --workspace`).
