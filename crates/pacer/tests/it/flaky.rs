//! Flaky tests (issue 11) and their records in the reports (issue 10):
//! `--reruns`, the `flaky` marker and per-category `reruns`, with
//! pytest-rerunfailures' meaning; a test that fails and then passes is
//! FLAKY in the terminal, nextest's `<flakyFailure>` / `<rerunFailure>` in
//! the JUnit and its attempts in the JSON report; `--flaky-result fail`
//! fails the run. Also the bound on a test's captured output.
//!
//! The suite (`tests/fixtures/flaky`) counts attempts in files under
//! `$FLAKY_STATE`, a fresh folder per run. The project's `.venv` has no
//! pytest-rerunfailures: pacer's worker plugin reruns; `.venv-plugins` has
//! it, and pacer then leaves the reruns to it.

use crate::common;

use std::path::{Path, PathBuf};

use common::outcomes::{
    self, as_junit, final_line, from_json_report, from_junit, from_verbose, tallies, Outcomes,
    Status, Tally,
};
use common::runs::{run, strings, Run};
use serde_json::Value;

fn suite() -> PathBuf {
    common::suite("flaky")
}

/// pacer on the flaky suite with `python`, a fresh attempt counter and the
/// extra environment; returns the run and the folder holding the reports.
fn pacer_with(
    python: &Path,
    dir: &Path,
    args: &[&str],
    env: &[(&str, String)],
) -> (Run, tempfile::TempDir) {
    let state = tempfile::tempdir().unwrap();
    let mut full = strings(&["-n", "2", "--python"]);
    full.push(python.display().to_string());
    full.extend(strings(&["-p", "no:cacheprovider", "-p", "no:randomly"]));
    full.extend(strings(args));
    let mut env: Vec<(&str, String)> = env.to_vec();
    env.push(("FLAKY_STATE", state.path().display().to_string()));
    env.push(("PYTHONDONTWRITEBYTECODE", "1".into()));
    let ours = run(&assert_cmd::cargo::cargo_bin("pacer"), &full, dir, &env);
    ours.assert_parallel();
    (ours, state)
}

/// The flaky suite's tests and their status with `--reruns 2`.
fn flaky_outcomes() -> Outcomes {
    outcomes::expect(&[
        ("tests/test_flaky.py::test_stable", Status::Passed),
        ("tests/test_flaky.py::test_fails_once", Status::Flaky),
        ("tests/test_flaky.py::test_always_fails", Status::Failed),
        (
            "tests/test_flaky.py::test_marked_passes_on_third",
            Status::Flaky,
        ),
        ("tests/test_flaky.py::test_setup_error_once", Status::Flaky),
        ("tests/test_output.py::test_huge_output", Status::Passed),
    ])
}

fn pacer(args: &[&str], env: &[(&str, String)]) -> (Run, tempfile::TempDir) {
    pacer_with(&common::python(), &suite(), args, env)
}

/// `-v` lines: (word, node id) pairs in the order printed.
fn verbose_words(run: &Run) -> Vec<(String, String)> {
    run.stdout
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("[gw")?.split_once("%] ")?.1;
            let (word, id) = rest.split_once(' ')?;
            Some((word.to_string(), id.to_string()))
        })
        .collect()
}

fn words_of(run: &Run, id: &str) -> Vec<String> {
    verbose_words(run)
        .into_iter()
        .filter(|(_, i)| i.ends_with(id))
        .map(|(w, _)| w)
        .collect()
}

/// The `<testcase>` element of `name` in the JUnit text.
fn testcase<'a>(xml: &'a str, name: &str) -> &'a str {
    let start = xml
        .find(&format!("<testcase name=\"{name}\""))
        .unwrap_or_else(|| panic!("no testcase {name}\n{xml}"));
    let end = xml[start..].find("</testcase>").unwrap() + start;
    &xml[start..end]
}

fn json_test<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"].as_str().unwrap().ends_with(id))
        .unwrap_or_else(|| panic!("no test {id} in the JSON report"))
}

