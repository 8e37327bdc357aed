//! What a fixture suite's run came to, as data: each test's [`Status`] by
//! node id, and the counts of pytest's final line by [`Tally`], read from
//! pacer's `-v` lines, its short summary (`-r`), its final line, or its
//! JUnit and JSON reports, so that a test states the whole expected table
//! and compares it at once instead of looking for a few substrings.

use std::collections::BTreeMap;
use std::path::Path;

pub use pacer_types::Status;

/// Each test's status by node id.
pub type Outcomes = BTreeMap<String, Status>;

/// An expected table, from `(node id, status)` rows.
pub fn expect(rows: &[(&str, Status)]) -> Outcomes {
    let mut outcomes = Outcomes::new();
    for (id, status) in rows {
        let previous = outcomes.insert(id.to_string(), status.clone());
        assert!(previous.is_none(), "{id} is in the table twice");
    }
    outcomes
}

/// Every id of `ids` with the same status.
pub fn all(ids: &[&str], status: Status) -> Outcomes {
    expect(
        &ids.iter()
            .map(|id| (*id, status.clone()))
            .collect::<Vec<_>>(),
    )
}

/// The status of a word of pytest's `-v` lines and short summary.
fn word(word: &str) -> Option<Status> {
    Some(match word {
        "PASSED" => Status::Passed,
        "FAILED" => Status::Failed,
        "ERROR" => Status::Error,
        "SKIPPED" => Status::Skipped,
        "XFAIL" => Status::XFailed,
        "XPASS" => Status::XPassed,
        "FLAKY" => Status::Flaky,
        "RERUN" => Status::Other("rerun".into()),
        _ => return None,
    })
}

/// Folds a test's words, in the order printed, into its status as the JSON
/// report decides it: the first of its last attempt's words (those after
/// its last `RERUN`) that is not `PASSED`, else `PASSED`.
fn fold(words: &[Status]) -> Status {
    let rerun = Status::Other("rerun".into());
    let last_attempt = match words.iter().rposition(|w| *w == rerun) {
        Some(at) => &words[at + 1..],
        None => words,
    };
    last_attempt
        .iter()
        .find(|w| **w != Status::Passed)
        .or(last_attempt.first())
        .cloned()
        .unwrap_or(rerun)
}

/// From pacer's `-v` lines (`[gw0] [ 10%] PASSED tests/x.py::t`): a test
/// with two lines (`PASSED` then `ERROR` in its teardown, `RERUN` then its
/// outcome) is folded as the JSON report folds it.
pub fn from_verbose(stdout: &str) -> Outcomes {
    let mut words: BTreeMap<String, Vec<Status>> = BTreeMap::new();
    for line in stdout.lines() {
        let Some(tail) = super::normalize::verbose_tail(line) else {
            continue;
        };
        let (w, id) = tail
            .split_once(' ')
            .unwrap_or_else(|| panic!("a -v line without a node id: {line:?}"));
        let status = word(w).unwrap_or_else(|| panic!("unknown word in {line:?}"));
        words.entry(id.to_string()).or_default().push(status);
    }
    words.into_iter().map(|(id, w)| (id, fold(&w))).collect()
}

/// From the `short test summary info` section (`-ra`, `-rA`): `WORD id` or
/// `WORD id - message`. A skip's line names a file and line, not a test,
/// and is left out; a test listed twice (`PASSED` and `ERROR`) is folded
/// as [`from_verbose`] does.
pub fn from_summary(stdout: &str) -> Outcomes {
    let mut words: BTreeMap<String, Vec<Status>> = BTreeMap::new();
    let section = stdout
        .lines()
        .skip_while(|l| !(l.starts_with('=') && l.contains(" short test summary info ")))
        .skip(1);
    for line in section {
        if line.starts_with('=') {
            break;
        }
        let Some((w, rest)) = line.split_once(' ') else {
            continue;
        };
        if w == "SKIPPED" && rest.starts_with('[') {
            continue;
        }
        let Some(status) = word(w) else {
            continue;
        };
        let id = rest.split_once(" - ").map_or(rest, |(id, _)| id);
        words.entry(id.to_string()).or_default().push(status);
    }
    words.into_iter().map(|(id, w)| (id, fold(&w))).collect()
}

