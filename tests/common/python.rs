//! Python's msgpack for the interoperability tests: the check that `python3` can import
//! it, and the peers written with it, in tests/peers.

use std::path::PathBuf;

use super::process::require;
use super::TEST_COMMAND;

/// Checks that `python3` can import `msgpack`; fails the test, naming the command that
/// provides it, otherwise.
pub fn require_python_msgpack() {
    require(
        "python3",
        &["-c", "import msgpack; print(msgpack.version)"],
        &format!(
            "These tests need a python3 that can import PyPI's msgpack, first on PATH. \
             Run the tests with `{}`: it creates one (a virtualenv in target/py) and puts it \
             there.",
            TEST_COMMAND
        ),
    );
}

/// `tests/peers/NAME` of this crate.
pub fn peer_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("peers")
        .join(name)
}
