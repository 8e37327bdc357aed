//! pacer against plain pytest, test by test.
//!
//! Each test here runs the real `pacer` binary and plain `pytest` on the same
//! fixture suite (`tests/fixtures/<suite>`, each its own rootdir) and compares
//! what they report: the multiset of `(node id, OUTCOME)` pairs from their `-v`
//! lines, the counts on pytest's final line, and the exit code. The promise
//! being checked is issue 2's: "the same outcome as plain pytest for every test".
//!
//! - pacer's `-v` lines look like pytest-xdist's:
//!   `[gw0] [ 10%] PASSED tests/test_a.py::test_x`;
//! - pytest's (`-v -p no:xdist`) look like `tests/test_a.py::test_x PASSED [ 10%]`,
//!   sometimes with a skip/xfail reason after the outcome.
//!
//! Node ids may hold spaces, brackets and escaped unicode (see
//! `tests/fixtures/outcomes/tests/test_params.py`), so they are scanned, not
//! split on whitespace: a path ending in `.py`, `::`, the name, then a
//! bracket-balanced `[...]` parameter part.
//!
//! The interpreter is `$PACER_TEST_PYTHON` (set by `scripts/test`), else the
//! repository's `.venv/bin/python` (made by `scripts/venv`). Every failure
//! prints both programs' full output.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::runs::{final_counts, run_with_deadline as run, strings, Run};
use common::{python, suite};

const OUTCOMES: [&str; 6] = ["PASSED", "FAILED", "SKIPPED", "XFAIL", "XPASS", "ERROR"];

fn pacer_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("pacer")
}

/// `pacer -v --python <venv python> ARGS` in the suite's directory.
fn pacer(suite_name: &str, args: &[&str]) -> Run {
    pacer_env(suite_name, args, &[])
}

/// pacer's runs, like pytest's, leave no cache behind and read none, so
/// that no run's recorded durations reorder the next.
fn pacer_env(suite_name: &str, args: &[&str], env: &[(&str, String)]) -> Run {
    let mut full = strings(&["-v", "--python"]);
    full.push(python().display().to_string());
    full.extend(strings(args));
    full.extend(strings(&["--", "-p", "no:cacheprovider"]));
    run(&pacer_bin(), &full, &suite(suite_name), env)
}

/// Same as `pacer run -v ...`, the subcommand spelled out.
fn pacer_run_subcommand(suite_name: &str, args: &[&str]) -> Run {
    let mut full = strings(&["run", "-v", "--python"]);
    full.push(python().display().to_string());
    full.extend(strings(args));
    full.extend(strings(&["--", "-p", "no:cacheprovider"]));
    run(&pacer_bin(), &full, &suite(suite_name), &[])
}

/// Plain sequential pytest, verbose, leaving no cache behind.
fn pytest(suite_name: &str, args: &[&str]) -> Run {
    let mut full = strings(&[
        "-m",
        "pytest",
        "-v",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-p",
        "no:xdist",
    ]);
    full.extend(strings(args));
    run(&python(), &full, &suite(suite_name), &[])
}

// ---------------------------------------------------------------------------
// Parsing

type Outcomes = BTreeMap<(String, String), usize>;

/// Length in bytes of the node id at the start of `s`, if one is there:
/// `path.py::name[::name...]` then an optional bracket-balanced `[params]`.
fn scan_nodeid(s: &str) -> Option<usize> {
    let sep = s.find("::")?;
    let path = &s[..sep];
    if path.is_empty() || !path.ends_with(".py") || path.chars().any(char::is_whitespace) {
        return None;
    }
    let rest = &s[sep + 2..];
    let name_len = rest
        .find(|c: char| c.is_whitespace() || c == '[')
        .unwrap_or(rest.len());
    if name_len == 0 {
        return None;
    }
    let mut end = sep + 2 + name_len;
    if s[end..].starts_with('[') {
        let mut depth = 0usize;
        let mut closed = None;
        for (i, c) in s[end..].char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        closed = Some(end + i + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        end = closed?;
    }
    Some(end)
}

fn outcome_word(s: &str) -> Option<&'static str> {
    OUTCOMES.into_iter().find(|word| {
        s.starts_with(word)
            && s[word.len()..]
                .chars()
                .next()
                .is_none_or(char::is_whitespace)
    })
}

