//! The whole collection in every worker (issue 16): `session.items` is the
//! run's whole selection on each worker, and an order that a
//! `pytest_collection_modifyitems` hook sets across files is kept on each
//! worker, as under pytest and pytest-xdist. The suite
//! (`tests/fixtures/whole_collection`) logs what each worker's session holds
//! (`ITEMS_LOG`) and the order each worker runs its tests in (`ORDER_LOG`);
//! its conftest moves the tests marked `late` after all the others.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::runs::{pacer, pytest, Run};

/// Every test of the suite: four files of eight.
const TOTAL: u64 = 32;

/// `worker -> the sizes of session.items it logged`.
fn items_seen(log: &Path) -> BTreeMap<String, Vec<u64>> {
    let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        let (worker, count) = line.split_once(' ').expect("worker count");
        seen.entry(worker.to_string())
            .or_default()
            .push(count.parse().expect("a count"));
    }
    seen
}

/// `worker -> node ids in the order it ran them`.
fn order(log: &Path) -> BTreeMap<String, Vec<String>> {
    let mut ran: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        let (worker, id) = line.split_once(' ').expect("worker id");
        ran.entry(worker.to_string())
            .or_default()
            .push(id.to_string());
    }
    ran
}

fn ran(run: &Run) -> u64 {
    let counts = run.counts();
    counts.get("passed").copied().unwrap_or(0) + counts.get("failed").copied().unwrap_or(0)
}

/// One run of pacer with `args`: every worker's `session.items` holds
/// exactly the tests the run selected.
fn assert_whole_selection(dir: &Path, args: &[&str], env: &[(&str, String)]) -> u64 {
    let log = dir.join("items.log");
    let _ = std::fs::remove_file(&log);
    let mut env = env.to_vec();
    env.push(("ITEMS_LOG", log.display().to_string()));
    let run = pacer(dir, args, &env);
    run.assert_parallel();
    let selected = ran(&run);
    let seen = items_seen(&log);
    assert!(!seen.is_empty(), "no worker logged\n{}", run.describe());
    for (worker, sizes) in &seen {
        assert!(
            sizes.iter().all(|n| *n == selected),
            "{worker} saw session.items of {sizes:?}, the run selected {selected}\n{}",
            run.describe()
        );
    }
    selected
}

#[test]
fn every_worker_sees_the_whole_selection_in_session_items() {
    let dir = common::suite_copy("whole_collection");
    let dir = dir.path();
    let cases: &[&[&str]] = &[
        &[],
        &["-k", "alpha or beta"],
        &["-m", "slow"],
        &["--deselect", "test_alpha.py::test_alpha_0"],
        &["test_gamma.py", "test_delta.py::test_delta_3"],
    ];
    // Without fork, every worker collects the whole run itself.
    for (workers, fork) in [("1", true), ("2", true), ("3", true), ("2", false)] {
        for case in cases {
            let mut args = vec!["-q", "-n", workers];
            if !fork {
                args.push("--no-fork");
            }
            args.extend_from_slice(case);
            let selected = assert_whole_selection(dir, &args, &[]);
            // pytest's own count for the same arguments.
            let log = dir.join("pytest-items.log");
            let _ = std::fs::remove_file(&log);
            let plain = pytest(
                dir,
                &[&["-q"], *case].concat(),
                &[("ITEMS_LOG", log.display().to_string())],
            );
            assert_eq!(
                items_seen(&log).get("-").cloned(),
                Some(vec![selected]),
                "pytest {case:?} saw another selection than pacer -n {workers}\n{}",
                plain.describe()
            );
        }
    }
}

#[test]
fn pacer_categories_and_last_failed_leave_session_items_as_the_selection() {
    let dir = common::suite_copy("whole_collection");
    let dir = dir.path();
    // The built-in `unit` category selects the tests marked `unit`.
    assert_eq!(
        assert_whole_selection(dir, &["-q", "-n", "2", "--unit"], &[]),
        2
    );
    // --lf after one failure: pytest's session holds that one test.
    let first = pacer(dir, &["-q", "-n", "2"], &[("FAIL_ONE", "1".into())]);
    assert_eq!(
        first.counts().get("failed"),
        Some(&1),
        "{}",
        first.describe()
    );
    assert_eq!(
        assert_whole_selection(dir, &["-q", "-n", "2", "--lf"], &[]),
        1
    );
}

