//! `workers = "auto"` sizes the pool for what the tests do (issue 21): a
//! suite whose recorded tests sleep gets workers beyond the cores on its
//! second run, a computing one does not, the start-up line, `pacer config`
//! and the reports say why, and `max_wait_workers` caps the extras.
//! Asserted on the worker count and the plan, not on wall time (the machine
//! is shared); the wall ratio is printed.

use crate::common;

use std::path::Path;

use std::process::Output;

use common::{config_rows, pacer_command, stderr, stdout, text};
use pacer_report::schema::RunReport;

/// `pacer ARGS` in `dir` at pacer's defaults: without the harness's
/// `PACER_MAX_WAIT_WORKERS=0` (`common::pacer_command`).
fn pacer_at_defaults(dir: &Path, args: &[&str]) -> Output {
    pacer_command(dir, args)
        .env_remove("PACER_MAX_WAIT_WORKERS")
        .output()
        .expect("pacer runs")
}

fn write_files(dir: &Path, files: usize, body: &str) {
    std::fs::write(dir.join("pyproject.toml"), "").unwrap();
    for f in 0..files {
        std::fs::write(dir.join(format!("test_f{f:02}.py")), body).unwrap();
    }
}

fn run(dir: &Path, report: &str, args: &[&str]) -> (RunReport, String) {
    let path = dir.join(report);
    let path_text = path.display().to_string();
    let mut all = vec!["-q", "--json-report", path_text.as_str()];
    all.extend_from_slice(args);
    let output = pacer_at_defaults(dir, &all);
    let context = text(&output);
    assert_eq!(output.status.code(), Some(0), "{context}");
    let json: RunReport = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{e}\n{context}"));
    (json, stderr(&output) + &stdout(&output))
}

/// The workers that ran at least one test.
fn busy_workers(report: &RunReport) -> usize {
    report.lanes.iter().filter(|l| l.tests > 0).count()
}

fn workers_row(dir: &Path) -> String {
    let output = pacer_at_defaults(dir, &["config"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    config_rows(&stdout(&output))["workers"].0.clone()
}

#[test]
fn a_sleeping_suite_gets_extra_workers_on_its_second_run_and_the_cap_holds() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        12,
        "import time\n\ndef test_a():\n    time.sleep(0.2)\n\ndef test_b():\n    time.sleep(0.2)\n",
    );
    assert!(
        workers_row(dir.path()).contains("no CPU times recorded yet"),
        "{}",
        workers_row(dir.path())
    );
    let (first, said) = run(dir.path(), "first.json", &[]);
    // Nothing recorded: the first run starts at the cores and grows as its
    // tests report that they wait.
    let grew = first
        .wait_workers
        .clone()
        .unwrap_or_else(|| panic!("the first run did not grow:\n{said}"));
    let cores = grew.cores;
    assert!(
        grew.grown && grew.extra > 0 && grew.waiting > 0.5,
        "{grew:?}"
    );
    assert_eq!(first.workers, cores + grew.extra, "{said}");
    let line = format!(
        "pacer: grew to {cores} workers + {} for tests that wait, as they ran (",
        grew.extra
    );
    assert!(said.contains(&line), "{line:?} not in:\n{said}");
    for t in &first.tests {
        let cpu = t.cpu.unwrap_or_else(|| panic!("{} has no cpu time", t.id));
        assert!(
            cpu.wall >= 0.2 && cpu.cpu < cpu.wall / 2.0,
            "{}: {cpu:?}",
            t.id
        );
    }

    let html = dir.path().join("second.html");
    let html_arg = html.display().to_string();
    let (second, said) = run(dir.path(), "second.json", &["--html-report", &html_arg]);
    let wait = second
        .wait_workers
        .clone()
        .unwrap_or_else(|| panic!("no extra workers:\n{said}"));
    assert_eq!(wait.cores, cores);
    assert!(
        !wait.grown && wait.extra > 0 && wait.waiting > 0.5,
        "{wait:?}"
    );
    assert_eq!(second.workers, cores + wait.extra, "{said}");
    let line = format!(
        "pacer: {cores} workers + {} for tests that wait (",
        wait.extra
    );
    assert!(said.contains(&line), "{line:?} not in:\n{said}");
    // The plan used them: more workers ran tests than there are cores.
    assert!(busy_workers(&second) > cores, "{:?}", second.lanes);
    // The timeline marks their lanes.
    let extra_lanes = second
        .lanes
        .iter()
        .filter(|l| {
            l.worker
                .strip_prefix("gw")
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n >= cores)
        })
        .count();
    assert!(extra_lanes > 0, "{:?}", second.lanes);
    let url = format!("file://{}", html.display());
    let dom = String::from_utf8(crate::reports::chromium(&["--dump-dom"], &url).stdout).unwrap();
    assert_eq!(
        crate::reports::body_attribute(&dom, "data-extra-lanes"),
        Some(extra_lanes.to_string())
    );
    assert!(dom.contains("for tests that wait)"), "the summary says it");
    let row = workers_row(dir.path());
    assert!(
        row.starts_with(&format!(
            "auto → {}: the cores + {} for tests that wait",
            cores + wait.extra,
            wait.extra
        )),
        "{row}"
    );
    println!(
        "wall: first {:.2} s ({} workers, {} ran tests), second {:.2} s ({} workers): {:.0}%",
        first.elapsed,
        first.workers,
        busy_workers(&first),
        second.elapsed,
        second.workers,
        100.0 * second.elapsed / first.elapsed
    );

    // The cap holds: one extra at most.
    let (capped, said) = run(dir.path(), "capped.json", &["--max-wait-workers", "1"]);
    assert_eq!(capped.workers, cores + 1, "{said}");
    assert!(
        said.contains(&format!("pacer: {cores} workers + 1 for tests that wait")),
        "{said}"
    );
    // A fixed count is the user's: nothing is added to it.
    let (fixed, said) = run(dir.path(), "fixed.json", &["-n", "2"]);
    assert_eq!(fixed.workers, 2, "{said}");
    assert!(!said.contains("for tests that wait"), "{said}");

    // Nor does a first run grow past the cap, or at all with a cap of 0.
    std::fs::remove_dir_all(dir.path().join(".pytest_cache")).unwrap();
    let (capped, said) = run(
        dir.path(),
        "capped-first.json",
        &["--max-wait-workers", "1"],
    );
    assert_eq!(capped.workers, cores + 1, "{said}");
    std::fs::remove_dir_all(dir.path().join(".pytest_cache")).unwrap();
    let (none, said) = run(dir.path(), "none.json", &["--max-wait-workers", "0"]);
    assert_eq!(none.workers, cores, "{said}");
    assert!(!said.contains("for tests that wait"), "{said}");
}

