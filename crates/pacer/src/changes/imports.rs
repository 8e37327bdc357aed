//! Import statements read from Python source without Python.
//!
//! `--changed` needs every module a file imports, from thousands of files,
//! fast, and the same on every machine: this lexer finds the logical lines
//! (brackets and backslashes join physical lines, `;` splits them), blanks
//! out strings and comments (so a docstring or a comment that says
//! "import" is not one), and reads the `import` and `from ... import`
//! statements among them at any indentation: inside functions, `try`
//! blocks and `if TYPE_CHECKING:` alike, which is what a change can reach.
//! What it cannot see is said in docs/changed.md: `importlib`,
//! `__import__`, plugins, data files.

use serde::{Deserialize, Serialize};

/// One imported module, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    /// The leading dots of a relative import (0: absolute).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub level: u32,
    /// The module after `import` or `from` (without the dots); empty in
    /// `from . import x`.
    pub module: String,
    /// In `from M import a, b`: `a` and `b`, each maybe a submodule of M.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

fn is_zero(level: &u32) -> bool {
    *level == 0
}

/// Every import statement of `source`, in order, each once.
pub fn parse(source: &str) -> Vec<Import> {
    let mut found: Vec<Import> = Vec::new();
    for line in logical_lines(source) {
        if let Some(statement) = statement(&line) {
            for import in read(statement) {
                if !found.contains(&import) {
                    found.push(import);
                }
            }
        }
    }
    found
}

/// Compound statements whose body may follow the colon on the same line
/// (`try: import x`, `if TYPE_CHECKING: from a import b`).
const HEADERS: [&str; 10] = [
    "try", "else", "finally", "except", "if", "elif", "while", "for", "with", "async",
];

/// The import statement a logical line holds, if it holds one.
fn statement(line: &str) -> Option<&str> {
    let line = line.trim();
    if starts_with_word(line, "import") || starts_with_word(line, "from") {
        return Some(line);
    }
    let first = line
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()?;
    if HEADERS.contains(&first) {
        let (_, body) = line.split_once(':')?;
        return statement(body);
    }
    None
}

fn starts_with_word(line: &str, word: &str) -> bool {
    line.strip_prefix(word).is_some_and(|rest| {
        rest.starts_with(|c: char| c.is_whitespace() || (word == "from" && c == '.'))
    })
}

/// `import a.b as c, d` or `from ..a import (b, c as d)`.
fn read(statement: &str) -> Vec<Import> {
    if let Some(rest) = statement.strip_prefix("import") {
        return rest
            .split(',')
            .filter_map(|part| part.split_whitespace().next())
            .filter(|m| is_dotted_name(m))
            .map(|module| Import {
                level: 0,
                module: module.to_string(),
                names: Vec::new(),
            })
            .collect();
    }
    let Some(rest) = statement.strip_prefix("from") else {
        return Vec::new();
    };
    let Some((source, names)) = split_word(rest, "import") else {
        return Vec::new();
    };
    let source = source.trim();
    let module = source.trim_start_matches('.');
    let level = (source.len() - module.len()) as u32;
    let module: String = module.split_whitespace().collect();
    if !(module.is_empty() && level > 0 || is_dotted_name(&module)) {
        return Vec::new();
    }
    let names = names
        .replace(['(', ')'], " ")
        .split(',')
        .filter_map(|part| part.split_whitespace().next())
        .filter(|n| *n != "*" && is_dotted_name(n))
        .map(str::to_string)
        .collect();
    vec![Import {
        level,
        module,
        names,
    }]
}

/// `text` cut around the first ` import ` that is a word.
fn split_word<'a>(text: &'a str, word: &str) -> Option<(&'a str, &'a str)> {
    let mut from = 0;
    while let Some(at) = text[from..].find(word) {
        let start = from + at;
        let end = start + word.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if boundary(before) && boundary(after) {
            return Some((&text[..start], &text[end..]));
        }
        from = end;
    }
    None
}

