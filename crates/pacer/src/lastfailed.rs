//! pytest's `lastfailed` cache, kept by pacer for the whole run.
//!
//! Workers look like xdist workers, and pytest's cache provider never
//! writes `lastfailed` from a worker (each would only know its own share).
//! So pacer does what xdist's controller does: it merges the run's results
//! into `.pytest_cache/v/cache/lastfailed`, so `--lf` and `--ff` work on the
//! next run. Tests that did not run keep their entry.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use pacer_runner::pool::LastFailed;

use crate::cache;

/// `--lf`/`--ff` as given to pytest, before the ids are read.
#[derive(Debug, PartialEq, Eq)]
pub struct Mode {
    only: bool,
    none_if_no_failures: bool,
}

impl Mode {
    pub fn with_ids(self, cache_dir: &Path) -> LastFailed {
        LastFailed {
            ids: read(cache_dir).into_keys().collect::<HashSet<_>>(),
            only: self.only,
            none_if_no_failures: self.none_if_no_failures,
        }
    }
}

/// Removes pytest's last-failed options from `args` (workers must not apply
/// them to their share) and says what they asked for.
pub fn take_options(args: &mut Vec<String>) -> Option<Mode> {
    let mut only = false;
    let mut first = false;
    let mut none_if_no_failures = false;
    let mut kept = Vec::with_capacity(args.len());
    let mut iter = std::mem::take(args).into_iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--lf" | "--last-failed" => only = true,
            "--ff" | "--failed-first" => first = true,
            "--lfnf" | "--last-failed-no-failures" => {
                none_if_no_failures = iter.next().as_deref() == Some("none")
            }
            a if a.starts_with("--lfnf=") || a.starts_with("--last-failed-no-failures=") => {
                none_if_no_failures = a.ends_with("=none");
            }
            _ => kept.push(arg),
        }
    }
    *args = kept;
    (only || first).then_some(Mode {
        only,
        none_if_no_failures,
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
    fn last_failed_options_are_taken_from_the_pytest_args() {
        let mut args: Vec<String> = ["-k", "x", "--lf", "--lfnf", "none", "tests"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mode = take_options(&mut args).unwrap();
        assert_eq!(
            mode,
            Mode {
                only: true,
                none_if_no_failures: true
            }
        );
        assert_eq!(args, vec!["-k", "x", "tests"]);
        let mut args: Vec<String> = vec!["--ff".into()];
        assert_eq!(
            take_options(&mut args),
            Some(Mode {
                only: false,
                none_if_no_failures: false
            })
        );
        let mut args: Vec<String> = vec!["-q".into()];
        assert_eq!(take_options(&mut args), None);
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
