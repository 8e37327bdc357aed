//! `--trace-touched`: the JSON report names what each test left behind, on
//! `tests/fixtures/touched` (copied to a temporary folder: one of its tests
//! writes a file into the suite). One test per resource, each charged to
//! the right test, a clean test charged nothing, and no `touched` at all
//! when tracing is off.

use crate::common;

use std::collections::BTreeMap;

use common::{pacer_in, suite_copy, text};
use serde_json::Value;

/// Each test's `touched` record (`Value::Null` when absent).
fn touched(report: &std::path::Path) -> BTreeMap<String, Value> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    doc["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let id = t["id"].as_str().unwrap();
            let name = id.rsplit("::").next().unwrap().to_string();
            (name, t.get("touched").cloned().unwrap_or(Value::Null))
        })
        .collect()
}

#[test]
fn trace_touched_names_each_resource_under_the_test_that_left_it() {
    let dir = suite_copy("touched");
    let report = dir.path().join("report.json");
    let output = pacer_in(
        dir.path(),
        &[
            "-n",
            "2",
            "--trace-touched",
            "--json-report",
            report.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let t = touched(&report);
    assert_eq!(
        t["test_leaves_env"],
        serde_json::json!({"env": ["TOUCHED_FIXTURE_FLAG"]})
    );
    assert_eq!(
        t["test_writes_shared_file"],
        serde_json::json!({"files": ["shared", "shared/out.txt"]})
    );
    let ports = t["test_binds_port"]["ports"].as_array().unwrap();
    assert!(
        ports.len() == 1 && ports[0].as_u64() > Some(0),
        "{:?}",
        t["test_binds_port"]
    );
    assert_eq!(
        t["test_changes_globals"],
        serde_json::json!({"globals": ["projstate.COUNTER", "projstate.REGISTRY"]})
    );
    assert_eq!(t["test_clean"], Value::Null, "{t:?}");
}

#[test]
fn without_tracing_the_report_has_no_touched_field() {
    let dir = suite_copy("touched");
    let report = dir.path().join("report.json");
    let output = pacer_in(
        dir.path(),
        &["-n", "2", "--json-report", report.to_str().unwrap()],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let t = touched(&report);
    assert_eq!(t.len(), 5);
    assert!(t.values().all(Value::is_null), "{t:?}");
}
