//! `--junitxml`: pacer writes one JUnit XML report for the whole run, as
//! pytest-xdist does in its controller, whether the option comes as pacer's
//! flag, after `--`, or from `pytest_args`; and it writes it however the
//! run ends (crashed workers, timeouts, `-x`).
//!
//! Every test runs the real binary on a real pytest suite under
//! `tests/fixtures/`, with the interpreter from `$PACER_TEST_PYTHON`, else
//! `<repo>/.venv/bin/python`. Reports are read back with quick-junit's
//! deserializer, pytest's own included.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::{pacer_command, python, signal_mid_run, suite, text};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// `pacer ARGS` in `dir`.
fn pacer_in(dir: &Path, args: &[&str]) -> Output {
    pacer_command(dir, args).output().expect("pacer runs")
}

fn read_report(path: &Path, context: &str) -> Report {
    let xml = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}\n{context}", path.display()));
    Report::deserialize_from_str(&xml).unwrap_or_else(|e| panic!("unreadable report: {e}\n{xml}"))
}

fn only_suite(report: &Report) -> &TestSuite {
    assert_eq!(report.test_suites.len(), 1, "{report:?}");
    &report.test_suites[0]
}

/// The suite's counts as pytest writes them: tests, failures, errors, skipped.
fn counts(suite: &TestSuite) -> (usize, usize, usize, String) {
    let skipped = suite
        .extra
        .get("skipped")
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    (suite.tests, suite.failures, suite.errors, skipped)
}

/// How many `<testcase>` elements hold a failure, an error, a skip.
fn elements(suite: &TestSuite) -> (usize, usize, usize) {
    let mut kinds = (0, 0, 0);
    for case in &suite.test_cases {
        match &case.status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                ..
            } => kinds.0 += 1,
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Error,
                ..
            } => kinds.1 += 1,
            TestCaseStatus::Skipped { .. } => kinds.2 += 1,
            TestCaseStatus::Success { .. } => {}
        }
    }
    kinds
}

/// Plain pytest (no xdist) on `root` with `args`, its JUnit report at `out`.
fn pytest_junit(root: &Path, args: &[&str], out: &Path) -> Output {
    Command::new(python())
        .current_dir(root)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
        ])
        .args(args)
        .arg(format!("--junitxml={}", out.display()))
        .env_remove("PYTEST_ADDOPTS")
        .output()
        .expect("pytest runs")
}

fn case<'a>(suite: &'a TestSuite, name: &str) -> &'a TestCase {
    suite
        .test_cases
        .iter()
        .find(|c| c.name.as_str() == name)
        .unwrap_or_else(|| panic!("no testcase {name}"))
}

fn message(case: &TestCase) -> Option<&str> {
    match &case.status {
        TestCaseStatus::NonSuccess { message, .. } | TestCaseStatus::Skipped { message, .. } => {
            message.as_ref().map(|m| m.as_str())
        }
        TestCaseStatus::Success { .. } => None,
    }
}

#[test]
fn the_report_of_a_parallel_run_counts_what_pytests_own_report_counts() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("pacer/out.xml");
    let theirs = dir.path().join("pytest.xml");
    let root = suite("outcomes");

    let pytest = pytest_junit(&root, &[], &theirs);
    let pacer = pacer_in(
        &root,
        &["-n", "2", "--", &format!("--junitxml={}", ours.display())],
    );
    assert_eq!(pacer.status.code(), Some(1), "{}", text(&pacer));

    // One file, and no temporary file left beside it.
    let files: Vec<_> = std::fs::read_dir(ours.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, vec!["out.xml"], "{}", text(&pacer));

    let expected = read_report(&theirs, &String::from_utf8_lossy(&pytest.stdout));
    let actual = read_report(&ours, &text(&pacer));
    let (expected, actual) = (only_suite(&expected), only_suite(&actual));
    assert_eq!(actual.name.as_str(), "pytest");
    assert_eq!(actual.test_cases.len(), expected.test_cases.len());
    assert_eq!(counts(actual), counts(expected));
    assert_eq!(elements(actual), elements(expected));

    // Test by test: the same classname, name and kind of result.
    let key = |c: &TestCase| {
        let kind = match &c.status {
            TestCaseStatus::Success { .. } => "passed".to_string(),
            TestCaseStatus::NonSuccess { kind, .. } => format!("{kind:?}"),
            TestCaseStatus::Skipped { ty, .. } => format!("skipped {ty:?}"),
        };
        let classname = c.classname.as_ref().map(|s| s.as_str().to_string());
        (classname, c.name.as_str().to_string(), kind)
    };
    let mut want: Vec<_> = expected.test_cases.iter().map(key).collect();
    let mut got: Vec<_> = actual.test_cases.iter().map(key).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn a_teardown_error_is_counted_as_pytest_counts_it() {
    // Issue 17: a passing test with a teardown error counted 2 where pytest
    // counts 1 (one element), a failing one 1 where pytest counts 2 (two
    // elements). Each alone, so that the two cannot even out.
    let root = suite("outcomes");
    for test in [
        "test_teardown_error_after_pass",
        "test_teardown_error_after_failure",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (ours, theirs) = (dir.path().join("pacer.xml"), dir.path().join("pytest.xml"));
        let node = format!("tests/test_scopes.py::{test}");
        let pytest = pytest_junit(&root, &[&node], &theirs);
        let pacer = pacer_in(
            &root,
            &["-n", "2", &node, &format!("--junitxml={}", ours.display())],
        );
        let expected = read_report(&theirs, &String::from_utf8_lossy(&pytest.stdout));
        let actual = read_report(&ours, &text(&pacer));
        let (expected, actual) = (only_suite(&expected), only_suite(&actual));
        assert_eq!(counts(actual), counts(expected), "{test}\n{}", text(&pacer));
        assert_eq!(elements(actual), elements(expected), "{test}");
        assert_eq!(actual.test_cases.len(), expected.test_cases.len(), "{test}");
    }
}