/// Each part of `pacer shard plan N --json` (in `dir`): its node ids.
fn shard_parts(dir: &Path, parts: &str, args: &[&str]) -> Vec<Vec<String>> {
    let run = common::runs::run(
        &assert_cmd::cargo::cargo_bin("pacer"),
        &common::runs::strings(&[&["shard", "plan", parts, "--json"], args].concat()),
        dir,
        &[("PACER_PYTHON", common::python().display().to_string())],
    );
    let plan: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.describe()));
    plan["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| {
            p["ids"]
                .as_array()
                .expect("ids")
                .iter()
                .map(|id| id.as_str().expect("an id").to_string())
                .collect()
        })
        .collect()
}

#[test]
fn under_a_shard_session_items_is_the_part_on_every_worker() {
    let dir = common::suite_copy("whole_collection");
    let dir = dir.path();
    for case in [
        &[][..],
        &["-k", "alpha or beta or gamma"][..],
        &["--unit"][..],
    ] {
        let parts = shard_parts(dir, "2", case);
        for (k, part) in parts.iter().enumerate() {
            let shard = format!("{}/2", k + 1);
            // Forked from the collector, and without fork each worker
            // collecting the run itself: pytest's deselection either way.
            // Each run on a fresh copy, as on a CI machine of its own: a
            // run records its durations, which would cut the next run's
            // parts differently.
            for fork in [&[][..], &["--no-fork"][..]] {
                let machine = common::suite_copy("whole_collection");
                let args = [&["-q", "-n", "2", "--shard", &shard][..], fork, case].concat();
                let selected = assert_whole_selection(machine.path(), &args, &[]);
                assert_eq!(
                    selected,
                    part.len() as u64,
                    "--shard {shard} {case:?} {fork:?} ran another part than the plan's {part:?}"
                );
            }
        }
        let ran: usize = parts.iter().map(Vec::len).sum();
        let plain = pytest(dir, &[&["-q", "--co"], case].concat(), &[]);
        let expected = plain.stdout.lines().filter(|l| l.contains("::")).count();
        // `--unit` is pacer's: plain pytest's `-m unit` is its selection.
        let expected = if case == ["--unit"] {
            pytest(dir, &["-q", "--co", "-m", "unit"], &[])
                .stdout
                .lines()
                .filter(|l| l.contains("::"))
                .count()
        } else {
            expected
        };
        assert_eq!(ran, expected, "{case:?}: the parts are not the selection");
    }
    // Split collection (forced) runs the same part, each worker holding its
    // share of the files.
    let parts = shard_parts(dir, "2", &[]);
    let machine = common::suite_copy("whole_collection");
    let log = machine.path().join("order.log");
    let run = pacer(
        machine.path(),
        &["-q", "-n", "2", "--collection", "split", "--shard", "2/2"],
        &[("ORDER_LOG", log.display().to_string())],
    );
    let mut ran: Vec<String> = order(&log).into_values().flatten().collect();
    ran.sort();
    let mut part = parts[1].clone();
    part.sort();
    assert_eq!(ran, part, "{}", run.describe());
}

#[test]
fn split_collection_hands_each_worker_a_fragment() {
    // The counter-proof: forced split, a worker's session.items is its share.
    let dir = common::suite_copy("whole_collection");
    let log = dir.path().join("items.log");
    let run = pacer(
        dir.path(),
        &["-q", "-n", "2", "--collection", "split", "--debug"],
        &[("ITEMS_LOG", log.display().to_string())],
    );
    assert!(
        run.stderr.contains("collection: split (collection = \"split\"; whole would be chosen: conftest.py implements pytest_collection_modifyitems)"),
        "{}",
        run.describe()
    );
    let seen = items_seen(&log);
    assert!(
        seen.values().flatten().any(|n| *n < TOTAL),
        "split collection should leave a worker a fragment: {seen:?}\n{}",
        run.describe()
    );
}

