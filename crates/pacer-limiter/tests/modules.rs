//! Modules import one way (issue 18): no module of a crate reaches, through
//! the modules it names, back to itself. `limiter.rs` <-> `rate_limit.rs` <->
//! `stats.rs` and `listeners.rs` <-> `proxy.rs` once did; this keeps such
//! circles from coming back, in this crate and in every crate of the
//! workspace.
//!
//! A crate's modules are its top-level ones: `src/x.rs`, or `src/x/` with
//! everything under it. A module names another when its code (comments and
//! string literals left out) holds a path `crate::other...`, a path through
//! `super::` that climbs to the crate's root, or `crate::Name` where the
//! root (`lib.rs`, `main.rs`) imports `Name` from `other`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module of the crate whose sources are in `src`, with the
/// other top-level modules it names.
pub fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files: Vec<(String, usize, PathBuf)> = Vec::new();
    collect(src, src, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .filter(|(module, _, _)| !module.is_empty())
        .map(|(module, _, _)| module.clone())
        .collect();
    // What the crate's root imports (`pub use stats::{ratio, ...}`) is
    // reachable as `crate::ratio`: charge such a path to `stats`.
    let mut reexports: BTreeMap<String, String> = BTreeMap::new();
    for (module, _, path) in &files {
        if module.is_empty() {
            let code = read(path);
            for (from, names) in root_imports(&code) {
                if modules.contains(&from) {
                    for name in names {
                        reexports.insert(name, from.clone());
                    }
                }
            }
        }
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for (module, depth, path) in &files {
        if module.is_empty() {
            continue;
        }
        for name in named_from_root(&read(path), *depth) {
            let target = if modules.contains(&name) {
                Some(&name)
            } else {
                reexports.get(&name)
            };
            if let Some(target) = target.filter(|t| *t != module) {
                graph.get_mut(module).unwrap().insert(target.clone());
            }
        }
    }
    graph
}

/// A circle of modules, each naming the next and the last the first, if
/// the graph has one.
pub fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            return Some(path[at..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

/// Fails, naming the circle and every module's imports, when the crate
/// whose sources are in `src` has a circle of modules.
pub fn assert_modules_import_one_way(src: &Path) {
    let graph = module_graph(src);
    if let Some(cycle) = find_cycle(&graph) {
        let mut shown = cycle.join(" -> ");
        shown.push_str(&format!(" -> {}", cycle[0]));
        let listing: String = graph
            .iter()
            .map(|(m, deps)| {
                let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
                format!("  {m} -> {}\n", deps.join(", "))
            })
            .collect();
        panic!(
            "{}: modules import each other in a circle: {shown}\n\
             move what they share into a module of its own, or to the side that \
             owns it, so that only one names the other\n{listing}",
            src.display()
        );
    }
}

/// Every `.rs` file under `dir`, with its top-level module ("" for the
/// crate's root) and its depth below `src` (`src/x.rs` is 1).
fn collect(src: &Path, dir: &Path, out: &mut Vec<(String, usize, PathBuf)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(src, &path, out);
            continue;
        }
        if path.extension() != Some(std::ffi::OsStr::new("rs")) {
            continue;
        }
        let rel = path.strip_prefix(src).unwrap();
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        let top = &parts[0];
        if parts.len() == 1 && (top == "lib" || top == "main") {
            out.push((String::new(), 0, path));
        } else {
            // `src/x/mod.rs` is as deep as `src/x.rs`.
            let depth = parts.len() - usize::from(parts.last().unwrap() == "mod");
            out.push((top.clone(), depth, path));
        }
    }
}

fn read(path: &Path) -> Vec<Token> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    tokens(&text)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

/// The code's identifiers and punctuation, without comments, string and
/// character literals or lifetimes.
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r'
            && (at(i + 1) == '"' || (at(i + 1) == '#' && matches!(at(i + 2), '"' | '#')))
        {
            // A raw string: r"...", r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (1..=hashes).all(|h| at(j + h) == '#') {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if at(i + 1) == '\\' {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while at(i).is_alphanumeric() || at(i) == '_' {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == ':' && at(i + 1) == ':' {
            out.push(Token::Path);
            i += 2;
        } else if c.is_whitespace() || c.is_ascii_digit() {
            i += 1;
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

fn ident(tokens: &[Token], i: usize) -> Option<&str> {
    match tokens.get(i) {
        Some(Token::Ident(s)) => Some(s),
        _ => None,
    }
}

/// The first segments below the crate's root of every path in the code of
/// a file `depth` levels below `src`: `crate::a::b` and `crate::{a, b::c}`
/// give `a` (and `b`); `super::` counts as far as it climbs, inline
/// modules (`mod tests { .. }`) included.
fn named_from_root(tokens: &[Token], depth: usize) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    // Braces open at each inline module's start, innermost last.
    let mut inline: Vec<usize> = Vec::new();
    let mut braces = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Punct('{') => braces += 1,
            Token::Punct('}') => {
                braces = braces.saturating_sub(1);
                if inline.last() == Some(&braces) {
                    inline.pop();
                }
            }
            Token::Ident(word)
                if word == "mod"
                    && ident(tokens, i + 1).is_some()
                    && tokens.get(i + 2) == Some(&Token::Punct('{')) =>
            {
                inline.push(braces);
            }
            Token::Ident(word)
                if (word == "crate" || word == "super")
                    && tokens.get(i + 1) == Some(&Token::Path)
                    && !(i > 0 && tokens[i - 1] == Token::Path) =>
            {
                let mut j = i;
                let mut up = 0;
                let from_root = if word == "crate" {
                    j += 2;
                    true
                } else {
                    while ident(tokens, j) == Some("super")
                        && tokens.get(j + 1) == Some(&Token::Path)
                    {
                        up += 1;
                        j += 2;
                    }
                    up >= depth + inline.len()
                };
                if from_root {
                    out.extend(first_segments(tokens, j));
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The first segment of the path or use tree at `tokens[i]`: `a` of
/// `a::b`, `a` and `b` of `{a, b::{c, d}}`.
fn first_segments(tokens: &[Token], i: usize) -> Vec<String> {
    if let Some(name) = ident(tokens, i) {
        return vec![name.to_string()];
    }
    let mut out = Vec::new();
    if tokens.get(i) != Some(&Token::Punct('{')) {
        return out;
    }
    let mut depth = 0;
    let mut expect = true;
    for token in &tokens[i..] {
        match token {
            Token::Punct('{') => {
                depth += 1;
                expect = depth == 1;
            }
            Token::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Token::Punct(',') if depth == 1 => expect = true,
            Token::Ident(name) if expect && depth == 1 => {
                out.push(name.clone());
                expect = false;
            }
            _ => {}
        }
    }
    out
}

/// The root's `use` items: for each, the module it imports from and the
/// names it brings in (an alias when there is one).
fn root_imports(tokens: &[Token]) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if ident(tokens, i) != Some("use") {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        if ident(tokens, j) == Some("crate") && tokens.get(j + 1) == Some(&Token::Path) {
            j += 2;
        }
        let Some(from) = ident(tokens, j) else {
            i += 1;
            continue;
        };
        let end = (j..tokens.len())
            .find(|&k| tokens[k] == Token::Punct(';'))
            .unwrap_or(tokens.len());
        // The leaves: names followed by `,`, `}` or `;` (`A as B` gives B).
        let mut names = Vec::new();
        for k in j..end {
            if let Some(name) = ident(tokens, k) {
                let next = tokens.get(k + 1).unwrap_or(&Token::Punct(';'));
                if matches!(next, Token::Punct(',' | '}' | ';')) && name != "self" {
                    names.push(name.to_string());
                }
            }
        }
        out.push((from.to_string(), names));
        i = end;
    }
    out
}

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn pacer_limiter_modules_import_one_way() {
    assert_modules_import_one_way(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
}

#[test]
fn every_crates_modules_import_one_way() {
    let mut checked = 0;
    let mut crates: Vec<PathBuf> = std::fs::read_dir(crates_dir())
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|src| src.is_dir())
        .collect();
    crates.sort();
    for src in crates {
        assert_modules_import_one_way(&src);
        checked += 1;
    }
    assert!(checked >= 7, "found only {checked} crates");
}

/// The check can fail: a circle, through a grouped import, a root
/// re-export and a climb out of a test module, is found; comments, strings
/// and a test module's `super::` are not imports.
#[test]
fn a_circle_is_found_and_what_is_no_import_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |name: &str, text: &str| {
        let path = src.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "lib.rs",
        "mod a; mod b; mod c; mod d;\npub use c::{Gamma, Other as Renamed};\n",
    );
    write(
        "a.rs",
        "use crate::{\n    b::Beta,\n    x,\n};\n// crate::d::Nope\nconst S: &str = \"crate::d\";\nconst C: char = '\"';\nfn f<'a>(_: &'a str) {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::d;\n}\n",
    );
    write("b.rs", "pub struct Beta(crate::Renamed);\n");
    write(
        "c/mod.rs",
        "mod inner;\npub struct Gamma;\npub struct Other;\n",
    );
    write("c/inner.rs", "use super::super::a::f;\nuse super::Gamma;\n");
    write("d.rs", "");
    let graph = module_graph(src);
    let deps = |m: &str| graph[m].iter().cloned().collect::<Vec<_>>();
    assert_eq!(deps("a"), ["b"]);
    assert_eq!(deps("b"), ["c"]);
    assert_eq!(deps("c"), ["a"]);
    assert!(deps("d").is_empty());
    let mut cycle = find_cycle(&graph).expect("a -> b -> c -> a");
    cycle.sort();
    assert_eq!(cycle, ["a", "b", "c"]);
    write("c/inner.rs", "use super::Gamma;\n");
    assert_eq!(find_cycle(&module_graph(src)), None);
}
