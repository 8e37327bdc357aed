//! Trust at the edges (issue 17): any Python string reaches the reports, a
//! line pacer cannot read is one worker's fault at most, and a report path
//! that is not a regular file is written through, never replaced.

use crate::common;

use std::os::unix::ffi::OsStrExt;

use common::outcomes::{expect, final_line, from_summary, tallies, Status, Tally};
use common::runs::{pacer, pytest, run, strings};

#[test]
fn lone_surrogates_in_messages_reasons_warnings_and_file_names_reach_the_reports() {
    let dir = common::suite_copy("odd_strings");
    let dir = dir.path();
    // A test file whose name is not UTF-8, as a checkout may hold.
    let name = std::ffi::OsStr::from_bytes(b"test_caf\xe9.py");
    std::fs::write(dir.join(name), "def test_in_an_odd_file():\n    pass\n").unwrap();
    let json = dir.join("run.json");
    let theirs = pytest(dir, &["-q"], &[]);
    for workers in ["1", "2"] {
        let ours = pacer(
            dir,
            &["-q", "-n", workers, "--json-report", json.to_str().unwrap()],
            &[],
        );
        assert_eq!(
            ours.counts(),
            theirs.counts(),
            "{}\n{}",
            theirs.describe(),
            ours.describe()
        );
        assert_eq!(ours.code, Some(1), "{}", ours.describe());
        assert!(
            ours.stdout.contains("caf\\udce9"),
            "the odd character is shown as its escape\n{}",
            ours.describe()
        );
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let tests = report["tests"].as_array().expect("tests in the report");
        assert_eq!(tests.len(), 8, "{report:#}");
        assert!(
            tests
                .iter()
                .any(|t| t["id"] == "test_caf\\udce9.py::test_in_an_odd_file"),
            "{report:#}"
        );
    }
}

#[test]
fn a_test_writing_into_the_channel_fails_alone_and_the_run_goes_on() {
    let dir = common::suite_copy("odd_strings");
    let json = dir.path().join("run.json");
    let ours = pacer(
        dir.path(),
        &[
            "-n",
            "1",
            "-rf",
            "--json-report",
            json.to_str().unwrap(),
            "test_stray.py",
        ],
        &[("STRAY_WRITE", "1".into())],
    );
    assert_eq!(ours.code, Some(1), "{}", ours.describe());
    assert_eq!(
        final_line(&ours.stdout),
        tallies(&[(1, Tally::Failed), (1, Tally::Passed)]),
        "{}",
        ours.describe()
    );
    // -rf: the one failure, and why.
    assert_eq!(
        from_summary(&ours.stdout),
        expect(&[("test_stray.py::test_writes_junk_into_fd_3", Status::Failed)]),
        "{}",
        ours.describe()
    );
    assert!(
        ours.stdout
            .contains("FAILED test_stray.py::test_writes_junk_into_fd_3 - worker sent a message pacer cannot read"),
        "{}",
        ours.describe()
    );
    assert!(
        ours.stdout.contains("junk"),
        "the line is shown\n{}",
        ours.describe()
    );
    assert!(
        json.exists(),
        "the reports are written\n{}",
        ours.describe()
    );
}

#[test]
fn report_paths_that_are_not_regular_files_are_written_through() {
    let dir = common::suite_copy("odd_strings");
    let dir = dir.path();
    // A symlink to a regular file, and one to a device (never /dev/null
    // itself, so that a regression could not replace it).
    let target = dir.join("real.json");
    std::fs::write(&target, "{}").unwrap();
    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let null_link = dir.join("null.xml");
    std::os::unix::fs::symlink("/dev/null", &null_link).unwrap();
    let ours = pacer(
        dir,
        &[
            "-n",
            "2",
            "--json-report",
            link.to_str().unwrap(),
            &format!("--junitxml={}", null_link.display()),
            "test_stray.py",
        ],
        &[],
    );
    assert_eq!(ours.code, Some(0), "{}", ours.describe());
    for path in [&link, &null_link] {
        assert!(
            std::fs::symlink_metadata(path)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{} was replaced\n{}",
            path.display(),
            ours.describe()
        );
    }
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(written.contains("test_after_it"), "{written}");
    // Named as pytest names its JUnit file (issue 17: they were not).
    for line in [
        format!("generated json report: {}", link.display()),
        format!("generated xml file: {}", null_link.display()),
    ] {
        assert!(ours.stdout.contains(&line), "{line}\n{}", ours.describe());
    }
}

