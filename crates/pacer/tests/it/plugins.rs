//! The plugins people run with pytest-xdist, under pacer (issue 7, item 5):
//! pytest-cov, pytest-randomly, pytest-rerunfailures, pytest-timeout,
//! pytest-asyncio, pytest-env and pytest-django, compared with pytest-xdist (`pytest -n 2`)
//! or plain pytest on the same suite (`tests/fixtures/plugins`).
//!
//! They run in their own venv (`scripts/venv-plugins` makes `.venv-plugins`
//! from `requirements-plugins.txt`; `scripts/test` exports its python as
//! `PACER_TEST_PLUGINS_PYTHON`): pytest-randomly shuffles every suite it sees.
//! Each test works on its own copy of the suite, since coverage data files
//! land in the folder pytest runs in.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::runs::{run, strings, Run};

fn plugins_python() -> PathBuf {
    let python = match std::env::var_os("PACER_TEST_PLUGINS_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => common::repo_root().join(".venv-plugins/bin/python"),
    };
    assert!(
        python.exists(),
        "no Python at {}: run scripts/venv-plugins (or scripts/test, which sets PACER_TEST_PLUGINS_PYTHON)",
        python.display()
    );
    python
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__"
            || name == ".pytest_cache"
            || name.to_string_lossy().starts_with(".coverage")
        {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A fresh copy of the plugins suite.
fn suite_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&common::suite("plugins"), dir.path());
    dir
}

fn pacer(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Run {
    let mut full = strings(&["-v", "-n", "2", "--python"]);
    full.push(plugins_python().display().to_string());
    full.push("--".to_string());
    full.extend(strings(args));
    let ours = run(&assert_cmd::cargo::cargo_bin("pacer"), &full, dir, env);
    ours.assert_parallel();
    ours
}

/// pytest itself; `-n 2` in `args` makes it pytest-xdist.
fn pytest(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Run {
    let mut full = strings(&["-m", "pytest"]);
    full.extend(strings(args));
    run(&plugins_python(), &full, dir, env)
}

fn both(a: &Run, b: &Run) -> String {
    format!("{}\n{}", a.describe(), b.describe())
}

/// pytest-cov's report table: from `coverage: platform ...` to `TOTAL`.
fn coverage_table(run: &Run) -> Vec<String> {
    let lines: Vec<&str> = run.stdout.lines().collect();
    let Some(start) = lines.iter().position(|l| l.contains("coverage: platform")) else {
        return Vec::new();
    };
    let mut table = Vec::new();
    for line in &lines[start..] {
        table.push(line.trim_end().to_string());
        if line.starts_with("TOTAL") {
            break;
        }
    }
    table
}

fn line_index(run: &Run, needle: &str) -> Option<usize> {
    run.stdout.lines().position(|l| l.contains(needle))
}

fn workers_used(run: &Run) -> usize {
    let mut seen: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("[gw")?.split(']').next())
        .collect();
    seen.sort();
    seen.dedup();
    seen.len()
}

const NO_RANDOMLY: [&str; 4] = ["-p", "no:cacheprovider", "-p", "no:randomly"];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut all = NO_RANDOMLY.to_vec();
    all.extend_from_slice(extra);
    all
}

#[test]
fn cov_report_combines_every_workers_data_as_under_xdist() {
    let (a, b) = (suite_copy(), suite_copy());
    let cov = ["--cov=covpkg", "--cov-report=term-missing"];
    let theirs = pytest(a.path(), &args(&[&["-n", "2"][..], &cov[..]].concat()), &[]);
    // Only a run whose tests went to both workers shows that their data is
    // combined; which worker takes which file is the scheduler's choice, so
    // ask again (on a fresh copy) in the rare run where one took them all.
    let mut ours = pacer(b.path(), &args(&cov), &[]);
    for _ in 0..4 {
        if workers_used(&ours) >= 2 {
            break;
        }
        let again = suite_copy();
        ours = pacer(again.path(), &args(&cov), &[]);
    }
    let table = coverage_table(&theirs);
    assert!(
        table.len() > 4,
        "no coverage table from xdist\n{}",
        both(&theirs, &ours)
    );
    assert!(
        workers_used(&ours) >= 2,
        "all tests ran on one worker in 5 runs: cannot tell combined data from one worker's\n{}",
        ours.describe()
    );
    assert_eq!(
        coverage_table(&ours),
        table,
        "coverage reports differ\n{}",
        both(&theirs, &ours)
    );
    // Where pytest-cov prints it: after the failures, before the short
    // test summary and the final line.
    let heading = line_index(&ours, "tests coverage").expect("heading");
    let failures = line_index(&ours, "= FAILURES =").expect("failures");
    let short = line_index(&ours, "short test summary info").expect("short summary");
    assert!(failures < heading && heading < short, "{}", ours.describe());
    assert_eq!(
        as_pytest_counts(&ours),
        theirs.counts(),
        "{}",
        both(&theirs, &ours)
    );
    assert_eq!(ours.code, theirs.code, "{}", both(&theirs, &ours));
}