fn is_dotted_name(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// The source's logical lines, strings replaced by `""` and comments gone.
fn logical_lines(source: &str) -> Vec<String> {
    let chars: Vec<char> = source.chars().collect();
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                line.push(' ');
                i += 2;
                continue;
            }
            '\'' | '"' => {
                i = skip_string(&chars, i);
                line.push_str("\"\"");
                continue;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '\n' | ';' if depth == 0 => {
                lines.push(std::mem::take(&mut line));
                i += 1;
                continue;
            }
            '\n' => {
                line.push(' ');
                i += 1;
                continue;
            }
            _ => {}
        }
        line.push(c);
        i += 1;
    }
    lines.push(line);
    lines
}

/// The index just past the string literal opening at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let triple = chars.get(start + 1) == Some(&quote) && chars.get(start + 2) == Some(&quote);
    let mut i = start + if triple { 3 } else { 1 };
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == quote => {
                if !triple {
                    return i + 1;
                }
                if chars.get(i + 1) == Some(&quote) && chars.get(i + 2) == Some(&quote) {
                    return i + 3;
                }
                i += 1;
            }
            // An unclosed one-line string ends with its line (a syntax
            // error in Python; here it must not swallow the file).
            '\n' if !triple => return i,
            _ => i += 1,
        }
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modules(source: &str) -> Vec<(u32, String, Vec<String>)> {
        parse(source)
            .into_iter()
            .map(|i| (i.level, i.module, i.names))
            .collect()
    }

    fn abs(module: &str) -> (u32, String, Vec<String>) {
        (0, module.to_string(), Vec::new())
    }

    #[test]
    fn plain_imports_with_aliases_and_several_per_line() {
        assert_eq!(
            modules("import os\nimport a.b as c, d\nimport   e.f\n"),
            vec![abs("os"), abs("a.b"), abs("d"), abs("e.f")]
        );
    }

    #[test]
    fn from_imports_name_what_may_be_submodules() {
        assert_eq!(
            modules("from pkg import sub, other as o\nfrom pkg.mod import (\n    x,\n    y as z,\n)\nfrom a import *\n"),
            vec![
                (0, "pkg".into(), vec!["sub".into(), "other".into()]),
                (0, "pkg.mod".into(), vec!["x".into(), "y".into()]),
                (0, "a".into(), vec![]),
            ]
        );
    }

    #[test]
    fn relative_imports_keep_their_level() {
        assert_eq!(
            modules("from . import y\nfrom ..a import b\nfrom .c.d import e\nfrom.f import g\n"),
            vec![
                (1, "".into(), vec!["y".into()]),
                (2, "a".into(), vec!["b".into()]),
                (1, "c.d".into(), vec!["e".into()]),
                (1, "f".into(), vec!["g".into()]),
            ]
        );
    }

    #[test]
    fn imports_inside_functions_try_blocks_and_one_line_bodies_count() {
        let source = "\
def f():
    import inner
    if True:
        from deep import x
try: import fast
except ImportError: import slow
if TYPE_CHECKING: from typing_only import T
x = 1; import after_semicolon
import back,\\
    slashed
";
        assert_eq!(
            modules(source),
            vec![
                abs("inner"),
                (0, "deep".into(), vec!["x".into()]),
                abs("fast"),
                abs("slow"),
                (0, "typing_only".into(), vec!["T".into()]),
                abs("after_semicolon"),
                abs("back"),
                abs("slashed"),
            ]
        );
    }

    #[test]
    fn strings_and_comments_that_say_import_are_not_imports() {
        let source = r#"
"""Module docstring.

import not_a_module
from nowhere import nothing
"""
# import commented
x = "import quoted"
y = 'from a import b'
z = f"""{1}
import in_fstring
"""
s = "escaped \" import still_string"
important = 1
from_here = 2
def g(): return "import x"
import real  # import trailing_comment
"#;
        assert_eq!(modules(source), vec![abs("real")]);
    }

    #[test]
    fn an_unclosed_string_does_not_hide_the_rest_of_the_file() {
        assert_eq!(modules("x = 'oops\nimport later\n"), vec![abs("later")]);
    }
}
