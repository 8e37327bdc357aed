//! Every hang ends with a report, every end writes the reports, leaks are
//! named (issue 11), on the `chaos` fixture suite: a thread left running, a
//! module hung at import, a test past its timeout, Ctrl-C while collecting,
//! a SIGKILLed pacer, a process a test leaves behind; and the whole suite at
//! once, reported exactly once per test, alike in the terminal, the JUnit
//! and the JSON report.
//!
//! Each run is bounded (`run_with_deadline` kills it): a hang fails the test
//! instead of hanging it.

use crate::common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::outcomes::{final_line, from_summary, tallies, Outcomes, Tally};
use common::runs::{run_with_deadline, strings, Run};
use common::{pacer_command, python, suite};
use pacer_report::schema::CollectionOutcome;
use pacer_report::RunReport;
use pacer_types::Status;
use quick_junit::{Report, TestCaseStatus};

fn pacer_bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("pacer")
}

/// `pacer ARGS` in the chaos suite, with its own temp folder, bounded.
fn chaos(args: &[&str], tmp: &Path) -> Run {
    let run = run_with_deadline(
        &pacer_bin(),
        &strings(args),
        &suite("chaos"),
        &[
            ("PACER_PYTHON", python().display().to_string()),
            ("TMPDIR", tmp.display().to_string()),
            (
                "CHAOS_FLAKY_MARKER",
                tmp.join("flaky-marker").display().to_string(),
            ),
        ],
    );
    assert!(!run.timed_out, "pacer hung:\n{}", run.describe());
    run
}

#[test]
fn a_thread_left_running_ends_with_the_summary_the_tests_exit_code_and_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let run = chaos(
        &[
            "-n",
            "1",
            "--exit-grace",
            "1",
            "tests/test_a_plain.py",
            "tests/test_e_thread.py",
        ],
        tmp.path(),
    );
    let all = run.describe();
    assert_eq!(run.code, Some(1), "the tests' exit code:\n{all}");
    assert_eq!(
        final_line(&run.stdout),
        tallies(&[(1, Tally::Failed), (2, Tally::Passed)]),
        "pytest's summary:\n{all}"
    );
    let output = run.all_output();
    let warning = output
        .lines()
        .find(|l| l.contains("did not exit within"))
        .unwrap_or_else(|| panic!("no exit-grace warning:\n{all}"));
    assert!(
        warning.contains("threads left running: chaos-left-thread"),
        "the thread is named:\n{all}"
    );
    assert!(
        output.contains("in _shutdown"),
        "the stacks show where the worker waits:\n{all}"
    );
}

#[test]
fn a_module_hung_at_import_is_a_collection_error_with_its_stack_and_the_rest_runs() {
    let tmp = tempfile::tempdir().unwrap();
    // The whole collection (issue 16) too: its collector is stopped, and a
    // new one collects the run without the hung file.
    for (workers, continue_on_errors, code, whole) in [
        ("1", false, 2, false),
        ("2", true, 1, false),
        ("2", true, 1, true),
        ("1", false, 2, true),
    ] {
        let mut args = vec![
            "-n",
            workers,
            "--collect-timeout",
            "2",
            "tests/test_a_plain.py",
            "tests/test_d_import_hang.py",
            "tests/test_b_crash.py",
        ];
        if continue_on_errors {
            args.push("--continue-on-collection-errors");
        }
        if whole {
            args.extend(["--collection", "whole"]);
        }
        let run = chaos(&args, tmp.path());
        let all = run.describe();
        assert_eq!(
            run.code,
            Some(code),
            "pytest's code for a collection error:\n{all}"
        );
        assert!(
            run.stdout
                .contains("ERROR collecting tests/test_d_import_hang.py"),
            "named as a collection error:\n{all}"
        );
        assert!(
            run.stdout
                .contains("test_d_import_hang.py\", line 10 in <module>"),
            "with the stack it hung in:\n{all}"
        );
        assert_eq!(
            final_line(&run.stdout),
            tallies(&[(2, Tally::Failed), (2, Tally::Passed), (1, Tally::Errors)]),
            "the other files' tests ran:\n{all}"
        );
    }
}

#[test]
fn a_timeout_shows_every_thread_of_the_test() {
    let tmp = tempfile::tempdir().unwrap();
    let run = chaos(
        &["-n", "1", "--timeout", "2", "tests/test_c_hang.py"],
        tmp.path(),
    );
    let all = run.describe();
    assert_eq!(run.code, Some(1), "{all}");
    let report = run
        .stdout
        .split("Every thread's stack at the timeout:")
        .nth(1)
        .unwrap_or_else(|| panic!("no stacks in the timeout's report:\n{all}"));
    assert!(
        report.matches("(most recent call first)").count() >= 2,
        "the test's own thread and the one it started:\n{all}"
    );
    assert!(
        report.contains("test_c_hang.py\", line 8 in test_hangs"),
        "where the test hung:\n{all}"
    );
}

