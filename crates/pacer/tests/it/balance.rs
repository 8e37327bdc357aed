//! How the end of a run is shared between workers without touching pytest's
//! order: a worker left idle takes back, from a busy worker's queue, the
//! files it has not started (pytest-xdist's worksteal), when the recorded
//! durations were wrong. A file (or a chunk the plan cut from a big one) is
//! never split to do it, and the busy worker's next test stays with it.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::outcomes::{final_line, tallies, Tally};
use common::{pacer_in, stderr, stdout, text};

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

/// `(start, worker, id)` of every test in a JSON report, by start time.
fn timeline(report: &Path) -> Vec<(f64, String, String)> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let mut tests: Vec<(f64, String, String)> = json["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["start"].as_f64().unwrap(),
                t["worker"].as_str().unwrap().to_string(),
                t["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    tests.sort_by(|a, b| a.0.total_cmp(&b.0));
    tests
}

#[test]
fn an_idle_worker_takes_back_whole_files_from_a_busy_workers_queue() {
    let dir = tempfile::tempdir().unwrap();
    // `--ff` sends the files that failed last time first; their recorded
    // durations say they are quick, and they are not, while the big file's
    // say it is slow, and it is not. So one worker's first batch holds every
    // slow file, and the other worker soon has nothing left to do.
    let mut durations = serde_json::Map::new();
    let mut lastfailed = serde_json::Map::new();
    for f in 0..4 {
        let file = format!("test_slow_{f}.py");
        let body: String = (0..2)
            .map(|i| format!("def test_{i}():\n    time.sleep(0.3)\n\n"))
            .collect();
        write(dir.path(), &file, &format!("import time\n\n{body}"));
        for i in 0..2 {
            durations.insert(format!("{file}::test_{i}"), 0.001.into());
        }
        lastfailed.insert(format!("{file}::test_0"), true.into());
    }
    let quick: String = (0..30)
        .map(|i| format!("def test_{i:02}():\n    pass\n\n"))
        .collect();
    write(dir.path(), "test_z_quick.py", &quick);
    for i in 0..30 {
        durations.insert(format!("test_z_quick.py::test_{i:02}"), 0.05.into());
    }
    write(
        dir.path(),
        ".test_durations",
        &serde_json::Value::Object(durations).to_string(),
    );
    let cache = dir.path().join(".pytest_cache/v/cache");
    std::fs::create_dir_all(&cache).unwrap();
    write(
        &cache,
        "lastfailed",
        &serde_json::Value::Object(lastfailed).to_string(),
    );
    let report = dir.path().join("report.json");
    let out = pacer_in(
        dir.path(),
        &["-n", "2", "--ff", "--json-report", report.to_str().unwrap()],
        &[("PACER_DEBUG", "1")],
    );
    let output = text(&out);
    assert_eq!(out.status.code(), Some(0), "{output}");
    assert_eq!(
        final_line(&stdout(&out)),
        tallies(&[(38, Tally::Passed)]),
        "{output}"
    );
    assert!(stderr(&out).contains("taking back"), "no steal\n{output}");

    let tests = timeline(&report);
    let mut per_file: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut order: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (_, worker, id) in &tests {
        let file = id.split("::").next().unwrap().to_string();
        per_file
            .entry(file.clone())
            .or_default()
            .insert(worker.clone());
        order
            .entry((worker.clone(), file))
            .or_default()
            .push(id.clone());
    }
    // Each slow file whole on one worker, the slow files on both.
    let mut slow_workers = BTreeSet::new();
    for f in 0..4 {
        let workers = &per_file[&format!("test_slow_{f}.py")];
        assert_eq!(workers.len(), 1, "test_slow_{f}.py split: {per_file:?}");
        slow_workers.extend(workers.iter().cloned());
    }
    assert_eq!(slow_workers.len(), 2, "{per_file:?}\n{output}");
    // pytest's order inside each file on each worker.
    for ids in order.values() {
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, &sorted, "out of order\n{tests:?}");
    }
}
