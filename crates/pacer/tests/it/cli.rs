//! The command line end to end: configuration sources and their errors,
//! `pacer list` / `pacer config`, category flags, the worker plugin's
//! fixtures and environment, the sequential fallback and Ctrl-C.
//!
//! Every test runs the real binary on a real pytest suite under
//! `tests/fixtures/`, with the interpreter from `$PACER_TEST_PYTHON` (set by
//! `scripts/test`), else `<repo>/.venv/bin/python`.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::outcomes::{self, final_line, from_verbose, tallies, Status, Tally};
use common::{pacer_in, python, signal_mid_run, snapshot, stderr, stdout, suite, text};

/// A throwaway project with a `pyproject.toml` and one passing test.
fn project(pyproject: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("pyproject.toml"), pyproject).unwrap();
    std::fs::write(
        dir.path().join("test_one.py"),
        "def test_one():\n    pass\n",
    )
    .unwrap();
    dir
}

/// A usage error: exit code 4 and all pacer printed, for a snapshot
/// (which shows that nothing panicked, and what the message names).
fn usage_error(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(4), "{}", text(output));
    text(output)
}

// ---------------------------------------------------------------------------
// Bad input: a clear error naming the source and exit code 4, never a panic.

#[test]
fn workers_from_the_environment_must_be_a_number() {
    let dir = project("[project]\nname = 'x'\n");
    let pytest = pacer_in(dir.path(), &[], &[("PYTEST_WORKERS", "abc")]);
    let pacer = pacer_in(dir.path(), &[], &[("PACER_WORKERS", "-3")]);
    snapshot!(
        "cli__workers_from_the_environment",
        "PYTEST_WORKERS=abc, then PACER_WORKERS=-3: each names its variable and value",
        &[(dir.path(), "[DIR]")],
        format!("{}\n{}", usage_error(&pytest), usage_error(&pacer)),
    );
}

#[test]
fn negative_workers_on_the_command_line_name_the_flag() {
    let dir = project("[project]\nname = 'x'\n");
    let out = pacer_in(dir.path(), &["-n", "-3"], &[]);
    snapshot!(
        "cli__negative_workers_flag",
        "-n -3 names --workers and -3",
        &[(dir.path(), "[DIR]")],
        usage_error(&out),
    );
}

#[test]
fn an_unknown_category_lists_the_valid_ones() {
    let out = pacer_in(&suite("categories"), &["--category", "integraton"], &[]);
    snapshot!(
        "cli__unknown_category",
        "--category integraton names it and lists the valid ones (integration among them)",
        &[(&suite("categories"), "[DIR]")],
        usage_error(&out),
    );
}

#[test]
fn a_negative_delay_is_refused() {
    let dir = project("[project]\nname = 'x'\n");
    let out = pacer_in(dir.path(), &[], &[("PYTEST_RATE_LIMIT_DELAY", "-1")]);
    snapshot!(
        "cli__negative_delay",
        "PYTEST_RATE_LIMIT_DELAY=-1 is refused, naming the variable",
        &[(dir.path(), "[DIR]")],
        usage_error(&out),
    );
}

#[test]
fn a_malformed_pyproject_names_file_and_line() {
    let dir = project("[project]\nname = 'x'\n\n[tool.pacer]\nworkers = = 2\n");
    let out = pacer_in(dir.path(), &[], &[]);
    snapshot!(
        "cli__malformed_pyproject",
        "a TOML error names pyproject.toml:5",
        &[(dir.path(), "[DIR]")],
        usage_error(&out),
    );
}

#[test]
fn an_unknown_key_under_tool_pacer_suggests_the_closest() {
    let dir = project("[project]\nname = 'x'\n\n[tool.pacer]\nworkrs = 2\n");
    let out = pacer_in(dir.path(), &[], &[]);
    snapshot!(
        "cli__unknown_key_under_tool_pacer",
        "workrs at pyproject.toml:5, with workers suggested",
        &[(dir.path(), "[DIR]")],
        usage_error(&out),
    );
}