/// pytest: `tests/a.py::t[x] PASSED  [ 10%]` (maybe `SKIPPED (reason)`).
fn parse_pytest_line(line: &str) -> Option<(String, String)> {
    let end = scan_nodeid(line)?;
    let after = line[end..].strip_prefix(' ')?;
    let word = outcome_word(after)?;
    Some((line[..end].to_string(), word.to_string()))
}

/// pacer (xdist style): `[gw0] [ 10%] PASSED tests/a.py::t[x]`.
fn parse_pacer_line(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix("[gw")?;
    let close = rest.find(']')?;
    if close == 0 || !rest[..close].chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut rest = rest[close + 1..].trim_start();
    // The progress percentage, `[ 10%]` or `[100%]`.
    if rest.starts_with('[') {
        let close = rest.find(']')?;
        if !rest[1..close].trim().ends_with('%') {
            return None;
        }
        rest = rest[close + 1..].trim_start();
    }
    let word = outcome_word(rest)?;
    let rest = rest[word.len()..].trim_start();
    let end = scan_nodeid(rest)?;
    Some((rest[..end].to_string(), word.to_string()))
}

fn outcomes_of(text: &str, parse: fn(&str) -> Option<(String, String)>) -> Outcomes {
    let mut found = Outcomes::new();
    for line in text.lines() {
        if let Some(pair) = parse(line.trim_end()) {
            *found.entry(pair).or_default() += 1;
        }
    }
    found
}

fn pacer_outcomes(run: &Run) -> Outcomes {
    outcomes_of(&run.stdout, parse_pacer_line)
}

fn pytest_outcomes(run: &Run) -> Outcomes {
    outcomes_of(&run.stdout, parse_pytest_line)
}

/// The (node id, outcome) lines in the order printed.
fn pacer_lines_in_order(run: &Run) -> Vec<(String, String)> {
    run.stdout
        .lines()
        .filter_map(|l| parse_pacer_line(l.trim_end()))
        .collect()
}

fn counts_of(run: &Run) -> BTreeMap<String, u64> {
    final_counts(&run.stdout)
        .or_else(|| final_counts(&run.stderr))
        .unwrap_or_else(|| panic!("no pytest-style final line\n{}", run.describe()))
}