/// Reads `child`'s stdout until `needle` appears (or a minute passes).
fn read_until(out: &mut impl Read, needle: &str) -> String {
    let started = Instant::now();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains(needle) && started.elapsed() < Duration::from_secs(60) {
        let n = out.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    seen
}

fn wait_for(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pacer did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_while_collecting_writes_the_reports_and_names_the_file() {
    ctrl_c_while_collecting(&["--collection", "split"]);
}

#[test]
fn ctrl_c_while_collecting_the_whole_run_names_the_file() {
    ctrl_c_while_collecting(&["--collection", "whole"]);
}

fn ctrl_c_while_collecting(mode: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("run.json");
    let xml = tmp.path().join("junit.xml");
    let marker = tmp.path().join("importing");
    let junit = format!("--junitxml={}", xml.display());
    let mut args = vec![
        "-n",
        "1",
        "--collect-timeout",
        "600",
        "--json-report",
        json.to_str().unwrap(),
        &junit,
        "tests/test_a_plain.py",
        "tests/test_d_import_hang.py",
    ];
    args.extend_from_slice(mode);
    let mut child = pacer_command(&suite("chaos"), &args)
        .env("TMPDIR", tmp.path())
        .env("CHAOS_IMPORT_MARKER", &marker)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = read_until(&mut out, "rootdir");
    // Once the hung module's import has begun.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !marker.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = wait_for(&mut child);
    out.read_to_string(&mut seen).ok();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).ok();
    let all = format!("{status:?}\n--- stdout\n{seen}\n--- stderr\n{err}");
    assert_eq!(status.code(), Some(2), "pytest's code for Ctrl-C:\n{all}");
    assert!(
        seen.contains("while collecting tests/test_d_import_hang.py"),
        "names what it was collecting:\n{all}"
    );
    let report: RunReport = serde_json::from_str(
        &std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no JSON report ({e}):\n{all}")),
    )
    .unwrap();
    assert_eq!(report.exit_code, Some(2), "{all}");
    assert!(report.tests.is_empty(), "{all}");
    let xml_text =
        std::fs::read_to_string(&xml).unwrap_or_else(|e| panic!("no JUnit report ({e}):\n{all}"));
    Report::deserialize_from_str(&xml_text).expect("readable JUnit");
}

/// The pids whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if ppid == Some(parent) {
            found.push(pid);
        }
    }
    found
}

fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            != Some("Z")
    })
}

#[test]
fn workers_die_with_a_killed_pacer_and_its_folder_is_cleaned_next_time() {
    let tmp = tempfile::tempdir().unwrap();
    // Six workers for six tests that hang: two spawned, four forked by the
    // zygote (on any machine: `PACER_FRESH_WORKERS=2`), all busy when pacer
    // is killed.
    let mut child = pacer_command(&suite("hang_many"), &["-n", "6"])
        .env("TMPDIR", tmp.path())
        .env("PACER_FRESH_WORKERS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let seen = read_until(&mut out, "collected");
    assert!(seen.contains("collected"), "{seen}");
    // The forked workers come once the plan is made.
    let deadline = Instant::now() + Duration::from_secs(30);
    while children_of(child.id()).len() < 7 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let workers = children_of(child.id());
    // The six workers and the zygote (a fork is handed to pacer, the
    // subreaper, by the zygote's double fork).
    assert_eq!(
        workers.len(),
        7,
        "pacer has its 2 spawned workers, the zygote and 4 forks:\n{seen}"
    );
    let folder = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("pacer-run-"))
        })
        .expect("a run folder");
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while workers.iter().any(|w| running(*w)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left: Vec<&u32> = workers.iter().filter(|w| running(**w)).collect();
    assert!(left.is_empty(), "workers outlived pacer: {left:?}");
    assert!(folder.exists(), "a killed pacer leaves its folder");

    let run = chaos(&["-n", "1", "tests/test_a_plain.py"], tmp.path());
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        !folder.exists(),
        "the dead run's folder is removed at the next start"
    );
}

