//! Each test's wall and CPU seconds as its worker last measured them
//! (`done`'s `wall` and `cpu`), so that the next run with `workers = "auto"`
//! can size its pool for what the suite does (`session/wait_pool.rs`).
//!
//! Kept beside the durations in pytest's cache folder
//! (`.pytest_cache/v/pacer/cpu`: node id → `[wall, cpu, queued]`), merged with what
//! earlier runs recorded, as the durations are. pytest-split's file has no
//! room for it and never gets it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pacer_runner::events::CpuTime;

use super::cache;

fn store(cache_dir: &Path) -> PathBuf {
    cache::value_path(cache_dir, "pacer/cpu")
}

/// The recorded times; empty when nothing was recorded or the file is broken.
pub fn load(cache_dir: &Path) -> HashMap<String, CpuTime> {
    let raw: HashMap<String, (f64, f64, f64)> = cache::read_json(&store(cache_dir));
    raw.into_iter()
        .filter(|(_, (wall, cpu, queued))| {
            [wall, cpu, queued]
                .iter()
                .all(|s| s.is_finite() && **s >= 0.0)
        })
        .map(|(id, (wall, cpu, queued))| (id, CpuTime { wall, cpu, queued }))
        .collect()
}

/// Merges this run's times into the store; failures to write are not fatal.
pub fn save(cache_dir: &Path, measured: &[(String, CpuTime)]) {
    if measured.is_empty() {
        return;
    }
    let path = store(cache_dir);
    let mut raw: HashMap<String, (f64, f64, f64)> = cache::read_json(&path);
    raw.extend(
        measured
            .iter()
            .map(|(id, t)| (id.clone(), (t.wall, t.cpu, t.queued))),
    );
    cache::write_json(&path, &raw);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_times_are_merged_and_loaded_back() {
        let dir = tempfile::tempdir().unwrap();
        let a = CpuTime {
            wall: 1.0,
            cpu: 0.1,
            queued: 0.2,
        };
        save(dir.path(), &[("t.py::a".into(), a)]);
        let b = CpuTime {
            wall: 2.0,
            cpu: 2.0,
            queued: 0.0,
        };
        save(dir.path(), &[("t.py::b".into(), b)]);
        let loaded = load(dir.path());
        assert_eq!(loaded["t.py::a"], a);
        assert_eq!(loaded["t.py::b"].share(), 1.0);
        std::fs::write(store(dir.path()), "not json").unwrap();
        assert!(load(dir.path()).is_empty());
    }
}
