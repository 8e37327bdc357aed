//! `pacer measure` on a real suite (`tests/fixtures/measure`, copied to a
//! temporary folder): the JSON it writes and its history, a row per
//! category, `--baseline`, and `--compare` flagging a category made slower
//! on purpose (its tests sleep longer, through `MEASURE_SLEEP`).

use crate::common;

use std::path::Path;

use common::{pacer_in, stdout, suite_copy, text};
use serde_json::Value;

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()))
}

fn history(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join(".pacer/perf/history.jsonl"))
        .expect("a history file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON document per line"))
        .collect()
}

fn category<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no category {name} in {doc:#}"))
}

fn args(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

#[test]
fn measure_writes_its_json_and_history_with_a_row_per_category() {
    let dir = suite_copy("measure");
    let out = dir.path().join("out/measure.json");
    // The environment asks for sequential runs: measure's parallel runs
    // stay parallel all the same (two workers, as `-n 2` says).
    let output = pacer_in(
        dir.path(),
        &[
            "measure",
            "-n",
            "2",
            "--repeat",
            "2",
            "--output",
            out.to_str().unwrap(),
        ],
        &[("PACER_DISABLE_PARALLEL", "1")],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    let doc = read_json(&out);
    assert_eq!(doc["workers"], 2, "{doc:#}");
    assert_eq!(doc["schema"], "pacer-measure");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["repeat"], 2);
    assert_eq!(doc["baseline"], false);
    assert!(doc["python"].as_str().is_some_and(|v| v.starts_with('3')));
    assert!(doc["pytest"].as_str().is_some());
    assert!(doc["cores"].as_u64() > Some(0));
    assert!(doc["timestamp"].as_str().unwrap().ends_with('Z'));
    let names: Vec<&str> = doc["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["unit", "integration"], "{doc:#}");
    for name in ["unit", "integration"] {
        let c = category(&doc, name);
        assert_eq!(c["tests"], 4);
        let seq = &c["sequential"];
        let par = &c["parallel"];
        assert!(args(&seq["command"]).contains(&"--sequential"));
        assert!(!args(&par["command"]).contains(&"--sequential"));
        let flag = format!("--category={name}");
        assert!(args(&par["command"]).contains(&flag.as_str()), "{c:#}");
        for mode in [seq, par] {
            let runs = mode["runs"].as_array().unwrap();
            assert_eq!(runs.len(), 2, "{c:#}");
            for run in runs {
                assert_eq!(run["exit_code"], 0);
                assert_eq!(run["counts"]["passed"], 4, "{c:#}");
                assert!(run["wall"].as_f64() > Some(0.0));
            }
        }
        // Each of the four tests sleeps at least 0.05 s.
        assert!(c["work"].as_f64() >= Some(0.2), "{c:#}");
        assert!(c["bound"].as_f64() > Some(0.0));
        assert!(c["speedup"].as_f64() > Some(0.0));
        assert!(c["longest_test"]["id"]
            .as_str()
            .unwrap()
            .contains(&format!("tests/{name}/")));
    }

    // The timestamped file and the history hold the same document.
    let files: Vec<_> = std::fs::read_dir(dir.path().join(".pacer/perf"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        read_json(&dir.path().join(".pacer/perf").join(&files[0])),
        doc
    );
    assert_eq!(history(dir.path()), vec![doc.clone()]);

    documented_fields_are_written(&doc);

    let printed = stdout(&output);
    for row in ["unit ", "integration "] {
        let line = printed
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no row for {row}\n{printed}"));
        assert!(line.contains('x') && line.contains('%'), "{line}");
    }
}

/// Every field docs/measure.md's schema tables name is in the document
/// (top level, a category, a mode), so the documentation cannot drift.
fn documented_fields_are_written(doc: &Value) {
    let text = std::fs::read_to_string(common::repo_root().join("docs/measure.md")).unwrap();
    let schema = text
        .split("### The JSON schema")
        .nth(1)
        .and_then(|s| s.split("### `--compare`").next())
        .expect("a schema section");
    let mut parts = schema.split("A category (`categories[]`):");
    let top = parts.next().unwrap();
    let mut rest = parts.next().expect("a category table").split("A mode (");
    let (cat, mode) = (rest.next().unwrap(), rest.next().expect("a mode table"));
    let unit = category(doc, "unit");
    for (table, object) in [(top, doc), (cat, unit), (mode, &unit["sequential"])] {
        let names: Vec<&str> = table
            .lines()
            .filter(|l| l.starts_with("| `"))
            .flat_map(|l| l.split('|').nth(1).unwrap().split('`').skip(1).step_by(2))
            .collect();
        assert!(names.len() > 3, "{table}");
        for name in names {
            assert!(
                object.get(name).is_some(),
                "documented `{name}` missing in {object:#}"
            );
        }
    }
}

#[test]
fn compare_flags_a_category_made_slower_on_purpose() {
    let dir = suite_copy("measure");
    let first = pacer_in(
        dir.path(),
        &["measure", "--integration", "--repeat", "1"],
        &[("MEASURE_SLEEP", "0.05")],
    );
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    // Four tests 0.75 s longer each: seconds more sequentially, about
    // half that in parallel, far beyond the 10% the rule allows.
    let second = pacer_in(
        dir.path(),
        &["measure", "--integration", "--repeat", "1", "--compare"],
        &[("MEASURE_SLEEP", "0.8")],
    );
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    let printed = stdout(&second);
    for mode in ["parallel", "sequential"] {
        assert!(
            printed
                .lines()
                .any(|l| l.contains(&format!("integration {mode}:")) && l.ends_with("SLOWER")),
            "{mode} not flagged\n{printed}"
        );
    }
    let entries = history(dir.path());
    assert_eq!(entries.len(), 2);
    assert_eq!(
        category(&entries[1], "integration")["sequential"]["runs"][0]["counts"]["passed"],
        4
    );
}

#[test]
fn baseline_times_sequential_runs_only_and_passes_pytest_args_on() {
    let dir = suite_copy("measure");
    let output = pacer_in(
        dir.path(),
        &[
            "measure",
            "--baseline",
            "--unit",
            "--repeat",
            "1",
            "tests/unit/test_quick.py::test_quick[0]",
            "tests/unit/test_quick.py::test_quick[1]",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let doc = history(dir.path()).pop().unwrap();
    assert_eq!(doc["baseline"], true);
    assert_eq!(doc["categories"].as_array().unwrap().len(), 1, "{doc:#}");
    let unit = category(&doc, "unit");
    assert_eq!(unit["tests"], 2);
    assert!(unit["parallel"].is_null() && unit["speedup"].is_null());
    assert_eq!(unit["sequential"]["runs"][0]["counts"]["passed"], 2);
    assert!(
        args(&unit["sequential"]["command"]).contains(&"tests/unit/test_quick.py::test_quick[1]")
    );
}

#[test]
fn bad_measure_options_are_usage_errors() {
    let dir = suite_copy("measure");
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"schema\": \"other\"}").unwrap();
    let compare_junk = format!("--compare={}", junk.display());
    let mut shown = String::new();
    for args in [
        &["measure", "--repeat", "0"][..],
        // Nothing measured yet to compare with: history.jsonl is named.
        &["measure", "--compare"][..],
        &["measure", &compare_junk][..],
        // pytest refuses an option: its words, its exit code.
        &["measure", "--", "--bogus"][..],
    ] {
        let out = pacer_in(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(4), "{args:?}\n{}", text(&out));
        shown.push_str(&format!("----- pacer {args:?}\n{}\n", text(&out)));
    }
    common::snapshot!(
        "measure__bad_options",
        "usage errors naming --repeat, history.jsonl, junk.json, and pytest's own words for --bogus",
        &[(dir.path(), "[DIR]")],
        shown,
    );
    // Nothing written.
    assert!(!dir.path().join(".pacer/perf/history.jsonl").exists());
}

#[test]
fn a_rate_limited_category_reports_the_achieved_rate_against_the_configured_one() {
    let api = common::mockapi::start(&["--rate", "50", "--latency", "0.01"]);
    let dir = suite_copy("ratelimited");
    let upstream = format!("--upstream=api={}", api.url);
    let output = pacer_in(
        dir.path(),
        &[
            "measure",
            "--end-to-end",
            "--repeat",
            "1",
            &upstream,
            "--rate",
            "20",
            "--",
            "-p",
            "no:cacheprovider",
        ],
        &[("RATELIMITED_TESTS", "6"), ("RATELIMITED_CALLS", "2")],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let doc = history(dir.path()).pop().unwrap();
    let e2e = category(&doc, "end-to-end");
    assert_eq!(e2e["rate_limited"], true);
    assert_eq!(e2e["tests"], 6);
    let api_row = &e2e["upstreams"][0];
    assert_eq!(api_row["name"], "api", "{e2e:#}");
    assert_eq!(api_row["requests"], 12, "6 tests x 2 calls: {e2e:#}");
    assert_eq!(api_row["configured_rate"], 20.0);
    assert!(api_row["achieved_rate"].as_f64() > Some(0.0), "{e2e:#}");
    // 12 requests at 20/s cannot take less than 0.6 s, whatever the workers.
    assert!(e2e["bound"].as_f64() >= Some(0.6), "{e2e:#}");
    assert!(
        stdout(&output).contains("api: 12 requests"),
        "{}",
        text(&output)
    );
}

#[test]
fn measure_says_when_its_history_is_not_ignored_by_git() {
    // Issue 17: `.pacer/perf/` landed in the project without a word.
    let dir = suite_copy("measure");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("git runs")
    };
    git(&["init", "-q"]);
    let run = || {
        pacer_in(
            dir.path(),
            &["measure", "--integration", "--repeat", "1"],
            &[("MEASURE_SLEEP", "0.01")],
        )
    };
    let first = run();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert!(
        stdout(&first).contains("add `.pacer/` to .gitignore"),
        "{}",
        text(&first)
    );
    std::fs::write(dir.path().join(".gitignore"), ".pacer/\n").unwrap();
    let second = run();
    assert!(!stdout(&second).contains(".gitignore"), "{}", text(&second));
}