/// Lines pytest prints for a collection error in its short summary: `ERROR tests/x.py`.
fn collection_error_lines(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.trim_end().strip_prefix("ERROR "))
        .map(|rest| rest.split(" - ").next().unwrap_or(rest).trim())
        .filter(|target| target.ends_with(".py") && !target.contains("::"))
        .map(|target| target.to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// Comparing

fn failure(message: &str, runs: &[&Run]) -> String {
    let mut text = format!("{message}\n\n");
    for run in runs {
        text.push_str(&run.describe());
    }
    text
}

fn describe_diff(pacer: &Outcomes, pytest: &Outcomes) -> String {
    let mut lines = Vec::new();
    let keys: BTreeSet<_> = pacer.keys().chain(pytest.keys()).collect();
    for key in keys {
        let (a, b) = (
            pacer.get(key).copied().unwrap_or(0),
            pytest.get(key).copied().unwrap_or(0),
        );
        if a != b {
            lines.push(format!("  {} {}: pacer {a}, pytest {b}", key.1, key.0));
        }
    }
    lines.join("\n")
}

/// Outcome multisets equal (minus `ignore`d node ids), counts equal (minus
/// `ignore_counts` keys and warnings), else panic with both outputs.
fn assert_same(pacer: &Run, pytest: &Run, ignore: &[&str], ignore_counts: &[&str]) {
    assert!(
        !pacer.timed_out,
        "{}",
        failure("pacer timed out", &[pacer, pytest])
    );
    let keep = |o: Outcomes| -> Outcomes {
        o.into_iter()
            .filter(|((id, _), _)| !ignore.contains(&id.as_str()))
            .collect()
    };
    let ours = keep(pacer_outcomes(pacer));
    let theirs = keep(pytest_outcomes(pytest));
    assert!(
        !theirs.is_empty(),
        "{}",
        failure(
            "parsed no outcome lines from pytest: the parser or the fixture is broken",
            &[pytest]
        )
    );
    assert!(
        ours == theirs,
        "{}",
        failure(
            &format!(
                "pacer's outcomes differ from pytest's ((nodeid, OUTCOME) multiset):\n{}",
                describe_diff(&ours, &theirs)
            ),
            &[pacer, pytest]
        )
    );
    let drop_keys = |mut c: BTreeMap<String, u64>| {
        c.remove("warnings");
        for key in ignore_counts {
            c.remove(*key);
        }
        c
    };
    let (ours, theirs) = (drop_keys(counts_of(pacer)), drop_keys(counts_of(pytest)));
    assert!(
        ours == theirs,
        "{}",
        failure(
            &format!("final-line counts differ: pacer {ours:?}, pytest {theirs:?}"),
            &[pacer, pytest]
        )
    );
}

fn assert_code(run: &Run, expected: i32, others: &[&Run]) {
    let mut all = vec![run];
    all.extend_from_slice(others);
    assert_eq!(
        run.code,
        Some(expected),
        "{}",
        failure(&format!("expected exit code {expected}"), &all)
    );
}

// ---------------------------------------------------------------------------
// The outcomes suite: every outcome kind, deterministic

#[test]
fn parser_reads_odd_nodeids() {
    assert_eq!(
        parse_pytest_line(
            "tests/test_params.py::test_odd_ids[[bracketed]] PASSED             [ 40%]"
        ),
        Some((
            "tests/test_params.py::test_odd_ids[[bracketed]]".into(),
            "PASSED".into()
        ))
    );
    assert_eq!(
        parse_pytest_line("tests/t.py::test_sums[named case] XFAIL (wrong sum) [ 66%]"),
        Some(("tests/t.py::test_sums[named case]".into(), "XFAIL".into()))
    );
    assert_eq!(
        parse_pacer_line(
            "[gw1] [ 37%] PASSED tests/test_params.py::test_odd_ids[h\\xe9llo w\\xf6rld] "
        ),
        Some((
            "tests/test_params.py::test_odd_ids[h\\xe9llo w\\xf6rld]".into(),
            "PASSED".into()
        ))
    );
    assert_eq!(
        parse_pacer_line("[gw0] [100%] SKIPPED tests/a.py::C::test_b (whole class skipped)"),
        Some(("tests/a.py::C::test_b".into(), "SKIPPED".into()))
    );
    assert_eq!(parse_pytest_line("FAILED tests/a.py::t - assert 1"), None);
    assert_eq!(
        parse_pytest_line("ERROR    outcomes.basic:test_basic.py:44 log"),
        None
    );
    let counts =
        final_counts("=== 15 failed, 50 passed, 8 skipped, 1 error, 2 warnings in 0.24s ===")
            .unwrap();
    assert_eq!(counts["failed"], 15);
    assert_eq!(counts["errors"], 1);
    assert_eq!(counts["warnings"], 2);
    assert!(final_counts("===== no tests ran in 0.01s =====")
        .unwrap()
        .is_empty());
    assert_eq!(
        final_counts("= 1 passed in 61.20s (0:01:01) =").unwrap()["passed"],
        1
    );
}

#[test]
fn outcomes_parallel_match_pytest() {
    let ours = pacer("outcomes", &["-n", "2"]);
    let theirs = pytest("outcomes", &[]);
    assert_same(&ours, &theirs, &[], &[]);
    assert_code(&theirs, 1, &[]);
    assert_code(&ours, 1, &[&theirs]);
}

/// Workers forked from the zygote (every one but the first, forced with
/// `PACER_FRESH_WORKERS=1` so that this holds on any number of cores) give
/// the same outcome for every test.
#[test]
fn outcomes_on_forked_workers_match_pytest() {
    let ours = pacer_env(
        "outcomes",
        &["-n", "3", "--debug"],
        &[("PACER_FRESH_WORKERS", "1".into())],
    );
    let theirs = pytest("outcomes", &[]);
    assert_same(&ours, &theirs, &[], &[]);
    assert_code(&ours, 1, &[&theirs]);
    let forked = ours.stderr.matches("forked from the zygote").count();
    assert!(
        forked >= 2,
        "{}",
        failure("two workers must be forked", &[&ours])
    );
}

#[test]
fn outcomes_sequential_match_pytest() {
    let ours = pacer_run_subcommand("outcomes", &["--sequential"]);
    let theirs = pytest("outcomes", &[]);
    assert_same(&ours, &theirs, &[], &[]);
    assert_code(&ours, 1, &[&theirs]);
}

#[test]
fn keyword_selection_matches_pytest() {
    let expression = "odd_ids or TestUnittest or teardown";
    let ours = pacer("outcomes", &["-n", "2", "-k", expression]);
    let theirs = pytest("outcomes", &["-k", expression]);
    assert_same(&ours, &theirs, &[], &[]);
    assert_code(&ours, theirs.code.unwrap_or(-1), &[&theirs]);
}

#[test]
fn marker_selection_matches_pytest() {
    for expression in ["odd or slowish", "not odd"] {
        let ours = pacer("outcomes", &["-n", "2", "-m", expression]);
        let theirs = pytest("outcomes", &["-m", expression]);
        assert_same(&ours, &theirs, &[], &[]);
        assert_code(&ours, theirs.code.unwrap_or(-1), &[&theirs]);
    }
}

#[test]
fn positional_paths_select_like_pytest() {
    let paths = [
        "tests/pkg",
        "tests/test_skips.py",
        "tests/test_classes.py::TestPlain",
    ];
    let ours = pacer("outcomes", &[&["-n", "2"][..], &paths[..]].concat());
    let theirs = pytest("outcomes", &paths);
    assert_same(&ours, &theirs, &[], &[]);
    assert_code(&ours, theirs.code.unwrap_or(-1), &[&theirs]);
}

#[test]
fn nothing_selected_exits_5_like_pytest() {
    let ours = pacer("outcomes", &["-n", "2", "-k", "no_test_has_this_name"]);
    let theirs = pytest("outcomes", &["-k", "no_test_has_this_name"]);
    assert_code(&theirs, 5, &[]);
    assert_code(&ours, 5, &[&theirs]);
}

// ---------------------------------------------------------------------------
// Collection errors

#[test]
fn collection_errors_reported_like_pytest() {
    let ours = pacer("collect_error", &["-n", "2"]);
    let theirs = pytest("collect_error", &[]);
    assert_code(&theirs, 2, &[]);
    assert_code(&ours, 2, &[&theirs]);

    let expected = collection_error_lines(&theirs.stdout);
    assert_eq!(
        expected,
        BTreeSet::from([
            "tests/test_broken_import.py".to_string(),
            "tests/test_broken_syntax.py".to_string()
        ]),
        "{}",
        failure("the fixture's collection errors changed", &[&theirs])
    );
    let found = collection_error_lines(&ours.all_output());
    assert_eq!(
        found,
        expected,
        "{}",
        failure(
            "pacer's `ERROR <module>` summary lines differ from pytest's",
            &[&ours, &theirs]
        )
    );
    let output = ours.all_output();
    for needle in [
        "SyntaxError",
        "ModuleNotFoundError: No module named 'pacer_fixture_module_that_does_not_exist'",
        "Interrupted: 2 errors during collection",
    ] {
        assert!(
            theirs.stdout.contains(needle),
            "{}",
            failure(&format!("pytest no longer prints {needle:?}"), &[&theirs])
        );
        assert!(
            output.contains(needle),
            "{}",
            failure(
                &format!("pacer's output lacks {needle:?}"),
                &[&ours, &theirs]
            )
        );
    }
    assert!(
        pacer_outcomes(&ours).is_empty(),
        "{}",
        failure(
            "pytest runs nothing after a collection error; pacer ran tests",
            &[&ours, &theirs]
        )
    );
    assert_eq!(
        counts_of(&ours),
        counts_of(&theirs),
        "{}",
        failure("final-line counts differ", &[&ours, &theirs])
    );
}

// ---------------------------------------------------------------------------
// Crashing workers

const OS_EXIT: &str = "tests/test_2_crash.py::test_os_exit";
const SEGFAULT: &str = "tests/test_2_crash.py::test_segfault";
const SYS_EXIT: &str = "tests/test_2_crash.py::test_sys_exit";

/// Plain pytest would die at the two crashing tests, so it runs without them.
fn pytest_crash_suite_without_crashes() -> Run {
    pytest("crash", &["--deselect", OS_EXIT, "--deselect", SEGFAULT])
}

fn assert_crash_run(ours: &Run, theirs: &Run) {
    assert_same(
        ours,
        theirs,
        &[OS_EXIT, SEGFAULT],
        &["deselected", "failed"],
    );
    let outcomes = pacer_outcomes(ours);
    for (nodeid, why) in [(OS_EXIT, "exit code 1"), (SEGFAULT, "signal 11")] {
        let key = (nodeid.to_string(), "FAILED".to_string());
        assert_eq!(
            outcomes.get(&key),
            Some(&1),
            "{}",
            failure(
                &format!("{nodeid} must be FAILED once ({why})"),
                &[ours, theirs]
            )
        );
    }
    assert_eq!(
        outcomes.get(&(SYS_EXIT.to_string(), "FAILED".to_string())),
        Some(&1),
        "{}",
        failure(
            "sys.exit(3) must fail the test, as in pytest",
            &[ours, theirs]
        )
    );
    let output = ours.all_output();
    for needle in ["worker crashed", "exit code 1", "signal 11"] {
        assert!(
            output.contains(needle),
            "{}",
            failure(&format!("pacer's output lacks {needle:?}"), &[ours, theirs])
        );
    }
    let failed = |run: &Run| counts_of(run).get("failed").copied().unwrap_or(0);
    assert_eq!(
        failed(ours),
        failed(theirs) + 2,
        "{}",
        failure(
            "pacer must count the two crashed tests as failed, on top of pytest's failures",
            &[ours, theirs]
        )
    );
    assert_code(ours, 1, &[theirs]);
}

#[test]
fn crashed_worker_fails_only_its_test() {
    let ours = pacer("crash", &["-n", "2"]);
    let theirs = pytest_crash_suite_without_crashes();
    assert_code(&theirs, 1, &[]);
    assert_crash_run(&ours, &theirs);
}

#[test]
fn crashed_worker_is_replaced_in_sequential_run() {
    let ours = pacer("crash", &["--sequential"]);
    let theirs = pytest_crash_suite_without_crashes();
    assert_crash_run(&ours, &theirs);
}

#[test]
fn crashed_test_shows_output_captured_so_far() {
    let ours = pacer("crash", &["-n", "2"]);
    let marker = "about to crash: pacer must show this output";
    assert!(
        ours.all_output().contains(marker),
        "{}",
        failure(
            "the os._exit test printed a line before dying; pacer must show it",
            &[&ours]
        )
    );
}

// ---------------------------------------------------------------------------
// -x / --maxfail

const MAXFAIL_TESTS: usize = 43;

/// Runs the maxfail suite with `args` on `workers` workers and checks that
/// once `limit` failures are in, at most `workers` more tests report (those
/// running at that moment), and that the run stops early with exit code 1.
fn check_maxfail(args: &[&str], workers: usize, limit: usize) {
    let workers_arg = workers.to_string();
    let all_args = [&["-n", workers_arg.as_str()][..], args].concat();
    let ours = pacer("maxfail", &all_args);
    assert!(!ours.timed_out, "{}", failure("pacer timed out", &[&ours]));
    assert_code(&ours, 1, &[]);
    let lines = pacer_lines_in_order(&ours);
    let failed: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, (_, outcome))| outcome == "FAILED")
        .map(|(i, _)| i)
        .collect();
    assert!(
        failed.len() >= limit,
        "{}",
        failure(&format!("expected at least {limit} FAILED lines"), &[&ours])
    );
    let reached_at = failed[limit - 1];
    let after = lines.len() - reached_at - 1;
    assert!(
        after <= workers,
        "{}",
        failure(
            &format!(
                "{after} tests reported after failure #{limit}; at most {workers} (one running per worker) may"
            ),
            &[&ours]
        )
    );
    assert!(
        lines.len() < MAXFAIL_TESTS,
        "{}",
        failure(
            "the whole suite ran: the failure limit stopped nothing",
            &[&ours]
        )
    );
    let counts = counts_of(&ours);
    let count = |outcome: &str| lines.iter().filter(|(_, o)| o == outcome).count() as u64;
    assert_eq!(
        counts.get("failed").copied().unwrap_or(0),
        count("FAILED"),
        "{}",
        failure("final line vs FAILED lines", &[&ours])
    );
    assert_eq!(
        counts.get("passed").copied().unwrap_or(0),
        count("PASSED"),
        "{}",
        failure("final line vs PASSED lines", &[&ours])
    );
}

