//! Checks across the book's files: what the chapters include, against the listing crates
//! and the library's sources.
//!
//! - An `ANCHOR: name` in `src/`, `examples/` or a listing crate that no chapter
//!   includes: the code it marks was meant to be shown, and is not (or the marker is left
//!   over). The `dependencies` anchor every listing's `Cargo.toml` has is exempt.
//! - A chapter of part 3 that includes a file from outside `book/`: part 3 grows its own
//!   small crate in `book/listings/` and never shows the library's `src/`.
//! - A commit hash in a chapter: chapters teach lessons; run logs and hashes belong in
//!   `bench/README.md`.
//! - A chapter of parts 2 and 3 whose `## Complete code` section does not hold its step:
//!   the listing crates of `chNN-MM-*.md` are the folders `book/listings/chNN-MM-*`, the
//!   last in sorted order is where the chapter ends, and the one sorted just before the
//!   first of them is where the previous chapter ended. The section must include, whole,
//!   every file of `src/`, `tests/` and `examples/` that is new or changed between the two
//!   (a file with anchors through one anchor around all of it, so that the reader sees no
//!   ANCHOR lines), the `Cargo.toml`'s `dependencies` anchor when it changed (after an
//!   inline `[package]` that names the crate `minirpc`), and name every file the reader
//!   must delete on a line that says so ("Delete `src/bin/server.rs`."); each block that
//!   shows a file has a `Filename: path` line above it that names that file; and no listing
//!   keeps a dependency table outside its `dependencies` anchor. Other folders of a
//!   listing crate (`output/`, `book-checks/`) are the repository's, not the reader's. A
//!   file a step leaves unchanged is best a symbolic link to the step that last changed
//!   it: the comparison reads through links.
//!
//! Exceptions go in three lists, all empty today: chapters of part 3 still in the old
//! layout ([`PART3_OLD_LAYOUT`]), anchors no chapter includes yet ([`UNUSED_ANCHORS`]),
//! and commit hashes a chapter may quote ([`ALLOWED_HASHES`]). Each list fails the lint
//! once one of its entries is no longer needed, so that they only ever shrink.

use std::fs;
use std::path::{Component, Path, PathBuf};

use super::markdown::{directives, split_fences, Problem};

/// Chapters of part 3 that still show `src/` and have no listing crate per step.
/// Removed when part 3 lands: engineer "part3" empties it as each chapter is rewritten.
pub const PART3_OLD_LAYOUT: &[&str] = &[];

/// Anchors (file, anchor) that no chapter includes today: in `src/`, left by the moves of
/// the library's code and by the rewrite of part 3, and in the old part-3 listing crate.
/// Removed when part 3 lands: each entry goes when a chapter includes the anchor again
/// or the anchor is deleted (the owner of `src/` deletes those in `src/`).
pub const UNUSED_ANCHORS: &[(&str, &str)] = &[];

/// Commit hashes a chapter may still quote (chapter, hash). Empty since chapter 4.5
/// became a lesson: its run logs and their commits are in `bench/README.md`.
pub const ALLOWED_HASHES: &[(&str, &str)] = &[];

/// The title of the section that ends each chapter of parts 2 and 3.
const COMPLETE_CODE: &str = "## Complete code";

/// The folders of a listing crate that hold the reader's files.
const READER_FOLDERS: &[&str] = &["src", "tests", "examples"];

/// Where the book's pieces are, and what is let through while part 3 is rewritten: the
/// repository with the lists above, or a scratch layout in the tests below.
pub struct Layout {
    pub root: PathBuf,
    pub part3_old_layout: &'static [&'static str],
    pub unused_anchors: &'static [(&'static str, &'static str)],
    pub allowed_hashes: &'static [(&'static str, &'static str)],
}

/// A chapter: its path and its text.
pub struct Chapter {
    pub path: PathBuf,
    pub text: String,
}

impl Chapter {
    pub(crate) fn name(&self) -> String {
        file_name(&self.path)
    }
}

/// One include directive of a chapter.
pub(crate) struct Include {
    pub(crate) line: usize,
    /// The included file, joined to the chapter's folder and with `..` resolved.
    pub(crate) path: PathBuf,
    /// What follows the path's `:`, if anything: an anchor or a line range.
    pub(crate) selector: Option<String>,
}

impl Layout {
    /// The repository at `root`, with the lists above.
    pub fn repository(root: PathBuf) -> Layout {
        Layout {
            root,
            part3_old_layout: PART3_OLD_LAYOUT,
            unused_anchors: UNUSED_ANCHORS,
            allowed_hashes: ALLOWED_HASHES,
        }
    }

    pub fn book_src(&self) -> PathBuf {
        self.root.join("book").join("src")
    }

