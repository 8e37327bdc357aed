//! README.md and docs/configuration.md carry the environment table rendered
//! from the one declaration in `env.rs`; this test keeps them equal. Run with
//! `PACER_BLESS=1` to rewrite the files after changing the table.

use std::path::Path;

const BEGIN: &str = "<!-- begin: env table (generated; PACER_BLESS=1 cargo test -p pacer-settings --test docs) -->\n";
const END: &str = "<!-- end: env table -->";
const SETTINGS_BEGIN: &str =
    "<!-- begin: settings table (generated; PACER_BLESS=1 cargo test -p pacer-settings --test docs) -->\n";
const SETTINGS_END: &str = "<!-- end: settings table -->";

/// One row per key of the commented default configuration (top level and
/// `[rate_limit]`), with the flag and variables its comment names.
fn settings_table() -> String {
    let mut out = String::from(
        "| setting | default | flag | environment | meaning |\n|---|---|---|---|---|\n",
    );
    let mut section = String::new();
    let mut comment: Vec<String> = Vec::new();
    for line in pacer_settings::DEFAULT_CONFIG_TOML.lines() {
        let line = line.trim();
        if let Some(table) = line.strip_prefix('[').or_else(|| line.strip_prefix("# [")) {
            section = table.trim_end_matches(']').to_string();
            comment.clear();
            continue;
        }
        // A key is set (`rate = 10`) or shown commented out (`# python = ...`).
        let code = line.strip_prefix("# ").filter(|l| is_key_line(l));
        let code = code.or_else(|| is_key_line(line).then_some(line));
        match code {
            Some(code) if section.is_empty() || section == "rate_limit" => {
                let (key, value) = code.split_once(" = ").expect("key line");
                let text = comment.join(" ");
                let flag = clause(&text, "Flag:")
                    .or_else(|| clause(&text, "Flags:"))
                    .unwrap_or_default();
                let env = clause(&text, "Env:").unwrap_or_default();
                let meaning = text
                    .split(". ")
                    .filter(|s| {
                        !s.trim_start().starts_with("Flag") && !s.trim_start().starts_with("Env:")
                    })
                    .collect::<Vec<_>>()
                    .join(". ");
                let meaning = meaning
                    .split("Flag:")
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .trim_end_matches('.');
                let name = if section.is_empty() {
                    key.to_string()
                } else {
                    format!("{section}.{key}")
                };
                let default = if line.starts_with('#') {
                    "none".to_string()
                } else {
                    format!("`{value}`")
                };
                out.push_str(&format!(
                    "| `{name}` | {default} | {flag} | {env} | {meaning} |\n"
                ));
                comment.clear();
            }
            _ if line.starts_with('#') => {
                comment.push(line.trim_start_matches('#').trim().to_string())
            }
            _ => comment.clear(),
        }
    }
    out
}

fn is_key_line(line: &str) -> bool {
    let Some((key, _)) = line.split_once(" = ") else {
        return false;
    };
    !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

/// The words after `label` up to the end of its sentence, as code spans.
fn clause(text: &str, label: &str) -> Option<String> {
    let rest = &text[text.find(label)? + label.len()..];
    let end = rest
        .find(". ")
        .or_else(|| rest.strip_suffix('.').map(|r| r.len()))
        .unwrap_or(rest.len());
    let words = rest[..end].trim().trim_end_matches('.');
    Some(
        words
            .split(", ")
            .map(|w| {
                let (name, extra) = w.split_once(' ').unwrap_or((w, ""));
                format!("`{name}`{}{extra}", if extra.is_empty() { "" } else { " " })
            })
            .collect::<Vec<_>>()
            .join(", "),
    )
}

#[test]
fn readme_has_the_current_settings_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let doc = std::fs::read_to_string(&path).expect("README exists");
    let start = doc.find(SETTINGS_BEGIN).expect("begin marker") + SETTINGS_BEGIN.len();
    let end = doc.find(SETTINGS_END).expect("end marker");
    let table = settings_table();
    if std::env::var_os("PACER_BLESS").is_some() {
        std::fs::write(&path, format!("{}{table}{}", &doc[..start], &doc[end..])).unwrap();
        return;
    }
    assert_eq!(
        &doc[start..end],
        table,
        "README.md is stale: run PACER_BLESS=1 cargo test -p pacer-settings --test docs"
    );
}

