//! Suites beside the project (issue 7, item 3): `--pyargs` on an installed
//! package, a rootdir above or beside the tests, `testpaths`, `--rootdir`,
//! `-c other.ini`, `--confcutdir`, folders without `__init__.py` holding files
//! of the same name (`--import-mode=importlib`).
//!
//! Each test runs plain pytest and `pacer -n 2` on the same layout
//! (`tests/fixtures/layouts/`) from the same folder with the same arguments,
//! and compares the real node ids and outcomes that a small plugin loaded in
//! both (`-p record_ids`) writes to a file: pytest's terminal prints ids
//! relative to where it runs, the plugin records pytest's own. pacer must run
//! them in parallel, with no fallback, and end with the same counts.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::runs::{run, strings, Run};

fn layouts() -> PathBuf {
    common::repo_root().join("tests/fixtures/layouts")
}

/// `(outcome, node id)` → how many times, from a `record_ids` file.
fn recorded(path: &Path) -> BTreeMap<(String, String), usize> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut found = BTreeMap::new();
    for line in text.lines() {
        let (outcome, id) = line.split_once('\t').expect("outcome<TAB>node id");
        *found
            .entry((outcome.to_string(), id.to_string()))
            .or_default() += 1;
    }
    found
}

/// Runs pytest, then `pacer -n 2`, in `dir` with `args` (and `PYTHONPATH`
/// holding the recorder and `pythonpath`), and checks that both ran the same
/// tests under the same node ids with the same outcomes; returns pacer's run.
fn same_as_pytest(dir: &Path, args: &[&str], pythonpath: Option<&Path>) -> Run {
    same_as_pytest_cached(dir, args, pythonpath, false)
}

/// [`same_as_pytest`]; with `cache`, pacer keeps pytest's cache (and so
/// records durations, which order its next run).
fn same_as_pytest_cached(dir: &Path, args: &[&str], pythonpath: Option<&Path>, cache: bool) -> Run {
    let scratch = tempfile::tempdir().unwrap();
    let mut path = layouts().display().to_string();
    if let Some(extra) = pythonpath {
        path = format!("{path}:{}", extra.display());
    }
    let record = |name: &str| scratch.path().join(name);
    let env = |name: &str| {
        vec![
            ("PYTHONPATH", path.clone()),
            ("LAYOUT_RECORD", record(name).display().to_string()),
        ]
    };

    let mut pytest_args = strings(&[
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "-p",
        "record_ids",
    ]);
    pytest_args.extend(strings(args));
    let theirs = run(&common::python(), &pytest_args, dir, &env("pytest"));

    let mut pacer_args = strings(&["-n", "2", "--python"]);
    pacer_args.push(common::python().display().to_string());
    pacer_args.extend(strings(&["--", "-p", "record_ids"]));
    if !cache {
        pacer_args.extend(strings(&["-p", "no:cacheprovider"]));
    }
    pacer_args.extend(strings(args));
    let ours = run(
        &assert_cmd::cargo::cargo_bin("pacer"),
        &pacer_args,
        dir,
        &env("pacer"),
    );

    let both = || format!("{}\n{}", theirs.describe(), ours.describe());
    ours.assert_parallel();
    let expected = recorded(&record("pytest"));
    assert!(!expected.is_empty(), "pytest ran nothing\n{}", both());
    assert_eq!(
        recorded(&record("pacer")),
        expected,
        "pacer's node ids and outcomes differ from pytest's\n{}",
        both()
    );
    assert_eq!(
        ours.counts(),
        theirs.counts(),
        "final lines differ\n{}",
        both()
    );
    assert_eq!(ours.code, theirs.code, "exit codes differ\n{}", both());
    ours
}

fn tree(sub: &str) -> PathBuf {
    layouts().join("tree").join(sub)
}

#[test]
fn pyargs_from_an_empty_folder_keeps_pytests_ids() {
    // The ids pytest gives files outside the rootdir come from the argument
    // (`numeric/test_join.py::TestJoinInt64Index::...`), and two files share
    // the basename test_join.py.
    let empty = tempfile::tempdir().unwrap();
    let src = layouts().join("pyargs/src");
    let ours = same_as_pytest(empty.path(), &["--pyargs", "layoutpkg.tests"], Some(&src));
    assert!(
        ours.stdout
            .contains("numeric/test_join.py::TestJoinInt64Index::test_join_non_unique")
            || ours
                .stdout
                .contains("numeric/test_join.py::test_fails_on_purpose"),
        "{}",
        ours.describe()
    );
}

#[test]
fn pyargs_of_a_subpackage_and_a_module() {
    let empty = tempfile::tempdir().unwrap();
    let src = layouts().join("pyargs/src");
    same_as_pytest(
        empty.path(),
        &[
            "--pyargs",
            "layoutpkg.tests.numeric",
            "layoutpkg.tests.strings.test_join",
        ],
        Some(&src),
    );
}

#[test]
fn testpaths_duplicate_basenames_and_no_init_files() {
    same_as_pytest(&tree(""), &[], None);
}

#[test]
fn rootdir_above_the_folder_pytest_runs_in() {
    same_as_pytest(&tree("sub"), &[], None);
    same_as_pytest(&tree("checks/alpha"), &[], None);
}

#[test]
fn rootdir_option_above_and_beside_the_tests() {
    same_as_pytest(&tree("checks"), &["--rootdir=.."], None);
    same_as_pytest(&tree(""), &["--rootdir=side", "checks"], None);
}

#[test]
fn other_ini_file_with_its_own_testpaths() {
    same_as_pytest(&tree(""), &["-c", "other.ini"], None);
}

#[test]
fn confcutdir_leaves_the_top_conftest_out() {
    let ours = same_as_pytest(&tree(""), &["--confcutdir=checks"], None);
    // The top conftest's fixture is missing there, as under pytest.
    assert_eq!(ours.counts().get("errors"), Some(&3), "{}", ours.describe());
}

#[test]
fn node_id_arguments_and_folders_mixed() {
    same_as_pytest(
        &tree(""),
        &[
            "beside",
            "checks/alpha/test_same.py::test_here",
            "checks/beta/test_same.py",
        ],
        None,
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" || name == ".pytest_cache" {
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

#[test]
fn second_run_with_recorded_durations_keeps_the_same_ids() {
    // A copy, so that the cache pacer writes (durations) stays out of the
    // repository; the second run is ordered by what the first recorded.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&tree(""), copy.path());
    for run in ["first", "second"] {
        let ours = same_as_pytest_cached(copy.path(), &[], None, true);
        assert!(ours.code.is_some(), "{run} run\n{}", ours.describe());
    }
    assert!(
        copy.path().join(".pytest_cache/v/pacer/durations").exists(),
        "pacer kept no cache, so no durations were recorded"
    );
}