    fn listings(&self) -> PathBuf {
        self.root.join("book").join("listings")
    }

    /// The chapters, sorted by name (SUMMARY.md excluded).
    pub fn chapters(&self) -> Vec<Chapter> {
        let mut paths: Vec<PathBuf> = fs::read_dir(self.book_src())
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .collect()
            })
            .unwrap_or_default();
        paths.retain(|path| {
            path.extension().is_some_and(|ext| ext == "md") && file_name(path) != "SUMMARY.md"
        });
        paths.sort();
        paths
            .into_iter()
            .map(|path| {
                let text = fs::read_to_string(&path).unwrap_or_default();
                Chapter { path, text }
            })
            .collect()
    }

    /// The listing crates' folder names, sorted: the reading order.
    fn listing_crates(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.listings())
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok())
                    .filter(|entry| entry.path().is_dir())
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// A path relative to the repository, for messages.
    fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Every problem the checks of this module find.
    pub fn problems(&self) -> Vec<Problem> {
        let chapters = self.chapters();
        let mut problems = self.unused_anchors(&chapters);
        for chapter in &chapters {
            problems.extend(commit_hashes(chapter, self.allowed_hashes));
        }
        for (name, hash) in self.allowed_hashes {
            if !chapters.iter().any(|c| &c.name() == name) {
                problems.push(Problem {
                    file: self.book_src().join(name),
                    line: 1,
                    what: format!(
                        "no such chapter: remove `{}` from ALLOWED_HASHES in book/doctest/tests/book_layout/mod.rs",
                        hash
                    ),
                });
            }
        }
        problems.extend(self.part3_checks(&chapters));
        for chapter in &chapters {
            if !self.part3_old_layout.contains(&chapter.name().as_str()) {
                problems.extend(self.complete_code(chapter));
            }
        }
        problems
    }

    /// The part-3 checks, with the old-layout chapters exempt until they are rewritten.
    fn part3_checks(&self, chapters: &[Chapter]) -> Vec<Problem> {
        let mut problems = Vec::new();
        for chapter in chapters.iter().filter(|c| c.name().starts_with("ch03-")) {
            let mut found = self.library_includes(chapter);
            let exempt = self.part3_old_layout.contains(&chapter.name().as_str());
            if exempt {
                found.extend(self.complete_code(chapter));
                if found.is_empty() {
                    problems.push(Problem {
                        file: chapter.path.clone(),
                        line: 1,
                        what: format!(
                            "`{}` follows the layout of parts 2 and 3 now: remove it from PART3_OLD_LAYOUT in book/doctest/tests/book_layout/mod.rs",
                            chapter.name()
                        ),
                    });
                }
            } else {
                problems.extend(found);
            }
        }
        for name in self.part3_old_layout {
            if !chapters.iter().any(|c| &c.name() == name) {
                problems.push(Problem {
                    file: self.book_src().join(name),
                    line: 1,
                    what: "no such chapter: remove it from PART3_OLD_LAYOUT in book/doctest/tests/book_layout/mod.rs".into(),
                });
            }
        }
        problems
    }

    /// Includes of a part-3 chapter that reach outside `book/`.
    fn library_includes(&self, chapter: &Chapter) -> Vec<Problem> {
        let book = self.root.join("book");
        includes(chapter)
            .into_iter()
            .filter(|include| !include.path.starts_with(&book))
            .map(|include| Problem {
                file: chapter.path.clone(),
                line: include.line,
                what: format!(
                    "part 3 shows its own crate, never the library's files: include the step's file from book/listings/ch03-* instead of `{}`",
                    self.shown(&include.path)
                ),
            })
            .collect()
    }

    /// Anchors in `src/`, `examples/` and the listing crates that no chapter includes.
    fn unused_anchors(&self, chapters: &[Chapter]) -> Vec<Problem> {
        // (real file, anchor) for every anchored include of every chapter.
        let mut used: Vec<(PathBuf, String)> = Vec::new();
        for chapter in chapters {
            for include in includes(chapter) {
                if let (Ok(real), Some(anchor)) =
                    (fs::canonicalize(&include.path), include.selector)
                {
                    used.push((real, anchor));
                }
            }
        }
        let mut files = Vec::new();
        walk(&self.root.join("src"), &mut files);
        walk(&self.root.join("examples"), &mut files);
        walk(&self.listings(), &mut files);
        // A linked file is the same file as its target: look at it once.
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut problems = Vec::new();
        let mut allowed_and_unused = Vec::new();
        for file in files {
            let real = match fs::canonicalize(&file) {
                Ok(real) if !seen.contains(&real) => real,
                _ => continue,
            };
            seen.push(real.clone());
            let text = match fs::read_to_string(&real) {
                Ok(text) => text,
                Err(_) => continue,
            };
            // Every listing's manifest has a `dependencies` anchor, shown or not.
            let manifest = file_name(&real) == "Cargo.toml";
            for (line, anchor) in anchors(&text) {
                let structural = manifest && anchor == "dependencies";
                if structural || used.iter().any(|(f, a)| f == &real && a == &anchor) {
                    continue;
                }
                let shown = self.shown(&real);
                if self
                    .unused_anchors
                    .contains(&(shown.as_str(), anchor.as_str()))
                {
                    allowed_and_unused.push((shown, anchor));
                    continue;
                }
                problems.push(Problem {
                    file: real.clone(),
                    line,
                    what: format!(
                        "anchor `{}` is included by no chapter: include it where the code is explained, or remove its ANCHOR and ANCHOR_END lines",
                        anchor
                    ),
                });
            }
        }
        for (file, anchor) in self.unused_anchors {
            let entry = (file.to_string(), anchor.to_string());
            if !allowed_and_unused.contains(&entry) {
                problems.push(Problem {
                    file: self.root.join(file),
                    line: 1,
                    what: format!(
                        "anchor `{}` is included by a chapter now, or gone: remove it from UNUSED_ANCHORS in book/doctest/tests/book_layout/mod.rs",
                        anchor
                    ),
                });
            }
        }
        problems
    }

    /// The `## Complete code` check of a chapter of parts 2 and 3.
    fn complete_code(&self, chapter: &Chapter) -> Vec<Problem> {
        let name = chapter.name();
        let prefix = match step_prefix(&name) {
            Some(prefix) if name.starts_with("ch02-") || name.starts_with("ch03-") => prefix,
            _ => return Vec::new(),
        };
        let crates = self.listing_crates();
        let first = match crates.iter().position(|c| c.starts_with(&prefix)) {
            Some(first) => first,
            // A chapter without code of its own, such as a part's introduction.
            None => return Vec::new(),
        };
        let last = crates
            .iter()
            .rposition(|c| c.starts_with(&prefix))
            .unwrap_or(first);
        let last_dir = self.listings().join(&crates[last]);
        let previous = first
            .checked_sub(1)
            .map(|index| self.listings().join(&crates[index]));

        let mut problems = Vec::new();
        let mut report = |line: usize, what: String| {
            problems.push(Problem {
                file: chapter.path.clone(),
                line,
                what,
            })
        };
        let section = match Section::of(chapter) {
            Some(section) => section,
            None => {
                report(
                    1,
                    format!(
                        "the chapter's code ends in book/listings/{}: end the chapter with a `{}` section that includes its new and changed files",
                        crates[last], COMPLETE_CODE
                    ),
                );
                return problems;
            }
        };
        // The reader types each block into the file its `Filename:` line names.
        for block in &section.blocks {
            for include in section.includes_in(block) {
                let in_crate = include
                    .path
                    .strip_prefix(self.listings())
                    .ok()
                    .map(|path| path.components().skip(1).collect::<PathBuf>());
                let named = block.caption.as_ref().map(PathBuf::from);
                if named.is_none() || (in_crate.is_some() && in_crate != named) {
                    let file = in_crate.unwrap_or_else(|| include.path.clone());
                    report(
                        block.line,
                        format!(
                            "a block of `{}` shows `{}`: put `Filename: {1}` on the line above it, where the reader sees which file it is",
                            COMPLETE_CODE,
                            file.display()
                        ),
                    );
                }
            }
        }
        let was = |relative: &Path| {
            previous
                .as_ref()
                .and_then(|dir| fs::read_to_string(dir.join(relative)).ok())
        };

        for relative in reader_files(&last_dir) {
            let now = fs::read_to_string(last_dir.join(&relative)).unwrap_or_default();
            if was(&relative).as_deref() == Some(now.as_str()) {
                continue;
            }
            let file = last_dir.join(&relative);
            let shown = section.includes_of(&file);
            let whole = shown.iter().any(|include| match &include.selector {
                None => true,
                Some(anchor) => spans_whole_file(&now, anchor),
            });
            if !whole {
                let what = if shown.is_empty() {
                    "is new or changed in this chapter and not in"
                } else {
                    "is included only in part in"
                };
                report(
                    section.line,
                    format!(
                        "`{rel}` {what} `{cc}`: add `Filename: {rel}` and a block with {{{{#include ../listings/{krate}/{rel}}}}} (through an anchor around the whole file if it has anchors)",
                        rel = relative.display(),
                        what = what,
                        cc = COMPLETE_CODE,
                        krate = crates[last],
                    ),
                );
            }
            for include in shown.iter().filter(|include| include.selector.is_none()) {
                if !anchors(&now).is_empty() {
                    report(
                        include.line,
                        format!(
                            "`{}` has anchors, and a whole include shows their ANCHOR lines to the reader: put one anchor around the whole file and include that",
                            relative.display()
                        ),
                    );
                }
            }
        }

        if let Some(previous) = &previous {
            let kept = reader_files(&last_dir);
            let deleted = section.deleted();
            for relative in reader_files(previous) {
                let mention = format!("`{}`", relative.display());
                if !kept.contains(&relative) && !deleted.contains(&relative) {
                    report(
                        section.line,
                        format!(
                            "{} is in book/listings/{} and not in book/listings/{}: tell the reader to delete it in `{}`, on a line such as \"Delete {}.\"",
                            mention,
                            file_name(previous),
                            crates[last],
                            COMPLETE_CODE,
                            mention
                        ),
                    );
                }
            }
        }

        let manifest = last_dir.join("Cargo.toml");
        let dependencies = fs::read_to_string(&manifest)
            .ok()
            .and_then(|text| anchored(&text, "dependencies"));
        let before = previous
            .as_ref()
            .and_then(|dir| fs::read_to_string(dir.join("Cargo.toml")).ok())
            .and_then(|text| anchored(&text, "dependencies"));
        match dependencies {
            None => report(
                section.line,
                format!(
                    "book/listings/{}/Cargo.toml has no `dependencies` anchor: put `# ANCHOR: dependencies` and `# ANCHOR_END: dependencies` around its dependency tables",
                    crates[last]
                ),
            ),
            Some(dependencies) if before.as_ref() != Some(&dependencies) => {
                if !section.shows_manifest(&manifest) {
                    report(
                        section.line,
                        format!(
                            "the dependencies changed in this chapter: show `Filename: Cargo.toml` and a `toml` block with `[package]`, `name = \"minirpc\"`, the version, `edition = \"2018\"` and {{{{#include ../listings/{}/Cargo.toml:dependencies}}}}",
                            crates[last]
                        ),
                    );
                }
            }
            Some(_) => {}
        }
        for krate in &crates[first..=last] {
            let manifest = self.listings().join(krate).join("Cargo.toml");
            let text = fs::read_to_string(&manifest).unwrap_or_default();
            for line in hidden_dependency_tables(&text) {
                problems.push(Problem {
                    file: manifest.clone(),
                    line,
                    what: "a dependency table outside the `dependencies` anchor: the reader never sees it; move it inside the anchor".into(),
                });
            }
        }
        problems
    }
}

