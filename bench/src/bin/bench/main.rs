//! The runner: starts the servers, runs every scenario against every server with the
//! load generator, and every client driver against the limit server, in three modes (two
//! pinned to CPU 0 with single-threaded servers, one unpinned with the multi-threaded
//! ones), alternating the order between rounds; prints the medians and the ratios ours /
//! peer. With `--memory`, measures our server's memory instead.
//!
//! ```text
//! cargo run --release --bin bench -- [--quick] [--rounds N] [--duration SECS] [--mode same|split|free]
//! cargo run --release --bin bench -- --memory [--idle N] [--in-flight K]
//! ```
//!
//! See bench/README.md for what it measures and how to read the output.
//!
//! The modules follow a run: [`options`] (what can be measured, and the command line),
//! [`building`] (the binaries, and what was built), [`processes`] (servers and drivers as
//! child processes), [`cpu`] (CPU accounting), [`speed`] (the speed runs), [`report`]
//! (their tables) and [`memory`] (`--memory`).

mod building;
mod cpu;
mod memory;
mod options;
mod processes;
mod report;
mod speed;

use std::path::Path;
use std::process::Command;

use building::{build_siblings, tree_state, TREE};
use memory::memory;
use options::{parse_options, ClientLib, Server, EXTRA};
use speed::speed;

fn main() {
    let mut options = parse_options();
    let _ = EXTRA.set(std::mem::take(&mut options.extra));
    let _ = TREE.set(tree_state());
    let bin_dir = match std::env::current_exe() {
        Ok(exe) => exe.parent().map(Path::to_path_buf).unwrap_or_default(),
        Err(err) => die(&format!("cannot find my own binary: {}", err)),
    };
    if options.build {
        build_siblings(&bin_dir);
    }
    for program in Server::all()
        .iter()
        .map(|s| s.program(&bin_dir))
        .chain(ClientLib::ALL.iter().map(|c| bin_dir.join(c.binary())))
        .chain([bin_dir.join("loadgen")])
    {
        if !program.exists() {
            die(&format!(
                "{} is missing: run `cargo build --release` in bench/",
                program.display()
            ));
        }
    }
    if Command::new("taskset").arg("-V").output().is_err() {
        die("taskset is missing (Debian: apt-get install util-linux)");
    }
    if options.memory {
        memory(&bin_dir, &options);
    } else {
        speed(&bin_dir, &options);
    }
}

/// Stops the runner with `message`.
pub fn die(message: &str) -> ! {
    eprintln!("bench: {}", message);
    std::process::exit(1);
}
