//! Building the servers and drivers before a run, and naming what was built: the
//! library's commit and the tokio versions "ours" is locked to.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use crate::die;

/// The library's commit (and whether src/ had local changes) when the runner started,
/// before it builds: a commit made by someone else during the run must not be named.
pub static TREE: OnceLock<String> = OnceLock::new();

/// Builds every binary of this crate next to the runner, so that `cargo run --bin bench`
/// is the one command.
pub fn build_siblings(bin_dir: &Path) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    // bin_dir is TARGET/release.
    let target_dir = bin_dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("bench: building the servers and drivers (cargo build --release --bins)");
    let status = Command::new(cargo)
        .args(["build", "--release", "--bins", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => die(&format!("cargo build failed ({})", s)),
        Err(err) => die(&format!("cannot run cargo: {}", err)),
    }
    // Our server and client driver: the workspace in ours/, with the root Cargo.lock's
    // versions (tokio-core 0.1.12), built into the same target directory.
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("ours/Cargo.toml");
    eprintln!("bench: building ours in bench/ours/ ({})", ours_versions());
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["build", "--release", "--bins", "--quiet", "--manifest-path"])
        .arg(&ours)
        .arg("--target-dir")
        .arg(&target_dir)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => die(&format!("cargo build of bench/ours failed ({})", s)),
        Err(err) => die(&format!("cannot run cargo: {}", err)),
    }
}

/// The tokio-core and tokio-io versions locked in bench/ours/Cargo.lock, which "ours" is
/// built with.
pub fn ours_versions() -> String {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("ours/Cargo.lock");
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let version = |name: &str| {
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim() == format!("name = \"{}\"", name) {
                if let Some(v) = lines
                    .next()
                    .and_then(|l| l.trim().strip_prefix("version = "))
                {
                    return v.trim_matches('"').to_owned();
                }
            }
        }
        "?".to_owned()
    };
    format!(
        "tokio-core {}, tokio-io {}",
        version("tokio-core"),
        version("tokio-io")
    )
}

/// Which commit of the library was measured, and whether src/ or examples/ had local changes.
pub fn tree_state() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(head) => {
            let dirty = git(&[
                "status",
                "--porcelain",
                "--",
                "src",
                "examples",
                "Cargo.toml",
            ])
            .map(|s| !s.is_empty())
            .unwrap_or(false);
            format!(
                "library at commit {}{}",
                head,
                if dirty {
                    " plus uncommitted changes in src/ or examples/"
                } else {
                    ""
                }
            )
        }
        None => "library commit unknown (no git)".to_owned(),
    }
}