/// The `## Complete code` section of a chapter: from its heading to the next heading of
/// the same level or above.
pub(crate) struct Section {
    pub(crate) line: usize,
    text: String,
    pub(crate) includes: Vec<Include>,
    /// The fenced blocks of the section, in order.
    pub(crate) blocks: Vec<Block>,
}

/// A fenced block of a `## Complete code` section.
pub(crate) struct Block {
    /// Line number of the opening fence, from 1.
    pub(crate) line: usize,
    pub(crate) info: String,
    /// The file the block holds, as the `Filename: path` line just above it names it.
    pub(crate) caption: Option<String>,
    pub(crate) body: Vec<(usize, String)>,
}

impl Section {
    pub(crate) fn of(chapter: &Chapter) -> Option<Section> {
        let (fences, prose) = split_fences(&chapter.text);
        let start = prose
            .iter()
            .find(|(_, line)| line.trim_end() == COMPLETE_CODE)
            .map(|(number, _)| *number)?;
        let end = prose
            .iter()
            .filter(|(number, line)| {
                *number > start && (line.starts_with("# ") || line.starts_with("## "))
            })
            .map(|(number, _)| *number)
            .next()
            .unwrap_or(usize::MAX);
        let inside = |number: usize| number >= start && number < end;
        let text: Vec<&str> = chapter
            .text
            .lines()
            .enumerate()
            .filter(|(index, _)| inside(index + 1))
            .map(|(_, line)| line)
            .collect();
        let includes = includes(chapter)
            .into_iter()
            .filter(|include| inside(include.line))
            .collect();
        let lines: Vec<&str> = chapter.text.lines().collect();
        let blocks = fences
            .into_iter()
            .filter(|fence| inside(fence.line))
            .map(|fence| Block {
                line: fence.line,
                caption: caption(&lines[..fence.line - 1]),
                info: fence.info,
                body: fence.body,
            })
            .collect();
        Some(Section {
            line: start,
            text: text.join("\n"),
            includes,
            blocks,
        })
    }

