//! What the integration tests share, in one place: every file under `tests/` starts with
//! `mod common;`, and so do the interop crate (`interop/rmp-rpc`, through `#[path]`) and
//! the long soak (`examples/soak.rs`).
//!
//! - [`process`]: the example binaries (found, and built if need be, by cargo), the
//!   example server as a child process, child processes killed on drop, their output
//!   line by line, what /proc says about them, programs that must be installed.
//! - [`neovim`]: Neovim's version, tests pinned to one, a Neovim with a state of its own.
//! - [`peer`]: a raw MessagePack-RPC peer over a blocking `TcpStream`, written with rmpv
//!   only, so that what it checks does not depend on the code it tests.
//! - [`wire`]: messages built by hand, as rmpv values and as the crate's `Message`.
//! - [`python`]: Python's msgpack, and the peers written with it in tests/peers.
//! - [`reactor`]: futures run on a tokio-core reactor, bounded in time.
//! - [`proxy`]: a TCP proxy that records what two other programs say to each other.
//! - [`served`]: a service of our own (`add`, `sleep`), and any service served on a
//!   thread of its own with the settings a test needs.
//! - [`panicky`]: a service whose handlers panic on demand, served on its own thread.
//! - [`half_close`]: a peer that sends, half-closes, and reads until the end.
//! - [`pipe`], [`faults`], [`soak`]: an in-memory byte stream, a transport that injects
//!   faults, and the soak driver (tests/faults.rs, tests/soak.rs, examples/soak.rs).
//!
//! Every wait is bounded by [`HANG`]; everything listens on 127.0.0.1, on a port the
//! system picks.
// Each test file uses a different part of this module.
#![allow(dead_code)]

pub mod faults;
pub mod half_close;
pub mod neovim;
pub mod panicky;
pub mod peer;
pub mod pipe;
pub mod process;
pub mod proxy;
pub mod python;
pub mod reactor;
pub mod served;
pub mod soak;
pub mod wire;

use std::time::Duration;

// What most test files use, at the top; each file uses some of it.
#[allow(unused_imports)]
pub use peer::RawPeer;
#[allow(unused_imports)]
pub use process::{example_binary, ExampleServer};
#[allow(unused_imports)]
pub use reactor::run;

/// The longest any single step of a test may wait (a read, a process starting, a future
/// on the reactor) before we call it a hang and fail the test. A guard so that every test
/// stops by itself, never a measurement: a passing run never comes near it, even in a
/// debug build on a loaded machine.
pub const HANG: Duration = Duration::from_secs(60);

/// The project's test command (README.md, "Run the tests"). It installs what the
/// interoperability tests need (Python's msgpack in a virtualenv under target/, Neovim
/// through apt-get), so the messages of tests that find something missing name it.
pub const TEST_COMMAND: &str = "./test.sh";
