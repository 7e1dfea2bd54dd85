//! The library's modules form layers: no module imports, directly or through others, a
//! module that imports it back.
//!
//! This test reads the sources under src/, finds every path into the crate (`use crate::`
//! lines, `crate::` paths in code, `super::` and `self::` paths, and paths through a child
//! module), and fails on any cycle among the modules, printing it with the line of each
//! import. Comments, doc comments and string literals are ignored, so an intra-doc link
//! to a module above is fine; so are `#[cfg(test)]` modules, which sit above the crate.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use common::process::TempDir;

/// One module's use of another: `from` names `to` at `file:line`.
#[derive(Debug, Clone)]
struct Edge {
    from: String,
    to: String,
    file: PathBuf,
    line: usize,
}

/// A source file of the crate and the module path it defines (`""` for the crate root).
struct Source {
    module: String,
    file: PathBuf,
    text: String,
}

/// Every `.rs` file under `dir`, with its module path.
fn sources(dir: &Path) -> Vec<Source> {
    let mut found = Vec::new();
    collect(dir, dir, &mut found);
    found.sort_by(|a, b| a.module.cmp(&b.module));
    found
}

fn collect(root: &Path, dir: &Path, found: &mut Vec<Source>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {}", dir.display(), err))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("cannot read {}: {}", path.display(), err));
            found.push(Source {
                module: module_of(root, &path),
                file: path,
                text,
            });
        }
    }
}

/// `lib.rs` -> `""`, `codec.rs` -> `codec`, `connection/mod.rs` -> `connection`,
/// `connection/transport.rs` -> `connection::transport`.
fn module_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).expect("file under src/");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_owned());
    }
    parts.join("::")
}

