//! `pacer replay`, `pacer bisect` and `pacer audit` on suites with known
//! order dependence (`tests/fixtures/order_dependence/`): `polluted/`, where
//! in file order every test passes and in another four fail (a global, an
//! environment variable, a file in a shared folder, a test that needs
//! another first), and `clean/`. The commands bisect prints are run here,
//! as printed, and must fail.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::common::{pacer_in, suite_copy, text};

const READER: &str = "tests/test_c_env_reader.py::test_no_token_in_env";
const WRITER: &str = "tests/test_d_env_writer.py::test_sets_token";

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(output)))
}

/// The command as a shell runs it from the suite's folder: its exit code.
fn shell(dir: &Path, command: &str) -> Option<i32> {
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .output()
        .expect("sh runs")
        .status
        .code()
}

/// A sequential run with the writer first fails the reader (its report is
/// kept in `.pytest_cache/v/pacer/last-run.json` too).
fn record_failing_run(dir: &Path) -> std::path::PathBuf {
    let report = dir.join("run.json");
    let out = pacer_in(
        dir,
        &[
            "--sequential",
            "--json-report",
            report.to_str().unwrap(),
            "tests/test_d_env_writer.py",
            "tests/test_c_env_reader.py",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    report
}

#[test]
fn a_recorded_failure_replays_and_bisects_to_its_polluter_with_a_command_that_fails() {
    let suite = suite_copy("order_dependence/polluted");
    let dir = suite.path();
    let report = record_failing_run(dir);
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    // What replay needs is in the report.
    assert_eq!(recorded["pytest_paths"][1], "tests/test_c_env_reader.py");
    assert!(recorded["rootdir"].as_str().is_some());

    let out = pacer_in(dir, &["replay", report.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("{READER}: failed again")),
        "{}",
        text(&out)
    );

    // After the run, TEST alone: the kept report is read.
    let started = Instant::now();
    let out = pacer_in(dir, &["bisect", "--json", READER], &[]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let found = json(&out);
    assert_eq!(found["verdict"], "polluted", "{found}");
    assert_eq!(found["polluters"], serde_json::json!([WRITER]));
    let command = found["command"].as_str().unwrap();
    assert!(
        command.contains("-p no:randomly") && command.ends_with(READER),
        "{command}"
    );
    assert_eq!(shell(dir, command), Some(1), "{command} must fail");
    eprintln!(
        "bisect: {:.1}s, {} pytest runs",
        took.as_secs_f64(),
        found["runs"]
    );
}

#[test]
fn bisect_says_when_the_test_fails_alone_or_passes_whatever_ran_before() {
    let suite = suite_copy("order_dependence/polluted");
    let dir = suite.path();
    let report = record_failing_run(dir);
    let alone = "tests/test_h_needs_widget.py::test_widget_is_registered";
    // A report in which TEST ran first (and failed): alone, it fails too.
    let mut edited: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    edited["tests"][0]["id"] = alone.into();
    edited["tests"][0]["outcome"] = "failed".into();
    let edited_path = dir.join("edited.json");
    std::fs::write(&edited_path, edited.to_string()).unwrap();
    let out = pacer_in(
        dir,
        &["bisect", "--json", edited_path.to_str().unwrap(), alone],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let found = json(&out);
    assert_eq!(found["verdict"], "fails_alone", "{found}");
    assert_eq!(shell(dir, found["command"].as_str().unwrap()), Some(1));

    // The writer passed in the recording, and passes after what ran
    // before it: "passes anyway" (exit 1), as a test that failed only
    // beside other workers' tests would.
    let out = pacer_in(
        dir,
        &["bisect", "--json", report.to_str().unwrap(), WRITER],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(json(&out)["verdict"], "passes_anyway", "{}", text(&out));

    // A test the report does not hold: a usage error naming the closest id.
    let out = pacer_in(
        dir,
        &[
            "bisect",
            report.to_str().unwrap(),
            "tests/test_c_env_reader.py::test_no_token",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(READER),
        "{}",
        text(&out)
    );
}

#[test]
fn audit_finds_each_polluter_and_the_test_that_needs_another() {
    let suite = suite_copy("order_dependence/polluted");
    let dir = suite.path();
    let started = Instant::now();
    let out = pacer_in(dir, &["audit", "--json", "-n", "2", "--seed", "1"], &[]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let audit = json(&out);
    let findings = audit["findings"].as_array().unwrap();
    let of = |test: &str| {
        findings
            .iter()
            .find(|f| f["test"] == test)
            .unwrap_or_else(|| panic!("{test} not found:\n{audit:#}"))
    };
    // The shared resource comes from the polluter's `touched` record; the
    // fix is the one for that resource.
    for (victim, polluter, resource, fix) in [
        (
            "tests/test_a_global_reader.py::test_mode_is_default",
            "tests/test_b_global_writer.py::test_switch_mode",
            ("global", "shop.settings.MODE"),
            "monkeypatch.setattr(shop.settings, \"MODE\"",
        ),
        (
            READER,
            WRITER,
            ("env", "SHOP_TOKEN"),
            "monkeypatch.setenv(\"SHOP_TOKEN\"",
        ),
        (
            "tests/test_e_file_reader.py::test_outbox_is_empty",
            "tests/test_f_file_writer.py::test_writes_to_outbox",
            ("file", "/message.txt"),
            "tmp_path",
        ),
    ] {
        let f = of(victim);
        let first = &f["resources"][0];
        assert_eq!(first["kind"], resource.0, "{f:#}");
        assert!(
            first["name"].as_str().unwrap().ends_with(resource.1),
            "{f:#}"
        );
        assert!(f["fix"].as_str().unwrap().contains(fix), "{f:#}");
        assert_eq!(f["kind"], "polluted", "{f:#}");
        assert_eq!(f["culprits"], serde_json::json!([polluter]), "{f:#}");
        assert!(f["fix"].as_str().unwrap().contains(polluter), "{f:#}");
        assert_eq!(shell(dir, f["command"].as_str().unwrap()), Some(1), "{f:#}");
    }
    let needs = of("tests/test_h_needs_widget.py::test_widget_is_registered");
    assert_eq!(needs["kind"], "needs_earlier", "{needs:#}");
    assert_eq!(
        needs["culprits"],
        serde_json::json!(["tests/test_g_registers.py::test_registers_widget"])
    );
    // A second victim of a polluter already found is bisected with it
    // first: TEST alone, the polluter then TEST, the check.
    let second = of("tests/test_a_global_reader.py::test_mode_is_still_default");
    assert_eq!(
        second["culprits"],
        serde_json::json!(["tests/test_b_global_writer.py::test_switch_mode"])
    );
    assert_eq!(second["runs"], 3, "{second:#}");
    assert_eq!(findings.len(), 5, "{audit:#}");
    eprintln!("audit (polluted): {:.1}s", took.as_secs_f64());
}

#[test]
fn audit_names_tests_that_fail_only_beside_each_other_and_the_file_they_share() {
    let suite = suite_copy("order_dependence/concurrent");
    let started = Instant::now();
    let out = pacer_in(suite.path(), &["audit", "--json", "-n", "2"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let audit = json(&out);
    let findings = audit["findings"].as_array().unwrap();
    // Whichever wrote first reads the other's word back.
    assert_eq!(findings.len(), 1, "{audit:#}");
    let f = &findings[0];
    assert_eq!(f["kind"], "concurrent", "{f:#}");
    assert_eq!(f["failed_in"], serde_json::json!(["parallel"]), "{f:#}");
    let other = if f["test"].as_str().unwrap().contains("left") {
        "tests/test_right.py::test_right_writes_then_reads_back"
    } else {
        "tests/test_left.py::test_left_writes_then_reads_back"
    };
    assert_eq!(f["culprits"], serde_json::json!([other]), "{f:#}");
    assert_eq!(f["resources"][0]["name"], "shared.txt", "{f:#}");
    assert!(
        f["fix"].as_str().unwrap().contains("@pytest.mark.serial"),
        "{f:#}"
    );
    eprintln!(
        "audit (concurrent): {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn audit_of_a_clean_suite_finds_nothing() {
    let suite = suite_copy("order_dependence/clean");
    let started = Instant::now();
    let out = pacer_in(
        suite.path(),
        &["audit", "-n", "2", "--shuffle=1", "--seed", "3"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no order-dependent test"),
        "{}",
        text(&out)
    );
    eprintln!("audit (clean): {:.1}s", started.elapsed().as_secs_f64());
}

/// `.venv-plugins`' interpreter (pytest-randomly), as `plugins.rs` finds it.
fn plugins_python() -> std::path::PathBuf {
    match std::env::var_os("PACER_TEST_PLUGINS_PYTHON") {
        Some(path) if !path.is_empty() => std::path::PathBuf::from(path),
        _ => crate::common::repo_root().join(".venv-plugins/bin/python"),
    }
}

#[test]
fn a_run_under_pytest_randomly_records_its_seed_and_replays_its_failure() {
    let suite = suite_copy("order_dependence/polluted");
    let dir = suite.path();
    let python = plugins_python();
    let python = python.to_str().unwrap();
    let report = dir.join("run.json");
    // Seed 12345 runs the token's writer, then its reader, first.
    let out = pacer_in(
        dir,
        &[
            "--sequential",
            "--json-report",
            report.to_str().unwrap(),
            "-p",
            "randomly",
            "--randomly-seed=12345",
        ],
        &[("PACER_PYTHON", python)],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(recorded["randomly_seed"], 12345);
    let out = pacer_in(
        dir,
        &["replay", report.to_str().unwrap(), READER],
        &[("PACER_PYTHON", python)],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout.contains("--randomly-seed=12345 --randomly-dont-reorganize"),
        "{}",
        text(&out)
    );
    assert!(
        stdout.contains(&format!("{READER}: failed again")),
        "{}",
        text(&out)
    );
}

#[test]
fn bisect_without_a_last_run_or_with_a_bad_report_says_what_to_pass() {
    let suite = suite_copy("order_dependence/clean");
    let dir = suite.path();
    let out = pacer_in(dir, &["bisect", "tests/test_a.py::test_a_pure"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no report of a last run"),
        "{}",
        text(&out)
    );
    std::fs::write(dir.join("bad.json"), "{}").unwrap();
    let out = pacer_in(dir, &["replay", "bad.json"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.json is not a pacer JSON report"),
        "{}",
        text(&out)
    );
    assert!(
        stderr.contains("hint: pass the JSON report of a pacer run"),
        "{}",
        text(&out)
    );
}

#[test]
fn replay_of_a_two_worker_run_fails_exactly_the_tests_that_failed() {
    let suite = suite_copy("order_dependence/polluted");
    let dir = suite.path();
    let report = dir.join("run.json");
    // In reverse file order on two workers, whichever way the pool shares
    // the files out, each worker's own order decides what fails.
    let mut args = vec!["-n", "2", "--json-report", report.to_str().unwrap()];
    let files = [
        "tests/test_h_needs_widget.py",
        "tests/test_g_registers.py",
        "tests/test_f_file_writer.py",
        "tests/test_e_file_reader.py",
        "tests/test_d_env_writer.py",
        "tests/test_c_env_reader.py",
        "tests/test_b_global_writer.py",
        "tests/test_a_global_reader.py",
    ];
    args.extend(files);
    let out = pacer_in(dir, &args, &[]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let failed: Vec<&str> = recorded["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["outcome"] == "failed")
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let out = pacer_in(dir, &["replay", report.to_str().unwrap()], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected = if failed.is_empty() { 0 } else { 1 };
    assert_eq!(out.status.code(), Some(expected), "{}", text(&out));
    let workers = recorded["lanes"].as_array().unwrap().len();
    assert!(
        stdout.contains(&format!("on {workers} workers")),
        "{}",
        text(&out)
    );
    for test in &failed {
        assert!(
            stdout.contains(&format!("{test}: failed again")),
            "{}",
            text(&out)
        );
    }
    assert!(
        !stdout.contains("passed this time") && !stdout.contains("(it passed in the recording)"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_failing_parallel_run_without_a_report_is_kept_for_bisect_and_replay() {
    let suite = suite_copy("order_dependence/polluted");
    let dir = suite.path();
    // The writer and the reader in one group: on one worker, in pytest's
    // order (the writer's file first), whichever worker it is.
    for file in ["tests/test_d_env_writer.py", "tests/test_c_env_reader.py"] {
        let path = dir.join(file);
        let mut source = std::fs::read_to_string(&path).unwrap();
        source.push_str("\nimport pytest\n\npytestmark = pytest.mark.xdist_group(\"env\")\n");
        std::fs::write(&path, source).unwrap();
    }
    let run = [
        "-n",
        "2",
        "--dist",
        "loadgroup",
        "tests/test_d_env_writer.py",
        "tests/test_c_env_reader.py",
        "tests/test_b_global_writer.py",
        "tests/test_a_global_reader.py",
    ];
    let kept = dir.join(".pytest_cache/v/pacer/last-run.json");

    // pytest's cache off: nothing is kept.
    let mut off = run.to_vec();
    off.extend(["-p", "no:cacheprovider"]);
    let out = pacer_in(dir, &off, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!dir.join(".pytest_cache").exists(), "{}", text(&out));

    let out = pacer_in(dir, &run, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("FAILED {READER}")),
        "{}",
        text(&out)
    );
    // The slim report: every test with its worker, start and outcome, no
    // failure's text.
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&kept).unwrap()).unwrap();
    let tests = recorded["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 8, "{recorded}");
    let reader = tests.iter().find(|t| t["id"] == READER).unwrap();
    assert_eq!(reader["outcome"], "failed", "{recorded}");
    assert!(reader["output"].is_null(), "{recorded}");
    assert_eq!(recorded["pytest_paths"][1], "tests/test_c_env_reader.py");
    assert_eq!(recorded["workers"], 2, "{recorded}");

    let out = pacer_in(dir, &["bisect", "--json", READER], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let found = json(&out);
    assert_eq!(found["verdict"], "polluted", "{found}");
    assert_eq!(found["polluters"], serde_json::json!([WRITER]));

    // No report named: the last run's, replayed whole.
    let out = pacer_in(dir, &["replay"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{READER}: failed again")),
        "{}",
        text(&out)
    );
    assert!(
        stdout.contains("1 of 1 watched tests failed again; 1 failed in all"),
        "{}",
        text(&out)
    );
    // One word that is a test: its worker's tests before it, then it.
    let out = pacer_in(dir, &["replay", READER], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("{READER}: failed again")),
        "{}",
        text(&out)
    );
}
