//! Each test's wall and CPU seconds as its worker last measured them
//! (`done`'s `wall`, `cpu` and `queued`), with the category it ran in, so
//! that the next run with `workers = "auto"` can size its pool for what the
//! suite does (`session/wait_pool.rs`).
//!
//! Kept beside the durations in pytest's cache folder
//! (`.pytest_cache/v/pacer/cpu`: node id → `[wall, cpu, queued, category]`),
//! merged with what earlier runs recorded, as the durations are.
//! pytest-split's file has no room for it and never gets it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pacer_runner::events::CpuTime;

use super::cache;

/// One test's record.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub time: CpuTime,
    /// The category it ran in (its name).
    pub category: String,
}

type Raw = HashMap<String, (f64, f64, f64, String)>;

fn store(cache_dir: &Path) -> PathBuf {
    cache::value_path(cache_dir, "pacer/cpu")
}

/// The recorded times; empty when nothing was recorded or the file is broken.
pub fn load(cache_dir: &Path) -> HashMap<String, Recorded> {
    let raw: Raw = cache::read_json(&store(cache_dir));
    raw.into_iter()
        .filter(|(_, (wall, cpu, queued, _))| {
            [wall, cpu, queued]
                .iter()
                .all(|s| s.is_finite() && **s >= 0.0)
        })
        .map(|(id, (wall, cpu, queued, category))| {
            let time = CpuTime { wall, cpu, queued };
            (id, Recorded { time, category })
        })
        .collect()
}

/// Merges this run's `(id, category, time)`s into the store; failures to
/// write are not fatal.
pub fn save(cache_dir: &Path, measured: &[(String, String, CpuTime)]) {
    if measured.is_empty() {
        return;
    }
    let path = store(cache_dir);
    let mut raw: Raw = cache::read_json(&path);
    raw.extend(
        measured
            .iter()
            .map(|(id, category, t)| (id.clone(), (t.wall, t.cpu, t.queued, category.clone()))),
    );
    cache::write_json_compact(&path, &raw);
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
        save(dir.path(), &[("t.py::a".into(), "unit".into(), a)]);
        let b = CpuTime {
            wall: 2.0,
            cpu: 2.0,
            queued: 0.0,
        };
        save(dir.path(), &[("t.py::b".into(), "default".into(), b)]);
        let loaded = load(dir.path());
        assert_eq!(
            loaded["t.py::a"],
            Recorded {
                time: a,
                category: "unit".into()
            }
        );
        assert_eq!(loaded["t.py::b"].time.share(), 1.0);
        std::fs::write(store(dir.path()), "not json").unwrap();
        assert!(load(dir.path()).is_empty());
    }
}
