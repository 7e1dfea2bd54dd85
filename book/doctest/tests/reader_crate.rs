//! The reader's crate, typed from the book and tested at the end of every chapter.
//!
//! Parts 2 and 3 promise that the crate the reader types along, made with `cargo new --lib
//! --edition 2018 minirpc`, builds and passes its tests at the end of each chapter. The
//! listing crates and the lint do not prove it: the reader types what the chapters show
//! (each block under its `Filename:` line, anchored parts without their ANCHOR lines, the
//! `[package]` written out in the chapter), not the listings, whose `book-checks/`,
//! `output/` and manifest sections are the repository's.
//!
//! So this test does what the reader does: it makes the crate `cargo new` makes, walks the
//! chapters of parts 2 and 3 in SUMMARY.md's order, applies each `## Complete code` section
//! (deletes the files it says to delete, writes each block with a `Filename:` line into that
//! file) and runs `cargo test` in the crate, with warnings denied. The first chapter whose
//! crate does not build, warns or fails a test fails this test, with cargo's output.
//!
//! The crate is `target/tmp/reader-crate/minirpc`, made afresh each run, in a workspace of
//! its own (else the repository's workspace would claim it). Cargo runs offline with the
//! repository's `Cargo.lock` (the versions the listings are tested with) and a target folder
//! kept between runs, so the dependencies are compiled once.

use std::env;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::time::Instant;

// The lint's modules: this test reads `## Complete code` sections as the lint does. (Their
// own tests run again in this binary; they take milliseconds.)
mod book_layout;
mod markdown;

use book_layout::{anchored, Block, Chapter, Include, Layout, Section};
use markdown::{is_only_an_include, summary_entries};

/// The files `cargo new --lib --edition 2018 minirpc` makes (Cargo 1.95), where chapter 2.1
/// starts.
const CARGO_NEW: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        "[package]\nname = \"minirpc\"\nversion = \"0.1.0\"\nedition = \"2018\"\n\n[dependencies]\n",
    ),
    (
        "src/lib.rs",
        "pub fn add(left: u64, right: u64) -> u64 {
    left + right
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_works() {
        let result = add(2, 2);
        assert_eq!(result, 4);
    }
}
",
    ),
];

/// The manifest of the workspace around the reader's crate.
const WORKSPACE: &str = "# The reader's crate, made by book/doctest/tests/reader_crate.rs.\n\
                         [workspace]\nmembers = [\"minirpc\"]\n";

/// What a chapter's `## Complete code` section tells the reader to do.
#[derive(Default)]
struct Changes {
    /// Files to delete, relative to the crate.
    deleted: Vec<PathBuf>,
    /// Files to write, relative to the crate, with their text.
    written: Vec<(PathBuf, String)>,
}

#[test]
fn the_readers_crate_builds_and_passes_its_tests_at_the_end_of_every_chapter() {
    let root = fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).unwrap();
    let layout = Layout::repository(root.clone());
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reader-crate");
    let krate = scratch.join("minirpc");
    match fs::remove_dir_all(&krate) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            panic!("cannot remove {}: {}", krate.display(), err)
        }
        _ => {}
    }
    write(&scratch.join("Cargo.toml"), WORKSPACE);
    for (file, text) in CARGO_NEW {
        write(&krate.join(file), text);
    }

    let mut chapters = 0;
    for chapter in parts_2_and_3(&layout) {
        let section = match Section::of(&chapter) {
            Some(section) => section,
            // A part's introduction, with no code of its own.
            None => continue,
        };
        let name = title(&chapter);
        let changes = changes(&chapter, &section).unwrap_or_else(|problems| {
            panic!(
                "{}: the reader cannot type its `## Complete code` section:\n{}",
                name,
                problems.join("\n")
            )
        });
        apply(&krate, &changes);
        fs::copy(root.join("Cargo.lock"), scratch.join("Cargo.lock")).unwrap();
        let started = Instant::now();
        if let Err(output) = cargo_test(&scratch, &krate) {
            panic!(
                "{}: `cargo test` fails in the reader's crate as the chapter leaves it ({}):\n{}",
                name,
                krate.display(),
                output
            );
        }
        eprintln!("{}: cargo test passed in {:.1?}", name, started.elapsed());
        chapters += 1;
    }
    assert!(
        chapters > 0,
        "no chapter of parts 2 and 3 has a `## Complete code` section: is book/src/SUMMARY.md where it was?"
    );
}