#[test]
fn a_test_that_fails_then_passes_is_flaky_in_the_terminal_junit_and_json() {
    let reports = tempfile::tempdir().unwrap();
    let xml_path = reports.path().join("junit.xml");
    let json_path = reports.path().join("run.json");
    let junit = format!("--junitxml={}", xml_path.display());
    let (ours, _state) = pacer(
        &[
            "-v",
            "--reruns",
            "2",
            &junit,
            "--json-report",
            json_path.to_str().unwrap(),
        ],
        &[],
    );
    let out = ours.describe();
    // pytest's code: one test failed on every attempt.
    assert_eq!(ours.code, Some(1), "{out}");
    assert!(
        ours.stdout.contains(
            "reruns: 2, by pacer's worker plugin (pytest-rerunfailures is not installed)"
        ),
        "{out}"
    );

    // Terminal: one RERUN line per failed attempt, then FLAKY or FAILED.
    assert_eq!(
        words_of(&ours, "::test_fails_once"),
        ["RERUN", "FLAKY"],
        "{out}"
    );
    assert_eq!(
        words_of(&ours, "::test_marked_passes_on_third"),
        ["RERUN", "RERUN", "FLAKY"],
        "{out}"
    );
    assert_eq!(
        words_of(&ours, "::test_setup_error_once"),
        ["RERUN", "FLAKY"],
        "{out}"
    );
    assert_eq!(
        words_of(&ours, "::test_always_fails"),
        ["RERUN", "RERUN", "FAILED"],
        "{out}"
    );
    assert_eq!(words_of(&ours, "::test_stable"), ["PASSED"], "{out}");
    assert_eq!(from_verbose(&ours.stdout), flaky_outcomes(), "{out}");
    assert_eq!(
        final_line(&ours.stdout),
        tallies(&[
            (1, Tally::Failed),
            (2, Tally::Passed),
            (3, Tally::Flaky),
            (6, Tally::Rerun),
        ]),
        "{out}"
    );
    assert!(
        ours.stdout
            .contains("FLAKY tests/test_flaky.py::test_fails_once - passed on attempt 2"),
        "{out}"
    );

    // JUnit: nextest's records, each failed attempt with its own output.
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let once = testcase(&xml, "test_fails_once");
    assert_eq!(once.matches("<flakyFailure").count(), 1, "{once}");
    assert!(!once.contains("<failure"), "{once}");
    assert!(once.contains("type=\"AssertionError\""), "{once}");
    assert!(
        once.contains("message=\"AssertionError: first attempt fails"),
        "{once}"
    );
    assert!(once.contains("attempt 1 says hello"), "{once}");
    assert!(once.contains("<system-err>"), "{once}");
    assert!(once.contains("attempt 1 complains"), "{once}");
    assert!(!once.contains("attempt 2 says hello"), "{once}");
    let always = testcase(&xml, "test_always_fails");
    assert_eq!(always.matches("<rerunFailure").count(), 2, "{always}");
    assert!(
        always.contains("<failure message=\"ValueError: broken on attempt 3\""),
        "{always}"
    );
    assert!(
        always.contains("message=\"ValueError: broken on attempt 1\""),
        "{always}"
    );
    assert!(always.contains("type=\"ValueError\""), "{always}");
    assert_eq!(
        testcase(&xml, "test_marked_passes_on_third")
            .matches("<flakyFailure")
            .count(),
        2
    );
    assert!(
        testcase(&xml, "test_setup_error_once").contains("<flakyError"),
        "{xml}"
    );
    assert!(!testcase(&xml, "test_stable").contains("<flaky"), "{xml}");
    // JUnit has no word for flaky: a success with its failed attempts.
    let mut in_junit = flaky_outcomes();
    for status in in_junit.values_mut() {
        if *status == Status::Flaky {
            *status = Status::Passed;
        }
    }
    assert_eq!(from_junit(&xml), as_junit(&in_junit), "{xml}");
    assert!(xml.contains("tests=\"6\""), "{xml}");
    assert!(xml.contains("failures=\"1\""), "{xml}");

    // JSON: the outcome, the reruns and every failed attempt.
    assert_eq!(from_json_report(&json_path), flaky_outcomes());
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let once = json_test(&report, "::test_fails_once");
    assert_eq!(once["outcome"], "flaky", "{once}");
    assert_eq!(once["flaky"], true, "{once}");
    assert_eq!(once["reruns"], 1, "{once}");
    let attempts = once["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{once}");
    assert_eq!(attempts[0]["when"], "call");
    assert!(attempts[0]["output"]
        .as_str()
        .unwrap()
        .contains("attempt 1 says hello"));
    let always = json_test(&report, "::test_always_fails");
    assert_eq!(always["outcome"], "failed", "{always}");
    assert_eq!(always["flaky"], false, "{always}");
    assert_eq!(always["attempts"].as_array().unwrap().len(), 2, "{always}");
    assert_eq!(
        json_test(&report, "::test_setup_error_once")["attempts"][0]["when"],
        "setup"
    );
    assert_eq!(report["counts"]["flaky"], 3, "{}", report["counts"]);
    assert_eq!(report["counts"]["rerun"], 6, "{}", report["counts"]);
    assert_eq!(report["exit_code"], 1);
}