#[test]
fn exitfirst_stops_new_tests() {
    check_maxfail(&["-x"], 2, 1);
}

#[test]
fn maxfail_stops_new_tests() {
    check_maxfail(&["--maxfail", "2"], 2, 2);
}

#[test]
fn exitfirst_stops_like_pytest_sequentially() {
    let ours = pacer("maxfail", &["--sequential", "-x"]);
    let theirs = pytest("maxfail", &["-x"]);
    assert_same(&ours, &theirs, &[], &[]);
    assert_code(&ours, 1, &[&theirs]);
}

// ---------------------------------------------------------------------------
// Categories (the ofsc layout)

/// Caps of the built-in categories (README, "Categories"); `default` has none of its own.
const CAPS: [(&str, u64); 5] = [
    ("unit", 8),
    ("models", 8),
    ("integration", 4),
    ("end-to-end", 10),
    ("live", 10),
];

struct Event {
    nodeid: String,
    category: String,
    env_category: Option<String>,
    start: f64,
    end: f64,
}

fn read_events(dir: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default();
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("events.jsonl line");
            Event {
                nodeid: v["nodeid"].as_str().unwrap().to_string(),
                category: v["category"].as_str().unwrap().to_string(),
                env_category: v["env_category"].as_str().map(str::to_string),
                start: v["start"].as_f64().unwrap(),
                end: v["end"].as_f64().unwrap(),
            }
        })
        .collect()
}