#[test]
fn cov_fail_under_fails_a_passing_run_as_under_xdist() {
    let passing = ["tests/test_area.py", "tests/test_words.py", "--cov=covpkg"];
    for (limit, code) in [("--cov-fail-under=90", 1), ("--cov-fail-under=10", 0)] {
        let (a, b) = (suite_copy(), suite_copy());
        let extra = [&passing[..], &[limit]].concat();
        let theirs = pytest(
            a.path(),
            &args(&[&["-n", "2"][..], &extra[..]].concat()),
            &[],
        );
        let ours = pacer(b.path(), &args(&extra), &[]);
        let runs = both(&theirs, &ours);
        assert_eq!(theirs.code, Some(code), "{runs}");
        assert_eq!(ours.code, Some(code), "{runs}");
        let verdict = |run: &Run| {
            run.stdout
                .lines()
                .find(|l| l.contains("Required test coverage of"))
                .map(str::to_string)
        };
        assert!(verdict(&theirs).is_some(), "{runs}");
        assert_eq!(verdict(&ours), verdict(&theirs), "{runs}");
        let error = |run: &Run| {
            run.stdout
                .lines()
                .find(|l| l.starts_with("ERROR: Coverage failure"))
                .map(str::to_string)
        };
        assert_eq!(error(&ours), error(&theirs), "{runs}");
    }
}

/// `file name` → `[(line, hits)]` from a Cobertura XML report.
fn xml_lines(path: &Path) -> BTreeMap<String, Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no XML report at {}: {e}", path.display()));
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = tag[start..].find('"')? + start;
        Some(tag[start..end].to_string())
    };
    let mut files = BTreeMap::new();
    let mut current = String::new();
    for tag in text.split('<') {
        if tag.starts_with("class ") {
            current = attr(tag, "filename").unwrap_or_default();
        } else if tag.starts_with("line ") {
            let entry = (attr(tag, "number").unwrap(), attr(tag, "hits").unwrap());
            files
                .entry(current.clone())
                .or_insert_with(Vec::new)
                .push(entry);
        }
    }
    files
}

#[test]
fn cov_xml_report_and_append_as_under_xdist() {
    let (a, b) = (suite_copy(), suite_copy());
    let first = [
        "tests/test_area.py",
        "--cov=covpkg",
        "--cov-report=xml:cov.xml",
        "--cov-report=html:htmlcov",
    ];
    let second = [
        "tests/test_words.py",
        "--cov=covpkg",
        "--cov-append",
        "--cov-report=xml:cov.xml",
    ];
    for step in [&first[..], &second[..]] {
        let theirs = pytest(a.path(), &args(&[&["-n", "2"][..], step].concat()), &[]);
        let ours = pacer(b.path(), &args(step), &[]);
        let runs = both(&theirs, &ours);
        assert!(
            ours.stdout.contains("Coverage XML written to file cov.xml"),
            "{runs}"
        );
        if step == first {
            assert!(
                ours.stdout.contains("Coverage HTML written to dir htmlcov"),
                "{runs}"
            );
            assert!(b.path().join("htmlcov/index.html").exists(), "{runs}");
        }
        let expected = xml_lines(&a.path().join("cov.xml"));
        assert!(expected.contains_key("words.py") || step == first, "{runs}");
        assert_eq!(xml_lines(&b.path().join("cov.xml")), expected, "{runs}");
    }
}

