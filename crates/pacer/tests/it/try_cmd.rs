//! `pacer try`: plain pytest and pacer on the same suite, test by test.
//! On the conformance suite (`tests/fixtures/outcomes`, every outcome
//! pytest reports) the verdict is "same results"; on `order_global`, where a
//! test reads a module global that a test of an earlier file sets, pacer's
//! two workers run the files apart and `try` names that test (exit 1), in
//! text and in JSON. Each suite is copied to a temporary folder, so that
//! the durations the runs record stay out of the repository.

use crate::common;

use common::{pacer_in, stdout, suite_copy, text};
use serde_json::Value;

/// The seconds on the line starting with `label` (`plain pytest:    1.23 s`).
fn wall(stdout: &str, label: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in\n{stdout}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no seconds in {line:?}"))
}

#[test]
fn try_on_the_conformance_suite_says_same_results_and_prints_both_walls() {
    let dir = suite_copy("outcomes");
    let output = pacer_in(dir.path(), &["try", "-n", "2", "--warm"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let out = stdout(&output);
    assert!(out.starts_with("same results: "), "{}", text(&output));
    assert!(wall(&out, "plain pytest:") > 0.0 && wall(&out, "pacer:") > 0.0);
    assert!(out.contains("speed-up "), "{out}");
    // A fresh copy has no durations; the first pacer run records them and
    // the warm run is timed with them.
    assert!(out.contains("durations: none were recorded"), "{out}");
    assert!(wall(&out, "pacer, warm:") > 0.0, "{out}");
}

#[test]
fn try_names_the_test_that_reads_a_global_an_earlier_file_sets() {
    let dir = suite_copy("order_global");
    let output = pacer_in(dir.path(), &["try", "-n", "2"], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let out = stdout(&output);
    let expected = "DIFFERENT RESULTS: 1 of 25 test(s) differ between plain pytest and pacer\n  \
        tests/test_b_reads.py::test_reads_ready\n    \
        plain pytest: passed  (test 24 of its one process)\n    \
        pacer:        failed  (test 2 on gw";
    assert!(out.starts_with(expected), "{}", text(&output));
    assert!(
        out.contains(
            ")\n        AssertionError: test_a_sets.py::test_sets_ready did not run before me\n"
        ),
        "{}",
        text(&output)
    );
    assert!(wall(&out, "plain pytest:") > 0.0 && wall(&out, "pacer:") > 0.0);
}

#[test]
fn try_json_names_the_same_difference() {
    let dir = suite_copy("order_global");
    let report = dir.path().join("kept/pacer.json");
    let output = pacer_in(
        dir.path(),
        &[
            "try",
            "-n",
            "2",
            "--json",
            "--pacer-report",
            "kept/pacer.json",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    // pacer's own report of the run, kept: the reader failed there.
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(kept["tests"].as_array().unwrap().iter().any(|t| {
        t["id"] == "tests/test_b_reads.py::test_reads_ready" && t["outcome"] == "failed"
    }));
    let doc: Value =
        serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("{e}: {}", text(&output)));
    assert_eq!(doc["schema"], "pacer-try");
    assert_eq!(doc["verdict"], "different");
    assert_eq!(doc["tests"], 25);
    let differences = doc["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 1, "{doc:#}");
    let d = &differences[0];
    assert_eq!(d["id"], "tests/test_b_reads.py::test_reads_ready");
    assert_eq!(
        (&d["pytest"], &d["pacer"]),
        (&"passed".into(), &"failed".into())
    );
    assert!(d["pacer_message"]
        .as_str()
        .is_some_and(|m| m.starts_with("AssertionError: test_a_sets.py")));
    assert_eq!(doc["pacer"]["workers"], 2);
    // Where each side ran it: after the whole first file under pytest,
    // second on its worker under pacer (the first file on the other).
    assert_eq!(
        (&d["pytest_position"], &d["pacer_position"]),
        (&24.into(), &2.into())
    );
    assert!(d["pacer_worker"]
        .as_str()
        .is_some_and(|w| w.starts_with("gw")));
    for side in ["pytest", "pacer"] {
        assert!(doc[side]["wall"].as_f64() > Some(0.0), "{doc:#}");
    }
}

#[test]
fn try_repeat_zero_is_a_usage_error() {
    let dir = suite_copy("order_global");
    let output = pacer_in(dir.path(), &["try", "--repeat", "0"], &[]);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    assert!(common::stderr(&output).contains("hint: pass --repeat 1 or more"));
}

#[test]
fn try_repeat_sets_a_test_that_varies_within_a_side_apart_as_flaky() {
    // Written here: a test that fails on every second run, counted in a
    // file beside it, and a steady one.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("tests/test_alternate.py"),
        "import pathlib\n\
         COUNT = pathlib.Path(__file__).with_name('count.txt')\n\n\
         def test_alternates():\n    \
             n = int(COUNT.read_text()) if COUNT.exists() else 0\n    \
             COUNT.write_text(str(n + 1))\n    \
             assert n % 2 == 0, 'odd run %d' % n\n\n\
         def test_steady():\n    \
             pass\n",
    )
    .unwrap();
    let output = pacer_in(
        dir.path(),
        &["try", "-n", "2", "--repeat", "2", "--json"],
        &[],
    );
    // Runs: pytest (0, passes), pacer (1, fails), pacer (2, passes),
    // pytest (3, fails): each side saw both outcomes.
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let doc: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(doc["verdict"], "same", "{doc:#}");
    assert_eq!(doc["differences"].as_array().unwrap().len(), 0);
    let flaky = doc["flaky"].as_array().unwrap();
    assert_eq!(flaky.len(), 1, "{doc:#}");
    assert_eq!(flaky[0]["id"], "tests/test_alternate.py::test_alternates");
    assert_eq!(flaky[0]["pytest"], serde_json::json!(["passed", "failed"]));
    assert_eq!(flaky[0]["pacer"], serde_json::json!(["failed", "passed"]));
    assert_eq!(doc["pytest"]["walls"].as_array().unwrap().len(), 2);
    assert_eq!(doc["pacer"]["walls"].as_array().unwrap().len(), 2);
}
