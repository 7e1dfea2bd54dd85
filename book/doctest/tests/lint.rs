//! Checks on the book's sources that `mdbook build` does not make.
//!
//! mdBook exits 0 when an `{{#include}}` names a missing file and renders an empty block
//! when it names a missing anchor; it does not check links or images either. This test
//! fails, with `file:line: what is wrong`, when:
//!
//! - an `{{#include}}` or `{{#rustdoc_include}}` names a missing file, a missing anchor
//!   (no `ANCHOR: name` / `ANCHOR_END: name` pair) or lines past the end of the file;
//! - a `rust,ignore` block holds anything but include directives (such a block is compiled
//!   through its listing crate; anything else in it would never be compiled), or an include
//!   sits in a Rust block that rustdoc compiles (rustdoc does not expand includes);
//! - a code fence has no language (rustdoc would compile it as Rust);
//! - a SUMMARY.md entry, a relative link or an image points to a missing file, or a link's
//!   `#fragment` to a heading that does not exist;
//! - a chapter is missing from SUMMARY.md or from the doctest crate's `src/lib.rs`;
//! - and everything `book_layout` checks across files: anchors no chapter includes, part 3
//!   showing the library's files, commit hashes, and each chapter's `## Complete code`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

mod book_layout;
mod markdown;

use markdown::{
    directives, is_only_an_include, link_targets, split_fences, summary_entries, Problem,
};

/// The words rustdoc reads in a fence's info string that still mean "this is Rust".
const RUSTDOC_ATTRIBUTES: &[&str] = &[
    "rust",
    "ignore",
    "should_panic",
    "no_run",
    "compile_fail",
    "edition2015",
    "edition2018",
    "edition2021",
    "edition2024",
    "test_harness",
    "allow_fail",
];

/// True when rustdoc treats a block with this info string as Rust.
fn is_rust(info: &str) -> bool {
    info.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .all(|word| RUSTDOC_ATTRIBUTES.contains(&word) || word.starts_with("ignore-"))
}

/// Checks what an include directive points at.
fn check_include(dir: &Path, argument: &str) -> Option<String> {
    let (path, selector) = match argument.find(':') {
        Some(colon) => (&argument[..colon], Some(&argument[colon + 1..])),
        None => (argument, None),
    };
    let target = dir.join(path);
    let text = match fs::read_to_string(&target) {
        Ok(text) => text,
        Err(_) => return Some(format!("include of a missing file `{}`", path)),
    };
    let selector = match selector {
        Some(selector) if !selector.is_empty() => selector,
        _ => return None,
    };
    let is_range = selector.chars().all(|c| c.is_ascii_digit() || c == ':');
    if is_range {
        let first = selector.split(':').find(|part| !part.is_empty());
        let first: usize = first.and_then(|n| n.parse().ok()).unwrap_or(0);
        if first > text.lines().count() {
            return Some(format!(
                "include of line {} of `{}`, which is shorter",
                first, path
            ));
        }
        return None;
    }
    let marks = |tag: &str| {
        text.lines().any(|line| {
            line.find(tag)
                .map(|at| line[at + tag.len()..].trim_start())
                .is_some_and(|rest| {
                    rest.starts_with(selector)
                        && !rest[selector.len()..]
                            .starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-')
                })
        })
    };
    let (start, end) = (marks("ANCHOR:"), marks("ANCHOR_END:"));
    if !(start && end) {
        return Some(format!(
            "include of a missing anchor `{}` in `{}` (it needs `ANCHOR: {0}` and `ANCHOR_END: {0}`)",
            selector, path
        ));
    }
    None
}

/// The ids mdBook gives the headings of a markdown file.
fn heading_ids(text: &str) -> Vec<String> {
    let (_, prose) = split_fences(text);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut ids = Vec::new();
    for (_, line) in prose {
        let trimmed = line.trim_start();
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        if hashes == 0 || hashes > 6 || !trimmed[hashes..].starts_with(' ') {
            continue;
        }
        let title = strip_inline_markup(trimmed[hashes..].trim().trim_end_matches('#').trim());
        let id: String = title
            .chars()
            .filter_map(|c| {
                if c.is_alphanumeric() || c == '_' || c == '-' {
                    Some(c.to_ascii_lowercase())
                } else if c.is_whitespace() {
                    Some('-')
                } else {
                    None
                }
            })
            .collect();
        let count = seen.entry(id.clone()).or_insert(0);
        ids.push(if *count == 0 {
            id.clone()
        } else {
            format!("{}-{}", id, count)
        });
        *count += 1;
    }
    ids
}

