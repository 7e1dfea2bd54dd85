//! The example server serves a peer written in Python with PyPI's msgpack and raw
//! sockets: the root repository's `tests/peers/client.py`, which pipelines requests,
//! sends a `ping`, and prints every message it gets back.
//!
//! Needs `python3` with the `msgpack` package (the root's tests need it too).

// Only part of it is used here.
#[allow(dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use support::{run_to_end, Server};

#[test]
fn a_python_peer_gets_every_answer_and_its_pong() {
    let check = Command::new("python3")
        .args(["-c", "import msgpack"])
        .status();
    assert!(
        matches!(check, Ok(status) if status.success()),
        "this check needs python3 with PyPI's msgpack: `python3 -m pip install msgpack`"
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/peers/client.py");
    let server = Server::start();
    let output = run_to_end("python3".into(), &[script.to_str().unwrap(), &server.addr]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "client.py failed: {}{}",
        String::from_utf8_lossy(&output.stderr),
        stdout
    );
    let mut lines: Vec<&str> = stdout.lines().collect();
    // The pong is answered at once; where it falls among the other immediate answers
    // depends on how the server's reads were cut. It comes before both sleeps.
    let pong = r#"notification pong ["from python", 7]"#;
    let at = lines.iter().position(|line| *line == pong);
    let at = at.unwrap_or_else(|| panic!("no pong in {:?}", lines));
    assert!(at < 7, "the pong came after a sleep: {:?}", lines);
    lines.remove(at);
    assert_eq!(
        lines,
        [
            "response 3 ok 3",
            "response 4 ok -3",
            r#"response 5 error "unknown method `frobnicate`""#,
            r#"response 6 error "add: expected two integers between -2^63 and 2^63 - 1""#,
            r#"response 7 error "add 4611686018427387904 and 4611686018427387904: the result does not fit in 64 bits""#,
            "response 8 ok -9223372036854775808",
            "response 2 ok 100",
            "response 1 ok 300",
        ]
    );
}