fn read_peaks(dir: &Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(dir.join("state.json")).unwrap_or_else(|_| "{}".into());
    let v: serde_json::Value = serde_json::from_str(&text).expect("state.json");
    v["peak"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

/// Most tests of the categories in `which` running at one instant.
fn peak_overlap(events: &[Event], which: &[&str]) -> usize {
    let mut edges: Vec<(f64, i32)> = events
        .iter()
        .filter(|e| which.contains(&e.category.as_str()))
        .flat_map(|e| [(e.start, 1), (e.end, -1)])
        .collect();
    edges.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)));
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, delta) in edges {
        now += delta;
        peak = peak.max(now);
    }
    peak as usize
}

fn collected_nodeids(suite_name: &str) -> BTreeSet<String> {
    let listing = pytest(suite_name, &["--collect-only", "-q", "-q"]);
    listing
        .stdout
        .lines()
        .filter(|l| scan_nodeid(l) == Some(l.len()))
        .map(str::to_string)
        .collect()
}

#[test]
fn categories_every_test_runs_once_in_its_category() {
    let state = tempfile::tempdir().expect("temp dir");
    let ours = pacer_env(
        "categories",
        &["-n", "2"],
        &[("PACER_FIXTURE_STATE", state.path().display().to_string())],
    );
    assert_code(&ours, 0, &[]);
    let expected = collected_nodeids("categories");
    assert_eq!(expected.len(), 79, "the categories fixture changed size");
    let passed: BTreeSet<String> = pacer_outcomes(&ours)
        .into_iter()
        .filter(|((_, outcome), n)| outcome == "PASSED" && *n == 1)
        .map(|((id, _), _)| id)
        .collect();
    assert_eq!(
        passed,
        expected,
        "{}",
        failure(
            "pacer must pass every collected test exactly once",
            &[&ours]
        )
    );

    let events = read_events(state.path());
    let mut seen = BTreeMap::<&str, usize>::new();
    for event in &events {
        *seen.entry(&event.nodeid).or_default() += 1;
        if let Some(env) = &event.env_category {
            assert_eq!(
                env, &event.category,
                "{}: PYTEST_CURRENT_CATEGORY says {env}, the default selectors say {}",
                event.nodeid, event.category
            );
        }
    }
    assert_eq!(seen.len(), expected.len(), "every test records one event");
    assert!(seen.values().all(|&n| n == 1), "a test ran twice: {seen:?}");
    let cpu = ["unit", "models", "integration", "default"];
    assert!(
        peak_overlap(&events, &cpu) <= 2,
        "cpu-kind tests must never use more than the 2 workers: peak {}",
        peak_overlap(&events, &cpu)
    );
    for (category, cap) in CAPS {
        let peak = read_peaks(state.path()).get(category).copied().unwrap_or(0);
        assert!(peak <= cap, "{category}: {peak} ran at once, cap {cap}");
    }
}

