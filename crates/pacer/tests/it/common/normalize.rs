//! The one normaliser for snapshots of what pacer and pytest print: the
//! text a user reads, less what belongs to the machine or the moment.
//!
//! [`settings`] gives insta filters for
//! - paths: the folders a test names (`[DIR]`, or the label it gives), the
//!   test interpreter (`[PYTHON]`), the repository (`[REPO]`), any other
//!   temporary folder (`[TMP]`);
//! - times: pytest's `in 1.23s` (and `(0:01:15)` past a minute) becomes
//!   `in [T]s`, and a final line framed in `=` is reframed as
//!   `=== … ===`, since the frame's width follows the time's length;
//! - pytest's `platform linux -- Python 3.11.7, pytest-…, pluggy-…`
//!   (`[PLATFORM]`), which names this machine's Python, and its `plugins:`
//!   line (`[PLUGINS]`), whose versions the venv's resolver picks;
//! - process ids (`pid 12345`).
//!
//! [`any_worker_order`] is for runs on several workers: the `-v` lines'
//! `[gw0] [ 10%]` prefixes become `[gw?] [ ?%]` and each run of such
//! lines is sorted, as two workers finish tests in any order.
//!
//! Update a snapshot with `INSTA_UPDATE=always cargo test -p pacer --test
//! it NAME` and read its diff before committing it.

use std::path::Path;

/// Filters for a snapshot of output that names `dirs` (each with its
/// label, such as `[DIR]`), besides what every output has in common.
pub fn settings(dirs: &[(&Path, &str)]) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let mut paths: Vec<(String, String)> = Vec::new();
    let python = super::python();
    let mut add = |path: &Path, label: &str| {
        for form in [Some(path.to_path_buf()), path.canonicalize().ok()]
            .into_iter()
            .flatten()
        {
            let text = form.display().to_string();
            if !text.is_empty() && !paths.iter().any(|(p, _)| *p == text) {
                paths.push((text, label.to_string()));
            }
        }
    };
    for (dir, label) in dirs {
        add(dir, label);
    }
    add(&python, "[PYTHON]");
    add(&super::repo_root(), "[REPO]");
    // The longest first, so that a folder inside another keeps its label.
    paths.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    for (path, label) in &paths {
        settings.add_filter(&regex_escape(path), label.as_str());
    }
    let tmp = std::env::temp_dir();
    for form in [Some(tmp.clone()), tmp.canonicalize().ok()]
        .into_iter()
        .flatten()
    {
        let tmp = regex_escape(form.display().to_string().trim_end_matches('/'));
        settings.add_filter(&format!(r"{tmp}/\.tmp[A-Za-z0-9]{{6}}"), "[TMP]");
    }
    settings.add_filter(r"\bin \d+(?:\.\d+)?s(?: \(\d+:\d{2}:\d{2}\))?", "in [T]s");
    settings.add_filter(r"(?m)^=+ (.*in \[T\]s.*?) =+$", "=== $1 ===");
    settings.add_filter(
        r"(?m)^platform \S+ -- Python \S+, pytest-\S+, pluggy-[^\s,]+",
        "platform [PLATFORM]",
    );
    settings.add_filter(r"(?m)^plugins: .*$", "plugins: [PLUGINS]");
    settings.add_filter(r"\bpid \d+", "pid [PID]");
    settings
}

/// `-v` lines of a run on several workers with their worker and progress
/// redacted and each run of them sorted (see the module doc).
pub fn any_worker_order(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let flush = |out: &mut Vec<String>, run: &mut Vec<String>| {
        run.sort();
        out.append(run);
    };
    for line in text.lines() {
        match verbose_tail(line) {
            Some(tail) => run.push(format!("[gw?] [ ?%] {tail}")),
            None => {
                flush(&mut out, &mut run);
                out.push(line.to_string());
            }
        }
    }
    flush(&mut out, &mut run);
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

/// `WORD id` of pacer's `[gw0] [ 10%] WORD id` line.
pub fn verbose_tail(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("[gw")?;
    let (worker, rest) = rest.split_once("] [")?;
    worker.parse::<u32>().ok()?;
    let (percent, tail) = rest.split_once("%] ")?;
    percent.trim().parse::<u32>().ok()?;
    Some(tail)
}

pub fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// `text` with the parameters of `function[...]` redacted to
/// `function[?]`, for a message whose test depends on timing (which of a
/// parametrized function's tests a worker was handed first).
pub fn any_param(text: &str, function: &str) -> String {
    let open = format!("{function}[");
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(&open) {
        out.push_str(&rest[..at + open.len()]);
        rest = &rest[at + open.len()..];
        match rest.find(']') {
            Some(close) => {
                out.push('?');
                rest = &rest[close..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// `text` with the bodies of its `ERRORS` and `FAILURES` blocks left out:
/// their `___ heading ___` and `--- Captured … ---` lines stay. What a
/// traceback shows follows the Python version (`^^^^` markers, frozen
/// importlib's line numbers); the outline does not.
pub fn outline(text: &str) -> String {
    let mut out = String::new();
    let mut in_blocks = false;
    for line in text.lines() {
        if line.starts_with('=') {
            let title = line.trim_matches('=').trim();
            in_blocks = title == "ERRORS" || title == "FAILURES";
        } else if in_blocks && !(line.starts_with("___") || line.starts_with("---")) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `text` with every worker name (`gw0`, `gw12`) as `gw?`, for a message
/// whose worker depends on timing.
pub fn any_worker_name(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("gw") {
        out.push_str(&rest[..at + 2]);
        rest = &rest[at + 2..];
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits > 0 {
            out.push('?');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}
