//! `--changed` and `--watch` (issue 20): the tests a change can affect, in
//! a git repository the test builds. The suite: a package `src/pkg` with a
//! leaf module, a module importing it (relatively) and one that does not;
//! a test file per module, a helper module the tests import, and a
//! conftest that logs each test that runs (`RAN_LOG`).

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

/// The suite, committed: nothing has changed yet.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "pyproject.toml",
        "[tool.pytest.ini_options]\npythonpath = [\"src\"]\n",
    );
    write(
        d,
        "tests/conftest.py",
        "import os\nimport pytest\n\n\n@pytest.fixture(autouse=True)\ndef _ran(request):\n    \
         log = os.environ.get(\"RAN_LOG\")\n    if log:\n        with open(log, \"a\") as f:\n            \
         f.write(request.node.nodeid + \"\\n\")\n",
    );
    write(d, "src/pkg/__init__.py", "");
    write(d, "src/pkg/leaf.py", "VALUE = 1\n");
    write(
        d,
        "src/pkg/mid.py",
        "from . import leaf\n\n\ndef double():\n    return 2 * leaf.VALUE\n",
    );
    write(d, "src/pkg/other.py", "import os\n\nNAME = 'other'\n");
    write(
        d,
        "tests/test_leaf.py",
        "import pkg.leaf\n\n\ndef test_value():\n    assert pkg.leaf.VALUE\n\n\ndef test_type():\n    assert isinstance(pkg.leaf.VALUE, int)\n",
    );
    write(
        d,
        "tests/test_mid.py",
        "def test_double():\n    from pkg.mid import double  # an import inside a function\n    assert double() == 2\n",
    );
    write(
        d,
        "tests/test_other.py",
        "# import pkg.leaf (a comment, not an import)\nfrom pkg import other\n\n\ndef test_name():\n    assert other.NAME == 'other'\n\n\ndef test_doc():\n    assert 'import pkg.leaf' != ''\n",
    );
    git(d, &["init", "-q"]);
    git(d, &["add", "-A"]);
    git(d, &["commit", "-qm", "suite"]);
    dir
}

/// The node ids that ran, and the run's output.
fn run(dir: &Path, args: &[&str]) -> (Option<i32>, BTreeSet<String>, String) {
    let log = dir.join("ran.log");
    let _ = std::fs::remove_file(&log);
    let out = common::pacer_in(dir, args, &[("RAN_LOG", log.to_str().unwrap())]);
    let ran = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    (out.status.code(), ran, common::text(&out))
}