#[test]
fn no_cov_turns_coverage_off_as_under_xdist() {
    let (a, b) = (suite_copy(), suite_copy());
    let extra = ["tests/test_area.py", "--cov=covpkg", "--no-cov"];
    let theirs = pytest(
        a.path(),
        &args(&[&["-n", "2"][..], &extra[..]].concat()),
        &[],
    );
    let ours = pacer(b.path(), &args(&extra), &[]);
    let runs = both(&theirs, &ours);
    assert!(!theirs.stdout.contains("coverage: platform"), "{runs}");
    assert!(!ours.stdout.contains("coverage: platform"), "{runs}");
    assert_eq!(ours.code, theirs.code, "{runs}");
}

/// xdist-style `-v` lines, `[gw0] [ 33%] RERUN tests/x.py::t`: the sorted
/// `(word, node id)` pairs and the percentages in the order printed.
fn verbose_lines(run: &Run) -> (Vec<(String, String)>, Vec<u32>) {
    let mut pairs = Vec::new();
    let mut percents = Vec::new();
    for line in run.stdout.lines() {
        let Some(rest) = line.strip_prefix("[gw") else {
            continue;
        };
        let Some((_, rest)) = rest.split_once("] [") else {
            continue;
        };
        let Some((percent, rest)) = rest.split_once("%]") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        if let (Some(word), Some(id), Ok(percent)) =
            (words.next(), words.next(), percent.trim().parse::<u32>())
        {
            pairs.push((word.to_string(), id.to_string()));
            percents.push(percent);
        }
    }
    pairs.sort();
    (pairs, percents)
}

/// `node id` → the value `random.random()` gave the test (or `worker` →
/// its seed, from `PLUGINS_SEEDS`).
fn draws(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(id, value)| (id.to_string(), value.to_string()))
        .collect()
}

/// Runs `run` with a fresh record of draws and seeds; returns both.
fn record_draws(
    dir: &Path,
    name: &str,
    run: impl FnOnce(&[(&str, String)]) -> Run,
) -> (Run, BTreeMap<String, String>, BTreeMap<String, String>) {
    let draws_file = dir.join(format!("{name}.draws"));
    let seeds_file = dir.join(format!("{name}.seeds"));
    let env = [
        ("PLUGINS_RECORD", draws_file.display().to_string()),
        ("PLUGINS_SEEDS", seeds_file.display().to_string()),
    ];
    let ran = run(&env);
    (ran, draws(&draws_file), draws(&seeds_file))
}

/// Every pacer worker announced the same seed; returns it.
fn one_seed(seeds: &BTreeMap<String, String>, run: &Run) -> String {
    assert_eq!(
        seeds.keys().cloned().collect::<Vec<_>>(),
        ["gw0", "gw1"],
        "both workers should report a seed\n{}",
        run.describe()
    );
    let values: Vec<&String> = seeds.values().collect();
    assert_eq!(
        values[0],
        values[1],
        "workers used different seeds\n{}",
        run.describe()
    );
    values[0].clone()
}

#[test]
fn randomly_uses_one_seed_on_every_worker() {
    let dir = suite_copy();
    let dir = dir.path();
    let files = ["tests/test_random.py", "tests/test_random_more.py"];

    // A given seed: every worker uses it, and every test draws what it
    // draws under pytest with it.
    let seeded = [
        &["-p", "no:cacheprovider", "--randomly-seed=1234"][..],
        &files[..],
    ]
    .concat();
    let (theirs, expected, _) = record_draws(dir, "pytest-1234", |env| pytest(dir, &seeded, env));
    let (ours, got, seeds) = record_draws(dir, "pacer-1234", |env| pacer(dir, &seeded, env));
    assert_eq!(expected.len(), 8, "{}", both(&theirs, &ours));
    assert_eq!(got, expected, "{}", both(&theirs, &ours));
    assert_eq!(one_seed(&seeds, &ours), "1234");

    // No seed given: pacer picks one for the run, the same on every worker,
    // and leaves it in the cache as pytest-randomly's controller does; pytest
    // given that seed (`last`) draws the same values.
    let (ours, own, seeds) = record_draws(dir, "pacer-own", |env| pacer(dir, &files, env));
    let seed = one_seed(&seeds, &ours);
    assert_ne!(seed, "1234");
    let last = [&["--randomly-seed=last"][..], &files[..]].concat();
    let (theirs, again, pytest_seeds) =
        record_draws(dir, "pytest-last", |env| pytest(dir, &last, env));
    assert_eq!(
        pytest_seeds.get("main"),
        Some(&seed),
        "{}",
        both(&theirs, &ours)
    );
    assert_eq!(own, again, "{}", both(&theirs, &ours));

    // -p no:randomly: no seed, nothing reseeds `random`.
    let off = [
        &["-p", "no:randomly", "-p", "no:cacheprovider"][..],
        &files[..],
    ]
    .concat();
    let (ours, draws_off, seeds) = record_draws(dir, "pacer-off", |env| pacer(dir, &off, env));
    assert_eq!(draws_off.len(), 8, "{}", ours.describe());
    assert_ne!(draws_off, own, "{}", ours.describe());
    assert!(seeds.values().all(|s| s == "None"), "{}", ours.describe());
}

