//! pytest's `lastfailed` cache, kept by pacer for the whole run.
//!
//! Workers look like xdist workers, and pytest's cache provider never
//! writes `lastfailed` from a worker (each would only know its own share).
//! So pacer does what xdist's controller does: it merges the run's results
//! into `.pytest_cache/v/cache/lastfailed`, so `--lf` and `--ff` work on the
//! next run. Tests that did not run keep their entry.

use std::collections::BTreeMap;
use std::path::Path;

/// Updates the cache: failed tests are added, passed ones removed.
pub fn update(cache_dir: &Path, finished: &[(String, f64)], failed: &[String]) {
    let path = cache_dir.join("v").join("cache").join("lastfailed");
    let mut entries: BTreeMap<String, bool> = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let before = entries.clone();
    for (id, _) in finished {
        entries.remove(id);
    }
    for id in failed {
        entries.insert(id.clone(), true);
    }
    if entries == before {
        return;
    }
    let Ok(json) = serde_json::to_vec_pretty(&entries) else {
        return;
    };
    if let Some(parent) = path.parent() {
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, json).is_ok() {
        let _ = std::fs::rename(&tmp, &path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passed_tests_leave_and_failed_ones_join_while_others_stay() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v/cache/lastfailed");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, r#"{"t.py::fixed": true, "t.py::not_run": true}"#).unwrap();
        let finished = vec![
            ("t.py::fixed".to_string(), 0.1),
            ("t.py::broken".to_string(), 0.1),
        ];
        update(dir.path(), &finished, &["t.py::broken".to_string()]);
        let entries: BTreeMap<String, bool> =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(
            entries.keys().collect::<Vec<_>>(),
            vec!["t.py::broken", "t.py::not_run"]
        );
    }
}