#[test]
fn pyargs_keeps_an_installed_packages_conftest_above_its_test_folders() {
    // `--pyargs pkg.tests` from an empty folder: the rootdir is that folder,
    // and `pkg/conftest.py` (with the fixture every test needs) lies outside
    // it, above the test folders, as pandas' does.
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    for sub in ["tests/alpha", "tests/beta"] {
        std::fs::create_dir_all(pkg.join(sub)).unwrap();
        std::fs::write(pkg.join(sub).join("__init__.py"), "").unwrap();
    }
    std::fs::write(pkg.join("__init__.py"), "").unwrap();
    std::fs::write(pkg.join("tests/__init__.py"), "").unwrap();
    std::fs::write(
        pkg.join("conftest.py"),
        "import pytest\n\n@pytest.fixture\ndef unit():\n    return 's'\n",
    )
    .unwrap();
    for (sub, count) in [("alpha", 6), ("beta", 5)] {
        let tests: String = (0..count)
            .map(|i| format!("def test_{sub}_{i}(unit):\n    assert unit == 's'\n\n"))
            .collect();
        std::fs::write(pkg.join(format!("tests/{sub}/test_{sub}.py")), tests).unwrap();
    }
    let empty = tempfile::tempdir().unwrap();
    let env = [("PYTHONPATH", site.path().display().to_string())];
    let theirs = pytest(empty.path(), &["-q", "--pyargs", "pkg.tests"], &env);
    assert_eq!(
        theirs.counts().get("passed"),
        Some(&11),
        "{}",
        theirs.describe()
    );
    for mode in ["split", "whole"] {
        let ours = pacer(
            empty.path(),
            &[
                "-q",
                "-n",
                "2",
                "--collection",
                mode,
                "--pyargs",
                "pkg.tests",
            ],
            &env,
        );
        ours.assert_parallel();
        assert_eq!(
            ours.counts(),
            theirs.counts(),
            "{mode}\n{}\n{}",
            theirs.describe(),
            ours.describe()
        );
    }
}

#[test]
fn the_timeout_fails_the_test_that_ran_past_it_not_the_next_one() {
    // test_a passes the 2 s deadline and ends in the grace before SIGTERM;
    // test_b would then be running when the signal lands.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("test_slow.py"),
        "import time\n\ndef test_a():\n    time.sleep(2.2)\n\ndef test_b():\n    time.sleep(1)\n",
    )
    .unwrap();
    let ours = pacer(dir.path(), &["-n", "1", "-rA", "--timeout", "2"], &[]);
    assert_eq!(ours.code, Some(1), "{}", ours.describe());
    assert_eq!(
        from_summary(&ours.stdout),
        expect(&[
            ("test_slow.py::test_a", Status::Failed),
            ("test_slow.py::test_b", Status::Passed),
        ]),
        "{}",
        ours.describe()
    );
    assert!(
        ours.stdout
            .contains("FAILED test_slow.py::test_a - timed out after 2.0s"),
        "{}",
        ours.describe()
    );
    assert_eq!(
        final_line(&ours.stdout),
        tallies(&[(1, Tally::Failed), (1, Tally::Passed)]),
        "{}",
        ours.describe()
    );
}

#[test]
fn pytest_exit_and_keyboard_interrupt_end_the_run_as_under_pytest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("conftest.py"),
        "import os\nimport pytest\n\n@pytest.fixture(scope=\"session\", autouse=True)\ndef gate():\n    if os.environ.get(\"EXIT_NOW\"):\n        pytest.exit(\"the database is gone\", returncode=3)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("test_x.py"),
        "import os\n\ndef test_one():\n    if os.environ.get(\"INTERRUPT\"):\n        raise KeyboardInterrupt\n\ndef test_two():\n    pass\n",
    )
    .unwrap();
    let env = [("EXIT_NOW", "1".to_string())];
    let theirs = pytest(dir.path(), &[], &env);
    assert_eq!(theirs.code, Some(3), "{}", theirs.describe());
    for workers in ["1", "2"] {
        let ours = pacer(dir.path(), &["-n", workers], &env);
        assert_eq!(ours.code, Some(3), "{}", ours.describe());
        assert!(
            ours.stdout
                .contains("_pytest.outcomes.Exit: the database is gone"),
            "{}",
            ours.describe()
        );
        assert!(
            !ours.all_output().contains("crashed"),
            "no worker crashed: {}",
            ours.describe()
        );
    }
    let env = [("INTERRUPT", "1".to_string())];
    let theirs = pytest(dir.path(), &[], &env);
    assert_eq!(theirs.code, Some(2), "{}", theirs.describe());
    let ours = pacer(dir.path(), &["-n", "1"], &env);
    assert_eq!(ours.code, Some(2), "{}", ours.describe());
    assert!(
        ours.stdout.contains("KeyboardInterrupt"),
        "{}",
        ours.describe()
    );
    assert!(
        !ours.all_output().contains("crashed"),
        "{}",
        ours.describe()
    );
}