/// Issue 3's proof: each category's cap is reached but never exceeded, and io
/// categories run past `--workers` up to their caps. Each category runs alone
/// (selected by its directory), so nothing but its cap and the worker count
/// can hold it below the cap; the sleeps are tripled so that slow worker
/// start-up on a loaded machine does not either.
#[test]
fn category_caps_are_reached_not_exceeded() {
    const WORKERS: u64 = 8;
    let dirs = [
        ("unit", "tests/unit"),
        ("models", "tests/models"),
        ("integration", "tests/integration"),
        ("end-to-end", "tests/end_to_end"),
        ("live", "tests/live"),
    ];
    for ((category, cap), (_, dir)) in CAPS.into_iter().zip(dirs) {
        let state = tempfile::tempdir().expect("temp dir");
        let workers = WORKERS.to_string();
        let ours = pacer_env(
            "categories",
            &["-n", &workers, dir],
            &[
                ("PACER_FIXTURE_STATE", state.path().display().to_string()),
                ("PACER_FIXTURE_SLEEP_SCALE", "10".to_string()),
            ],
        );
        assert_code(&ours, 0, &[]);
        let events = read_events(state.path());
        let size = events.iter().filter(|e| e.category == category).count() as u64;
        let io = matches!(category, "end-to-end" | "live");
        let want = if io { cap } else { cap.min(WORKERS) }.min(size);
        let peaks = read_peaks(state.path());
        assert_eq!(
            peaks.get(category).copied().unwrap_or(0),
            want,
            "{}",
            failure(
                &format!("{category} alone on {WORKERS} workers: peak concurrency should be {want} (cap {cap}, {size} tests); peaks {peaks:?}"),
                &[&ours]
            )
        );
    }
}

