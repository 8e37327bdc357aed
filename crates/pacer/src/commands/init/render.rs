//! The proposal as commented TOML, and as the diff `pacer init` shows
//! before it writes.

use std::fmt::Write;

use super::propose::Proposal;

/// The section to append: `[tool.pacer...]` tables for `pyproject.toml`
/// (`prefix` = `"tool.pacer"`), top-level tables for `pacer.toml` (`""`).
pub fn section(proposal: &Proposal, prefix: &str, looked_at: &str) -> String {
    let key = |rest: &str| {
        if prefix.is_empty() {
            rest.to_string()
        } else {
            format!("{prefix}.{rest}")
        }
    };
    let mut out = String::new();
    let _ = writeln!(out, "# pacer: written by `pacer init` from {looked_at}.");
    out.push_str(
        "# Categories are tried by `order` (lower first, built-ins: serial -10,\n\
         # unit 0 ... live 40, then these in this order); a test none selects runs\n\
         # in `default`. `pacer list` shows where each test lands, `pacer config`\n\
         # every setting, `pacer config --defaults` every key with its default.\n",
    );
    for note in &proposal.notes {
        let _ = writeln!(out, "# - {note}");
    }
    if prefix == "tool.pacer" {
        // An empty [tool.pacer] makes the section easy to find and extend.
        let _ = writeln!(out, "[tool.pacer]");
    }
    for c in &proposal.categories {
        out.push('\n');
        for why in &c.why {
            let _ = writeln!(out, "# {why}");
        }
        let _ = writeln!(out, "[{}]", key(&format!("categories.{}", c.name)));
        if c.builtin_override {
            let _ = writeln!(out, "rate_limited = true");
            continue;
        }
        let _ = writeln!(out, "description = {}", quote(&c.description));
        if !c.paths.is_empty() {
            let _ = writeln!(out, "paths = {}", array(&c.paths));
        }
        if !c.markers.is_empty() {
            let _ = writeln!(out, "markers = {}", array(&c.markers));
        }
        if c.io {
            aligned(
                &mut out,
                "kind = \"io\"",
                "waits on the network: may run beyond --workers",
            );
        } else {
            aligned(
                &mut out,
                "kind = \"cpu\"",
                "\"io\" if these tests mostly wait on the network",
            );
        }
        if c.rate_limited {
            aligned(
                &mut out,
                "rate_limited = true",
                "its workers get PACER_UPSTREAM_<NAME>, the pacing proxy",
            );
        }
        match c.max_workers {
            Some(n) => {
                let _ = writeln!(out, "max_workers = {n}");
            }
            None => {
                aligned(&mut out, "# max_workers = 4", "default: the worker count");
            }
        }
        if let Some(order) = c.order {
            aligned(
                &mut out,
                &format!("order = {order}"),
                "before the folder categories and built-ins",
            );
        }
    }
    for u in &proposal.upstreams {
        out.push('\n');
        let _ = writeln!(
            out,
            "# {} read at {}: point that client at $PACER_UPSTREAM_{} (or the",
            u.var,
            u.at,
            u.name.to_ascii_uppercase().replace('-', "_")
        );
        let _ = writeln!(
            out,
            "# `pacer_upstream(\"{}\")` fixture) in rate-limited tests; pacer's proxy forwards to `url`.",
            u.name
        );
        let table = key(&format!("upstreams.{}", u.name));
        match &u.url {
            Some(url) => {
                let _ = writeln!(out, "[{table}]");
                let (bare, had_credentials) = pacer_limiter::strip_credentials(url);
                let _ = writeln!(out, "url = {}  # from {}", quote(&bare), u.url_from);
                if had_credentials {
                    let _ = writeln!(
                        out,
                        "# its user and password are left out of this file: give them with `--upstream {}=https://USER:PASSWORD@...`",
                        u.name
                    );
                }
                aligned(
                    &mut out,
                    "# rate = 10",
                    "requests per second: set the API's quota",
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "# (no URL in the code or .env.example: fill it in and uncomment)"
                );
                let _ = writeln!(out, "# [{table}]");
                let _ = writeln!(out, "# url = \"https://...\"");
                aligned(
                    &mut out,
                    "# rate = 10",
                    "requests per second: set the API's quota",
                );
            }
        }
    }
    out
}

/// `key = value` and its comment, the comments of a table in one column.
fn aligned(out: &mut String, line: &str, comment: &str) {
    let _ = writeln!(out, "{line:<31} # {comment}");
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| quote(i)).collect();
    format!("[{}]", items.join(", "))
}