    /// The section's includes on the lines of `block`.
    pub(crate) fn includes_in<'a>(&'a self, block: &'a Block) -> impl Iterator<Item = &'a Include> {
        self.includes
            .iter()
            .filter(move |include| block.body.iter().any(|(line, _)| *line == include.line))
    }

    /// The files the section tells the reader to delete: every path in backticks on a
    /// line that says "delete" or "remove" ("Delete `src/bin/server.rs`.").
    pub(crate) fn deleted(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for line in self.text.lines() {
            let lower = line.to_lowercase();
            if !(lower.contains("delete") || lower.contains("remove")) {
                continue;
            }
            // Between the first and second backtick, the third and fourth, and so on.
            for (index, span) in line.split('`').enumerate() {
                if index % 2 == 1 && !span.is_empty() && !span.contains(char::is_whitespace) {
                    files.push(PathBuf::from(span));
                }
            }
        }
        files
    }

    /// The section's includes of `file` (compared through symbolic links).
    fn includes_of(&self, file: &Path) -> Vec<&Include> {
        let real = fs::canonicalize(file).ok();
        self.includes
            .iter()
            .filter(|include| real.is_some() && fs::canonicalize(&include.path).ok() == real)
            .collect()
    }

    /// True when a `toml` block shows the reader's `[package]` and this manifest's
    /// `dependencies` anchor.
    fn shows_manifest(&self, manifest: &Path) -> bool {
        let manifest = normalize(manifest);
        self.blocks
            .iter()
            .filter(|block| block.info == "toml")
            .any(|block| {
                let has = |text: &str| block.body.iter().any(|(_, line)| line.trim() == text);
                self.includes_in(block).any(|include| {
                    include.path == manifest && include.selector.as_deref() == Some("dependencies")
                }) && has("[package]")
                    && has("name = \"minirpc\"")
            })
    }
}

