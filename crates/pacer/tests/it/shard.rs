//! CI shards (issue 19): `--shard K/N` runs part K of N of the selection,
//! balanced by recorded durations and the same on every machine;
//! `pacer shard plan N` / `verify N` show and check the parts.
//!
//! The suite is written here: twelve files of two to eight tests, a file
//! of six tests of the built-in rate-limited `live` category
//! (`tests/live/`), and a `.test_durations` recording every test but two.
//! Its conftest logs each test that runs (`RAN_LOG`) and each test
//! pytest_deselected is told of (`DESELECTED_LOG`). Each run of a part
//! happens in a fresh copy of the suite, as on a CI machine of its own.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::runs::{pacer, pytest, Run};

/// Tests without a recorded duration: the plan counts them at the median.
const UNRECORDED: [&str; 2] = ["tests/test_f03.py::test_1", "tests/test_f07.py::test_0"];

/// Writes the recorded suite into `dir`.
fn write_suite(dir: &Path) {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "pytest.ini",
        "[pytest]\nmarkers =\n    unit: pacer's built-in unit category\n",
    );
    write(
        "conftest.py",
        "import os\n\nimport pytest\n\n\n@pytest.fixture(autouse=True)\ndef _ran(request):\n    \
         log = os.environ.get(\"RAN_LOG\")\n    if log:\n        with open(log, \"a\") as f:\n            \
         f.write(\"%s\\n\" % request.node.nodeid)\n\n\n\
         def pytest_deselected(items):\n    log = os.environ.get(\"DESELECTED_LOG\")\n    if log:\n        \
         with open(log, \"a\") as f:\n            for item in items:\n                \
         f.write(\"%s\\n\" % item.nodeid)\n",
    );
    let mut durations = BTreeMap::new();
    for file in 0..12 {
        let mut text = String::from("import pytest\n\n");
        for test in 0..2 + (file * 5 % 7) {
            // The first test of each even file is a `unit` one.
            if test == 0 && file % 2 == 0 {
                text.push_str("@pytest.mark.unit\n");
            }
            text.push_str(&format!("def test_{test}():\n    pass\n\n"));
            let id = format!("tests/test_f{file:02}.py::test_{test}");
            if !UNRECORDED.contains(&id.as_str()) {
                let seconds = 0.5 + ((file * 13 + test * 7) % 17) as f64 * 0.25;
                durations.insert(id, seconds);
            }
        }
        write(&format!("tests/test_f{file:02}.py"), &text);
    }
    let mut api = String::new();
    for test in 0..6 {
        api.push_str(&format!("def test_call_{test}():\n    pass\n\n"));
        durations.insert(format!("tests/live/test_api.py::test_call_{test}"), 2.0);
    }
    write("tests/live/test_api.py", &api);
    write(
        ".test_durations",
        &serde_json::to_string_pretty(&durations).unwrap(),
    );
}

fn suite() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_suite(dir.path());
    dir
}

fn durations(dir: &Path) -> BTreeMap<String, f64> {
    serde_json::from_str(&std::fs::read_to_string(dir.join(".test_durations")).unwrap()).unwrap()
}

/// pytest's own selection for `args`, in its order.
fn pytest_selection(dir: &Path, args: &[&str]) -> Vec<String> {
    let run = pytest(dir, &[&["--collect-only", "-q"], args].concat(), &[]);
    run.stdout
        .lines()
        .filter(|l| l.contains("::"))
        .map(str::to_string)
        .collect()
}

/// `pacer shard ARGS` in `dir` (the interpreter through `PACER_PYTHON`:
/// the subcommand comes first).
fn shard(dir: &Path, args: &[&str]) -> Run {
    common::runs::run(
        &assert_cmd::cargo::cargo_bin("pacer"),
        &common::runs::strings(&[&["shard"], args].concat()),
        dir,
        &[("PACER_PYTHON", common::python().display().to_string())],
    )
}

/// `pacer shard plan N --json ARGS` in `dir`.
fn plan(dir: &Path, parts: &str, args: &[&str]) -> serde_json::Value {
    let run = shard(dir, &[&["plan", parts, "--json"], args].concat());
    assert_eq!(run.code, Some(0), "{}", run.describe());
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.describe()))
}

