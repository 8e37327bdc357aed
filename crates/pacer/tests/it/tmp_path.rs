//! `tmp_path` under pacer is what it is under pytest-xdist: one numbered
//! base folder per run (`pytest-of-USER/pytest-N`), a `popen-<worker>`
//! folder in it per worker, spawned or forked from the zygote, and a
//! `--basetemp` the workers share instead of emptying it under each other.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common;

const CONFTEST: &str = r#"
import os
import time


def record(tmp_path):
    out = os.environ["TMP_RECORD"]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "-")
    with open(os.path.join(out, "%d-%s" % (os.getpid(), time.monotonic_ns())), "w") as f:
        f.write("%s %s" % (worker, tmp_path))
"#;

fn write_suite(dir: &Path) {
    std::fs::write(dir.join("pyproject.toml"), "[tool.pytest.ini_options]\n").unwrap();
    std::fs::write(dir.join("conftest.py"), CONFTEST).unwrap();
    for f in 0..6 {
        let tests: String = (0..3)
            .map(|i| {
                format!(
                    "def test_{i}(tmp_path):\n    from conftest import record\n    record(tmp_path)\n    (tmp_path / 'mine').write_text('{f}-{i}')\n    time.sleep(0.15)\n    assert (tmp_path / 'mine').read_text() == '{f}-{i}'\n\n\n"
                )
            })
            .collect();
        std::fs::write(
            dir.join(format!("test_tmp_{f}.py")),
            format!("import time\n\n\n{tests}"),
        )
        .unwrap();
    }
}

/// (worker, tmp_path) of every test, as the tests recorded them.
fn recorded(out: &Path) -> Vec<(String, PathBuf)> {
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            let (worker, path) = text.split_once(' ').unwrap();
            (worker.to_string(), PathBuf::from(path))
        })
        .collect()
}

#[test]
fn a_run_makes_one_numbered_base_folder_with_a_folder_per_worker() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite");
    let root = dir.path().join("temproot");
    let out = dir.path().join("out");
    for d in [&suite, &root, &out] {
        std::fs::create_dir(d).unwrap();
    }
    write_suite(&suite);
    let env = [
        ("PYTEST_DEBUG_TEMPROOT", root.to_str().unwrap()),
        ("TMP_RECORD", out.to_str().unwrap()),
        // One spawned worker, two forked from the zygote: both paths.
        ("PACER_FRESH_WORKERS", "1"),
    ];
    let run = common::pacer_in(&suite, &["-n", "3"], &env);
    let text = common::text(&run);
    assert_eq!(run.status.code(), Some(0), "{text}");
    assert!(!text.contains("rm_rf"), "no clean-up race: {text}");

    let tests = recorded(&out);
    assert_eq!(tests.len(), 18, "{tests:?}");
    let bases: BTreeSet<PathBuf> = tests
        .iter()
        .map(|(_, p)| p.parent().unwrap().parent().unwrap().to_path_buf())
        .collect();
    assert_eq!(bases.len(), 1, "one base folder for the run: {bases:?}");
    let base = bases.into_iter().next().unwrap();
    let numbered = base.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        numbered.starts_with("pytest-")
            && base
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("pytest-of-"),
        "pytest's numbered folder under pytest-of-USER: {base:?}"
    );
    let workers: BTreeSet<&str> = tests.iter().map(|(w, _)| w.as_str()).collect();
    assert!(
        workers.len() >= 2,
        "the tests ran on several workers: {workers:?}"
    );
    for (worker, path) in &tests {
        let folder = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy();
        assert_eq!(folder, format!("popen-{worker}"), "{path:?}");
    }
    // One numbered folder (plus pytest's `pytest-current` link), not one per worker.
    let made: Vec<String> = std::fs::read_dir(base.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n != "pytest-current")
        .collect();
    assert_eq!(made, vec![numbered], "{made:?}");
}

#[test]
fn workers_share_a_given_basetemp_without_emptying_it_under_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite");
    let given = dir.path().join("given");
    let out = dir.path().join("out");
    for d in [&suite, &out, &given] {
        std::fs::create_dir(d).unwrap();
    }
    // pytest empties a given basetemp once, at the start of the run.
    std::fs::write(given.join("stale"), "from an earlier run").unwrap();
    write_suite(&suite);
    let basetemp = format!("--basetemp={}", given.display());
    let env = [
        ("TMP_RECORD", out.to_str().unwrap()),
        ("PACER_FRESH_WORKERS", "1"),
    ];
    let run = common::pacer_in(&suite, &["-n", "3", &basetemp], &env);
    let text = common::text(&run);
    assert_eq!(run.status.code(), Some(0), "{text}");
    assert!(text.contains("18 passed"), "{text}");
    assert!(!given.join("stale").exists(), "emptied once at the start");
    for (worker, path) in recorded(&out) {
        assert_eq!(
            path.parent().unwrap(),
            given.join(format!("popen-{worker}"))
        );
    }
}
