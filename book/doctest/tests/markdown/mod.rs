//! How the lint and the reader's-crate test read the book's markdown: fenced blocks,
//! include directives, the chapters SUMMARY.md lists, and the problems they report.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong in the book's sources.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.what)
    }
}

/// A fenced code block.
pub(crate) struct Fence {
    /// Line number of the opening fence, from 1.
    pub(crate) line: usize,
    pub(crate) info: String,
    pub(crate) body: Vec<(usize, String)>,
}

/// Splits a markdown file into its fenced blocks and the lines outside them.
pub(crate) fn split_fences(text: &str) -> (Vec<Fence>, Vec<(usize, String)>) {
    let mut fences = Vec::new();
    let mut prose = Vec::new();
    // The fence character, its length, and the block being read.
    let mut open: Option<(char, usize, Fence)> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        let marker = trimmed.chars().next().filter(|&c| c == '`' || c == '~');
        let run = marker.map_or(0, |c| trimmed.chars().take_while(|&x| x == c).count());
        let is_fence = indent <= 3 && run >= 3;
        match open.take() {
            Some((c, len, mut fence)) => {
                if is_fence && marker == Some(c) && run >= len && trimmed[run..].trim().is_empty() {
                    fences.push(fence);
                } else {
                    fence.body.push((number, line.to_owned()));
                    open = Some((c, len, fence));
                }
            }
            None if is_fence => {
                let c = marker.unwrap_or('`');
                let info = trimmed[run..].trim().to_owned();
                let fence = Fence {
                    line: number,
                    info,
                    body: Vec::new(),
                };
                open = Some((c, run, fence));
            }
            None => prose.push((number, line.to_owned())),
        }
    }
    if let Some((_, _, fence)) = open {
        fences.push(fence);
    }
    (fences, prose)
}

/// The include directives on a line: `(directive, argument)`.
pub(crate) fn directives(line: &str) -> Vec<(&str, &str)> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find("{{#") {
        let escaped = start > 0 && rest[..start].ends_with('\\');
        let after = &rest[start + 3..];
        let end = match after.find("}}") {
            Some(end) => end,
            None => break,
        };
        let inner = after[..end].trim();
        let (name, argument) =
            inner.split_at(inner.find(char::is_whitespace).unwrap_or(inner.len()));
        if !escaped && (name == "include" || name == "rustdoc_include") {
            found.push((name, argument.trim()));
        }
        rest = &after[end + 2..];
    }
    found
}

/// True when the line holds one include directive and nothing else.
pub(crate) fn is_only_an_include(line: &str) -> bool {
    let trimmed = line.trim();
    directives(trimmed).len() == 1 && trimmed.starts_with("{{#") && trimmed.ends_with("}}")
}

/// The link and image targets on a line of prose, outside inline code.
pub(crate) fn link_targets(line: &str) -> Vec<String> {
    // Drop inline code spans first: `](x)` inside backticks is not a link.
    let mut visible = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code {
            visible.push(c);
        }
    }
    let mut targets = Vec::new();
    let mut rest = visible.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let end = after.find(')').unwrap_or(after.len());
        let target = after[..end].split_whitespace().next().unwrap_or("");
        targets.push(target.trim_matches(|c| c == '<' || c == '>').to_owned());
        rest = &after[end..];
    }
    for attribute in &["src=\"", "href=\""] {
        let mut rest = visible.as_str();
        while let Some(at) = rest.find(attribute) {
            let after = &rest[at + attribute.len()..];
            let end = after.find('"').unwrap_or(after.len());
            targets.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    targets
}

/// The chapter files SUMMARY.md lists, with their line numbers.
pub(crate) fn summary_entries(text: &str) -> Vec<(usize, String)> {
    let (_, prose) = split_fences(text);
    prose
        .iter()
        .flat_map(|(line, content)| {
            link_targets(content)
                .into_iter()
                .filter(|target| !target.is_empty())
                .map(move |target| (*line, target))
        })
        .collect()
}