/// `worker -> node ids in the order it ran them`, from the
/// `whole_collection` suite's `ORDER_LOG`.
fn run_order(path: &Path) -> BTreeMap<String, Vec<String>> {
    let mut ran: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        if let Some((worker, id)) = line.split_once(' ') {
            ran.entry(worker.into()).or_default().push(id.into());
        }
    }
    ran
}

#[test]
fn randomly_orders_the_run_as_pytest_with_the_same_seed() {
    // pytest-randomly shuffles files and tests in pytest_collection_modifyitems
    // (issue 16): on one worker pacer runs that very order; on two, each
    // worker runs a part of it in that order.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&common::suite("whole_collection"), dir.path());
    let dir = dir.path();
    let seed = ["-p", "randomly", "--randomly-seed=1234"];
    let log = |name: &str| dir.join(format!("{name}.order"));
    let theirs = pytest(
        dir,
        &[&["-p", "no:cacheprovider"][..], &seed[..]].concat(),
        &[("ORDER_LOG", log("pytest").display().to_string())],
    );
    let expected = run_order(&log("pytest")).remove("-").unwrap_or_default();
    assert_eq!(expected.len(), 32, "{}", theirs.describe());
    let mut sorted = expected.clone();
    sorted.sort();
    assert_ne!(expected, sorted, "the seed shuffles the suite");
    for workers in ["1", "2"] {
        let name = format!("pacer-{workers}");
        let mut args = strings(&["-n", workers, "--python"]);
        args.push(plugins_python().display().to_string());
        args.extend(strings(&seed));
        let ours = run(
            &assert_cmd::cargo::cargo_bin("pacer"),
            &args,
            dir,
            &[("ORDER_LOG", log(&name).display().to_string())],
        );
        ours.assert_parallel();
        let ran = run_order(&log(&name));
        let rank: BTreeMap<&String, usize> =
            expected.iter().enumerate().map(|(i, id)| (id, i)).collect();
        assert_eq!(
            ran.values().map(Vec::len).sum::<usize>(),
            32,
            "{}",
            both(&theirs, &ours)
        );
        for (worker, ids) in &ran {
            let ranks: Vec<usize> = ids.iter().map(|id| rank[id]).collect();
            assert!(
                ranks.windows(2).all(|w| w[0] < w[1]),
                "{worker} ran against the seed's order: {ids:?}\n{}",
                both(&theirs, &ours)
            );
        }
        if workers == "1" {
            assert_eq!(
                ran.values().next(),
                Some(&expected),
                "{}",
                both(&theirs, &ours)
            );
        }
    }
}