#[test]
fn auto_says_why_it_collects_the_whole_run() {
    let dir = common::suite_copy("whole_collection");
    let run = pacer(dir.path(), &["-q", "-n", "2", "--debug"], &[]);
    assert!(
        run.stderr
            .contains("collection: whole (conftest.py implements pytest_collection_modifyitems)"),
        "{}",
        run.describe()
    );
    // A suite that neither reads nor orders the collection is split.
    let plain = common::suite_copy("outcomes");
    let run = pacer(plain.path(), &["-q", "-n", "2", "--debug"], &[]);
    assert!(
        run.stderr.contains(
            "collection: split (no conftest or plugin reads or orders the collection across files)"
        ),
        "{}",
        run.describe()
    );
    // Forced whole, also through the environment.
    let run = pacer(
        plain.path(),
        &["-q", "-n", "2", "--debug"],
        &[("PACER_COLLECTION", "whole".into())],
    );
    assert!(
        run.stderr
            .contains("collection: whole (collection = \"whole\")"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_bad_collection_mode_is_a_usage_error_naming_its_source() {
    let dir = common::suite_copy("whole_collection");
    let flag = pacer(dir.path(), &["--collection", "fragments"], &[]);
    assert_eq!(flag.code, Some(4), "{}", flag.describe());
    let env = pacer(dir.path(), &[], &[("PACER_COLLECTION", "all".into())]);
    assert_eq!(env.code, Some(4), "{}", env.describe());
    common::snapshot!(
        "collection__bad_mode",
        "--collection fragments, then PACER_COLLECTION=all: each names its source and `auto`, `whole` or `split`",
        &[(dir.path(), "[DIR]")],
        format!("{}\n{}", flag.shown(), env.shown()),
    );
}

/// pytest's order of the suite, from a plain run.
fn pytest_order(dir: &Path) -> Vec<String> {
    let log = dir.join("pytest-order.log");
    let _ = std::fs::remove_file(&log);
    let run = pytest(dir, &["-q"], &[("ORDER_LOG", log.display().to_string())]);
    order(&log)
        .remove("-")
        .unwrap_or_else(|| panic!("pytest logged no order\n{}", run.describe()))
}

fn assert_hook_order_kept(dir: &Path, workers: &str, expected: &[String]) -> Run {
    let log = dir.join("order.log");
    let _ = std::fs::remove_file(&log);
    let run = pacer(
        dir,
        &["-q", "-n", workers],
        &[("ORDER_LOG", log.display().to_string())],
    );
    run.assert_parallel();
    assert_eq!(
        run.counts().get("passed"),
        Some(&TOTAL),
        "{}",
        run.describe()
    );
    let ran = order(&log);
    let rank: BTreeMap<&str, usize> = expected
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    for (worker, ids) in &ran {
        let ranks: Vec<usize> = ids.iter().map(|id| rank[id.as_str()]).collect();
        assert!(
            ranks.windows(2).all(|w| w[0] < w[1]),
            "{worker} ran {ids:?}, against the order the hook set: {expected:?}"
        );
    }
    if workers == "1" {
        let only: Vec<String> = ran.values().flatten().cloned().collect();
        assert_eq!(only, expected, "one worker runs pytest's order exactly");
    }
    run
}

#[test]
fn tests_a_hook_moves_last_run_last_on_each_worker() {
    let dir = common::suite_copy("whole_collection");
    let dir = dir.path();
    let expected = pytest_order(dir);
    let late: Vec<&String> = expected.iter().filter(|id| id.ends_with("_2")).collect();
    assert_eq!(late.len(), 4);
    assert!(
        expected[expected.len() - 4..]
            .iter()
            .all(|id| id.ends_with("_2")),
        "the conftest moves the late tests last: {expected:?}"
    );
    for workers in ["1", "2", "3"] {
        // The second run has recorded durations: they never reorder it.
        for _ in 0..2 {
            let run = assert_hook_order_kept(dir, workers, &expected);
            if workers != "1" {
                assert!(
                    run.stdout.contains(
                        "pacer: conftest.py ordered the tests across files (pytest_collection_modifyitems)"
                    ),
                    "{}",
                    run.describe()
                );
            }
        }
    }
}