/// Each part's node ids, from a plan.
fn part_ids(plan: &serde_json::Value) -> Vec<Vec<String>> {
    plan["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|id| id.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

/// Every part holds its tests in pytest's order, no test is in two parts
/// and together they are `selection`.
fn assert_cover_once(parts: &[Vec<String>], selection: &[String]) {
    let place: BTreeMap<&str, usize> = selection
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut seen = BTreeSet::new();
    for part in parts {
        let at: Vec<usize> = part.iter().map(|id| place[id.as_str()]).collect();
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "not in pytest's order: {part:?}"
        );
        for id in part {
            assert!(seen.insert(id.clone()), "{id} is in two parts");
        }
    }
    let selection: BTreeSet<String> = selection.iter().cloned().collect();
    assert_eq!(seen, selection, "the parts are not the selection");
}

/// `pacer --shard ...` in a fresh copy of `template` (a machine of its own):
/// the node ids it ran, and the run.
fn run_part(template: &Path, args: &[&str], env: &[(&str, String)]) -> (Vec<String>, Run) {
    let machine = tempfile::tempdir().unwrap();
    copy(template, machine.path());
    let log = machine.path().join("ran.log");
    let mut env = env.to_vec();
    env.push(("RAN_LOG", log.display().to_string()));
    let run = pacer(machine.path(), &[&["-n", "2"], args].concat(), &env);
    run.assert_parallel();
    let ran = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    (ran, run)
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == "__pycache__" || name == ".pytest_cache" {
            continue;
        }
        if entry.path().is_dir() {
            copy(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[test]
fn a_recorded_suite_cut_in_three_is_balanced_and_covers_the_selection_once() {
    let dir = suite();
    let plan = plan(dir.path(), "3", &[]);
    let parts = part_ids(&plan);
    assert_eq!(parts.len(), 3);
    let selection = pytest_selection(dir.path(), &[]);
    assert_eq!(selection.len(), 66, "the suite as written");
    assert_cover_once(&parts, &selection);

    // The predicted seconds are the recorded ones, unrecorded tests at the
    // median of the others.
    let recorded = durations(dir.path());
    let mut times: Vec<f64> = recorded.values().copied().collect();
    times.sort_by(f64::total_cmp);
    let median = (times[times.len() / 2 - 1] + times[times.len() / 2]) / 2.0;
    assert_eq!(plan["estimate"].as_f64(), Some(median));
    assert_eq!(plan["unrecorded"].as_u64(), Some(UNRECORDED.len() as u64));
    let seconds: Vec<f64> = parts
        .iter()
        .map(|ids| {
            ids.iter()
                .map(|id| recorded.get(id).copied().unwrap_or(median))
                .sum()
        })
        .collect();
    for (p, expected) in plan["parts"].as_array().unwrap().iter().zip(&seconds) {
        assert!(
            (p["seconds"].as_f64().unwrap() - expected).abs() < 1e-9,
            "{p}"
        );
    }
    // Within 10% of each other, or at most the heaviest file apart.
    let max = seconds.iter().copied().fold(0.0, f64::max);
    let min = seconds.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = seconds.iter().sum::<f64>() / 3.0;
    let largest = plan["largest_unit"].as_f64().unwrap();
    assert!(
        (max - min) / mean <= 0.10 || max - min <= largest,
        "parts of {seconds:?} s, the heaviest file {largest} s"
    );
    println!(
        "parts: {seconds:?} s, spread {:.1}%",
        (max - min) / mean * 100.0
    );

    // No ordinary file outweighs a part here: each stays whole. The
    // rate-limited file is spread over the three parts, two tests each.
    for part in &parts {
        let live = part
            .iter()
            .filter(|id| id.starts_with("tests/live/"))
            .count();
        assert_eq!(live, 2, "live tests per part: {part:?}");
    }
    let mut file_part: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (p, part) in parts.iter().enumerate() {
        for id in part {
            file_part
                .entry(id.split("::").next().unwrap())
                .or_default()
                .insert(p);
        }
    }
    for (file, held) in &file_part {
        if !file.starts_with("tests/live/") {
            assert_eq!(held.len(), 1, "{file} was cut: {held:?}");
        }
    }

    // verify agrees, offline.
    let verify = shard(dir.path(), &["verify", "3"]);
    assert_eq!(verify.code, Some(0), "{}", verify.describe());
    assert!(
        verify
            .stdout
            .contains("each of the 66 selected tests is in exactly one of 3 parts"),
        "{}",
        verify.describe()
    );
    // The text plan names each part with its tests and seconds.
    let text = shard(dir.path(), &["plan", "3"]);
    for (p, part) in parts.iter().enumerate() {
        let row = format!("{}/3  {:>6}", p + 1, part.len());
        assert!(
            text.stdout.contains(&row),
            "no `{row}`\n{}",
            text.describe()
        );
    }
}

#[test]
fn every_machine_runs_its_part_and_the_parts_are_the_same_from_anywhere() {
    let template = suite();
    // The planner twice, in two working directories (two copies).
    let elsewhere = tempfile::tempdir().unwrap();
    copy(template.path(), &elsewhere.path().join("checkout"));
    let here = plan(template.path(), "3", &[]);
    let there = plan(&elsewhere.path().join("checkout"), "3", &[]);
    assert_eq!(here, there, "the same inputs gave other parts elsewhere");
    let parts = part_ids(&here);

    let selection = pytest_selection(template.path(), &[]);
    let mut ran_parts = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let (ran, run) = run_part(template.path(), &["--shard", &shard], &[]);
        assert_eq!(run.code, Some(0), "{}", run.describe());
        let line = format!(
            "pacer: shard {shard}: {} of 66 selected tests, predicted",
            parts[k - 1].len()
        );
        assert!(
            run.stderr.contains(&line) || run.stdout.contains(&line),
            "no `{line}`\n{}",
            run.describe()
        );
        // pytest's deselection: counted as pytest counts it.
        let counts = run.counts();
        assert_eq!(
            counts.get("passed").copied(),
            Some(parts[k - 1].len() as u64)
        );
        assert_eq!(
            counts.get("deselected").copied(),
            Some(66 - parts[k - 1].len() as u64)
        );
        assert_eq!(
            sorted(ran.clone()),
            sorted(parts[k - 1].clone()),
            "part {shard} ran another set"
        );
        ran_parts.push(ran);
    }
    // The runs' union is the selection, no test twice.
    let all: Vec<String> = ran_parts.concat();
    assert_eq!(all.len(), selection.len(), "a test ran twice or not at all");
    assert_eq!(sorted(all), sorted(selection));
}

#[test]
fn pytest_splits_spelling_and_the_environment_run_the_same_part() {
    let template = suite();
    let (by_flag, run) = run_part(template.path(), &["--shard", "2/3"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(!by_flag.is_empty());
    let (by_split, run) = run_part(template.path(), &["--splits", "3", "--group", "2"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(sorted(by_split), sorted(by_flag.clone()));
    let (by_env, run) = run_part(template.path(), &[], &[("PACER_SHARD", "2/3".into())]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(sorted(by_env), sorted(by_flag.clone()));
    // One worker cuts the same parts: by time, not by the workers.
    let (sequential, run) = run_part(template.path(), &["--shard", "2/3", "--sequential"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(sorted(sequential), sorted(by_flag));
}

#[test]
fn shards_compose_with_k_paths_and_categories() {
    let template = suite();
    let dir = template.path();
    for args in [
        &["-k", "f01 or f02 or f05 or api"][..],
        &["tests/test_f04.py", "tests/test_f09.py", "tests/live"][..],
        &["-m", "unit"][..],
    ] {
        let parts = part_ids(&plan(dir, "3", args));
        assert_cover_once(&parts, &pytest_selection(dir, args));
    }
    // The built-in `unit` category (the tests marked `unit`): pacer's own
    // selection, then the shard.
    let unit = pytest_selection(dir, &["-m", "unit"]);
    let parts = part_ids(&plan(dir, "3", &["--unit"]));
    assert_cover_once(&parts, &unit);
    let (ran, run) = run_part(dir, &["--shard", "3/3", "--unit"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(sorted(ran), sorted(parts[2].clone()));
    let (ran, run) = run_part(
        dir,
        &["--shard", "1/3", "-k", "f01 or f02 or f05 or api"],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let parts = part_ids(&plan(dir, "3", &["-k", "f01 or f02 or f05 or api"]));
    assert_eq!(sorted(ran), sorted(parts[0].clone()));
}

#[test]
fn bad_shards_are_usage_errors_naming_their_source() {
    let dir = suite();
    for bad in ["0/3", "4/3", "2/0", "x"] {
        let run = pacer(dir.path(), &["--shard", bad], &[]);
        assert_eq!(run.code, Some(4), "{}", run.describe());
        assert!(
            run.stderr.contains(&format!(
                "invalid value `{bad}` for shard from flag --shard"
            )),
            "{}",
            run.describe()
        );
    }
    let run = pacer(dir.path(), &[], &[("PACER_SHARD", "4/3".into())]);
    assert_eq!(run.code, Some(4), "{}", run.describe());
    assert!(run.stderr.contains("env PACER_SHARD"), "{}", run.describe());
    let run = pacer(dir.path(), &["--splits", "3", "--group", "0"], &[]);
    assert_eq!(run.code, Some(4), "{}", run.describe());
    assert!(
        run.stderr.contains("--splits 3 --group 0"),
        "{}",
        run.describe()
    );
    // One of pytest-split's pair alone, or both spellings at once.
    let run = pacer(dir.path(), &["--splits", "3"], &[]);
    assert_eq!(run.code, Some(4), "{}", run.describe());
    assert!(run.stderr.contains("--group"), "{}", run.describe());
    let run = pacer(
        dir.path(),
        &["--shard", "1/3", "--splits", "3", "--group", "1"],
        &[],
    );
    assert_eq!(run.code, Some(4), "{}", run.describe());
    // Handed to plain pytest, a part would become every part.
    let run = pacer(dir.path(), &["--shard", "1/3", "--pdb"], &[]);
    assert_eq!(run.code, Some(4), "{}", run.describe());
    assert!(
        run.stderr
            .contains("shard 1/3: plain pytest would run every part, not this one"),
        "{}",
        run.describe()
    );
    let run = pacer(dir.path(), &["--shard", "1/3", "--co"], &[]);
    assert_eq!(run.code, Some(4), "{}", run.describe());
    assert!(
        run.stderr.contains("shard plan N --json"),
        "{}",
        run.describe()
    );
    let run = shard(dir.path(), &["plan", "0"]);
    assert_eq!(run.code, Some(4), "{}", run.describe());
}

#[test]
fn config_shows_the_shard_and_the_run_id_with_their_sources() {
    let dir = suite();
    let out = common::pacer_in(
        dir.path(),
        &["config", "--shard", "2/3"],
        &[("GITHUB_RUN_ID", "77"), ("GITHUB_RUN_ATTEMPT", "2")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let rows = common::config_rows(&common::stdout(&out));
    assert_eq!(rows["shard"], ("2/3".into(), "flag --shard".into()));
    assert_eq!(
        rows["run_id"],
        (
            "77-2".into(),
            "default (GITHUB_RUN_ID-GITHUB_RUN_ATTEMPT)".into()
        )
    );
    let out = common::pacer_in(
        dir.path(),
        &["config"],
        &[
            ("PACER_SHARD", "1/2"),
            ("PACER_RUN_ID", "nightly-5"),
            ("CI_PIPELINE_ID", "9"),
        ],
    );
    let rows = common::config_rows(&common::stdout(&out));
    assert_eq!(rows["shard"], ("1/2".into(), "env PACER_SHARD".into()));
    assert_eq!(
        rows["run_id"],
        ("nightly-5".into(), "env PACER_RUN_ID".into())
    );
}

#[test]
fn the_other_parts_go_through_pytest_deselected_once() {
    let template = suite();
    let parts = part_ids(&plan(template.path(), "3", &[]));
    let selection = pytest_selection(template.path(), &[]);
    // Split collection (this suite's `auto`: nothing reads the collection
    // across files) and the whole one, forked into the workers.
    for mode in ["split", "whole"] {
        let machine = tempfile::tempdir().unwrap();
        copy(template.path(), machine.path());
        let log = machine.path().join("deselected.log");
        let (ran, run) = run_part(
            machine.path(),
            &["--shard", "2/3", "--collection", mode],
            &[("DESELECTED_LOG", log.display().to_string())],
        );
        assert_eq!(run.code, Some(0), "{}", run.describe());
        assert_eq!(sorted(ran), sorted(parts[1].clone()));
        let told: Vec<String> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        let others: Vec<String> = selection
            .iter()
            .filter(|id| !parts[1].contains(id))
            .cloned()
            .collect();
        assert_eq!(
            sorted(told),
            sorted(others),
            "{mode}: pytest_deselected was not told each other part's test once\n{}",
            run.describe()
        );
    }
}