#[test]
fn flaky_result_fail_makes_flakiness_fail_the_run() {
    let only = ["-k", "fails_once or stable", "--reruns", "1"];
    let (ours, _state) = pacer(&only, &[]);
    assert_eq!(ours.code, Some(0), "{}", ours.describe());
    assert_eq!(ours.counts().get("flaky"), Some(&1), "{}", ours.describe());

    let mut args = only.to_vec();
    args.extend(["--flaky-result", "fail"]);
    let (ours, _state) = pacer(&args, &[]);
    assert_eq!(ours.code, Some(1), "{}", ours.describe());
    assert_eq!(ours.counts().get("flaky"), Some(&1), "{}", ours.describe());

    let (ours, _state) = pacer(&only, &[("PACER_FLAKY_RESULT", "fail".into())]);
    assert_eq!(ours.code, Some(1), "{}", ours.describe());

    let (ours, _state) = pacer(&only, &[("PACER_FLAKY_RESULT", "maybe".into())]);
    assert_eq!(ours.code, Some(4), "{}", ours.describe());
    assert!(
        ours.stderr.contains("PACER_FLAKY_RESULT"),
        "{}",
        ours.describe()
    );
}

#[test]
fn reruns_come_from_the_environment_and_per_category_from_the_config() {
    // No `--reruns`: pacer's setting, from the environment.
    let only = ["-v", "-k", "fails_once"];
    let (ours, _state) = pacer(&only, &[]);
    assert_eq!(
        words_of(&ours, "::test_fails_once"),
        ["FAILED"],
        "{}",
        ours.describe()
    );
    let (ours, _state) = pacer(&only, &[("PACER_RERUNS", "1".into())]);
    assert_eq!(
        words_of(&ours, "::test_fails_once"),
        ["RERUN", "FLAKY"],
        "{}",
        ours.describe()
    );

    // Per category: only the tests of the category with `reruns` rerun.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&suite(), dir.path());
    let pyproject = dir.path().join("pyproject.toml");
    let mut text = std::fs::read_to_string(&pyproject).unwrap();
    text.push_str(
        "\n[tool.pacer.categories.shaky]\npaths = [\"tests/test_flaky.py\"]\nreruns = 1\n",
    );
    std::fs::write(&pyproject, text).unwrap();
    let (ours, _state) = pacer_with(
        &common::python(),
        dir.path(),
        &["-v", "-k", "fails_once or huge"],
        &[("FLAKY_HUGE_MB", "1".into())],
    );
    assert_eq!(
        words_of(&ours, "::test_fails_once"),
        ["RERUN", "FLAKY"],
        "{}",
        ours.describe()
    );
    // test_output.py is in the default category, which has no reruns.
    assert_eq!(
        words_of(&ours, "::test_huge_output"),
        ["FAILED"],
        "{}",
        ours.describe()
    );
}

#[test]
fn only_rerun_and_rerun_except_choose_the_failures_to_retry() {
    let only = ["-v", "-k", "always or fails_once", "--reruns", "2"];
    let mut args = only.to_vec();
    args.extend(["--only-rerun", "ValueError"]);
    let (ours, _state) = pacer(&args, &[]);
    let out = ours.describe();
    assert_eq!(
        words_of(&ours, "::test_always_fails"),
        ["RERUN", "RERUN", "FAILED"],
        "{out}"
    );
    assert_eq!(words_of(&ours, "::test_fails_once"), ["FAILED"], "{out}");

    let mut args = only.to_vec();
    args.extend(["--rerun-except", "ValueError"]);
    let (ours, _state) = pacer(&args, &[]);
    let out = ours.describe();
    assert_eq!(words_of(&ours, "::test_always_fails"), ["FAILED"], "{out}");
    assert_eq!(
        words_of(&ours, "::test_fails_once"),
        ["RERUN", "FLAKY"],
        "{out}"
    );
}

fn plugins_python() -> Option<PathBuf> {
    let python = match std::env::var_os("PACER_TEST_PLUGINS_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => common::repo_root().join(".venv-plugins/bin/python"),
    };
    python.exists().then_some(python)
}

