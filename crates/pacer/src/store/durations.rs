//! Recorded test durations, so that the heaviest tests start first.
//!
//! Read from pytest-split's `.test_durations` (JSON: node id → seconds) when
//! the project has one, and from pacer's own store in pytest's cache folder,
//! which every run updates. The store never holds more than what the suite
//! last ran, merged with what it knew.
//!
//! `.test_durations` itself is written only when it already exists or
//! `--store-durations` asks for it (pytest-split's flag), so that pacer
//! never leaves a file in a project that did not want one.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::cache;

fn store(cache_dir: &Path) -> PathBuf {
    cache::value_path(cache_dir, "pacer/durations")
}

fn read(path: &Path) -> HashMap<String, f64> {
    cache::read_json(path)
}

/// Durations from `.test_durations` (if any), overlaid by pacer's own store
/// (when pytest's cache is on).
pub fn load(durations_file: &Path, cache_dir: Option<&Path>) -> HashMap<String, f64> {
    let mut durations = read(durations_file);
    if let Some(cache_dir) = cache_dir {
        durations.extend(read(&store(cache_dir)));
    }
    durations
}

/// Merges this run's durations into pacer's store; failures to write are not fatal.
pub fn save(cache_dir: &Path, measured: &[(String, f64)]) {
    if measured.is_empty() {
        return;
    }
    let path = store(cache_dir);
    let mut durations = read(&path);
    durations.extend(measured.iter().cloned());
    cache::write_json(&path, &durations);
}

/// Whether this run's durations go into pytest-split's file: asked for
/// (`--store-durations`) or the file is already there, and not refused
/// (`--no-store-durations`).
pub fn store_wanted(path: &Path, store: bool, no_store: bool) -> bool {
    !no_store && (store || path.is_file())
}

/// Merges `measured` into pytest-split's file as pytest-split does without
/// `--clean-durations`: the tests that ran get their new time, every other
/// entry stays. Written as pytest-split writes it (keys sorted, indented by
/// four), through a temporary file. A file that is not such a JSON object
/// is left alone, with a note: rewriting it would lose what it held.
pub fn store_test_durations(path: &Path, measured: &[(String, f64)]) {
    if measured.is_empty() {
        return;
    }
    let mut durations: BTreeMap<String, f64> = match std::fs::read(path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(durations) => durations,
            Err(e) => {
                eprintln!(
                    "pacer: not updating {}: it is not pytest-split's durations (a JSON object of seconds): {e}",
                    path.display()
                );
                return;
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => {
            eprintln!("pacer: cannot read {}: {e}", path.display());
            return;
        }
    };
    durations.extend(measured.iter().cloned());
    let mut json = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(
        &mut json,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    if serde::Serialize::serialize(&durations, &mut serializer).is_err() {
        return;
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(parent);
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = std::fs::write(&tmp, &json).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        eprintln!("pacer: cannot write {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_durations_are_loaded_back_over_test_durations() {
        let dir = tempfile::tempdir().unwrap();
        let split = dir.path().join(".test_durations");
        std::fs::write(&split, r#"{"t.py::a": 1.0, "t.py::b": 2.0}"#).unwrap();
        let cache = dir.path().join(".pytest_cache");
        save(&cache, &[("t.py::a".into(), 5.0)]);
        let loaded = load(&split, Some(&cache));
        assert_eq!(loaded["t.py::a"], 5.0);
        assert_eq!(loaded["t.py::b"], 2.0);
        // Without pytest's cache (`-p no:cacheprovider`), the file alone.
        let loaded = load(&split, None);
        assert_eq!(loaded["t.py::a"], 1.0);
    }

    #[test]
    fn missing_or_broken_files_mean_no_durations() {
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("broken");
        std::fs::write(&broken, "not json").unwrap();
        assert!(load(&broken, Some(dir.path())).is_empty());
    }

    #[test]
    fn test_durations_merge_and_keep_pytest_splits_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".test_durations");
        assert!(!store_wanted(&path, false, false), "never created unasked");
        assert!(store_wanted(&path, true, false));
        std::fs::write(&path, r#"{"t.py::b": 2.0, "t.py::a": 1.0}"#).unwrap();
        assert!(store_wanted(&path, false, false));
        assert!(!store_wanted(&path, true, true));
        store_test_durations(&path, &[("t.py::a".into(), 0.5), ("t.py::c".into(), 3.0)]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\n    \"t.py::a\": 0.5,\n    \"t.py::b\": 2.0,\n    \"t.py::c\": 3.0\n}"
        );
    }

    #[test]
    fn a_broken_durations_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".test_durations");
        std::fs::write(&path, "[1, 2]").unwrap();
        store_test_durations(&path, &[("t.py::a".into(), 0.5)]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[1, 2]");
    }
}