#[test]
fn a_process_left_running_by_a_test_is_named_and_ended() {
    let tmp = tempfile::tempdir().unwrap();
    let run = chaos(&["-n", "1", "tests/test_f_child.py"], tmp.path());
    let all = run.describe();
    assert_eq!(run.code, Some(0), "{all}");
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("LEAK"))
        .unwrap_or_else(|| panic!("no LEAK warning:\n{all}"));
    assert!(line.contains("(sleep 1000)"), "{all}");
    let pid: u32 = line
        .split("process ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("a pid in {line}"));
    assert!(!running(pid), "the leaked process was ended:\n{all}");
    assert!(
        run.stdout
            .contains("tests/test_f_child.py::test_leaves_a_child_running"),
        "charged to its test:\n{all}"
    );
}

/// The chaos suite's tests and what each must end as (the flaky one's first
/// attempt fails: no reruns are asked for).
const CHAOS: &[(&str, &str)] = &[
    ("tests/test_a_plain.py::test_passes", "passed"),
    ("tests/test_a_plain.py::test_fails", "failed"),
    ("tests/test_b_crash.py::test_crashes_its_worker", "failed"),
    ("tests/test_b_crash.py::test_after_the_crash", "passed"),
    ("tests/test_c_hang.py::test_hangs", "failed"),
    (
        "tests/test_e_thread.py::test_leaves_a_thread_running",
        "passed",
    ),
    (
        "tests/test_f_child.py::test_leaves_a_child_running",
        "passed",
    ),
    (
        "tests/test_g_output.py::test_prints_megabytes_and_fails",
        "failed",
    ),
    ("tests/test_h_flaky.py::test_fails_then_passes", "flaky"),
];

/// pytest's JUnit name of a node id: (classname, name).
fn junit_key(id: &str) -> (String, String) {
    let (file, name) = id.split_once("::").unwrap();
    (
        file.trim_end_matches(".py").replace('/', "."),
        name.to_string(),
    )
}

#[test]
fn the_chaos_suite_reports_every_test_once_alike_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("run.json");
    let xml = tmp.path().join("junit.xml");
    let run = chaos(
        &[
            "-n",
            "2",
            "--timeout",
            "3",
            "--exit-grace",
            "1",
            "-rA",
            "--json-report",
            json.to_str().unwrap(),
            &format!("--junitxml={}", xml.display()),
        ],
        tmp.path(),
    );
    let all = run.describe();
    assert_eq!(
        run.code,
        Some(2),
        "a collection error's code (a file hung at import):\n{all}"
    );

    // The terminal: one short-summary line per test (-rA), and the counts.
    for (id, outcome) in CHAOS {
        let word = outcome.to_uppercase();
        let lines = run
            .stdout
            .lines()
            .filter(|l| l.starts_with(&format!("{word} {id}")))
            .count();
        assert_eq!(lines, 1, "{id} is {word} once in the summary:\n{all}");
    }
    // The same, as one table: each test, and the file hung at import.
    let mut expected: Outcomes = CHAOS
        .iter()
        .map(|(id, o)| (id.to_string(), Status::parse(o).unwrap()))
        .collect();
    expected.insert("tests/test_d_import_hang.py".into(), Status::Error);
    assert_eq!(from_summary(&run.stdout), expected, "{all}");
    assert_eq!(
        final_line(&run.stdout),
        tallies(&[
            (4, Tally::Failed),
            (4, Tally::Passed),
            (1, Tally::Flaky),
            (1, Tally::Errors),
            (1, Tally::Rerun),
        ]),
        "{all}"
    );
    // Named by the worker at the end of its session, or by pacer when a
    // later test of the same worker crashed or timed out.
    assert!(
        run.all_output()
            .lines()
            .any(|l| l.contains("LEAK") && l.contains("(sleep 1000)")),
        "the child left running is named:\n{all}"
    );

    // The JSON report.
    let report: RunReport =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("a JSON report")).unwrap();
    let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for test in &report.tests {
        seen.entry(test.id.as_str())
            .or_default()
            .push(test.outcome.as_str());
    }
    let expected: BTreeMap<&str, Vec<&str>> = CHAOS.iter().map(|(id, o)| (*id, vec![*o])).collect();
    assert_eq!(seen, expected, "JSON, each test once:\n{all}");
    assert_eq!(report.collection.len(), 1, "{all}");
    assert_eq!(report.collection[0].id, "tests/test_d_import_hang.py");
    assert_eq!(report.collection[0].outcome, CollectionOutcome::Error);
    assert_eq!(report.exit_code, Some(2));

    // The JUnit report: the same tests, once each, success or not alike.
    let cases = junit_cases(&xml);
    let mut expected: BTreeMap<(String, String), Vec<&'static str>> = CHAOS
        .iter()
        // JUnit has no word for flaky: a success with its failed attempts.
        .map(|(id, o)| {
            (
                junit_key(id),
                vec![if *o == "flaky" { "passed" } else { *o }],
            )
        })
        .collect();
    // pytest's testcase for a collection error.
    expected.insert(
        (String::new(), "tests.test_d_import_hang".into()),
        vec!["failed"],
    );
    assert_eq!(cases, expected, "JUnit, each test once:\n{all}");
}

