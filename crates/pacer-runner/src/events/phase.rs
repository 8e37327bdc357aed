//! What pytest reported about a test: one phase of it ([`PhaseReport`]), or
//! a file it could not collect ([`CollectProblem`]). The runner hands these
//! to reporters as they are; the wire (`protocol.rs`) carries them in this
//! same shape.

use pacer_types::{Outcome, Phase, Status};
use serde::Deserialize;

/// A file pytest could not collect, or skipped as a whole.
#[derive(Debug, Clone, Deserialize)]
pub struct CollectProblem {
    pub id: String,
    /// Failed (a collection error) or skipped (a module-level skip).
    pub outcome: Outcome,
    pub longrepr: String,
    pub skip: Option<SkipLocation>,
}

/// `(path, line, reason)` as pytest keeps it for a skip.
#[derive(Debug, Clone, Deserialize)]
pub struct SkipLocation(pub String, pub Option<i64>, pub String);

/// One phase (setup, call, teardown) of one test, sent only when it says
/// something: a passing setup or teardown is left out.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PhaseReport {
    pub when: Phase,
    pub outcome: Outcome,
    /// pytest's status category (`passed`, `failed`, `error`, `xfailed`, ...);
    /// `None` (the empty string on the wire) when the phase does not count.
    #[serde(deserialize_with = "Status::deserialize_optional")]
    pub cat: Option<Status>,
    /// The verbose word (`PASSED`, `XFAIL`, ...).
    pub word: String,
    pub dur: f64,
    #[serde(default)]
    pub longrepr: Option<String>,
    #[serde(default)]
    pub sections: Vec<(String, String)>,
    #[serde(default)]
    pub head: Option<String>,
    #[serde(default)]
    pub msg: Option<String>,
    #[serde(default)]
    pub skip: Option<SkipLocation>,
    #[serde(default)]
    pub xfail: Option<String>,
    /// `--tb=line`'s line for a failure (`path:line: message`); sent only then.
    #[serde(default)]
    pub crash: Option<String>,
    /// The phase's `log_cli` records, formatted, one per line; sent only with `log_cli`.
    #[serde(default)]
    pub live_log: Option<String>,
    /// pytest's `report.location` (path, 0-based line), sent only for a
    /// JUnit report of family xunit1, which names them.
    #[serde(default)]
    pub loc: Option<(String, Option<i64>)>,
    /// Where a failure happened, for GitHub's annotations: a path relative
    /// to the rootdir and a 1-based line (the innermost traceback entry in
    /// the project's own files, else the test's own line); sent on failure.
    #[serde(default)]
    pub at: Option<(String, Option<i64>)>,
}
