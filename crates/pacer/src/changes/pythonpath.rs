//! pytest's `pythonpath` ini option, read from the project's files the way
//! pytest finds its ini (pytest.ini, pyproject.toml, tox.ini, setup.cfg),
//! so that absolute imports resolve against the roots the tests will see.
//! A root missed here still resolves, more widely (`graph.rs`).

use std::path::{Path, PathBuf};

/// The `pythonpath` entries, relative to `root`.
pub fn read(root: &Path) -> Vec<PathBuf> {
    if let Some(found) = ini(&root.join("pytest.ini"), &["pytest", "tool:pytest"]) {
        return found;
    }
    if let Some(found) = pyproject(&root.join("pyproject.toml")) {
        return found;
    }
    ini(&root.join("tox.ini"), &["pytest"])
        .or_else(|| ini(&root.join("setup.cfg"), &["tool:pytest"]))
        .unwrap_or_default()
}

fn pyproject(path: &Path) -> Option<Vec<PathBuf>> {
    let text = std::fs::read_to_string(path).ok()?;
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    let options = doc.get("tool")?.get("pytest")?.get("ini_options")?;
    let value = options.get("pythonpath")?;
    Some(match value.as_array() {
        Some(list) => list
            .iter()
            .filter_map(|v| v.as_str())
            .map(PathBuf::from)
            .collect(),
        None => value
            .as_str()?
            .split_whitespace()
            .map(PathBuf::from)
            .collect(),
    })
}

/// `pythonpath = a b` (or one per line) in one of `sections`; `None`
/// when the file has no such section (pytest then looks further).
fn ini(path: &Path, sections: &[&str]) -> Option<Vec<PathBuf>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut in_section = false;
    let mut found_section = false;
    let mut entries = Vec::new();
    let mut continuing = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            let name = trimmed.trim_matches(|c| c == '[' || c == ']');
            in_section = sections.contains(&name);
            found_section |= in_section;
            continuing = false;
            continue;
        }
        if !in_section || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if continuing && line.starts_with(char::is_whitespace) && !trimmed.is_empty() {
            entries.extend(trimmed.split_whitespace().map(PathBuf::from));
            continue;
        }
        continuing = false;
        if let Some((key, value)) = trimmed.split_once('=') {
            if key.trim() == "pythonpath" {
                entries.extend(value.split_whitespace().map(PathBuf::from));
                continuing = true;
            }
        }
    }
    found_section.then_some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pythonpath_from_pyproject_or_an_ini_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[tool.pytest.ini_options]\npythonpath = [\"lib\", \"src\"]\n",
        )
        .unwrap();
        assert_eq!(
            read(dir.path()),
            [PathBuf::from("lib"), PathBuf::from("src")]
        );
        std::fs::write(
            dir.path().join("pytest.ini"),
            "[pytest]\npythonpath =\n    one\n    two\naddopts = -q\n",
        )
        .unwrap();
        assert_eq!(
            read(dir.path()),
            [PathBuf::from("one"), PathBuf::from("two")]
        );
    }
}
