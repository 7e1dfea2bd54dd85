//! Neovim for the interoperability tests: its version, the tests pinned to one version,
//! and the command line of a Neovim that reads no user configuration and writes its
//! state into a directory of the test's own.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use super::process::require;
use super::TEST_COMMAND;

/// The first line of `nvim --version` (`NVIM v0.7.2`); fails the test, naming the command
/// that installs Neovim, when there is no `nvim` to run.
pub fn neovim_version() -> String {
    let install = format!(
        "These tests need Neovim (`nvim` on PATH). Run the tests with `{}`: run as root, it \
         installs Neovim with apt-get; otherwise it stops and names the command to run \
         (on Debian 12: `sudo apt-get install -y neovim`).",
        TEST_COMMAND
    );
    let version = require("nvim", &["--version"], &install);
    version.lines().next().unwrap_or("").trim().to_string()
}

/// For a test that pins what one version of Neovim does (`pinned`: "0.7", "0.7.2"): true
/// when `nvim` is that version. Otherwise the test is skipped: this prints a line saying
/// which and why (past the test harness's capture, so that it shows), and returns false.
pub fn runs_neovim(pinned: &str) -> bool {
    let found = neovim_version();
    let number: String = found
        .trim_start_matches("NVIM v")
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let parts: Vec<&str> = number.split('.').collect();
    let wanted: Vec<&str> = pinned.split('.').collect();
    if parts.len() >= wanted.len() && parts[..wanted.len()] == wanted[..] {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a Neovim test")
        .to_string();
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {}: pins Neovim {} behaviour, found {}",
        test,
        pinned,
        found
    );
    false
}

/// `nvim --clean -n`, with `dir` as its working directory and the home of its
/// configuration, state and log: add `--headless` and `--listen ADDR`, or `--embed`.
/// Fails the test, naming the command that installs Neovim, when there is none.
pub fn nvim_command(dir: &Path) -> Command {
    neovim_version();
    let mut command = Command::new("nvim");
    command
        .args(["--clean", "-n"])
        .env("NVIM_LOG_FILE", dir.join("log"))
        .env("XDG_CONFIG_HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .env("XDG_STATE_HOME", dir)
        .env("XDG_CACHE_HOME", dir)
        .current_dir(dir);
    command
}