/// A worker that left no thread running but takes longer than
/// `exit_grace` to exit (an atexit handler sleeping 2.5 s) is slow, not
/// hung: it gets six times the grace, is not killed, and nothing is warned.
#[test]
fn a_worker_slow_to_exit_without_threads_is_not_called_hung() {
    let tmp = tempfile::tempdir().unwrap();
    let run = run_with_deadline(
        &pacer_bin(),
        &strings(&["-n", "1", "--exit-grace", "1"]),
        &suite("slow_exit"),
        &[
            ("PACER_PYTHON", python().display().to_string()),
            ("TMPDIR", tmp.path().display().to_string()),
        ],
    );
    let all = run.describe();
    assert!(!run.timed_out, "{all}");
    assert_eq!(run.code, Some(0), "{all}");
    assert_eq!(
        final_line(&run.stdout),
        tallies(&[(1, Tally::Passed)]),
        "{all}"
    );
    assert!(!run.all_output().contains("did not exit"), "{all}");
}

/// The JUnit report's cases as (classname, name) -> "passed"/"skipped"/"failed".
fn junit_cases(xml: &Path) -> BTreeMap<(String, String), Vec<&'static str>> {
    let text = std::fs::read_to_string(xml).expect("a JUnit report");
    let junit = Report::deserialize_from_str(&text).expect("readable JUnit");
    let mut cases: BTreeMap<(String, String), Vec<&'static str>> = BTreeMap::new();
    for case in junit.test_suites.iter().flat_map(|s| &s.test_cases) {
        let key = (
            case.classname
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
            case.name.to_string(),
        );
        let kind = match &case.status {
            TestCaseStatus::Success { .. } => "passed",
            TestCaseStatus::Skipped { .. } => "skipped",
            TestCaseStatus::NonSuccess { .. } => "failed",
        };
        cases.entry(key).or_default().push(kind);
    }
    cases
}

