//! The GitHub Actions workflows pass actionlint: pacer's own CI
//! (`.github/workflows/ci.yml`) and the ones users copy
//! (`examples/github/parallel-tests.yml`, `examples/github/sharded.yml`). actionlint comes from the test
//! venv (requirements-dev.txt); the test fails, saying how to install it,
//! where it is missing.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{python, repo_root};

const WORKFLOWS: [&str; 3] = [
    ".github/workflows/ci.yml",
    "examples/github/parallel-tests.yml",
    "examples/github/sharded.yml",
];

/// `actionlint` beside the test venv's python.
fn actionlint() -> PathBuf {
    let python = python();
    let bin = python.parent().unwrap_or(Path::new("."));
    let path = bin.join("actionlint");
    assert!(
        path.is_file(),
        "no actionlint at {}: install the test requirements \
         (`{} -m pip install -r requirements-dev.txt`, as scripts/venv does)",
        path.display(),
        python.display()
    );
    path
}

fn lint(files: &[&Path]) -> Output {
    Command::new(actionlint())
        .current_dir(repo_root())
        .args(["-no-color", "-oneline"])
        .args(files)
        .output()
        .expect("actionlint runs")
}

#[test]
fn the_workflows_pass_actionlint() {
    let root = repo_root();
    let files: Vec<PathBuf> = WORKFLOWS.iter().map(|f| root.join(f)).collect();
    for file in &files {
        assert!(file.is_file(), "{} is missing", file.display());
    }
    let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let output = lint(&files);
    let findings = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && findings.trim().is_empty(),
        "actionlint found:\n{findings}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The check above can fail: actionlint reports a workflow's mistakes.
#[test]
fn actionlint_reports_a_broken_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ inputs.nope }}\n",
    )
    .unwrap();
    let output = lint(&[&broken]);
    let findings = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{findings}");
    assert!(findings.contains("broken.yml:6:"), "{findings}");
}