#[test]
fn dash_s_streams_test_output() {
    let ours = pacer_env(
        "categories",
        &["-n", "2", "-s", "-k", "misc"],
        &[("PACER_FIXTURE_VERBOSE", "1".to_string())],
    );
    assert_code(&ours, 0, &[]);
    let line = "tests/misc/test_misc_marked.py::test_marked_e2e: end-to-end, not recording";
    assert!(
        ours.stdout.contains(line),
        "{}",
        failure(
            &format!("with -s, pacer must show the tests' own output, e.g. {line:?}"),
            &[&ours]
        )
    );
}

#[test]
fn sequential_runs_one_test_at_a_time_in_pytests_order_io_included() {
    let state = tempfile::tempdir().expect("temp dir");
    let ours = pacer_env(
        "categories",
        &["--sequential"],
        &[("PACER_FIXTURE_STATE", state.path().display().to_string())],
    );
    assert_code(&ours, 0, &[]);
    let mut events = read_events(state.path());
    let all = [
        "unit",
        "models",
        "integration",
        "end-to-end",
        "live",
        "default",
    ];
    assert_eq!(
        peak_overlap(&events, &all),
        1,
        "{}",
        failure(
            "--sequential must run one test at a time, io categories too",
            &[&ours]
        )
    );
    events.sort_by(|a, b| a.start.total_cmp(&b.start));
    let ran: Vec<&str> = events.iter().map(|e| e.nodeid.as_str()).collect();
    let listing = pytest("categories", &["--collect-only", "-q", "-q"]);
    let collected: Vec<&str> = listing
        .stdout
        .lines()
        .filter(|l| scan_nodeid(l) == Some(l.len()))
        .collect();
    assert_eq!(
        ran,
        collected,
        "{}",
        failure("--sequential must keep pytest's order", &[&ours, &listing])
    );
}

// ---------------------------------------------------------------------------
// pytest's order, fixture scopes, odd ids and exclusive tests (the `order` suite)

/// Setups per kind (`module`, `class`, `param-module`) recorded by the suite.
fn setups(dir: &Path) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(dir.join("setups.jsonl")).unwrap_or_default();
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("setups.jsonl line");
        *counts
            .entry(v["kind"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    counts
}

struct Span {
    nodeid: String,
    start: f64,
    end: f64,
    serial: bool,
}

fn timeline(dir: &Path) -> Vec<Span> {
    let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default();
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("events.jsonl line");
            Span {
                nodeid: v["nodeid"].as_str().unwrap().to_string(),
                start: v["start"].as_f64().unwrap(),
                end: v["end"].as_f64().unwrap(),
                serial: v["serial"].as_bool().unwrap(),
            }
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            if entry.file_name() != "__pycache__" && entry.file_name() != ".pytest_cache" {
                copy_dir(&path, &target);
            }
        } else {
            std::fs::copy(&path, &target).expect("copy file");
        }
    }
}