/// Ctrl-C in the middle of the chaos suite (a test hung, others done): what
/// ran is reported once, alike in the terminal, the JSON and the JUnit
/// report, and pacer ends as pytest does after Ctrl-C.
#[test]
fn the_chaos_suite_interrupted_reports_what_ran_once_alike_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("run.json");
    let xml = tmp.path().join("junit.xml");
    let mut child = pacer_command(
        &suite("chaos"),
        &[
            "-n",
            "2",
            "--timeout",
            "300",
            "--exit-grace",
            "1",
            "-v",
            "--json-report",
            json.to_str().unwrap(),
            &format!("--junitxml={}", xml.display()),
            // Not collected at all: a hung import holds every test back
            // until its deadline (the other test covers it).
            "--ignore=tests/test_d_import_hang.py",
        ],
    )
    .env("TMPDIR", tmp.path())
    .env("CHAOS_FLAKY_MARKER", tmp.path().join("flaky-marker"))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Both pipes are drained all along: a test prints megabytes, and a
    // full pipe would block pacer.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stdout = std::thread::spawn({
        let (mut out, seen) = (child.stdout.take().unwrap(), seen.clone());
        move || {
            let mut buf = [0u8; 65536];
            while let Ok(n @ 1..) = out.read(&mut buf) {
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    let stderr = std::thread::spawn({
        let mut err = child.stderr.take().unwrap();
        move || {
            let mut text = String::new();
            err.read_to_string(&mut text).ok();
            text
        }
    });
    // Once a test is done; the hung one holds its worker until Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen
        .lock()
        .unwrap()
        .contains("PASSED tests/test_a_plain.py::test_passes")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let text = seen.lock().unwrap().clone();
            let tail: String = text
                .lines()
                .filter(|l| !l.starts_with("xxxx"))
                .collect::<Vec<_>>()
                .join("\n");
            panic!("pacer did not end after Ctrl-C:\n{tail}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    stdout.join().unwrap();
    let err = stderr.join().unwrap();
    let seen = seen.lock().unwrap().clone();
    let all = format!("{status:?}\n--- stdout\n{seen}\n--- stderr\n{err}");
    assert_eq!(status.code(), Some(2), "pytest's code for Ctrl-C:\n{all}");
    assert!(seen.contains("KeyboardInterrupt"), "{all}");

    let report: RunReport = serde_json::from_str(
        &std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no JSON report ({e}):\n{all}")),
    )
    .unwrap();
    assert_eq!(report.exit_code, Some(2), "{all}");
    let mut from_json: BTreeMap<(String, String), Vec<&'static str>> = BTreeMap::new();
    for test in &report.tests {
        let kind = match test.outcome {
            Status::Passed | Status::XPassed | Status::Flaky => "passed",
            Status::Skipped | Status::XFailed => "skipped",
            Status::Failed | Status::Error | Status::Other(_) => "failed",
        };
        from_json.entry(junit_key(&test.id)).or_default().push(kind);
    }
    assert!(
        from_json.contains_key(&junit_key("tests/test_a_plain.py::test_passes")),
        "the test seen done is reported:\n{all}"
    );
    assert!(
        from_json.values().all(|kinds| kinds.len() == 1),
        "each test once in the JSON report: {from_json:?}\n{all}"
    );
    assert!(
        !from_json.contains_key(&junit_key("tests/test_c_hang.py::test_hangs"))
            || from_json[&junit_key("tests/test_c_hang.py::test_hangs")] == ["failed"],
        "the hung test is not passed: {from_json:?}"
    );
    assert_eq!(
        junit_cases(&xml),
        from_json,
        "JUnit and JSON agree test by test:\n{all}"
    );
    // The terminal's verbose lines (`[gw0] [ 11%] PASSED id`) name the
    // same tests, each once.
    for (file, name) in from_json.keys() {
        let id = format!("{}.py::{name}", file.replace('.', "/"));
        let lines = seen
            .lines()
            .filter(|l| l.starts_with("[gw") && l.ends_with(&format!(" {id}")))
            .filter(|l| !l.contains(" RERUN "))
            .count();
        assert_eq!(lines, 1, "{id} shown {lines} times:\n{all}");
    }
}

/// A panic in pacer's own code (forced here after 5 tests) ends the run
/// with pytest's INTERNALERROR code, and the tests that ran are reported,
/// alike in the JSON and the JUnit report.
#[test]
fn an_internal_error_still_reports_what_ran() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("run.json");
    let xml = tmp.path().join("junit.xml");
    let run = run_with_deadline(
        &pacer_bin(),
        &strings(&[
            "-n",
            "2",
            "--json-report",
            json.to_str().unwrap(),
            &format!("--junitxml={}", xml.display()),
        ]),
        &suite("maxfail"),
        &[
            ("PACER_PYTHON", python().display().to_string()),
            ("TMPDIR", tmp.path().display().to_string()),
            ("PACER_INTERNAL_PANIC_AFTER", "5".to_string()),
        ],
    );
    let all = run.describe();
    assert!(!run.timed_out, "{all}");
    assert_eq!(run.code, Some(3), "pytest's INTERNALERROR code:\n{all}");
    assert!(run.stdout.contains("INTERNALERROR: pacer failed"), "{all}");
    assert!(
        run.stderr.contains("deliberate panic after 5 tests"),
        "{all}"
    );
    let report: RunReport = serde_json::from_str(
        &std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no JSON report ({e}):\n{all}")),
    )
    .unwrap();
    assert_eq!(report.exit_code, Some(3), "{all}");
    let mut from_json: BTreeMap<(String, String), Vec<&'static str>> = BTreeMap::new();
    for test in &report.tests {
        let kind = if test.outcome == Status::Failed {
            "failed"
        } else {
            "passed"
        };
        from_json.entry(junit_key(&test.id)).or_default().push(kind);
    }
    assert!(
        (4..=6).contains(&from_json.len()),
        "the tests done before the panic: {from_json:?}\n{all}"
    );
    assert!(from_json.values().all(|k| k.len() == 1), "{from_json:?}");
    assert_eq!(junit_cases(&xml), from_json, "{all}");
}

#[test]
fn the_collection_deadline_is_per_file_not_per_share() {
    let tmp = tempfile::tempdir().unwrap();
    // One worker takes the six files two at a time: 2 s a share, 1 s a file.
    let run = run_with_deadline(
        &pacer_bin(),
        &strings(&["-n", "1", "--collect-timeout", "1.6"]),
        &suite("slow_imports"),
        &[
            ("PACER_PYTHON", python().display().to_string()),
            ("TMPDIR", tmp.path().display().to_string()),
        ],
    );
    let all = run.describe();
    assert!(!run.timed_out, "{all}");
    assert_eq!(run.code, Some(0), "no file hung:\n{all}");
    assert_eq!(
        final_line(&run.stdout),
        tallies(&[(6, Tally::Passed)]),
        "{all}"
    );
}
