//! The example programs print what chapter 3.4 shows: the files of `output/`, which the
//! chapter includes. Addresses are the book's default one, `127.0.0.1:54321`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::fs;
use std::path::Path;

use support::{example, nobody_listens, run_to_end, Server};

/// The address the book shows.
const BOOK_ADDR: &str = "127.0.0.1:54321";

fn shown(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("output")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {}", path.display(), err))
}

#[test]
fn the_programs_print_what_the_book_shows() {
    let server = Server::start();
    assert_eq!(format!("listening on {}\n", BOOK_ADDR), shown("server.txt"));
    let output = run_to_end(example("client"), &[&server.addr]);
    assert!(output.status.success(), "{:?}", output);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        shown("client.txt")
    );

    let (addr, _held, _accepted) = nobody_listens();
    let output = run_to_end(example("client"), &[&addr]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.replace(&addr, BOOK_ADDR),
        shown("client-no-server.txt")
    );
}
