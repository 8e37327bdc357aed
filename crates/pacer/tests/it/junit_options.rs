//! pytest's JUnit options wherever pytest reads them (issue 7, item 5):
//! `--junitxml` in the ini file's `addopts` or in `PYTEST_ADDOPTS`,
//! `junit_family = xunit1`, `junit_suite_name` in the ini file and
//! `--junitprefix`. pacer's workers report what their pytest parsed and
//! never write the file; pacer writes one report, which must name the same
//! test cases with the same attributes as plain pytest's.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::runs::{run, strings, Run};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "__pycache__" && entry.file_name() != ".pytest_cache" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn copy_of(layout: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&common::suite("junit_options").join(layout), dir.path());
    dir
}

fn pacer(dir: &Path, env: &[(&str, String)]) -> Run {
    let mut args = strings(&["-n", "2", "--python"]);
    args.push(common::python().display().to_string());
    args.extend(strings(&["--", "-p", "no:cacheprovider"]));
    let ours = run(&assert_cmd::cargo::cargo_bin("pacer"), &args, dir, env);
    ours.assert_parallel();
    ours
}

fn pytest(dir: &Path, env: &[(&str, String)]) -> Run {
    let args = strings(&["-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist"]);
    run(&common::python(), &args, dir, env)
}

/// Each `<testcase>`'s attributes but `time`, and the suite's name and counts.
fn cases(path: &Path) -> (BTreeSet<String>, String) {
    let xml = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = tag[start..].find('"')? + start;
        Some(tag[start..end].to_string())
    };
    let mut found = BTreeSet::new();
    let mut suite = String::new();
    for tag in xml.split('<') {
        if tag.starts_with("testsuite ") {
            let counts: Vec<String> = ["name", "tests", "failures", "errors", "skipped"]
                .iter()
                .map(|n| format!("{n}={}", attr(tag, n).unwrap_or_default()))
                .collect();
            suite = counts.join(" ");
        } else if tag.starts_with("testcase ") {
            let fields: Vec<String> = ["classname", "name", "file", "line"]
                .iter()
                .map(|n| format!("{n}={}", attr(tag, n).unwrap_or_else(|| "-".into())))
                .collect();
            found.insert(fields.join(" "));
        }
    }
    (found, suite)
}

fn same_report(ours: &Run, theirs: &Run, pacer_xml: &Path, pytest_xml: &Path) {
    let runs = format!("{}\n{}", theirs.describe(), ours.describe());
    let (expected, expected_suite) = cases(pytest_xml);
    assert_eq!(expected.len(), 7, "{runs}");
    let (got, got_suite) = cases(pacer_xml);
    assert_eq!(got, expected, "test cases differ\n{runs}");
    assert_eq!(got_suite, expected_suite, "suites differ\n{runs}");
    assert_eq!(ours.code, theirs.code, "{runs}");
}

#[test]
fn junitxml_from_addopts_with_family_xunit1_and_ini_suite_name() {
    let (a, b) = (copy_of("addopts"), copy_of("addopts"));
    let theirs = pytest(a.path(), &[]);
    let ours = pacer(b.path(), &[]);
    let (expected, _) = cases(&a.path().join("reports/out.xml"));
    assert!(
        expected.iter().all(|c| c.contains(" file=tests/")),
        "xunit1 names files: {expected:?}"
    );
    same_report(
        &ours,
        &theirs,
        &b.path().join("reports/out.xml"),
        &a.path().join("reports/out.xml"),
    );
}

#[test]
fn junitxml_and_prefix_from_pytest_addopts() {
    let (a, b) = (copy_of("plain"), copy_of("plain"));
    let env = [(
        "PYTEST_ADDOPTS",
        "--junitxml=env.xml --junitprefix=pre".to_string(),
    )];
    let theirs = pytest(a.path(), &env);
    let ours = pacer(b.path(), &env);
    let (expected, _) = cases(&a.path().join("env.xml"));
    assert!(
        expected.iter().all(|c| c.starts_with("classname=pre.")),
        "{expected:?}"
    );
    same_report(
        &ours,
        &theirs,
        &b.path().join("env.xml"),
        &a.path().join("env.xml"),
    );
}