/// Issue 7: with more workers than cores, on a first run and on a second
/// run with the durations the first recorded, pacer gives every test of the
/// `order` suite pytest's outcome (ids with quotes, spaces, `;` and escapes
/// included; order-dependent tests pass), runs each exactly once, runs the
/// `serial` tests alone, and sets module, class and parametrized module
/// fixtures up no more often than pytest-xdist `-n 2 --dist load`.
#[test]
fn order_suite_keeps_pytests_order_and_fixture_setups_on_first_and_second_run() {
    let theirs = pytest("order", &[]);
    assert_code(&theirs, 0, &[]);
    let xdist_state = tempfile::tempdir().expect("temp dir");
    let xdist = run(
        &python(),
        &strings(&[
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-n",
            "2",
            "--dist",
            "load",
        ]),
        &suite("order"),
        &[(
            "PACER_FIXTURE_STATE",
            xdist_state.path().display().to_string(),
        )],
    );
    // xdist itself splits classes here, so the tests that rely on a class's
    // order may fail under it: only its setup counts are the bar.
    assert!(
        matches!(xdist.code, Some(0 | 1)),
        "{}",
        failure("pytest-xdist did not run the suite", &[&xdist])
    );
    let xdist_setups = setups(xdist_state.path());
    assert!(
        ["module", "class", "param-module"]
            .iter()
            .all(|k| xdist_setups.get(*k).copied().unwrap_or(0) > 0),
        "the suite records no setups under xdist: {xdist_setups:?}"
    );

    // A copy, so that pacer's cache (its recorded durations) stays out of the repository.
    let project = tempfile::tempdir().expect("temp dir");
    copy_dir(&suite("order"), project.path());
    // Five workers, three forked from the zygote on any machine.
    let workers = "5";
    for round in ["first run", "second run, with recorded durations"] {
        let state = tempfile::tempdir().expect("temp dir");
        let mut args = strings(&["-v", "--python"]);
        args.push(python().display().to_string());
        args.extend(strings(&["-n", workers, "--debug"]));
        let ours = run(
            &pacer_bin(),
            &args,
            project.path(),
            &[
                ("PACER_FIXTURE_STATE", state.path().display().to_string()),
                ("PACER_FRESH_WORKERS", "2".into()),
            ],
        );
        assert!(
            ours.stderr.matches("forked from the zygote").count() >= 3,
            "{}",
            failure("three workers must be forked", &[&ours])
        );
        assert_same(&ours, &theirs, &[], &[]);
        assert_code(&ours, 0, &[&theirs]);
        if round.starts_with("second") {
            assert!(
                project
                    .path()
                    .join(".pytest_cache/v/pacer/durations")
                    .exists(),
                "the first run recorded no durations"
            );
        }

        let spans = timeline(state.path());
        let mut seen = BTreeMap::<&str, usize>::new();
        for span in &spans {
            *seen.entry(&span.nodeid).or_default() += 1;
        }
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "{round}: tests ran twice: {twice:?}");
        let passed = pytest_outcomes(&theirs)
            .keys()
            .filter(|(_, o)| o == "PASSED")
            .count();
        assert_eq!(seen.len(), passed, "{round}: every test runs once");
        for serial in spans.iter().filter(|s| s.serial) {
            let beside: Vec<&str> = spans
                .iter()
                .filter(|o| {
                    o.nodeid != serial.nodeid && o.start < serial.end && o.end > serial.start
                })
                .map(|o| o.nodeid.as_str())
                .collect();
            assert!(
                beside.is_empty(),
                "{}",
                failure(
                    &format!(
                        "{round}: serial test {} ran beside {beside:?}",
                        serial.nodeid
                    ),
                    &[&ours]
                )
            );
        }

        let ours_setups = setups(state.path());
        for kind in ["module", "class", "param-module"] {
            let (a, b) = (
                ours_setups.get(kind).copied().unwrap_or(0),
                xdist_setups[kind],
            );
            assert!(
                a > 0 && a <= b,
                "{}",
                failure(
                    &format!("{round}: {kind} fixtures set up {a} times under pacer -n {workers}, {b} under xdist -n 2 (all: pacer {ours_setups:?}, xdist {xdist_setups:?})"),
                    &[&ours, &xdist]
                )
            );
        }
    }
}
