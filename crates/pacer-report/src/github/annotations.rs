//! GitHub's annotations of a run: where each failure happened, as
//! `::error file=..,line=..,title=..::message` lines the Actions page shows
//! on the file's line.

use std::collections::HashMap;
use std::path::Path;

use pacer_types::Status;

use super::commands::command;
use crate::schema::{CollectionOutcome, RunReport, TestReport};

/// The workflow commands for the run's end: an `::error` per failure
/// (collection errors first), capped, then a `::notice` for the rest,
/// and a `::warning` per flaky test (its outcome `flaky`: it passed only
/// after failed attempts), capped alike. Files are named relative to
/// `workspace` (`$GITHUB_WORKSPACE`) when pytest's rootdir lies inside it.
pub fn annotations(
    report: &RunReport,
    locations: &HashMap<String, (String, Option<i64>)>,
    workspace: Option<&Path>,
    max: usize,
) -> Vec<String> {
    let mut errors = Vec::new();
    for problem in &report.collection {
        match problem.outcome {
            CollectionOutcome::Error => {}
            CollectionOutcome::Skipped => continue,
        }
        let file = workspace_path(workspace, report, &problem.id);
        let message = last_line(&problem.output).unwrap_or("collection failed");
        errors.push(command(
            "error",
            &[
                ("file", Some(file)),
                ("title", Some(format!("ERROR collecting {}", problem.id))),
            ],
            message,
        ));
    }
    let mut flaky: Vec<&TestReport> = Vec::new();
    for test in &report.tests {
        let word = match test.outcome {
            Status::Failed => "FAILED",
            Status::Error => "ERROR",
            Status::Flaky => {
                flaky.push(test);
                continue;
            }
            // A pass, a skip, an expected failure or an unexpected pass
            // (not strict: a strict one is `failed`), a plugin's word: no
            // annotation. A test that passed after pacer's 429 rerun is
            // `passed`: it was rate-limited, not flaky.
            Status::Passed
            | Status::Skipped
            | Status::XFailed
            | Status::XPassed
            | Status::Other(_) => continue,
        };
        let (file, line) = match locations.get(&test.id) {
            Some((file, line)) => (file.as_str(), *line),
            None => (test_file(&test.id), None),
        };
        let message = test
            .message
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .or_else(|| test.output.as_deref().and_then(last_line))
            .unwrap_or(word);
        errors.push(command(
            "error",
            &[
                ("file", Some(workspace_path(workspace, report, file))),
                ("line", line.map(|l| l.to_string())),
                ("title", Some(format!("{word} {}", test.id))),
            ],
            message,
        ));
    }
    let mut lines: Vec<String> = Vec::new();
    let rest = errors.len().saturating_sub(max);
    lines.extend(errors.into_iter().take(max));
    if rest > 0 {
        lines.push(command(
                "notice",
                &[("title", Some("pacer".to_string()))],
                &format!(
                    "{rest} more failure{} not annotated (at most {max}); the step summary and the log list them all",
                    if rest == 1 { "" } else { "s" }
                ),
            ));
    }
    for test in flaky.into_iter().take(max) {
        lines.push(command(
            "warning",
            &[
                (
                    "file",
                    Some(workspace_path(workspace, report, test_file(&test.id))),
                ),
                ("title", Some(format!("flaky {}", test.id))),
            ],
            &format!(
                "passed after {} rerun{}",
                test.reruns,
                if test.reruns == 1 { "" } else { "s" }
            ),
        ));
    }
    lines
}

/// A path relative to pytest's rootdir, made relative to the
/// repository's checkout (where GitHub looks files up) when the rootdir
/// lies inside it.
fn workspace_path(workspace: Option<&Path>, report: &RunReport, path: &str) -> String {
    let (Some(workspace), Some(rootdir)) = (workspace, &report.rootdir) else {
        return path.to_string();
    };
    let full = Path::new(rootdir).join(path);
    match full.strip_prefix(workspace) {
        Ok(inside) => inside.to_string_lossy().into_owned(),
        Err(_) => path.to_string(),
    }
}

/// The file part of a node id.
fn test_file(id: &str) -> &str {
    id.split("::").next().unwrap_or(id)
}

/// The last line with something on it: where a traceback says what went
/// wrong (without pytest's `E   ` margin).
fn last_line(text: &str) -> Option<&str> {
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.strip_prefix("E ").map_or(line, str::trim_start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(id: &str, outcome: Status, reruns: usize) -> TestReport {
        TestReport {
            id: id.into(),
            category: None,
            worker: "gw0".into(),
            start: 0.0,
            end: 1.0,
            message: (outcome == Status::Failed).then(|| "assert 1 == 2".into()),
            flaky: outcome == Status::Flaky,
            outcome,
            phases: Default::default(),
            reruns,
            output: None,
            ..Default::default()
        }
    }

    #[test]
    fn errors_are_capped_and_flaky_tests_warned_of() {
        let mut report = crate::RunRecord::with_clock("0", Box::new(|| 0.0)).to_report();
        report.tests = vec![
            test("t.py::a", Status::Failed, 0),
            // As the record has a test that passed after two failed
            // attempts (issue 18: this was `passed`, which no such test is).
            test("t.py::b", Status::Flaky, 2),
            test("t.py::c", Status::Failed, 0),
            test("t.py::d", Status::Failed, 0),
            test("t.py::e", Status::Passed, 0),
            // Passed on pacer's 429 rerun: rate-limited, not flaky.
            test("t.py::f", Status::Passed, 1),
        ];
        let lines = annotations(&report, &HashMap::new(), None, 2);
        assert_eq!(
            lines,
            [
                "::error file=t.py,title=FAILED t.py%3A%3Aa::assert 1 == 2",
                "::error file=t.py,title=FAILED t.py%3A%3Ac::assert 1 == 2",
                "::notice title=pacer::1 more failure not annotated (at most 2); the step summary and the log list them all",
                "::warning file=t.py,title=flaky t.py%3A%3Ab::passed after 2 reruns",
            ]
        );
    }

    #[test]
    fn a_message_from_a_traceback_is_its_last_line() {
        let traceback =
            "tests/t.py:3: in <module>\n    import nope\nE   ModuleNotFoundError: nope\n\n";
        assert_eq!(last_line(traceback), Some("ModuleNotFoundError: nope"));
        assert_eq!(last_line(" \n"), None);
    }

    #[test]
    fn paths_are_made_relative_to_the_checkout() {
        let workspace = Some(Path::new("/w/repo"));
        let mut report = crate::RunRecord::with_clock("0", Box::new(|| 0.0)).to_report();
        report.rootdir = Some("/w/repo/app".into());
        assert_eq!(
            workspace_path(workspace, &report, "tests/t.py"),
            "app/tests/t.py"
        );
        report.rootdir = Some("/elsewhere".into());
        assert_eq!(
            workspace_path(workspace, &report, "tests/t.py"),
            "tests/t.py"
        );
    }
}