/// Heading text as it is rendered: links become their text, code loses its backticks.
fn strip_inline_markup(title: &str) -> String {
    let mut out = String::new();
    let mut rest = title;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match (after.find("]("), after.find(')')) {
            (Some(close), Some(paren)) if close < paren => {
                out.push_str(&after[..close]);
                rest = &after[paren + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace(['`', '*'], "")
}

/// Checks one link target, relative to the markdown file at `file`.
fn check_link(file: &Path, own_text: &str, target: &str) -> Option<String> {
    let external = ["http://", "https://", "mailto:"];
    if target.is_empty() || external.iter().any(|scheme| target.starts_with(scheme)) {
        return None;
    }
    let (path, fragment) = match target.find('#') {
        Some(hash) => (&target[..hash], Some(&target[hash + 1..])),
        None => (target, None),
    };
    let text = if path.is_empty() {
        own_text.to_owned()
    } else {
        let resolved = file.parent().unwrap_or_else(|| Path::new("")).join(path);
        if !resolved.exists() {
            return Some(format!("link to a missing file `{}`", path));
        }
        if !path.ends_with(".md") {
            return None;
        }
        fs::read_to_string(&resolved).unwrap_or_default()
    };
    match fragment {
        Some(fragment) if !heading_ids(&text).iter().any(|id| id == fragment) => Some(format!(
            "link to a missing heading `#{}` in `{}`",
            fragment, target
        )),
        _ => None,
    }
}

/// Everything wrong with one markdown file of the book.
fn lint_markdown(file: &Path, text: &str) -> Vec<Problem> {
    let dir = file.parent().unwrap_or_else(|| Path::new(""));
    let mut problems = Vec::new();
    let mut report = |line: usize, what: String| {
        problems.push(Problem {
            file: file.to_owned(),
            line,
            what,
        })
    };
    let (fences, prose) = split_fences(text);
    for fence in &fences {
        if fence.info.is_empty() {
            report(
                fence.line,
                "code fence without a language: rustdoc would compile it as Rust (say `text`, `rust`, `console`...)".into(),
            );
        }
        let words: Vec<&str> = fence.info.split(',').map(str::trim).collect();
        let rust = !fence.info.is_empty() && is_rust(&fence.info);
        if rust && words.contains(&"ignore") {
            for (line, content) in &fence.body {
                if !content.trim().is_empty() && !is_only_an_include(content) {
                    report(
                        *line,
                        "a `rust,ignore` block may only hold include directives (nothing would compile this line)".into(),
                    );
                }
            }
        } else if rust {
            for (line, content) in &fence.body {
                if !directives(content).is_empty() {
                    report(
                        *line,
                        "an include in a Rust block that rustdoc compiles: rustdoc does not expand it; mark the block `rust,ignore`".into(),
                    );
                }
            }
        }
        for (line, content) in &fence.body {
            for (_, argument) in directives(content) {
                if let Some(what) = check_include(dir, argument) {
                    report(*line, what);
                }
            }
        }
    }
    for (line, content) in &prose {
        for (_, argument) in directives(content) {
            if let Some(what) = check_include(dir, argument) {
                report(*line, what);
            }
        }
        for target in link_targets(content) {
            if let Some(what) = check_link(file, text, &target) {
                report(*line, what);
            }
        }
    }
    problems
}

fn book_src() -> PathBuf {
    // book/doctest -> book/src
    let book = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new(".."));
    book.join("src")
}

fn chapters() -> Vec<PathBuf> {
    let mut chapters: Vec<PathBuf> = fs::read_dir(book_src())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    chapters.sort();
    chapters
}

#[test]
fn the_book_sources_pass_the_lint() {
    let src = book_src();
    let summary_path = src.join("SUMMARY.md");
    let summary = fs::read_to_string(&summary_path).expect("book/src/SUMMARY.md");
    let doctest_lib =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let listed: Vec<String> = summary_entries(&summary)
        .into_iter()
        .map(|(_, target)| target)
        .collect();

    let mut problems = Vec::new();
    for chapter in chapters() {
        let text = fs::read_to_string(&chapter).unwrap();
        problems.extend(lint_markdown(&chapter, &text));
        let name = chapter.file_name().unwrap().to_string_lossy().into_owned();
        if name == "SUMMARY.md" {
            continue;
        }
        if !listed.iter().any(|target| target == &name) {
            problems.push(Problem {
                file: chapter.clone(),
                line: 1,
                what: "chapter not listed in SUMMARY.md: mdBook would not render it".into(),
            });
        }
        let include = format!("include_str!(\"../../src/{}\")", name);
        if !doctest_lib.contains(&include) {
            problems.push(Problem {
                file: chapter.clone(),
                line: 1,
                what: format!(
                    "chapter not doctested: add `#[doc = {}]` to book/doctest/src/lib.rs",
                    include
                ),
            });
        }
    }
    let root = fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).unwrap();
    problems.extend(book_layout::Layout::repository(root).problems());
    for (line, target) in summary_entries(&summary) {
        if !src.join(&target).is_file() {
            problems.push(Problem {
                file: summary_path.clone(),
                line,
                what: format!("SUMMARY.md lists a missing chapter `{}`", target),
            });
        }
    }
    let report: Vec<String> = problems.iter().map(Problem::to_string).collect();
    assert!(
        report.is_empty(),
        "the book's sources have problems:\n{}",
        report.join("\n")
    );
}

/// A scratch folder with one listing file, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("book-lint-{}-{}", name, std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("listing.rs"),
            "// ANCHOR: here\nfn here() {}\n// ANCHOR_END: here\n// ANCHOR: half\n",
        )
        .unwrap();
        fs::write(dir.join("other.md"), "# Other\n\n## A `code` heading\n").unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_lint_reports_each_kind_of_problem_in_a_bad_sample() {
    let scratch = Scratch::new("bad");
    let file = scratch.0.join("chapter.md");
    let sample = "\
# Chapter

```
no language
```

```rust,ignore
{{#include listing.rs:here}}
let x = 1;
```

```rust
{{#include listing.rs:here}}
```

```rust,ignore
{{#include missing.rs}}
{{#include listing.rs:nowhere}}
{{#include listing.rs:half}}
{{#include listing.rs:40:50}}
```

See [the other chapter](missing.md), ![a picture](img/missing.svg),
[a heading](other.md#no-such-heading) and [this one](#nor-here).
";
    let problems = lint_markdown(&file, sample);
    let lines: Vec<(usize, &str)> = problems.iter().map(|p| (p.line, p.what.as_str())).collect();
    let expect = |line: usize, start: &str| {
        assert!(
            lines
                .iter()
                .any(|&(l, what)| l == line && what.starts_with(start)),
            "expected `{}` at line {} in {:#?}",
            start,
            line,
            lines
        );
    };
    expect(3, "code fence without a language");
    expect(9, "a `rust,ignore` block may only hold include directives");
    expect(13, "an include in a Rust block that rustdoc compiles");
    expect(17, "include of a missing file `missing.rs`");
    expect(18, "include of a missing anchor `nowhere`");
    expect(19, "include of a missing anchor `half`");
    expect(20, "include of line 40");
    expect(23, "link to a missing file `missing.md`");
    expect(23, "link to a missing file `img/missing.svg`");
    expect(24, "link to a missing heading `#no-such-heading`");
    expect(24, "link to a missing heading `#nor-here`");
    assert_eq!(problems.len(), 11, "{:#?}", lines);
}

#[test]
fn the_lint_accepts_a_good_sample() {
    let scratch = Scratch::new("good");
    let file = scratch.0.join("chapter.md");
    let sample = "\
# Chapter

## Details

```rust,ignore
{{#include listing.rs:here}}
```

```rust
# fn main() {}
```

```text
{{#include listing.rs:1:2}}
```

````markdown
```
a fence inside a fence is text
```
````

Inline `[not](a-link.md)` code, [a heading](other.md#a-code-heading), [here](#details),
[the web](https://example.org) and an escaped \\{{#include nowhere.rs}}.
";
    let problems = lint_markdown(&file, sample);
    assert!(problems.is_empty(), "{:#?}", problems);
}

#[test]
fn summary_entries_are_the_linked_chapters() {
    let summary = "# Summary\n\n[Intro](intro.md)\n\n- [One](ch1.md)\n    - [Draft]()\n";
    assert_eq!(
        summary_entries(summary),
        vec![(3, "intro.md".to_owned()), (5, "ch1.md".to_owned())]
    );
}