/// The code of `text` with comments and the contents of string and char literals
/// blanked out (newlines kept, so line numbers stay right).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && is_raw_string(&chars, i) {
            // r"..." or r#"..."#
            let mut hashes = 0;
            out.push(' ');
            i += 1;
            while chars.get(i) == Some(&'#') {
                hashes += 1;
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
            while i < chars.len() {
                if chars[i] == '"' && (0..hashes).all(|k| chars.get(i + 1 + k) == Some(&'#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += 1 + hashes;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if let Some(&c) = chars.get(i) {
                    out.push(blank(c));
                }
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && is_char_literal(&chars, i) {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_raw_string(chars: &[char], i: usize) -> bool {
    let before_ok = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let mut j = i + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    before_ok && chars.get(j) == Some(&'"')
}

/// `'a'`, `'\n'`, `'\''`; not a lifetime such as `'a` or `'static`.
fn is_char_literal(chars: &[char], i: usize) -> bool {
    match chars.get(i + 1) {
        Some('\\') => true,
        Some(_) => chars.get(i + 2) == Some(&'\''),
        None => false,
    }
}

/// The crate-relative paths that `source` names, each with its line: what `use` items
/// import (braces expanded) and every other path that starts with `crate`, `super` or
/// `self`. Paths inside an inline `mod name { .. }` resolve from that inner module.
fn paths(source: &Source, children: &BTreeSet<String>) -> Vec<(Vec<String>, usize)> {
    let code = code_only(&source.text);
    let tokens = tokenize(&code);
    let base: Vec<String> = if source.module.is_empty() {
        Vec::new()
    } else {
        source.module.split("::").map(str::to_owned).collect()
    };
    let mut found = Vec::new();
    // The inline modules around the current token, with the brace depth each opened at,
    // and whether it is compiled for tests only.
    let mut inline: Vec<(String, usize, bool)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        let (ref token, line) = tokens[i];
        match token.as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if inline.last().is_some_and(|(_, at, _)| *at == depth) {
                    inline.pop();
                }
            }
            "mod" => {
                if let (Some((name, _)), Some((brace, _))) = (tokens.get(i + 1), tokens.get(i + 2))
                {
                    if brace == "{" {
                        let attribute: Vec<&str> = tokens[i.saturating_sub(7)..i]
                            .iter()
                            .map(|(t, _)| t.as_str())
                            .collect();
                        let test_only = attribute == ["#", "[", "cfg", "(", "test", ")", "]"];
                        inline.push((name.clone(), depth, test_only));
                        depth += 1;
                        i += 3;
                        continue;
                    }
                }
            }
            _ => {}
        }
        let here: Vec<String> = base
            .iter()
            .cloned()
            .chain(inline.iter().map(|(name, _, _)| name.clone()))
            .collect();
        // Test modules sit above the whole crate: what they import is not a layer's.
        let in_test = inline.iter().any(|(_, _, test_only)| *test_only);
        if token == "use" {
            let end = tokens[i..]
                .iter()
                .position(|(t, _)| t == ";")
                .map_or(tokens.len(), |n| i + n);
            let tree: Vec<String> = tokens[i + 1..end].iter().map(|(t, _)| t.clone()).collect();
            for path in expand_use(&tree) {
                if let Some(resolved) = resolve(&path, &here, &base, children) {
                    if !in_test {
                        found.push((resolved, line));
                    }
                }
            }
            i = end + 1;
            continue;
        }
        let starts_path = matches!(token.as_str(), "crate" | "super" | "self")
            && tokens.get(i + 1).is_some_and(|(t, _)| t == "::")
            && (i == 0 || tokens[i - 1].0 != "::");
        if starts_path {
            let mut path = vec![token.clone()];
            let mut j = i + 1;
            while tokens.get(j).is_some_and(|(t, _)| t == "::") {
                match tokens.get(j + 1) {
                    Some((t, _)) if is_ident(t) => {
                        path.push(t.clone());
                        j += 2;
                    }
                    _ => break,
                }
            }
            if let Some(resolved) = resolve(&path, &here, &base, children) {
                if !in_test {
                    found.push((resolved, line));
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    found
}

fn is_ident(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::`, and single punctuation characters, each with its line.
fn tokenize(code: &str) -> Vec<(String, usize)> {
    let mut tokens = Vec::new();
    for (index, line) in code.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_alphanumeric() || c == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                tokens.push((chars[start..i].iter().collect(), index + 1));
            } else if c == ':' && chars.get(i + 1) == Some(&':') {
                tokens.push(("::".to_owned(), index + 1));
                i += 2;
            } else if !c.is_whitespace() {
                tokens.push((c.to_string(), index + 1));
                i += 1;
            } else {
                i += 1;
            }
        }
    }
    tokens
}

/// The paths a `use` tree names: `crate::{a::B, c}` -> `crate::a::B`, `crate::c`.
fn expand_use(tree: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    expand(tree, &[], &mut out);
    out
}

fn expand(tree: &[String], prefix: &[String], out: &mut Vec<Vec<String>>) {
    // Split the tree at top-level commas.
    let mut depth = 0;
    let mut start = 0;
    let mut items = Vec::new();
    for (k, token) in tree.iter().enumerate() {
        match token.as_str() {
            "{" => depth += 1,
            "}" => depth -= 1,
            "," if depth == 0 => {
                items.push(&tree[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    items.push(&tree[start..]);
    for item in items {
        let mut path = prefix.to_vec();
        let mut k = 0;
        let mut nested = false;
        while k < item.len() {
            let token = &item[k];
            if token == "{" {
                let close = item.len() - 1 - item.iter().rev().position(|t| t == "}").unwrap_or(0);
                expand(&item[k + 1..close], &path, out);
                nested = true;
                break;
            } else if token == "as" || token == "*" {
                break;
            } else if token != "::" && token != "pub" {
                path.push(token.clone());
            }
            k += 1;
        }
        if !nested && !path.is_empty() {
            out.push(path);
        }
    }
}

/// The module a path lands in, as a full module path (`[]` is the crate root), if it
/// is a path into the crate. `here` is the module the path is written in (inline
/// modules included); `file` is the file's own module.
fn resolve(
    path: &[String],
    here: &[String],
    file: &[String],
    children: &BTreeSet<String>,
) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    let mut absolute: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => {
            let mut up = here.to_vec();
            up.pop();
            up
        }
        // A path through a child module of this file (2018 edition relative paths).
        name => {
            let child = file
                .iter()
                .cloned()
                .chain(std::iter::once(name.to_owned()))
                .collect::<Vec<_>>()
                .join("::");
            if children.contains(&child) {
                let mut p = file.to_vec();
                p.push(name.to_owned());
                p.extend(rest.iter().cloned());
                return Some(p);
            }
            return None;
        }
    };
    let mut rest = rest;
    while let Some((head, tail)) = rest.split_first() {
        if head != "super" {
            break;
        }
        absolute.pop();
        rest = tail;
    }
    absolute.extend(rest.iter().cloned());
    Some(absolute)
}

/// The longest prefix of `path` that is a module with a file of its own.
fn owning_module(path: &[String], modules: &BTreeSet<String>) -> String {
    for len in (0..=path.len()).rev() {
        let candidate = path[..len].join("::");
        if modules.contains(&candidate) {
            return candidate;
        }
    }
    String::new()
}

/// Every import between two different modules of the crate in `dir`.
fn edges(dir: &Path) -> Vec<Edge> {
    let sources = sources(dir);
    let modules: BTreeSet<String> = sources.iter().map(|s| s.module.clone()).collect();
    let mut edges = Vec::new();
    for source in &sources {
        let base: Vec<String> = if source.module.is_empty() {
            Vec::new()
        } else {
            source.module.split("::").map(str::to_owned).collect()
        };
        for (path, line) in paths(source, &modules) {
            let to = owning_module(&path, &modules);
            // A module naming itself is no import; the crate root declares and
            // re-exports every module, so it sits above them all.
            if to == source.module || base.is_empty() {
                continue;
            }
            edges.push(Edge {
                from: source.module.clone(),
                to,
                file: source.file.clone(),
                line,
            });
        }
    }
    edges
}

/// A cycle among `edges`, as the edges that make it, if there is one.
fn find_cycle(edges: &[Edge]) -> Option<Vec<Edge>> {
    let mut graph: BTreeMap<&str, Vec<&Edge>> = BTreeMap::new();
    for edge in edges {
        graph.entry(&edge.from).or_default().push(edge);
    }
    // Depth-first search; `state`: 1 on the current path, 2 done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    let mut stack: Vec<&Edge> = Vec::new();
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a Edge>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a Edge>,
    ) -> Option<Vec<Edge>> {
        state.insert(node, 1);
        for edge in graph.get(node).map(Vec::as_slice).unwrap_or(&[]) {
            match state.get(edge.to.as_str()) {
                Some(1) => {
                    let start = stack
                        .iter()
                        .position(|e| e.from == edge.to)
                        .unwrap_or(stack.len());
                    let mut cycle: Vec<Edge> =
                        stack[start..].iter().map(|e| (*e).clone()).collect();
                    cycle.push((*edge).clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    stack.push(edge);
                    if let Some(cycle) = visit(&edge.to, graph, state, stack) {
                        return Some(cycle);
                    }
                    stack.pop();
                }
            }
        }
        state.insert(node, 2);
        None
    }
    let nodes: Vec<&str> = graph.keys().copied().collect();
    for node in nodes {
        if !state.contains_key(node) {
            if let Some(cycle) = visit(node, &graph, &mut state, &mut stack) {
                return Some(cycle);
            }
        }
    }
    None
}

fn describe(cycle: &[Edge]) -> String {
    let name = |m: &str| {
        if m.is_empty() {
            "crate".to_owned()
        } else {
            m.to_owned()
        }
    };
    let mut text = cycle
        .iter()
        .map(|e| name(&e.from))
        .collect::<Vec<_>>()
        .join(" -> ");
    text.push_str(&format!(" -> {}\n", name(&cycle[0].from)));
    for edge in cycle {
        text.push_str(&format!(
            "  {}:{}: {} uses {}\n",
            edge.file.display(),
            edge.line,
            name(&edge.from),
            name(&edge.to)
        ));
    }
    text
}

#[test]
fn the_modules_of_src_import_each_other_without_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = edges(&src);
    // The parser must see the imports at all, or this test could not fail.
    assert!(
        edges.iter().any(|e| e.from == "codec" && e.to == "message"),
        "the parser found no import of message in codec.rs: {:?}",
        edges
    );
    if let Some(cycle) = find_cycle(&edges) {
        panic!(
            "the modules of src/ import each other in a cycle:\n{}",
            describe(&cycle)
        );
    }
}

/// Writes `files` (path, text) under a fresh directory and returns its edges.
fn edges_of(name: &str, files: &[(&str, &str)]) -> Vec<Edge> {
    let dir = TempDir::new(&format!("module-layers-{}", name));
    for (path, text) in files {
        let file = dir.path().join(path);
        fs::create_dir_all(file.parent().expect("a parent directory")).expect("create dir");
        fs::write(&file, text).expect("write file");
    }
    edges(dir.path())
}

#[test]
fn a_cycle_through_grouped_uses_code_paths_and_super_is_found_and_printed() {
    let edges = edges_of(
        "cycle",
        &[
            ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
            ("a.rs", "use crate::{b::{self, B}, x};\n"),
            // A path in code, not in a `use`.
            ("b.rs", "fn f() -> u8 { crate::c::conn::C }\n"),
            ("c/mod.rs", "mod conn;\n"),
            // `super::` from a child module lands in its parent's parent here.
            ("c/conn.rs", "use super::super::a::A;\n"),
        ],
    );
    let cycle = find_cycle(&edges).expect("the cycle a -> b -> c::conn -> a");
    let text = describe(&cycle);
    assert!(text.starts_with("a -> b -> c::conn -> a\n"), "{}", text);
    assert!(text.contains("b.rs:1: b uses c::conn"), "{}", text);
}

#[test]
fn comments_strings_and_test_modules_are_not_imports() {
    let edges = edges_of(
        "no-cycle",
        &[
            ("lib.rs", "mod a;\nmod b;\n"),
            (
                "a.rs",
                "//! See [`B`](crate::b::B).\nmod inner;\nuse inner::I;\nconst S: &str = \"crate::b::B\";\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use crate::b::B;\n}\n",
            ),
            ("a/inner.rs", "pub struct I;\n"),
            ("b.rs", "use crate::a::A;\n"),
        ],
    );
    assert!(find_cycle(&edges).is_none(), "{:?}", edges);
    let names: Vec<(String, String)> = edges.into_iter().map(|e| (e.from, e.to)).collect();
    let expected = [("a", "a::inner"), ("b", "a")];
    assert_eq!(
        names,
        expected
            .iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect::<Vec<_>>()
    );
}