/// The file a block belongs to, from a `Filename: path` line above it (blank lines
/// between are allowed): `before` is the chapter's text up to the block's fence.
fn caption(before: &[&str]) -> Option<String> {
    let line = before.iter().rev().find(|line| !line.trim().is_empty())?;
    let name = line.trim().strip_prefix("Filename:")?;
    Some(name.trim().trim_matches('`').to_owned())
}

/// `chNN-MM-` for a chapter file `chNN-MM-anything.md`.
fn step_prefix(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    let shape = name.starts_with("ch")
        && digits(2..4)
        && bytes.get(4) == Some(&b'-')
        && digits(5..7)
        && bytes.get(7) == Some(&b'-');
    if shape {
        Some(name[..8].to_owned())
    } else {
        None
    }
}

/// Every include directive of a chapter, in fences and in prose.
fn includes(chapter: &Chapter) -> Vec<Include> {
    let dir = chapter.path.parent().unwrap_or_else(|| Path::new(""));
    let mut found = Vec::new();
    for (index, line) in chapter.text.lines().enumerate() {
        for (_, argument) in directives(line) {
            let (path, selector) = match argument.find(':') {
                Some(colon) => (&argument[..colon], Some(argument[colon + 1..].to_owned())),
                None => (argument, None),
            };
            found.push(Include {
                line: index + 1,
                path: normalize(&dir.join(path)),
                selector: selector.filter(|s| !s.is_empty()),
            });
        }
    }
    found
}

/// `path` with `.` and `..` resolved lexically (links are not followed).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every file under `dir`, through symbolic links, skipping `target` and hidden folders.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect(),
        Err(_) => return,
    };
    entries.sort();
    for path in entries {
        let name = file_name(&path);
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                walk(&path, files);
            }
        } else if path.is_file() {
            files.push(path);
        }
    }
}

/// The reader's files of a listing crate, relative to it.
fn reader_files(krate: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for folder in READER_FOLDERS {
        walk(&krate.join(folder), &mut files);
    }
    files
        .into_iter()
        .filter_map(|file| file.strip_prefix(krate).ok().map(Path::to_path_buf))
        .collect()
}

/// The anchor an `ANCHOR:` or `ANCHOR_END:` (`tag`) on `line` names, as mdBook reads it.
fn anchor_mark<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    let rest = line[line.find(tag)? + tag.len()..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|name| !name.is_empty())
}

/// The anchors a file opens: (line, name), as mdBook reads them.
fn anchors(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| Some((index + 1, anchor_mark(line, "ANCHOR:")?.to_owned())))
        .collect()
}

/// True when `anchor` opens on the file's first non-blank line and closes on its last.
fn spans_whole_file(text: &str, anchor: &str) -> bool {
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let marks =
        |line: Option<&str>, tag: &str| line.and_then(|l| anchor_mark(l, tag)) == Some(anchor);
    marks(lines.next(), "ANCHOR:") && marks(lines.next_back(), "ANCHOR_END:")
}