/// With pytest-rerunfailures installed it does the reruns, as under pytest;
/// pacer only names the final pass FLAKY. Without it, pacer's own reruns
/// give the same outcomes.
#[test]
fn outcomes_match_pytest_with_rerunfailures() {
    let Some(python) = plugins_python() else {
        // `scripts/test` always makes .venv-plugins; say why nothing ran.
        panic!("no .venv-plugins: run scripts/venv-plugins (or set PACER_TEST_PLUGINS_PYTHON)");
    };
    let state = tempfile::tempdir().unwrap();
    let args = strings(&[
        "-m",
        "pytest",
        "-v",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "--reruns",
        "2",
    ]);
    let env = [
        ("FLAKY_STATE", state.path().display().to_string()),
        ("PYTHONDONTWRITEBYTECODE", "1".to_string()),
    ];
    let theirs = run(&python, &args, &suite(), &env);
    let reports = tempfile::tempdir().unwrap();
    let xml_path = reports.path().join("junit.xml");
    let junit = format!("--junitxml={}", xml_path.display());
    let (with_plugin, _s1) = pacer_with(&python, &suite(), &["-v", "--reruns", "2", &junit], &[]);
    let (native, _s2) = pacer(&["-v", "--reruns", "2"], &[]);
    let runs = format!(
        "{}\n{}\n{}",
        theirs.describe(),
        with_plugin.describe(),
        native.describe()
    );
    let expected = theirs.counts();
    assert_eq!(expected.get("rerun"), Some(&6), "{runs}");
    for ours in [&with_plugin, &native] {
        let mut counts = ours.counts();
        // pacer's FLAKY is pytest's PASSED after RERUNs.
        let flaky = counts.remove("flaky").unwrap_or(0);
        *counts.entry("passed".into()).or_insert(0) += flaky;
        assert_eq!(counts, expected, "{runs}");
        assert_eq!(ours.code, theirs.code, "{runs}");
        assert_eq!(flaky, 3, "{runs}");
    }
    // The same words per test, in the same order of attempts.
    let mut plugin_words = verbose_words(&with_plugin);
    let mut native_words = verbose_words(&native);
    plugin_words.sort();
    native_words.sort();
    assert_eq!(plugin_words, native_words, "{runs}");
    assert!(
        !with_plugin.stdout.contains("by pacer's worker plugin"),
        "{runs}"
    );
    // pytest-rerunfailures' reports carry every attempt's output so far:
    // each JUnit record keeps its own attempt's.
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let always = testcase(&xml, "test_always_fails");
    let records: Vec<&str> = always.split("<rerunFailure").skip(1).collect();
    assert_eq!(records.len(), 2, "{always}");
    let out = |record: &str| record.split("</rerunFailure>").next().unwrap().to_string();
    assert!(out(records[0]).contains("always attempt 1"), "{always}");
    assert!(out(records[1]).contains("always attempt 2"), "{always}");
    assert!(!out(records[1]).contains("always attempt 1"), "{always}");
    // pacer's setting reaches pytest-rerunfailures when the command line has no --reruns.
    let (from_env, _s3) = pacer_with(
        &python,
        &suite(),
        &["-v", "-k", "fails_once"],
        &[("PACER_RERUNS", "1".into())],
    );
    assert_eq!(
        words_of(&from_env, "::test_fails_once"),
        ["RERUN", "FLAKY"],
        "{}",
        from_env.describe()
    );
}

#[test]
fn a_failing_test_printing_20_mb_keeps_its_head_and_tail() {
    let reports = tempfile::tempdir().unwrap();
    let json_path = reports.path().join("run.json");
    let (ours, _state) = pacer(
        &[
            "-k",
            "huge",
            "--tb=short",
            "--json-report",
            json_path.to_str().unwrap(),
        ],
        &[("FLAKY_HUGE_MB", "20".into())],
    );
    assert_eq!(ours.code, Some(1), "exit {:?}\n{}", ours.code, ours.stderr);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let output = json_test(&report, "::test_huge_output")["output"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(output.contains("HEAD-MARKER"), "no head");
    assert!(output.contains("TAIL-MARKER"), "no tail");
    assert!(
        output.contains("[... pacer left out "),
        "no note of what was left out"
    );
    // 20 MiB printed, about 2 MiB kept.
    assert!(output.len() < 3 << 20, "{} bytes kept", output.len());
    assert!(output.len() > (2 << 20), "{} bytes kept", output.len());
    // The terminal shows the same bounded section.
    assert!(ours.stdout.contains("[... pacer left out "), "terminal");
    assert!(
        ours.stdout.len() < 3 << 20,
        "{} bytes printed",
        ours.stdout.len()
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" || name == ".pytest_cache" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