#[test]
fn a_test_that_kills_its_worker_is_an_error_saying_the_worker_crashed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.xml");
    let output = pacer_in(
        &suite("crash"),
        &["-n", "2", "--junitxml", path.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let report = read_report(&path, &text(&output));
    let suite = only_suite(&report);
    let crashed = case(suite, "test_os_exit");
    assert_eq!(
        crashed.classname.as_ref().map(|c| c.as_str()),
        Some("tests.test_2_crash")
    );
    assert!(
        matches!(
            crashed.status,
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Error,
                ..
            }
        ),
        "{crashed:?}"
    );
    assert!(
        message(crashed).is_some_and(|m| m.starts_with("worker crashed")),
        "{crashed:?}"
    );
    // What it printed before dying is kept.
    let out = crashed
        .system_out
        .as_ref()
        .map(|s| s.as_str())
        .unwrap_or("");
    assert!(out.contains("about to crash"), "{crashed:?}");
    // The tests after the crash ran on a replacement worker and are there.
    assert!(matches!(
        case(suite, "test_pass_last").status,
        TestCaseStatus::Success { .. }
    ));
    assert!(String::from_utf8_lossy(&output.stdout).contains("generated xml file"));
}

#[test]
fn a_timed_out_run_still_writes_the_tests_that_passed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hang.xml");
    let output = pacer_in(
        &suite("hang"),
        &[
            "-n",
            "2",
            "--timeout",
            "2",
            "--",
            "--junitxml",
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let report = read_report(&path, &text(&output));
    let suite = only_suite(&report);
    for name in ["test_quick_before", "test_quick_after"] {
        assert!(matches!(
            case(suite, name).status,
            TestCaseStatus::Success { .. }
        ));
    }
    let hung = case(suite, "test_hangs");
    assert!(
        message(hung).is_some_and(|m| m.contains("timed out")),
        "{hung:?}"
    );
}

#[test]
fn a_run_stopped_by_sigterm_still_writes_its_report() {
    stopped_by_signal_still_writes_its_report(15);
}

#[test]
fn a_run_stopped_by_sighup_still_writes_its_report() {
    stopped_by_signal_still_writes_its_report(1);
}

fn stopped_by_signal_still_writes_its_report(signal: i32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("term.xml");
    let path_arg = path.display().to_string();
    let (status, seen) = signal_mid_run(&["-n", "2", "-v", "--junitxml", &path_arg], signal);
    assert_eq!(status.code(), Some(2), "{seen}");
    let report = read_report(&path, &seen);
    let suite = only_suite(&report);
    assert!(
        suite
            .test_cases
            .iter()
            .any(|c| matches!(c.status, TestCaseStatus::Success { .. })),
        "{suite:?}"
    );
}

#[test]
fn a_run_stopped_by_exitfirst_reports_what_ran() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.xml");
    let output = pacer_in(
        &suite("outcomes"),
        &["--sequential", "-x", "--junitxml", path.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let report = read_report(&path, &text(&output));
    let suite = only_suite(&report);
    assert!(suite.failures + suite.errors >= 1, "{suite:?}");
    assert!(suite.test_cases.len() < 85, "{suite:?}");
}

#[test]
fn pytest_args_from_the_settings_give_the_path_relative_to_the_project() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.pacer]\npytest_args = [\"--junitxml=reports/junit.xml\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("test_one.py"),
        "def test_one():\n    pass\n\ndef test_two():\n    pass\n",
    )
    .unwrap();
    let output = pacer_in(dir.path(), &["-n", "2", "-C", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report = read_report(&dir.path().join("reports/junit.xml"), &text(&output));
    let suite = only_suite(&report);
    assert_eq!(suite.tests, 2);
    assert_eq!(
        case(suite, "test_one").classname.as_ref().unwrap().as_str(),
        "test_one"
    );
}

#[test]
fn an_unwritable_path_is_a_usage_error_naming_the_flag_before_any_test_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "").unwrap();
    let path = file.join("out.xml");
    let output = pacer_in(&suite("outcomes"), &["--junitxml", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    crate::common::snapshot!(
        "junit__unwritable_path",
        "the error names --junitxml and the file in the way; nothing ran (stdout empty)",
        &[(dir.path(), "[DIR]")],
        text(&output),
    );
}