#[test]
fn configuration_doc_has_the_current_env_table() {
    check("docs/configuration.md");
}

#[test]
fn readme_has_the_current_env_table() {
    check("README.md");
}

fn check(file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    let doc = std::fs::read_to_string(&path).expect("the document exists");
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
    let end = doc.find(END).expect("end marker");
    let table = pacer_settings::env_table_markdown();
    if std::env::var_os("PACER_BLESS").is_some() {
        let fresh = format!("{}{table}{}", &doc[..start], &doc[end..]);
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    assert_eq!(
        &doc[start..end],
        table,
        "{file} is stale: run PACER_BLESS=1 cargo test -p pacer-settings --test docs"
    );
}

/// The internal crates a manifest lists under `[dependencies]`.
fn manifest_deps(crate_dir: &Path) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("a manifest");
    let mut section = String::new();
    let mut deps = std::collections::BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
        } else if section == "[dependencies]" && line.starts_with("pacer") {
            let name = line.split(['.', '=', ' ']).next().unwrap_or_default();
            deps.insert(name.to_string());
        }
    }
    deps
}

/// docs/architecture.md's crate table says what each crate depends on, in
/// an order where a crate depends only on crates above it: both must stay
/// true of the manifests.
#[test]
fn architecture_crate_table_matches_the_manifests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("docs/architecture.md")).expect("docs exist");
    let mut order: Vec<String> = Vec::new();
    let mut told = std::collections::BTreeMap::new();
    for line in doc
        .lines()
        .skip_while(|l| !l.starts_with("| crate | holds | depends on |"))
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[1].starts_with("`pacer") {
            if !order.is_empty() && !line.starts_with('|') {
                break;
            }
            continue;
        }
        let name = cells[1].trim_matches('`').to_string();
        let deps: std::collections::BTreeSet<String> = if cells[3] == "all of the above" {
            order.iter().cloned().collect()
        } else {
            cells[3]
                .split(',')
                .map(str::trim)
                .filter(|d| d.starts_with("pacer"))
                .map(str::to_string)
                .collect()
        };
        told.insert(name.clone(), deps);
        order.push(name);
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed = order.clone();
    listed.sort();
    assert_eq!(listed, on_disk, "the table lists every crate, once");
    for (i, name) in order.iter().enumerate() {
        let actual = manifest_deps(&root.join("crates").join(name));
        let expected = &told[name];
        assert_eq!(
            &actual, expected,
            "{name}: docs/architecture.md's table against its Cargo.toml"
        );
        for dep in &actual {
            let at = order.iter().position(|o| o == dep);
            assert!(
                at.is_some_and(|at| at < i),
                "{name} depends on {dep}, not above it in the table"
            );
        }
    }
}

/// The commented defaults, and with them the README's settings table,
/// document every key of `[rate_limit]`, in the order of the one list.
#[test]
fn default_config_documents_every_rate_limit_key() {
    let mut section = String::new();
    let mut keys = Vec::new();
    for line in pacer_settings::DEFAULT_CONFIG_TOML.lines().map(str::trim) {
        if let Some(table) = line.strip_prefix('[').or_else(|| line.strip_prefix("# [")) {
            section = table.trim_end_matches(']').to_string();
            continue;
        }
        let code = line.strip_prefix("# ").unwrap_or(line);
        if section == "rate_limit" && is_key_line(code) {
            keys.push(code.split_once(" = ").expect("key line").0.to_string());
        }
    }
    assert_eq!(keys, pacer_settings::RATE_LIMIT_TABLE_KEYS);
}
