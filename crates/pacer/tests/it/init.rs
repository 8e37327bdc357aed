//! `pacer init` end to end: on a copy of `tests/fixtures/ofsc_layout` (the
//! `ofsc` client's folders and markers) it proposes, shows a diff, writes
//! only when told, and afterwards `pacer list` puts the tests in the
//! project's own categories instead of `default`, and `pacer` runs them
//! with pytest's outcomes.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::outcomes::{final_line, tallies, Tally};
use common::{pacer_command, suite, text};
use serde_json::Value;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == "__pycache__" || name == ".pytest_cache" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

/// A fresh copy of the fixture suite, so that writes never touch the repository.
fn ofsc_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&suite("ofsc_layout"), dir.path());
    dir
}

fn pacer(dir: &Path, args: &[&str]) -> Output {
    pacer_command(dir, args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("pacer runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// name -> (test count, kind, rate limited, exclusive), from `pacer list --json`.
fn categories(dir: &Path) -> Vec<(String, u64, String, bool, bool)> {
    let out = pacer(dir, &["list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    json["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .filter(|c| c["count"].as_u64() > Some(0))
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
                c["kind"].as_str().unwrap().to_string(),
                c["rate_limited"].as_bool().unwrap(),
                c["exclusive"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn without_write_and_without_a_terminal_init_shows_the_diff_and_writes_nothing() {
    let dir = ofsc_copy();
    let before = std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap();
    let out = pacer(dir.path(), &["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let diff = stdout(&out);
    assert!(
        diff.starts_with("--- pyproject.toml\n+++ pyproject.toml\n@@ -17,0 +18,"),
        "{diff}"
    );
    assert!(
        diff.contains("+[tool.pacer.categories.uses_real_data]"),
        "{diff}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("pacer init --write"));
    let after = std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap();
    assert_eq!(
        before, after,
        "nothing may be written without --write or a yes"
    );
}

#[test]
fn ofsc_layout_after_init_lists_the_projects_categories_not_default() {
    let dir = ofsc_copy();
    let before = categories(dir.path());
    let in_default = before.iter().find(|c| c.0 == "default").map(|c| c.1);
    assert_eq!(in_default, Some(14), "before init: {before:?}");

    let out = pacer(dir.path(), &["init", "--write"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap();
    // The user's own lines are kept, the section comes after them.
    assert!(written.starts_with("# A suite laid out like the `ofsc` client's own"));
    assert!(written.contains("[tool.pacer.upstreams.ofsc]\nurl = \"https://acme.fs.ocs.oraclecloud.com\"  # from .env.example"), "{written}");
    // What init is not sure of is a comment, not a setting.
    assert!(
        written.contains("marker `slow` (1 test file) left to you"),
        "{written}"
    );
    assert!(!written.contains("[tool.pacer.categories.slow]"));
    assert!(
        !written.contains("[tool.pacer.categories.unit]"),
        "tests/unit/ is built in"
    );

    let after = categories(dir.path());
    let expect = |name: &str, count: u64, kind: &str, rate_limited: bool, exclusive: bool| {
        (
            name.to_string(),
            count,
            kind.to_string(),
            rate_limited,
            exclusive,
        )
    };
    assert_eq!(
        after,
        vec![
            expect("serial", 2, "cpu", true, true),
            expect("uses_real_data", 4, "io", true, false),
            expect("unit", 1, "cpu", false, false),
            expect("async", 2, "cpu", false, false),
            expect("capacity", 2, "cpu", false, false),
            expect("core", 4, "cpu", false, false),
            expect("metadata", 1, "cpu", false, false),
            expect("default", 1, "cpu", false, false),
        ]
    );

    // The suite runs as pytest runs it (the API tests skip without credentials).
    let run = pacer(dir.path(), &["-n", "2", "-p", "no:cacheprovider"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(
        final_line(&stdout(&run)),
        tallies(&[(12, Tally::Passed), (5, Tally::Skipped)]),
        "{}",
        text(&run)
    );
}

#[test]
fn init_never_rewrites_an_existing_pacer_section() {
    let dir = ofsc_copy();
    assert_eq!(
        pacer(dir.path(), &["init", "--write"]).status.code(),
        Some(0)
    );
    let once = std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap();

    let again = pacer(dir.path(), &["init", "--write"]);
    assert_eq!(again.status.code(), Some(4), "{}", text(&again));
    common::snapshot!(
        "init__existing_pacer_section",
        "[tool.pacer] in pyproject.toml already configures pacer; hint: merge the lines above by hand",
        &[(dir.path(), "[DIR]")],
        text(&again),
    );
    let looked = pacer(dir.path(), &["init"]);
    assert_eq!(looked.status.code(), Some(0), "{}", text(&looked));
    assert_eq!(
        once,
        std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap()
    );
}

#[test]
fn a_suite_in_the_builtin_layout_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"x\"\n",
    )
    .unwrap();
    for folder in ["unit", "end_to_end"] {
        std::fs::create_dir_all(dir.path().join("tests").join(folder)).unwrap();
        std::fs::write(
            dir.path().join("tests").join(folder).join("test_a.py"),
            "def test_a():\n    pass\n",
        )
        .unwrap();
    }
    let out = pacer(dir.path(), &["init", "--write"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pacer init: nothing to add"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap(),
        "[project]\nname = \"x\"\n"
    );
}

#[test]
fn a_project_without_pyproject_gets_a_pacer_toml() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pytest.ini"),
        "[pytest]\ntestpaths = checks\nmarkers =\n    network: calls a remote service\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("checks/api")).unwrap();
    std::fs::write(
        dir.path().join("checks/api/test_api.py"),
        "import os\nimport pytest\n\nURL = os.getenv(\"BILLING_API_URL\")\n\n\
         @pytest.mark.network\ndef test_call():\n    pass\n\ndef test_local():\n    pass\n",
    )
    .unwrap();
    let out = pacer(dir.path(), &["init", "--write"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = std::fs::read_to_string(dir.path().join("pacer.toml")).unwrap();
    assert!(stdout(&out).starts_with("--- /dev/null\n+++ pacer.toml\n"));
    assert!(written.contains("\n[categories.network]\n"), "{written}");
    assert!(
        written.contains(
            "[categories.api]\ndescription = \"tests in checks/api/\"\npaths = [\"checks/api/\"]"
        ),
        "{written}"
    );
    // No URL in the code: the stub stays commented out, so the file resolves.
    assert!(written.contains("# [upstreams.billing]"), "{written}");
    let listed = categories(dir.path());
    let names: Vec<&str> = listed.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["network", "api"], "{listed:?}");
}

#[test]
fn without_testpaths_the_root_folders_are_read_and_network_clients_are_a_hint_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"x\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("test_root.py"),
        "def test_root():\n    pass\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("api_checks")).unwrap();
    std::fs::write(
        dir.path().join("api_checks/conftest.py"),
        "import pytest\n\n@pytest.fixture\ndef session():\n    import requests\n    \
         s = requests.Session()\n    yield s\n    s.close()\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("api_checks/test_calls.py"),
        "def test_call(session):\n    assert session is not None or True\n",
    )
    .unwrap();
    let out = pacer(dir.path(), &["init", "--write"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap();
    assert!(
        written.contains(
            "# its tests use `session` (requests.Session): if they call a live API, make it \
             kind = \"io\" and rate_limited = true\n[tool.pacer.categories.api_checks]\n"
        ),
        "{written}"
    );
    // A hint, not a setting: the category stays cpu and not rate limited.
    assert!(!written.contains("\nrate_limited"), "{written}");
    assert!(!written.contains("\nkind = \"io\""), "{written}");
    assert!(
        written.contains("# - 1 test file directly in the project root: left in `default`"),
        "{written}"
    );
}

/// The whole proposal for the ofsc layout, as the user reads it, against
/// `tests/it/snapshots/init_ofsc_layout.diff` (`PACER_BLESS=1` rewrites it).
#[test]
fn the_ofsc_layout_proposal_reads_as_the_snapshot() {
    let dir = ofsc_copy();
    let out = pacer(dir.path(), &["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = format!(
        "{}--- stderr\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let snapshot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots/init_ofsc_layout.diff");
    if std::env::var_os("PACER_BLESS").is_some() {
        std::fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
        std::fs::write(&snapshot, &shown).unwrap();
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
    assert_eq!(
        shown, expected,
        "pacer init's output changed; PACER_BLESS=1 cargo test -p pacer --test it init:: rewrites the snapshot"
    );
}