/// `--timeout` is a budget per test, not for pytest's start-up: a conftest
/// slow to import (or a loaded machine) is no hang under `--timeout 1`.
#[test]
fn a_slow_start_is_not_charged_to_the_test_timeout() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("conftest.py"),
        "import time\n\ntime.sleep(2.5)\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("test_x.py"), "def test_x():\n    pass\n").unwrap();
    let ours = pacer(dir.path(), &["-n", "2", "--timeout", "1"], &[]);
    assert_eq!(ours.code, Some(0), "{}", ours.describe());
    assert_eq!(ours.counts().get("passed"), Some(&1), "{}", ours.describe());
}

/// 8 s, not less: on a loaded machine pytest's own plugin imports can take
/// seconds, and a stack taken then would not yet reach the conftest.
#[test]
fn a_conftest_hung_at_import_ends_with_its_stack_not_a_silent_hang() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("conftest.py"),
        "import time\n\ntime.sleep(600)\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("test_x.py"), "def test_x():\n    pass\n").unwrap();
    let started = std::time::Instant::now();
    let ours = pacer(dir.path(), &["-n", "2", "--collect-timeout", "8"], &[]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{}",
        ours.describe()
    );
    assert_eq!(ours.code, Some(4), "{}", ours.describe());
    assert!(
        ours.stderr
            .contains("did not start within 8.0s (collect_timeout)"),
        "{}",
        ours.describe()
    );
    assert!(
        ours.stderr.contains("conftest.py\", line 3"),
        "the stack names the conftest: {}",
        ours.describe()
    );
}

#[test]
fn an_interpreter_that_is_not_a_program_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test_x.py"), "def test_x():\n    pass\n").unwrap();
    let ours = run(
        &assert_cmd::cargo::cargo_bin("pacer"),
        &strings(&["--python", "/etc/passwd"]),
        dir.path(),
        &[],
    );
    assert_eq!(ours.code, Some(4), "{}", ours.describe());
    common::snapshot!(
        "trust__interpreter_not_a_program",
        "a usage error naming /etc/passwd and --python",
        &[(dir.path(), "[DIR]")],
        ours.shown(),
    );
}

#[test]
fn built_in_categories_that_change_the_run_say_so_without_a_project_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tests/integration")).unwrap();
    std::fs::write(
        dir.path().join("tests/test_s.py"),
        "import pytest\n\n@pytest.mark.serial\ndef test_s():\n    pass\n\ndef test_plain():\n    pass\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tests/integration/test_i.py"),
        "def test_i():\n    pass\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pytest.ini"),
        "[pytest]\nmarkers = serial\n",
    )
    .unwrap();
    let ours = pacer(dir.path(), &["-n", "2"], &[]);
    assert_eq!(ours.code, Some(0), "{}", ours.describe());
    // `serial` runs alone: said; `integration`'s cap of 4 changes nothing
    // on 2 workers: not said.
    assert!(
        ours.stdout.contains(
            "pacer: built-in categories apply, with no [tool.pacer]: serial 1 (one at a time, alone)"
        ),
        "{}",
        ours.describe()
    );
    assert!(
        !ours.stdout.contains("integration 1"),
        "{}",
        ours.describe()
    );
    // A project that configures pacer has chosen: nothing to say.
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.pacer]\nworkers = 2\n",
    )
    .unwrap();
    let ours = pacer(dir.path(), &["-n", "2"], &[]);
    assert!(
        !ours.stdout.contains("built-in categories"),
        "{}",
        ours.describe()
    );
}