fn ids(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn editing_a_leaf_module_runs_only_its_importers_tests() {
    let repo = repository();
    let d = repo.path();
    let (code, ran, text) = run(d, &["--changed"]);
    assert_eq!(code, Some(5), "nothing changed, nothing selected: {text}");
    assert!(ran.is_empty(), "{text}");
    assert!(
        text.contains("pacer: --changed: no test selected"),
        "{text}"
    );
    assert!(text.contains("nothing changed since HEAD"), "{text}");

    write(d, "src/pkg/leaf.py", "VALUE = 1  # edited\n");
    let (code, ran, text) = run(d, &["--changed", "-n", "2"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        ran,
        ids(&[
            "tests/test_leaf.py::test_type",
            "tests/test_leaf.py::test_value",
            "tests/test_mid.py::test_double"
        ]),
        "{text}"
    );
    assert!(
        text.contains(
            "pacer: --changed: 3 of 5 tests selected: 1 changed file since HEAD (src/pkg/leaf.py)"
        ),
        "{text}"
    );
    assert!(
        text.contains("2 deselected"),
        "pytest's deselected count: {text}"
    );
    let out = common::pacer_in(d, &["list", "--changed"], &[]);
    let listed = common::stdout(&out);
    assert!(
        listed.contains("tests/test_mid.py::test_double"),
        "{listed}"
    );
    assert!(
        !listed.contains("test_other"),
        "pacer list shows the same selection: {listed}"
    );

    // Committed, the change is still one since HEAD~1 (REF), not since HEAD.
    git(d, &["commit", "-qam", "edit"]);
    let (_, ran, text) = run(d, &["--changed", "HEAD~1", "-k", "not type"]);
    assert_eq!(
        ran,
        ids(&[
            "tests/test_leaf.py::test_value",
            "tests/test_mid.py::test_double"
        ]),
        "composes with -k: {text}"
    );
    let (code, ran, _) = run(d, &["--changed"]);
    assert_eq!((code, ran.len()), (Some(5), 0));

    // The shard is cut from what --changed kept: the parts cover it once.
    let (_, first, text) = run(d, &["--changed", "HEAD~1", "--shard", "1/2"]);
    assert!(text.contains("of 3 selected tests"), "{text}");
    let (_, second, _) = run(d, &["--changed", "HEAD~1", "--shard", "2/2"]);
    assert!(first.is_disjoint(&second));
    assert_eq!(first.union(&second).count(), 3, "{first:?} {second:?}");
}

#[test]
fn editing_conftest_or_a_changed_always_file_selects_everything_and_says_why() {
    let repo = repository();
    let d = repo.path();
    write(d, "tests/data/cases.json", "[1, 2]\n");
    let (code, ran, text) = run(d, &["--changed"]);
    assert_eq!((code, ran.len()), (Some(5), 0), "{text}");
    assert!(
        text.contains(
            "not followed (not Python): tests/data/cases.json; `changed_always` widens it"
        ),
        "{text}"
    );
    let out = common::pacer_in(
        d,
        &["--changed"],
        &[("PACER_CHANGED_ALWAYS", "tests/data/**")],
    );
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("tests/data/cases.json matches changed_always `tests/data/**` (env PACER_CHANGED_ALWAYS): every test"),
        "{text}"
    );
    std::fs::remove_dir_all(d.join("tests/data")).unwrap();

    let conftest = std::fs::read_to_string(d.join("tests/conftest.py")).unwrap();
    write(d, "tests/conftest.py", &format!("{conftest}\n# edited\n"));
    let (code, ran, text) = run(d, &["--changed"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(ran.len(), 5, "{text}");
    assert!(
        text.contains("pacer: --changed: 5 of 5 tests selected: conftest.py changed (tests/conftest.py): every test"),
        "{text}"
    );
}

#[test]
fn a_deleted_module_selects_its_former_importers_and_dry_run_gives_reasons() {
    let repo = repository();
    let d = repo.path();
    std::fs::remove_file(d.join("src/pkg/leaf.py")).unwrap();
    // A new, untracked test file is a change too.
    write(d, "tests/test_new.py", "def test_new():\n    pass\n");
    let out = common::pacer_in(d, &["--changed", "--dry-run"], &[]);
    let stdout = common::stdout(&out);
    let text = common::text(&out);
    assert!(
        stdout.contains(
            "tests/test_mid.py (1 test): imports src/pkg/leaf.py (changed): \
             tests/test_mid.py -> src/pkg/mid.py -> src/pkg/leaf.py\n  tests/test_mid.py::test_double\n"
        ),
        "{text}"
    );
    // Its module-level import now fails: a collection error, with its reason.
    assert!(
        stdout.contains("ERROR collecting tests/test_leaf.py: imports src/pkg/leaf.py (changed): tests/test_leaf.py -> src/pkg/leaf.py"),
        "{text}"
    );
    assert!(
        stdout.contains("tests/test_new.py (1 test): changed\n"),
        "{text}"
    );
    assert!(!stdout.contains("test_other"), "{text}");
    assert!(
        stdout.contains("2 tests in 2 files selected by --changed (since HEAD); nothing run"),
        "{text}"
    );
    assert_ne!(
        out.status.code(),
        Some(0),
        "a collection error fails: {text}"
    );
    assert!(!d.join("ran.log").exists(), "a dry run runs nothing");
    assert!(
        d.join(".pacer/import-graph.json").is_file(),
        "the graph is cached"
    );
    let (code, ran, text) = run(d, &["--changed", "--continue-on-collection-errors"]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(
        ran,
        ids(&[
            "tests/test_mid.py::test_double",
            "tests/test_new.py::test_new"
        ]),
        "{text}"
    );
}

#[test]
fn outside_a_git_repository_changed_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "test_a.py", "def test_a():\n    pass\n");
    let out = common::pacer_in(dir.path(), &["--changed"], &[]);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(text.contains("error: --changed:"), "{text}");
    assert!(text.contains("is not inside a git repository"), "{text}");
    assert!(text.contains("hint:"), "{text}");
    let out = common::pacer_in(dir.path(), &["--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", common::text(&out));
}

#[test]
fn watch_reruns_what_a_save_touches_and_ends_cleanly_on_ctrl_c() {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let repo = repository();
    let d = repo.path();
    let mut child = common::pacer_command(d, &["--watch", "-n", "1", "-v"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("pacer --watch starts");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = String::new();
    let mut wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !seen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    seen.push_str(&line);
                    seen.push('\n');
                }
                Err(_) => panic!("no `{needle}` in:\n{seen}"),
            }
        }
        seen.clone()
    };
    wait_for("pacer --watch: watching");
    write(
        d,
        "src/pkg/other.py",
        "import os\n\nNAME = 'other'  # saved\n",
    );
    let text = wait_for("waiting for changes");
    assert!(text.contains("src/pkg/other.py changed"), "{text}");
    assert!(
        text.contains("PASSED tests/test_other.py::test_name"),
        "the rerun names the test: {text}"
    );
    assert!(!text.contains("test_leaf"), "{text}");
    assert!(
        text.contains("tests the change touches: passed (exit 0)"),
        "{text}"
    );
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let text = wait_for("pacer --watch: stopped");
    assert_eq!(status.code(), Some(0), "{text}");
}
