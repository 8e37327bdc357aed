//! How the end of a run is shared between workers without reordering a
//! module: the last file of a first run (nothing known about its tests) is
//! cut between workers, and a worker left idle takes back the tail of a busy
//! worker's queue when recorded durations were wrong (pytest-xdist's
//! worksteal). Each worker still runs a file's tests in pytest's order.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{pacer_in, stderr, text};

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

/// Per worker, the tests of `file` it ran, by start time.
fn ran_per_worker(report: &Path, file: &str) -> BTreeMap<String, Vec<String>> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let mut tests: Vec<(f64, String, String)> = json["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["id"].as_str().unwrap().starts_with(file))
        .map(|t| {
            (
                t["start"].as_f64().unwrap(),
                t["worker"].as_str().unwrap().to_string(),
                t["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    tests.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut per_worker: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, worker, id) in tests {
        per_worker.entry(worker).or_default().push(id);
    }
    per_worker
}

/// Shared by at least two workers, each running its part in file order.
fn assert_shared_in_order(per_worker: &BTreeMap<String, Vec<String>>, total: usize, output: &str) {
    assert!(
        per_worker.len() >= 2,
        "one worker ran it all: {per_worker:?}\n{output}"
    );
    assert_eq!(per_worker.values().map(Vec::len).sum::<usize>(), total);
    for ids in per_worker.values() {
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(
            ids, &sorted,
            "out of pytest's order on one worker\n{output}"
        );
    }
}

#[test]
fn the_last_file_of_a_first_run_is_shared_between_workers() {
    let dir = tempfile::tempdir().unwrap();
    for f in 0..6 {
        let body: String = (0..10)
            .map(|i| format!("def test_{i:02}():\n    pass\n\n"))
            .collect();
        write(dir.path(), &format!("test_quick_{f}.py"), &body);
    }
    // Last in collection order, and nothing recorded says they are slow.
    let body: String = (0..4)
        .map(|i| format!("def test_{i:02}():\n    time.sleep(0.4)\n\n"))
        .collect();
    write(
        dir.path(),
        "test_zz_slow.py",
        &format!("import time\n\n{body}"),
    );
    let report = dir.path().join("report.json");
    let out = pacer_in(
        dir.path(),
        &[
            "-n",
            "2",
            "-p",
            "no:cacheprovider",
            "--json-report",
            report.to_str().unwrap(),
        ],
        &[],
    );
    let output = text(&out);
    assert_eq!(out.status.code(), Some(0), "{output}");
    assert!(output.contains("64 passed"), "{output}");
    assert_shared_in_order(&ran_per_worker(&report, "test_zz_slow.py"), 4, &output);
}

#[test]
fn an_idle_worker_takes_back_the_tail_of_a_busy_workers_queue() {
    let dir = tempfile::tempdir().unwrap();
    // `--ff` sends the file that failed last time first, whole, to one
    // worker; its recorded durations say it is quick, and it is not. The
    // other worker runs the rest in no time and is left idle.
    let slow: String = (0..10)
        .map(|i| format!("def test_{i:02}():\n    time.sleep(0.3)\n\n"))
        .collect();
    write(
        dir.path(),
        "test_a_slow.py",
        &format!("import time\n\n{slow}"),
    );
    let quick: String = (0..30)
        .map(|i| format!("def test_{i:02}():\n    pass\n\n"))
        .collect();
    write(dir.path(), "test_b_quick.py", &quick);
    let mut durations = serde_json::Map::new();
    for i in 0..10 {
        durations.insert(format!("test_a_slow.py::test_{i:02}"), 0.001.into());
    }
    for i in 0..30 {
        durations.insert(format!("test_b_quick.py::test_{i:02}"), 0.05.into());
    }
    write(
        dir.path(),
        ".test_durations",
        &serde_json::Value::Object(durations).to_string(),
    );
    let cache = dir.path().join(".pytest_cache/v/cache");
    std::fs::create_dir_all(&cache).unwrap();
    write(&cache, "lastfailed", r#"{"test_a_slow.py::test_00": true}"#);
    let report = dir.path().join("report.json");
    let out = pacer_in(
        dir.path(),
        &["-n", "2", "--ff", "--json-report", report.to_str().unwrap()],
        &[("PACER_DEBUG", "1")],
    );
    let output = text(&out);
    assert_eq!(out.status.code(), Some(0), "{output}");
    assert!(output.contains("40 passed"), "{output}");
    assert!(stderr(&out).contains("taking back"), "no steal\n{output}");
    assert_shared_in_order(&ran_per_worker(&report, "test_a_slow.py"), 10, &output);
}
