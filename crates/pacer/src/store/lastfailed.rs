//! pytest's `lastfailed` cache, kept by pacer for the whole run.
//!
//! Workers look like xdist workers, and pytest's cache provider never
//! writes `lastfailed` from a worker (each would only know its own share).
//! So pacer does what xdist's controller does: it merges the run's results
//! into `.pytest_cache/v/cache/lastfailed`, so `--lf` and `--ff` work on the
//! next run. Tests that did not run keep their entry.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use pacer_runner::events::PytestOptions;
use pacer_runner::plan::LastFailed;

use super::cache;

/// `--lf`/`--ff` as pytest parsed them, with the ids of the known failures.
pub fn last_failed(options: &PytestOptions, cache_dir: &Path) -> Option<LastFailed> {
    (options.lf || options.ff).then(|| LastFailed {
        ids: read(cache_dir).into_keys().collect::<HashSet<_>>(),
        only: options.lf,
        none_if_no_failures: options.lfnf == "none",
    })
}

fn read(cache_dir: &Path) -> BTreeMap<String, bool> {
    cache::read_json(&cache::value_path(cache_dir, "cache/lastfailed"))
}

/// Updates the cache: failed tests are added, passed ones removed.
pub fn update(cache_dir: &Path, finished: &[(String, f64)], failed: &[String]) {
    let mut entries = read(cache_dir);
    let before = entries.clone();
    for (id, _) in finished {
        entries.remove(id);
    }
    for id in failed {
        entries.insert(id.clone(), true);
    }
    if entries != before {
        cache::write_json(&cache::value_path(cache_dir, "cache/lastfailed"), &entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_failed_comes_from_pytests_options_and_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v/cache/lastfailed");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, r#"{"t.py::a": true}"#).unwrap();
        let mut options = PytestOptions::default();
        assert!(last_failed(&options, dir.path()).is_none());
        options.lf = true;
        options.lfnf = "none".into();
        let lf = last_failed(&options, dir.path()).unwrap();
        assert!(lf.only && lf.none_if_no_failures);
        assert!(lf.ids.contains("t.py::a"));
        options.lf = false;
        options.ff = true;
        options.lfnf = "all".into();
        let ff = last_failed(&options, dir.path()).unwrap();
        assert!(!ff.only && !ff.none_if_no_failures);
    }

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
