//! Recorded test durations, so that the heaviest tests start first.
//!
//! Read from pytest-split's `.test_durations` (JSON: node id → seconds) when
//! the project has one, and from pacer's own store in pytest's cache folder,
//! which every run updates. The store never holds more than what the suite
//! last ran, merged with what it knew.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::cache;

fn store(cache_dir: &Path) -> PathBuf {
    cache::value_path(cache_dir, "pacer/durations")
}

fn read(path: &Path) -> HashMap<String, f64> {
    cache::read_json(path)
}

/// Durations from `.test_durations` (if any), overlaid by pacer's own store.
pub fn load(durations_file: &Path, cache_dir: &Path) -> HashMap<String, f64> {
    let mut durations = read(durations_file);
    durations.extend(read(&store(cache_dir)));
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
        let loaded = load(&split, &cache);
        assert_eq!(loaded["t.py::a"], 5.0);
        assert_eq!(loaded["t.py::b"], 2.0);
    }

    #[test]
    fn missing_or_broken_files_mean_no_durations() {
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("broken");
        std::fs::write(&broken, "not json").unwrap();
        assert!(load(&broken, dir.path()).is_empty());
    }
}