/// What mdBook shows for `{{#include file:name}}`: the lines after `ANCHOR: name` up to
/// `ANCHOR_END: name` (or the end of the file), less the lines that mark other anchors;
/// `None` when no line opens the anchor.
pub(crate) fn anchored(text: &str, name: &str) -> Option<String> {
    let mut lines = text.lines();
    lines
        .by_ref()
        .find(|line| anchor_mark(line, "ANCHOR:") == Some(name))?;
    let marks = |line: &str| {
        anchor_mark(line, "ANCHOR:").is_some() || anchor_mark(line, "ANCHOR_END:").is_some()
    };
    let shown: Vec<&str> = lines
        .take_while(|line| anchor_mark(line, "ANCHOR_END:") != Some(name))
        .filter(|line| !marks(line))
        .collect();
    Some(shown.join("\n"))
}

/// Lines of a manifest that open a dependency table outside the `dependencies` anchor.
fn hidden_dependency_tables(manifest: &str) -> Vec<usize> {
    let mut inside = false;
    let mut found = Vec::new();
    for (index, line) in manifest.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.contains("ANCHOR: dependencies") {
            inside = true;
        } else if trimmed.contains("ANCHOR_END: dependencies") {
            inside = false;
        } else if !inside && trimmed.starts_with('[') && trimmed.contains("dependencies") {
            found.push(index + 1);
        }
    }
    found
}

/// Words of a chapter that look like commit hashes: 7 to 12 lowercase hex digits with
/// at least one letter and one digit, not after `#` (a colour), `-` or `x`.
pub fn hashes_in(line: &str) -> Vec<&str> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut start = None;
    for (at, c) in line
        .char_indices()
        .chain(std::iter::once((line.len(), ' ')))
    {
        match (start, is_word(c)) {
            (None, true) => start = Some(at),
            (Some(from), false) => {
                let word = &line[from..at];
                let before = line[..from].chars().next_back();
                let hex = word
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
                if (7..=12).contains(&word.len())
                    && hex
                    && word.chars().any(|c| c.is_ascii_digit())
                    && word.chars().any(|c| c.is_ascii_alphabetic())
                    && !matches!(before, Some('#') | Some('-'))
                {
                    found.push(word);
                }
                start = None;
            }
            _ => {}
        }
    }
    found
}

/// Commit hashes in a chapter, except those `allowed` still lets through.
fn commit_hashes(chapter: &Chapter, allowed: &[(&str, &str)]) -> Vec<Problem> {
    let name = chapter.name();
    let mut problems = Vec::new();
    for (index, line) in chapter.text.lines().enumerate() {
        for hash in hashes_in(line) {
            if allowed.contains(&(name.as_str(), hash)) {
                continue;
            }
            problems.push(Problem {
                file: chapter.path.clone(),
                line: index + 1,
                what: format!(
                    "`{}` looks like a commit hash: a chapter teaches the lesson, and run logs and commit hashes belong in bench/README.md",
                    hash
                ),
            });
        }
    }
    for (_, hash) in allowed.iter().filter(|(chapter, _)| *chapter == name) {
        if !chapter
            .text
            .lines()
            .any(|line| hashes_in(line).contains(hash))
        {
            problems.push(Problem {
                file: chapter.path.clone(),
                line: 1,
                what: format!(
                    "`{}` is gone from this chapter: remove it from ALLOWED_HASHES in book/doctest/tests/book_layout/mod.rs",
                    hash
                ),
            });
        }
    }
    problems
}

/// A scratch repository layout for the tests below, removed when dropped.
struct ScratchLayout(PathBuf);