/// The new content: the old one, a blank line, the section.
pub fn appended(old: &str, section: &str) -> String {
    let mut new = old.to_string();
    if !new.is_empty() {
        if !new.ends_with('\n') {
            new.push('\n');
        }
        new.push('\n');
    }
    new.push_str(section);
    new
}

/// A unified diff of an append: only added lines, after the old end.
pub fn append_diff(file: &str, old: &str, new: &str) -> String {
    let old_lines = old.lines().count();
    let added: Vec<&str> = new.lines().skip(old_lines).collect();
    let mut out = String::new();
    let (from, to) = if old.is_empty() {
        ("/dev/null".to_string(), file.to_string())
    } else {
        (file.to_string(), file.to_string())
    };
    let _ = writeln!(out, "--- {from}");
    let _ = writeln!(out, "+++ {to}");
    let _ = writeln!(
        out,
        "@@ -{old_lines},0 +{},{} @@",
        old_lines + 1,
        added.len()
    );
    for line in added {
        let _ = writeln!(out, "+{line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::init::propose::{ProposedCategory, ProposedUpstream};

    fn proposal() -> Proposal {
        Proposal {
            categories: vec![ProposedCategory {
                name: "uses_real_data".into(),
                why: vec!["marker".into()],
                description: "calls the \"real\" API".into(),
                paths: vec![],
                markers: vec!["uses_real_data".into()],
                io: true,
                rate_limited: true,
                max_workers: Some(10),
                order: Some(-5),
                builtin_override: false,
            }],
            upstreams: vec![ProposedUpstream {
                name: "ofsc".into(),
                var: "OFSC_BASE_URL".into(),
                at: "tests/conftest.py:3".into(),
                url: None,
                url_from: String::new(),
            }],
            notes: vec!["tests/unit/: built in".into()],
        }
    }

    #[test]
    fn the_section_is_valid_toml_with_tables_under_the_prefix() {
        let text = section(&proposal(), "tool.pacer", "pyproject.toml");
        let parsed: toml_edit::DocumentMut = text.parse().expect("valid TOML");
        let cat = &parsed["tool"]["pacer"]["categories"]["uses_real_data"];
        assert_eq!(cat["kind"].as_str(), Some("io"));
        assert_eq!(cat["order"].as_integer(), Some(-5));
        assert_eq!(cat["description"].as_str(), Some("calls the \"real\" API"));
        // The upstream without a URL stays commented out.
        assert!(parsed["tool"]["pacer"].get("upstreams").is_none());
        assert!(text.contains("# [tool.pacer.upstreams.ofsc]"));
    }

    #[test]
    fn pacer_toml_gets_top_level_tables() {
        let text = section(&proposal(), "", "pytest.ini");
        let parsed: toml_edit::DocumentMut = text.parse().expect("valid TOML");
        assert!(parsed["categories"].get("uses_real_data").is_some());
    }

    #[test]
    fn the_diff_of_an_append_adds_lines_after_the_old_end() {
        let old = "[project]\nname = \"x\"";
        let new = appended(old, "[tool.pacer]\n");
        assert_eq!(new, "[project]\nname = \"x\"\n\n[tool.pacer]\n");
        let diff = append_diff("pyproject.toml", old, &new);
        assert_eq!(
            diff,
            "--- pyproject.toml\n+++ pyproject.toml\n@@ -2,0 +3,2 @@\n+\n+[tool.pacer]\n"
        );
    }

    #[test]
    fn a_url_with_credentials_is_proposed_without_them() {
        let mut p = proposal();
        p.upstreams[0].url = Some("https://me:s3cret@api.example.com/v1?x=1".into());
        p.upstreams[0].url_from = ".env.example".into();
        let text = section(&p, "tool.pacer", "pyproject.toml");
        assert!(!text.contains("s3cret") && !text.contains("me:"), "{text}");
        let parsed: toml_edit::DocumentMut = text.parse().expect("valid TOML");
        let url = parsed["tool"]["pacer"]["upstreams"]["ofsc"]["url"].as_str();
        assert_eq!(url, Some("https://api.example.com/v1?x=1"));
        assert!(
            text.contains("--upstream ofsc=https://USER:PASSWORD@"),
            "{text}"
        );
        // Without credentials, nothing is added.
        p.upstreams[0].url = Some("https://api.example.com".into());
        let text = section(&p, "tool.pacer", "pyproject.toml");
        assert!(!text.contains("left out of this file"), "{text}");
    }
}