#[test]
fn a_computing_suite_gets_no_extra_workers() {
    let dir = tempfile::tempdir().unwrap();
    // A fixed amount of work, not a fixed time: on a loaded machine the
    // wall time grows, and the time queued for a core is counted as busy.
    write_files(
        dir.path(),
        4,
        "def work():\n    n = 0\n    for i in range(1_500_000):\n        n += i\n    return n\n\n\
         def test_a():\n    assert work()\n\ndef test_b():\n    assert work()\n",
    );
    let (first, _) = run(dir.path(), "first.json", &[]);
    let cores = first.workers;
    let (second, said) = run(dir.path(), "second.json", &[]);
    assert!(second.wait_workers.is_none(), "{said}");
    assert_eq!(second.workers, cores, "{said}");
    assert!(!said.contains("for tests that wait"), "{said}");
    let row = workers_row(dir.path());
    assert!(
        row.starts_with(&format!(
            "auto → {cores} (the cores: the recorded tests compute"
        )),
        "{row}"
    );
}

#[test]
fn doctor_names_the_tests_that_wait_and_what_they_wait_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pyproject.toml"), "").unwrap();
    std::fs::write(
        dir.path().join("test_waits.py"),
        r#"import socket, subprocess, sys, threading, time

def test_sleeps():
    time.sleep(0.3)

def test_socket():
    a, b = socket.socketpair()
    threading.Timer(0.3, lambda: b.send(b"x")).start()
    assert a.recv(1) == b"x"

def test_subprocess():
    subprocess.run([sys.executable, "-c", "import time; time.sleep(0.3)"], check=True)

def test_lock():
    e = threading.Event()
    threading.Timer(0.3, e.set).start()
    e.wait()

def test_computes():
    assert sum(range(200_000))
"#,
    )
    .unwrap();
    let output = pacer_at_defaults(dir.path(), &["doctor", "--json"]);
    let context = text(&output);
    assert_eq!(output.status.code(), Some(0), "{context}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let on: std::collections::BTreeMap<String, String> = json["waiting"]
        .as_array()
        .unwrap_or_else(|| panic!("no waiting: {context}"))
        .iter()
        .map(|w| {
            (
                w["id"].as_str().unwrap().to_string(),
                w["on"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    for (test, kind) in [
        ("test_sleeps", "sleep"),
        ("test_socket", "socket"),
        ("test_subprocess", "subprocess"),
        ("test_lock", "lock"),
    ] {
        assert_eq!(
            on.get(&format!("test_waits.py::{test}"))
                .map(String::as_str),
            Some(kind),
            "{on:?}\n{context}"
        );
    }
    assert!(!on.contains_key("test_waits.py::test_computes"), "{on:?}");
    let shown = pacer_at_defaults(dir.path(), &["doctor"]);
    assert!(
        stdout(&shown).contains("tests that wait most"),
        "{}",
        text(&shown)
    );
}