/// The chapters of parts 2 and 3, in the order of SUMMARY.md.
fn parts_2_and_3(layout: &Layout) -> Vec<Chapter> {
    let summary = fs::read_to_string(layout.book_src().join("SUMMARY.md")).unwrap();
    let mut chapters = layout.chapters();
    let mut found = Vec::new();
    for (_, target) in summary_entries(&summary) {
        if !(target.starts_with("ch02-") || target.starts_with("ch03-")) {
            continue;
        }
        if let Some(at) = chapters.iter().position(|c| c.name() == target) {
            found.push(chapters.remove(at));
        }
    }
    found
}

/// The chapter's file name and its title, for messages.
fn title(chapter: &Chapter) -> String {
    let heading = chapter
        .text
        .lines()
        .find_map(|line| line.strip_prefix("# "))
        .unwrap_or("");
    format!("{} (\"{}\")", chapter.name(), heading.trim())
}

/// What the section tells the reader to do, or what stops the reader from doing it.
fn changes(chapter: &Chapter, section: &Section) -> Result<Changes, Vec<String>> {
    let mut changes = Changes::default();
    let mut problems = Vec::new();
    for file in section.deleted() {
        if is_in_crate(&file) {
            changes.deleted.push(file);
        } else {
            problems.push(format!(
                "a file to delete outside the crate: `{}`",
                file.display()
            ));
        }
    }
    for block in &section.blocks {
        let file = match &block.caption {
            Some(file) => PathBuf::from(file),
            // Not a file of the crate: output, a command, an illustration.
            None => continue,
        };
        let at = format!("{}:{}", chapter.path.display(), block.line);
        if !is_in_crate(&file) {
            problems.push(format!(
                "{}: `Filename: {}` is outside the crate",
                at,
                file.display()
            ));
            continue;
        }
        match shown(section, block) {
            Ok(text) => changes.written.push((file, text)),
            Err(what) => problems.push(format!("{}: {}", at, what)),
        }
    }
    if problems.is_empty() {
        Ok(changes)
    } else {
        Err(problems)
    }
}

/// True for a relative path that stays inside the crate's folder.
fn is_in_crate(path: &Path) -> bool {
    path.components().next().is_some()
        && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// The text of a block as mdBook shows it, each include expanded, with the final newline
/// an editor adds.
fn shown(section: &Section, block: &Block) -> Result<String, String> {
    let includes: Vec<&Include> = section.includes_in(block).collect();
    let mut lines = Vec::new();
    for (number, line) in &block.body {
        let here: Vec<&&Include> = includes.iter().filter(|i| i.line == *number).collect();
        match here.as_slice() {
            [] => lines.push(line.clone()),
            [include] if is_only_an_include(line) => lines.push(included(include)?),
            _ => {
                return Err(format!(
                    "line {}: this test expands a line that holds one include and nothing else",
                    number
                ))
            }
        }
    }
    Ok(lines.join("\n") + "\n")
}

/// What mdBook shows for an include: the whole file or an anchored part of it.
fn included(include: &Include) -> Result<String, String> {
    let text = fs::read_to_string(&include.path)
        .map_err(|err| format!("cannot read {}: {}", include.path.display(), err))?;
    match include.selector.as_deref() {
        None => Ok(text.lines().collect::<Vec<_>>().join("\n")),
        Some(lines) if lines.starts_with(|c: char| c.is_ascii_digit() || c == ':') => Err(format!(
            "`{}`: a range of lines is not a whole file; include an anchor around it",
            lines
        )),
        Some(anchor) => anchored(&text, anchor)
            .ok_or_else(|| format!("no anchor `{}` in {}", anchor, include.path.display())),
    }
}

/// Deletes and writes what `changes` says, in the crate at `krate`.
fn apply(krate: &Path, changes: &Changes) {
    for file in &changes.deleted {
        let path = krate.join(file);
        let removed = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        match removed {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                panic!("cannot delete {}: {}", path.display(), err)
            }
            _ => {}
        }
    }
    for (file, text) in &changes.written {
        write(&krate.join(file), text);
    }
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap_or_else(|err| panic!("cannot write {}: {}", path.display(), err));
}

/// Runs `cargo test` in the crate; on failure, what cargo printed.
fn cargo_test(scratch: &Path, krate: &Path) -> Result<(), String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["test", "--offline", "--quiet", "--color", "never"])
        .current_dir(krate)
        .env("CARGO_TARGET_DIR", scratch.join("target"))
        // The reader would see a warning too.
        .env("RUSTFLAGS", "-D warnings")
        // Offline for the cargo that a test of the crate may run in turn.
        .env("CARGO_NET_OFFLINE", "true")
        .output()
        .expect("run cargo test");
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{}\n--- cargo's standard error ---\n{}\n--- cargo's standard output ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    ))
}