impl ScratchLayout {
    fn new(name: &str) -> ScratchLayout {
        let root =
            std::env::temp_dir().join(format!("book-layout-{}-{}", name, std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        ScratchLayout(fs::canonicalize(root).unwrap())
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.0.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn link(&self, path: &str, target: &str) {
        let path = self.0.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
    }

    fn layout(&self) -> Layout {
        Layout {
            root: self.0.clone(),
            part3_old_layout: &[],
            unused_anchors: &[],
            allowed_hashes: &[],
        }
    }

    /// Problems as `(file relative to the root, line, start of the message)`.
    fn problems(&self, layout: &Layout) -> Vec<(String, usize, String)> {
        layout
            .problems()
            .into_iter()
            .map(|p| (layout.shown(&p.file), p.line, p.what))
            .collect()
    }
}

impl Drop for ScratchLayout {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const MANIFEST: &str = "[package]\nname = \"ch02-01-first\"\n\n# ANCHOR: dependencies\n[dependencies]\nbytes = \"0.4\"\n# ANCHOR_END: dependencies\n";

/// Two steps of part 2 and a chapter of part 3, each with one thing right and one wrong.
fn sample(scratch: &ScratchLayout) {
    scratch.write(
        "src/lib.rs",
        "// ANCHOR: shown\nfn shown() {}\n// ANCHOR_END: shown\n// ANCHOR: forgotten\nfn forgotten() {}\n// ANCHOR_END: forgotten\n",
    );
    scratch.write("book/listings/ch02-01-first/Cargo.toml", MANIFEST);
    scratch.write(
        "book/listings/ch02-01-first/src/lib.rs",
        "// ANCHOR: all\npub mod gone;\n// ANCHOR: line\nfn f() {}\n// ANCHOR_END: line\n// ANCHOR_END: all\n",
    );
    scratch.write("book/listings/ch02-01-first/src/gone.rs", "fn g() {}\n");
    scratch.write(
        "book/listings/ch02-01-first/tests/t.rs",
        "#[test]\nfn t() {}\n",
    );
    scratch.write(
        "book/listings/ch02-02-second/Cargo.toml",
        &format!("{}\n[dev-dependencies]\nfutures = \"0.1\"\n", MANIFEST),
    );
    scratch.write(
        "book/listings/ch02-02-second/src/lib.rs",
        "pub mod new;\n// ANCHOR: line\nfn f() {}\n// ANCHOR_END: line\n",
    );
    scratch.write("book/listings/ch02-02-second/src/new.rs", "fn n() {}\n");
    scratch.link(
        "book/listings/ch02-02-second/tests/t.rs",
        "../../ch02-01-first/tests/t.rs",
    );
    scratch.write(
        "book/src/ch02-01-first.md",
        "# First\n\n```rust,ignore\n{{#include ../../src/lib.rs:shown}}\n```\n\n```rust,ignore\n{{#include ../listings/ch02-01-first/src/lib.rs:line}}\n```\n\n## Complete code\n\nFilename: Cargo.toml\n\n```toml\n[package]\nname = \"minirpc\"\n\n{{#include ../listings/ch02-01-first/Cargo.toml:dependencies}}\n```\n\nFilename: src/lib.rs\n\n```rust,ignore\n{{#include ../listings/ch02-01-first/src/lib.rs:all}}\n```\n\nFilename: `src/gone.rs`\n\n```rust,ignore\n{{#include ../listings/ch02-01-first/src/gone.rs}}\n```\n\nFilename: tests/t.rs\n```rust,ignore\n{{#include ../listings/ch02-01-first/tests/t.rs}}\n```\n",
    );
    scratch.write(
        "book/src/ch02-02-second.md",
        "# Second\n\n```rust,ignore\n{{#include ../listings/ch02-02-second/src/lib.rs:line}}\n```\n\n## Complete code\n\nFilename: src/main.rs\n\n```rust,ignore\n{{#include ../listings/ch02-02-second/src/lib.rs}}\n```\n",
    );
    scratch.write(
        "book/src/ch03-01-third.md",
        "# Third\n\nFixed in 1a2b3c4d, the colour #a1b2c3d, 0x1234abcd, deadbeef and 2024-11-05.\n\n```rust,ignore\n{{#include ../../src/lib.rs:shown}}\n```\n",
    );
}

#[test]
fn the_layout_checks_report_each_kind_of_problem_in_a_bad_sample() {
    let scratch = ScratchLayout::new("bad");
    sample(&scratch);
    let problems = scratch.problems(&scratch.layout());
    let expect = |file: &str, line: usize, start: &str| {
        assert!(
            problems
                .iter()
                .any(|(f, l, what)| f == file && *l == line && what.starts_with(start)),
            "expected `{}` at {}:{} in {:#?}",
            start,
            file,
            line,
            problems
        );
    };
    // An anchor nobody includes, in src/ and in a listing crate.
    expect(
        "src/lib.rs",
        4,
        "anchor `forgotten` is included by no chapter",
    );
    // Part 3 shows the library's src/.
    expect(
        "book/src/ch03-01-third.md",
        6,
        "part 3 shows its own crate, never the library's files",
    );
    // A commit hash, and nothing else on that line.
    expect(
        "book/src/ch03-01-third.md",
        3,
        "`1a2b3c4d` looks like a commit hash",
    );
    // Complete code: a new file left out, a changed file shown with its ANCHOR lines and
    // under the name of another, a deleted file not named, a dependency table the reader
    // never sees.
    let chapter = "book/src/ch02-02-second.md";
    expect(
        chapter,
        7,
        "`src/new.rs` is new or changed in this chapter and not in",
    );
    expect(
        chapter,
        12,
        "`src/lib.rs` has anchors, and a whole include shows",
    );
    expect(
        chapter,
        11,
        "a block of `## Complete code` shows `src/lib.rs`: put `Filename: src/lib.rs`",
    );
    expect(
        chapter,
        7,
        "`src/gone.rs` is in book/listings/ch02-01-first",
    );
    expect(
        "book/listings/ch02-02-second/Cargo.toml",
        9,
        "a dependency table outside the `dependencies` anchor",
    );
    assert_eq!(problems.len(), 8, "{:#?}", problems);
}

#[test]
fn the_layout_checks_accept_the_sample_once_mended() {
    let scratch = ScratchLayout::new("good");
    sample(&scratch);
    scratch.write(
        "src/lib.rs",
        "// ANCHOR: shown\nfn shown() {}\n// ANCHOR_END: shown\n",
    );
    scratch.write("book/listings/ch02-02-second/Cargo.toml", MANIFEST);
    scratch.write(
        "book/listings/ch02-02-second/src/lib.rs",
        "// ANCHOR: all\npub mod new;\n// ANCHOR: line\nfn f() {}\n// ANCHOR_END: line\n// ANCHOR_END: all\n",
    );
    scratch.write(
        "book/src/ch02-02-second.md",
        "# Second\n\n```rust,ignore\n{{#include ../listings/ch02-02-second/src/lib.rs:line}}\n```\n\n## Complete code\n\nFilename: src/lib.rs\n\n```rust,ignore\n{{#include ../listings/ch02-02-second/src/lib.rs:all}}\n```\n\nFilename: src/new.rs\n\n```rust,ignore\n{{#include ../listings/ch02-02-second/src/new.rs}}\n```\n\nDelete `src/gone.rs`.\n",
    );
    scratch.write(
        "book/src/ch03-01-third.md",
        "# Third\n\nThe colour #a1b2c3d, 0x1234abcd, deadbeef and 2024-11-05.\n\n```rust,ignore\n{{#include ../../src/lib.rs:shown}}\n```\n",
    );
    let layout = Layout {
        part3_old_layout: &["ch03-01-third.md"],
        ..scratch.layout()
    };
    assert_eq!(scratch.problems(&layout), vec![]);
}

#[test]
fn an_allowance_that_is_no_longer_needed_is_a_problem() {
    let scratch = ScratchLayout::new("stale");
    scratch.write("src/lib.rs", "fn f() {}\n");
    scratch.write(
        "book/src/ch03-01-third.md",
        "# Third\n\nNothing to allow.\n",
    );
    let layout = Layout {
        part3_old_layout: &["ch03-01-third.md", "ch03-09-gone.md"],
        unused_anchors: &[("src/lib.rs", "removed")],
        allowed_hashes: &[("ch03-01-third.md", "1a2b3c4d")],
        ..scratch.layout()
    };
    let problems = scratch.problems(&layout);
    let messages: Vec<&str> = problems.iter().map(|(_, _, what)| what.as_str()).collect();
    for start in &[
        "`ch03-01-third.md` follows the layout of parts 2 and 3 now",
        "no such chapter: remove it from PART3_OLD_LAYOUT",
        "anchor `removed` is included by a chapter now, or gone",
        "`1a2b3c4d` is gone from this chapter",
    ] {
        assert!(
            messages.iter().any(|what| what.starts_with(start)),
            "expected `{}` in {:#?}",
            start,
            messages
        );
    }
    assert_eq!(problems.len(), 4, "{:#?}", problems);
}

#[test]
fn an_anchored_include_shows_what_mdbook_shows() {
    let text =
        "// ANCHOR: all\nuse x;\n// ANCHOR: f\nfn f() {}\n// ANCHOR_END: f\n// ANCHOR_END: all\n";
    // The lines of other anchors are left out, as mdBook leaves them out.
    assert_eq!(anchored(text, "all").as_deref(), Some("use x;\nfn f() {}"));
    assert_eq!(anchored(text, "f").as_deref(), Some("fn f() {}"));
    // A name that only starts like another is another anchor.
    assert_eq!(anchored(text, "al"), None);
    assert!(spans_whole_file(text, "all") && !spans_whole_file(text, "f"));
}

#[test]
fn hashes_are_told_apart_from_colours_numbers_and_words() {
    assert_eq!(
        hashes_in("at commit 41decff, then c8eca6a."),
        vec!["41decff", "c8eca6a"]
    );
    assert_eq!(hashes_in("(e4a23a2)"), vec!["e4a23a2"]);
    for line in &[
        "color: #a1b2c3d",
        "0x1234abcd",
        "deadbeef",
        "12345678",
        "tokio-io-0.1.5 and rmpv-1a2b3c4",
        "ABCDEF12",
        "a1b2c3",
        "a1b2c3d4e5f6a",
        "abc1234_x",
    ] {
        assert!(hashes_in(line).is_empty(), "{}", line);
    }
}