#[test]
fn a_missing_pytest_is_a_usage_error_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    // A virtualenv without pytest stands for a user's venv that lacks it.
    let venv = dir.path().join("venv");
    let made = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .expect("python3");
    assert!(made.success());
    let proj = project("[project]\nname = 'x'\n");
    let bare = venv.join("bin/python");
    let out = pacer_in(proj.path(), &["--python", bare.to_str().unwrap()], &[]);
    snapshot!(
        "cli__missing_pytest",
        "pytest is not importable by the given interpreter, and the fix: pip install pytest",
        &[(proj.path(), "[DIR]"), (dir.path(), "[VENV_DIR]")],
        usage_error(&out),
    );
}

// ---------------------------------------------------------------------------
// Precedence: flag > environment > pyproject > default, each shown with its source.

fn config_source(dir: &Path, args: &[&str], env: &[(&str, &str)], key: &str) -> (String, String) {
    let mut all = vec!["config", "--json"];
    all.extend_from_slice(args);
    let out = pacer_in(dir, &all, env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("config --json prints JSON");
    let rows = json["settings"].as_array().expect("settings array");
    let row = rows
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {json}"));
    (
        row["value"].to_string(),
        row["source"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn each_source_wins_over_the_ones_below_it() {
    let dir = project("[project]\nname = 'x'\n\n[tool.pacer]\nworkers = 2\n");
    let (value, source) = config_source(dir.path(), &[], &[], "workers");
    assert!(
        value.contains('2') && source.contains("pyproject.toml:5"),
        "{value} {source}"
    );
    let (value, source) = config_source(dir.path(), &[], &[("PYTEST_WORKERS", "3")], "workers");
    assert!(
        value.contains('3') && source.contains("PYTEST_WORKERS"),
        "{value} {source}"
    );
    let (value, source) = config_source(
        dir.path(),
        &[],
        &[("PYTEST_WORKERS", "3"), ("PACER_WORKERS", "5")],
        "workers",
    );
    assert!(
        value.contains('5') && source.contains("PACER_WORKERS"),
        "{value} {source}"
    );
    let (value, source) = config_source(
        dir.path(),
        &["-n", "4"],
        &[("PYTEST_WORKERS", "3")],
        "workers",
    );
    assert!(
        value.contains('4') && source.contains("--workers"),
        "{value} {source}"
    );
    let bare = project("[project]\nname = 'x'\n");
    let (_, source) = config_source(bare.path(), &[], &[], "workers");
    assert_eq!(source, "default");
}

#[test]
fn config_prints_every_setting_with_its_source_as_text() {
    let out = pacer_in(
        &suite("plugin"),
        &["config"],
        &[("PYTEST_MAX_RETRIES", "7")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let text_out = stdout(&out);
    let rows = common::config_rows(&text_out);
    let row = |key: &str| {
        rows.get(key)
            .cloned()
            .unwrap_or_else(|| panic!("no {key} in\n{text_out}"))
    };
    assert_eq!(row("workers").1, "default", "{text_out}");
    assert_eq!(
        row("rate_limit.max_retries"),
        ("7".into(), "env PYTEST_MAX_RETRIES".into())
    );
    assert_eq!(
        row("categories.slow.markers"),
        (
            "slow".into(),
            "pyproject.toml:15 tool.pacer.categories.slow.markers".into()
        )
    );
}

/// A wheel's user has no clone: `--defaults` prints every key from the
/// binary, and no help text points at a file only a clone has.
#[test]
fn defaults_and_help_need_no_clone() {
    let dir = tempfile::tempdir().unwrap();
    let out = pacer_in(dir.path(), &["config", "--defaults"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let defaults = stdout(&out);
    for key in [
        "workers",
        "[rate_limit]",
        "max_retries",
        "collection",
        "PACER_WORKERS",
    ] {
        assert!(defaults.contains(key), "{key} missing from\n{defaults}");
    }
    // As written, it is a valid pacer.toml.
    std::fs::write(dir.path().join("pacer.toml"), &defaults).unwrap();
    let out = pacer_in(dir.path(), &["config"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for command in [
        "", "run", "list", "config", "init", "measure", "doctor", "proxy",
    ] {
        let args: Vec<&str> = [command, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let out = pacer_in(dir.path(), &args, &[]);
        assert_eq!(out.status.code(), Some(0), "{command}: {}", text(&out));
        let help = stdout(&out);
        for clone_only in ["docs/", "crates/", ".md"] {
            assert!(
                !help.contains(clone_only),
                "`pacer {command} --help` points at {clone_only}:\n{help}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Categories: list, selection flags, project-defined categories.

#[test]
fn list_groups_every_test_in_exactly_one_category() {
    let out = pacer_in(&suite("categories"), &["list", "--json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("list --json prints JSON");
    let mut seen = std::collections::HashSet::new();
    let mut counts = std::collections::HashMap::new();
    for category in json["categories"].as_array().unwrap() {
        let name = category["name"].as_str().unwrap().to_string();
        for id in category["tests"].as_array().unwrap() {
            assert!(
                seen.insert(id.as_str().unwrap().to_string()),
                "{id} listed twice"
            );
        }
        counts.insert(name, category["count"].as_u64().unwrap());
    }
    assert_eq!(seen.len() as u64, json["total"].as_u64().unwrap());
    assert_eq!(
        counts["default"], 4,
        "tests/misc matches no category and must land in default: {counts:?}"
    );
    assert!(seen.contains("tests/unit/test_first_match.py::test_unit_path_beats_live_marker"));
    let unit: Vec<&str> = json["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "unit")
        .unwrap()["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        unit.contains(&"tests/unit/test_first_match.py::test_unit_path_beats_live_marker"),
        "first match wins"
    );

    let out = pacer_in(&suite("categories"), &["list"], &[]);
    let listing = stdout(&out);
    assert!(
        listing.contains("end-to-end (21 tests; up to 10 at once, io, rate limited)"),
        "{listing}"
    );
    assert!(
        listing.contains("models (12 tests; up to 8 at once, cpu)"),
        "{listing}"
    );
    assert!(listing.contains("79 tests in 6 categories"), "{listing}");
    let out = pacer_in(&suite("categories"), &["list", "tests/models"], &[]);
    let listing = stdout(&out);
    assert!(listing.contains("12 tests in 1 category\n"), "{listing}");
}

#[test]
fn category_flags_select_their_tests_and_combine() {
    let dir = suite("categories");
    // 79 tests in all: those of the categories asked for pass, the others
    // are deselected.
    for (args, selected) in [
        (&["--unit"][..], 13),
        (&["--unit", "--models"][..], 25),
        (&["--category", "default"][..], 4),
    ] {
        let out = pacer_in(&dir, &[&["-n", "2"][..], args].concat(), &[]);
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", text(&out));
        assert_eq!(
            final_line(&stdout(&out)),
            tallies(&[
                (selected, Tally::Passed),
                (79 - selected, Tally::Deselected)
            ]),
            "{args:?}\n{}",
            text(&out)
        );
    }
}

#[test]
fn each_category_flag_runs_exactly_its_category() {
    let dir = suite("categories");
    let out = pacer_in(&dir, &["list", "--json"], &[]);
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("list --json prints JSON");
    let count = |name: &str| {
        json["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["count"]
            .as_u64()
            .unwrap()
    };
    let total = json["total"].as_u64().unwrap();
    for (flag, name) in [
        ("--unit", "unit"),
        ("--models", "models"),
        ("--integration", "integration"),
        ("--end-to-end", "end-to-end"),
        ("--live", "live"),
    ] {
        let out = pacer_in(
            &dir,
            &["-n", "2", flag],
            &[("PACER_FIXTURE_SLEEP_SCALE", "0.1")],
        );
        assert_eq!(out.status.code(), Some(0), "{flag}\n{}", text(&out));
        assert_eq!(
            final_line(&stdout(&out)),
            tallies(&[
                (count(name), Tally::Passed),
                (total - count(name), Tally::Deselected)
            ]),
            "{flag} must run the {} tests of `{name}` and only them\n{}",
            count(name),
            text(&out)
        );
    }
}

/// Regression guard for the system pacer replaces, which silently dropped the
/// end-to-end tests when paths of several categories were given at once.
#[test]
fn paths_from_several_categories_run_every_test() {
    let dir = suite("categories");
    let paths = ["tests/unit", "tests/end_to_end", "tests/misc"];
    let collected = Command::new(python())
        .current_dir(&dir)
        .args([
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
        ])
        .args(paths)
        .output()
        .expect("pytest runs");
    let listing = String::from_utf8_lossy(&collected.stdout);
    let expected = listing.lines().filter(|l| l.contains("::")).count() as u64;
    assert!(expected > 30, "{listing}");
    let mut args = vec!["-n", "2"];
    args.extend(paths);
    let out = pacer_in(&dir, &args, &[("PACER_FIXTURE_SLEEP_SCALE", "0.1")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        final_line(&stdout(&out)),
        tallies(&[(expected, Tally::Passed)]),
        "{}",
        text(&out)
    );
}

#[test]
fn a_category_flag_that_selects_nothing_says_so() {
    let out = pacer_in(
        &suite("plugin"),
        &["-n", "2", "--live", "-p", "no:cacheprovider"],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(5),
        "nothing ran: pytest's exit code 5\n{}",
        text(&out)
    );
    snapshot!(
        "cli__category_selects_nothing",
        "pacer says category `live` selects no tests; all 6 deselected",
        &[(&suite("plugin"), "[DIR]")],
        text(&out),
    );
}

// ---------------------------------------------------------------------------
// The plugin: fixtures and environment the workers get.

#[test]
fn workers_get_fixtures_category_environment_and_pytest_env() {
    let out = pacer_in(
        &suite("plugin"),
        &["-n", "2", "-v"],
        &[("PACER_UPSTREAM_MY_API", "http://127.0.0.1:9/")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        from_verbose(&stdout(&out)),
        outcomes::all(
            &[
                "tests/test_plugin.py::test_worker_fixtures",
                "tests/test_plugin.py::test_category_environment",
                "tests/test_plugin.py::test_pytest_env_values_reach_workers",
                "tests/test_plugin.py::test_project_category_environment",
                "tests/test_plugin.py::test_upstream_fixtures",
                "tests/test_plugin.py::test_missing_upstream_fails_with_a_hint",
            ],
            Status::Passed
        ),
        "{}",
        text(&out)
    );
    assert_eq!(
        final_line(&stdout(&out)),
        tallies(&[(6, Tally::Passed)]),
        "{}",
        text(&out)
    );
}

// ---------------------------------------------------------------------------
// Falling back, and stopping.

#[test]
fn a_worker_that_cannot_start_means_a_sequential_run_and_says_why() {
    let out = pacer_in(&suite("fallback"), &["-n", "2"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    snapshot!(
        "cli__fallback_worker_cannot_start",
        "falling back to a sequential run, naming gw1 and its exit code 7",
        &[(&suite("fallback"), "[DIR]")],
        stderr(&out),
    );
    assert_eq!(
        final_line(&stdout(&out)),
        tallies(&[(3, Tally::Passed)]),
        "{}",
        text(&out)
    );
}

#[test]
fn collections_that_differ_between_workers_mean_a_sequential_run() {
    let out = pacer_in(&suite("differ"), &["-n", "2"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    snapshot!(
        "cli__fallback_collections_differ",
        "falling back to a sequential run: collections differ between workers, naming the test",
        &[(&suite("differ"), "[DIR]")],
        // Which worker notices first, and on which of its ten tests,
        // depends on the pace.
        common::normalize::any_worker_name(&common::normalize::any_param(
            &stderr(&out),
            "tests/test_differ.py::test_differ"
        )),
    );
    assert_eq!(
        final_line(&stdout(&out)),
        tallies(&[(10, Tally::Passed)]),
        "{}",
        text(&out)
    );
}

#[test]
fn the_restart_cap_stops_a_crash_loop() {
    let out = pacer_in(
        &suite("crash"),
        &["-n", "1", "--max-worker-restart", "0"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("maximum worker restarts reached (0)"),
        "{}",
        text(&out)
    );
    assert!(all.contains("not run"), "{}", text(&out));
}

#[test]
fn disable_parallel_runs_one_worker() {
    let out = pacer_in(
        &suite("plugin"),
        &["-n", "4", "-k", "worker_fixtures"],
        &[("PYTEST_DISABLE_PARALLEL", "true")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    snapshot!(
        "cli__disable_parallel",
        "pacer: 1 worker (not 4); one test passed, five deselected",
        &[(&suite("plugin"), "[DIR]")],
        stdout(&out),
    );
}

#[test]
fn last_failed_works_across_pacer_runs() {
    let dir = project("[project]\nname = 'x'\n");
    std::fs::write(
        dir.path().join("test_two.py"),
        "import os\n\ndef test_flaky():\n    assert os.environ.get('FIXED') == '1'\n\ndef test_fine():\n    pass\n",
    )
    .unwrap();
    let out = pacer_in(dir.path(), &["-n", "2"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // --lf reruns only the failure, then forgets it once it passes.
    let out = pacer_in(
        dir.path(),
        &["-n", "2", "-v", "--", "--lf"],
        &[("FIXED", "1")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        from_verbose(&stdout(&out)),
        outcomes::expect(&[("test_two.py::test_flaky", Status::Passed)]),
        "{}",
        text(&out)
    );
    // As pytest: the file without a failure and the module-level test that
    // passed are not even collected (`collected 1 item`,
    // `run-last-failure: rerun previous 1 failure (skipped 1 file)`).
    snapshot!(
        "cli__last_failed_across_runs",
        "--lf collects 1 item, reruns the 1 failure, skips 1 file; test_flaky passes",
        &[(dir.path(), "[DIR]")],
        common::normalize::any_worker_order(&stdout(&out)),
    );
    let cache = std::fs::read_to_string(dir.path().join(".pytest_cache/v/cache/lastfailed"))
        .unwrap_or_default();
    assert!(!cache.contains("test_flaky"), "{cache}");
}

#[test]
fn workers_beyond_the_cores_are_forked_unless_told_not_to() {
    let dir = suite("plugin");
    let env = [("PACER_UPSTREAM_MY_API", "http://127.0.0.1:9/")];
    let forked = pacer_in(&dir, &["-n", "4", "--debug"], &env);
    assert_eq!(forked.status.code(), Some(0), "{}", text(&forked));
    assert!(stderr(&forked).contains("HelloZygote"), "{}", text(&forked));
    let spawned = pacer_in(&dir, &["-n", "4", "--debug", "--no-fork"], &env);
    assert_eq!(spawned.status.code(), Some(0), "{}", text(&spawned));
    assert!(!stderr(&spawned).contains("zygote"), "{}", text(&spawned));
    let from_env = pacer_in(
        &dir,
        &["-n", "4", "--debug"],
        &[env[0], ("PACER_FORK", "false")],
    );
    assert!(!stderr(&from_env).contains("zygote"), "{}", text(&from_env));
}

/// pytest's `-r` characters shape pacer's short summary exactly as pytest's:
/// the same lines (in another order, since tests finish in another order).
#[test]
fn short_summary_with_report_chars_matches_pytest() {
    let dir = suite("outcomes");
    let summary_lines = |text: &str| {
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| {
                ["FAILED ", "ERROR ", "SKIPPED ", "XFAIL ", "XPASS "]
                    .iter()
                    .any(|w| l.starts_with(w))
            })
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    let ours = pacer_in(
        &dir,
        &["-n", "2", "-q", "--", "-ra", "-p", "no:cacheprovider"],
        &[],
    );
    let theirs = Command::new(python())
        .current_dir(&dir)
        .args([
            "-m",
            "pytest",
            "-q",
            "-ra",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
        ])
        .output()
        .expect("pytest runs");
    let (ours_lines, theirs_lines) = (
        summary_lines(&stdout(&ours)),
        summary_lines(&stdout(&theirs)),
    );
    assert!(theirs_lines.len() > 20, "{}", text(&theirs));
    assert_eq!(ours_lines, theirs_lines, "{}", text(&ours));
}

#[test]
fn warnings_summary_matches_pytest() {
    let dir = project("[project]\nname = 'x'\n");
    std::fs::write(
        dir.path().join("test_warn.py"),
        "import warnings\nimport pytest\n\n@pytest.mark.parametrize('n', range(3))\ndef test_w(n):\n    warnings.warn('careful', UserWarning)\n\ndef test_d():\n    warnings.warn('old', DeprecationWarning)\n",
    )
    .unwrap();
    let section = |text: &str| -> String {
        let start = text.find("warnings summary").unwrap_or(0);
        let end = text.find("-- Docs:").unwrap_or(text.len());
        text[start..end].to_string()
    };
    let ours = pacer_in(
        dir.path(),
        &["--sequential", "--", "-p", "no:cacheprovider"],
        &[],
    );
    let theirs = Command::new(python())
        .current_dir(dir.path())
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist"])
        .output()
        .expect("pytest runs");
    assert!(
        stdout(&theirs).contains("DeprecationWarning: old"),
        "{}",
        text(&theirs)
    );
    assert_eq!(
        section(&stdout(&ours)),
        section(&stdout(&theirs)),
        "{}",
        text(&ours)
    );
    assert_eq!(
        final_line(&stdout(&ours)),
        tallies(&[(5, Tally::Passed), (4, Tally::Warnings)]),
        "{}",
        text(&ours)
    );
}

#[test]
fn durations_lists_the_slowest_phases() {
    let out = pacer_in(
        &suite("maxfail"),
        &["-n", "2", "--", "--durations=2", "-p", "no:cacheprovider"],
        &[],
    );
    let all = stdout(&out);
    assert!(
        all.contains(&"=".repeat(29)) && all.contains(" slowest 2 durations "),
        "{}",
        text(&out)
    );
    let rows: Vec<&str> = all.lines().filter(|l| l.contains("s call ")).collect();
    assert_eq!(rows.len(), 2, "{}", text(&out));
}

#[test]
fn collect_only_is_answered_by_pytest_itself() {
    let out = pacer_in(&suite("plugin"), &["--", "--collect-only", "-q"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    snapshot!(
        "cli__collect_only",
        "pytest's own listing of the 6 ids, nothing run (no `passed`)",
        &[(&suite("plugin"), "[DIR]")],
        text(&out),
    );
}

#[test]
fn ctrl_c_stops_the_run_and_still_reports_what_ran() {
    interrupt_mid_run(2);
}

#[test]
fn sigterm_stops_the_run_like_ctrl_c() {
    interrupt_mid_run(15);
}

#[test]
fn sighup_stops_the_run_like_ctrl_c() {
    interrupt_mid_run(1);
}

fn interrupt_mid_run(signal: i32) {
    let (status, seen) = signal_mid_run(&["-n", "2", "-v"], signal);
    assert_eq!(status.code(), Some(2), "{seen}");
    assert!(seen.contains("KeyboardInterrupt"), "{seen}");
    assert!(
        seen.lines().last().unwrap_or_default().contains("passed"),
        "the summary still counts what ran:\n{seen}"
    );
}

#[test]
fn a_test_past_the_timeout_fails_and_the_run_goes_on() {
    let out = pacer_in(
        &suite("hang"),
        &["-n", "2", "-v"],
        &[("PACER_TIMEOUT", "2")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = stdout(&out);
    let expected = outcomes::expect(&[
        ("tests/test_hang.py::test_quick_before", Status::Passed),
        ("tests/test_hang.py::test_hangs", Status::Failed),
        ("tests/test_hang.py::test_quick_after", Status::Passed),
    ]);
    assert_eq!(from_verbose(&all), expected, "{}", text(&out));
    assert_eq!(
        final_line(&all),
        tallies(&[(1, Tally::Failed), (2, Tally::Passed)]),
        "{}",
        text(&out)
    );
    assert!(
        all.lines().any(
            |l| l == "FAILED tests/test_hang.py::test_hangs - timed out after 2.0s (--timeout)"
        ),
        "{}",
        text(&out)
    );
    assert!(
        all.contains("going to sleep for an hour"),
        "the output captured so far is shown\n{}",
        text(&out)
    );
}
