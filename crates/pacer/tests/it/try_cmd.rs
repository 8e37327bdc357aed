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
        plain pytest: passed\n    \
        pacer:        failed\n        \
        AssertionError: test_a_sets.py::test_sets_ready did not run before me\n";
    assert!(out.starts_with(expected), "{}", text(&output));
    assert!(wall(&out, "plain pytest:") > 0.0 && wall(&out, "pacer:") > 0.0);
}

#[test]
fn try_json_names_the_same_difference() {
    let dir = suite_copy("order_global");
    let output = pacer_in(dir.path(), &["try", "-n", "2", "--json"], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
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