#[test]
fn rerunfailures_reruns_inside_the_worker_as_under_xdist() {
    let dir = suite_copy();
    let extra = ["--reruns", "2", "tests/test_flaky.py"];
    let theirs = pytest(
        dir.path(),
        &args(&[&["-n", "2", "-v"][..], &extra[..]].concat()),
        &[],
    );
    let ours = pacer(dir.path(), &args(&extra), &[]);
    let runs = both(&theirs, &ours);
    assert_eq!(theirs.counts().get("rerun"), Some(&5), "{runs}");
    assert_eq!(as_pytest_counts(&ours), theirs.counts(), "{runs}");
    assert_eq!(ours.code, theirs.code, "{runs}");
    // One line per attempt, and the attempts count as one test in the
    // progress, as xdist shows them; pacer says FLAKY where pytest says
    // PASSED after RERUNs.
    let (lines, percents) = verbose_lines(&ours);
    let lines: Vec<(String, String)> = lines
        .into_iter()
        .map(|(word, id)| {
            (
                if word == "FLAKY" {
                    "PASSED".into()
                } else {
                    word
                },
                id,
            )
        })
        .collect();
    assert_eq!(lines, verbose_lines(&theirs).0, "{runs}");
    assert!(percents.iter().all(|p| *p <= 100), "{runs}");
    assert_eq!(percents.last(), Some(&100), "{runs}");

    // The flaky marker alone (no --reruns).
    let theirs = pytest(dir.path(), &args(&["-n", "2", "tests/test_flaky.py"]), &[]);
    let ours = pacer(dir.path(), &args(&["tests/test_flaky.py"]), &[]);
    let runs = both(&theirs, &ours);
    assert_eq!(theirs.counts().get("rerun"), Some(&1), "{runs}");
    assert_eq!(as_pytest_counts(&ours), theirs.counts(), "{runs}");
}

/// pacer's final-line counts as pytest would give them: its `flaky` tests
/// are pytest's `passed`.
fn as_pytest_counts(run: &Run) -> BTreeMap<String, u64> {
    let mut counts = run.counts();
    if let Some(flaky) = counts.remove("flaky") {
        *counts.entry("passed".into()).or_insert(0) += flaky;
    }
    counts
}

#[test]
fn timeout_asyncio_and_env_plugins_work_in_workers() {
    let dir = suite_copy();
    let env = [("PLUGINS_EXPECT_TIMEOUT", "30".to_string())];
    // `--timeout 30` after `--` is pytest-timeout's option, not pacer's.
    let extra = ["--timeout", "30", "tests/test_asyncio_env_timeout.py"];
    let theirs = pytest(
        dir.path(),
        &args(&[&["-n", "2"][..], &extra[..]].concat()),
        &env,
    );
    let ours = pacer(dir.path(), &args(&extra), &env);
    let runs = both(&theirs, &ours);
    assert_eq!(theirs.counts().get("passed"), Some(&3), "{runs}");
    assert_eq!(as_pytest_counts(&ours), theirs.counts(), "{runs}");
    assert_eq!(ours.code, Some(0), "{runs}");
}

/// pytest-django gives each xdist worker its own test database
/// (`test_db.sqlite3_gw0`, ...): under pacer too, forked workers included
/// (with three, two are forked on any machine: `PACER_FRESH_WORKERS=1`).
#[test]
fn pytest_django_gives_each_worker_its_own_database() {
    for workers in ["2", "3"] {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&common::suite("django"), dir.path());
        let record = dir.path().join("record.txt");
        let args = strings(&[
            "-n",
            workers,
            "--python",
            &plugins_python().display().to_string(),
            "--debug",
            "-p",
            "no:randomly",
        ]);
        let ours = run(
            &assert_cmd::cargo::cargo_bin("pacer"),
            &args,
            dir.path(),
            &[
                ("DJANGO_RECORD", record.display().to_string()),
                ("PACER_FRESH_WORKERS", "1".into()),
            ],
        );
        ours.assert_parallel();
        if workers == "3" {
            assert!(
                ours.stderr.matches("forked from the zygote").count() >= 2,
                "{}",
                ours.describe()
            );
        }
        assert_eq!(ours.code, Some(0), "{}", ours.describe());
        assert_eq!(ours.counts().get("passed"), Some(&8), "{}", ours.describe());
        let lines = std::fs::read_to_string(&record).unwrap_or_default();
        assert_eq!(lines.lines().count(), 8, "{lines}");
        for line in lines.lines() {
            let (worker, name) = line.split_once(' ').unwrap();
            assert!(worker.starts_with("gw"), "{line}");
            assert_eq!(name, format!("test_db.sqlite3_{worker}"), "{line}");
        }
    }
}
