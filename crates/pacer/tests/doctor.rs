//! `pacer doctor` on a real suite (`tests/fixtures/doctor`, copied to a
//! temporary folder): it names the module that is slow to import, the
//! fixture that is slow to set up and the test that bounds the run, and
//! `--json` carries the same findings. Normal runs never load its plugin.

mod common;

use common::{pacer_in, stdout, suite_copy, text};
use serde_json::Value;

#[test]
fn doctor_names_the_slow_import_the_slow_fixture_and_the_bounding_test() {
    let dir = suite_copy("doctor");
    let output = pacer_in(dir.path(), &["doctor", "-n", "2"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let printed = stdout(&output);
    let advice = printed
        .split("\nadvice:")
        .nth(1)
        .unwrap_or_else(|| panic!("no advice section\n{printed}"));
    assert!(
        advice.contains("tests/test_work.py::test_bounding") && advice.contains("bounds the run"),
        "{printed}"
    );
    assert!(
        advice.contains("`slow_import_helper`") && advice.contains("tests/test_imports.py"),
        "{printed}"
    );
    let fixtures = printed
        .split("heaviest fixtures")
        .nth(1)
        .and_then(|s| s.lines().nth(1))
        .unwrap_or_default();
    assert!(fixtures.contains("slow_resource"), "{printed}");
    let modules = printed
        .split("import and collection per module:")
        .nth(1)
        .and_then(|s| s.lines().nth(1))
        .unwrap_or_default();
    assert!(modules.contains("tests/test_imports.py"), "{printed}");
}

#[test]
fn doctor_json_has_the_same_findings_and_pytest_args_narrow_the_run() {
    let dir = suite_copy("doctor");
    let output = pacer_in(
        dir.path(),
        &["doctor", "-n", "2", "--json", "tests/test_work.py"],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let doc: Value = serde_json::from_str(&stdout(&output)).expect("JSON on stdout");
    assert_eq!(doc["schema"], "pacer-doctor");
    assert_eq!(doc["workers"], 2);
    // Only test_work.py ran: six tests, and the slow import never happened.
    assert_eq!(doc["tests"], 6, "{doc:#}");
    assert_eq!(doc["slowest"][0]["id"], "tests/test_work.py::test_bounding");
    assert_eq!(doc["fixtures"][0]["name"], "slow_resource");
    let kinds: Vec<&str> = doc["advice"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"bounding-test"), "{doc:#}");
    assert!(!kinds.contains(&"slow-import"), "{doc:#}");
    let bound = doc["bound"].as_f64().unwrap();
    let longest = doc["slowest"][0]["seconds"].as_f64().unwrap();
    assert!(bound >= longest, "{doc:#}");
}

#[test]
fn a_normal_run_of_the_same_suite_does_not_load_the_doctor_plugin() {
    let dir = suite_copy("doctor");
    let output = pacer_in(dir.path(), &["-n", "2", "-p", "no:cacheprovider"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let listed = pacer_in(
        dir.path(),
        &["-n", "1", "--", "-p", "pacer_doctor", "--co", "-q"],
        &[],
    );
    // pytest cannot find the plugin outside `pacer doctor`.
    assert_ne!(listed.status.code(), Some(0), "{}", text(&listed));
}
