//! The last run's JSON report, kept in pytest's cache folder
//! (`.pytest_cache/v/pacer/last-run.json`) by every run that ended, so
//! that `pacer bisect TEST` and `pacer replay` work after a failing run that
//! wrote no `--json-report`. With `--json-report`, `--html-report` or
//! GitHub's output the record is full and so is this report; otherwise the
//! record is slim (`RunReports::new`, `RunRecord::set_slim`): the same
//! schema with only what replay and bisect read (each test's id, worker,
//! start, end and outcome; the run's rootdir, pytest arguments and paths,
//! randomly seed). pytest's cache folder, not `.pacer/`: pytest keeps it out
//! of git (its own `.gitignore`), and `-p no:cacheprovider` turns it off,
//! as for durations (a slim record then keeps no test at all).

use std::path::{Path, PathBuf};

use pacer_report::RunRecord;

use super::cache;

const KEY: &str = "pacer/last-run.json";

/// Where a run whose pytest cache folder is `cache_dir` keeps its report.
pub fn path(cache_dir: &Path) -> PathBuf {
    cache::value_path(cache_dir, KEY)
}

/// Where the last run of the project at `root` is, with pytest's default
/// cache folder (a `cache_dir` in the ini moves it: pass REPORT.json then).
pub fn default_path(root: &Path) -> PathBuf {
    path(&root.join(".pytest_cache"))
}

/// Keeps the run's report (full or slim, as the record is), written as it
/// is serialised; a failure to write is not fatal.
pub fn keep(record: &mut RunRecord, cache_dir: Option<&str>) {
    let Some(dir) = cache_dir else { return };
    if !record.finished() {
        return;
    }
    cache::write_with(&path(Path::new(dir)), |out| record.write_json(out));
}