/// From a `--json-report` file: each test's `outcome`.
pub fn from_json_report(path: &Path) -> Outcomes {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no JSON report at {}: {e}", path.display()));
    let report: pacer_report::RunReport =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("unreadable JSON report: {e}"));
    report
        .tests
        .into_iter()
        .map(|t| (t.id, t.outcome))
        .collect()
}

/// A JUnit test's key: pytest's `(classname, name)`.
pub type JunitKey = (String, String);

/// From a JUnit file: per `(classname, name)`, `Passed`, `Skipped`,
/// `Failed` or `Error` (an `<error>` beside a `<failure>` wins, as in
/// [`fold`]).
pub fn from_junit(xml: &str) -> BTreeMap<JunitKey, Status> {
    use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
    let report = Report::deserialize_from_str(xml)
        .unwrap_or_else(|e| panic!("unreadable JUnit: {e}\n{xml}"));
    let mut words: BTreeMap<JunitKey, Vec<Status>> = BTreeMap::new();
    for suite in &report.test_suites {
        for case in &suite.test_cases {
            let key = (
                case.classname
                    .as_ref()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                case.name.to_string(),
            );
            let status = match &case.status {
                TestCaseStatus::Success { .. } => Status::Passed,
                TestCaseStatus::Skipped { .. } => Status::Skipped,
                TestCaseStatus::NonSuccess {
                    kind: NonSuccessKind::Failure,
                    ..
                } => Status::Failed,
                TestCaseStatus::NonSuccess {
                    kind: NonSuccessKind::Error,
                    ..
                } => Status::Error,
            };
            words.entry(key).or_default().push(status);
        }
    }
    words
        .into_iter()
        .map(|(key, w)| {
            let status = w
                .iter()
                .find(|s| **s == Status::Error)
                .cloned()
                .unwrap_or_else(|| fold(&w));
            (key, status)
        })
        .collect()
}

/// An expected table keyed as JUnit keys it.
pub fn as_junit(outcomes: &Outcomes) -> BTreeMap<JunitKey, Status> {
    outcomes
        .iter()
        .map(|(id, status)| (pacer_report::junit::names(id), status.clone()))
        .collect()
}

/// A count of pytest's final line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tally {
    Failed,
    Passed,
    Flaky,
    Skipped,
    Deselected,
    XFailed,
    XPassed,
    Warnings,
    Errors,
    Rerun,
}

/// Counts by [`Tally`].
pub type Tallies = BTreeMap<Tally, u64>;

/// An expected final line, from `(count, tally)` pairs in pytest's order.
pub fn tallies(rows: &[(u64, Tally)]) -> Tallies {
    let mut tallies = Tallies::new();
    for (n, tally) in rows {
        assert!(tallies.insert(*tally, *n).is_none(), "{tally:?} twice");
    }
    tallies
}

/// pytest's final line in `stdout` (framed or `-q`'s bare one); panics
/// without one, or on a word it does not know.
pub fn final_line(stdout: &str) -> Tallies {
    let counts = super::runs::final_counts(stdout)
        .unwrap_or_else(|| panic!("no pytest-style final line in\n{stdout}"));
    counts
        .into_iter()
        .map(|(word, n)| {
            let tally = match word.as_str() {
                "failed" => Tally::Failed,
                "passed" => Tally::Passed,
                "flaky" => Tally::Flaky,
                "skipped" => Tally::Skipped,
                "deselected" => Tally::Deselected,
                "xfailed" => Tally::XFailed,
                "xpassed" => Tally::XPassed,
                "warnings" => Tally::Warnings,
                "errors" => Tally::Errors,
                "rerun" => Tally::Rerun,
                other => panic!("unknown word {other:?} in the final line of\n{stdout}"),
            };
            (tally, n)
        })
        .collect()
}
