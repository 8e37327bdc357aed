//! pytest's command line, as is: what pacer does not own goes to pytest
//! without `--`, pytest's own parser (with `addopts`, the ini and plugins)
//! decides what it means, and pacer acts on what it decided.
//!
//! Every test runs the real binary on a real pytest suite, with the
//! interpreter from `$PACER_TEST_PYTHON` (pytest and pytest-xdist).

use crate::common;

use common::outcomes::{
    self, as_junit, final_line, from_junit, from_summary, from_verbose, tallies, Outcomes, Status,
    Tally,
};
use common::{pacer_command, pacer_in, snapshot, stderr, stdout, suite, text};

/// The four tests of [`project`], all passed.
fn four_passed() -> Outcomes {
    outcomes::all(
        &[
            "test_four.py::test_a",
            "test_four.py::test_b",
            "test_four.py::test_c",
            "test_four.py::test_d",
        ],
        Status::Passed,
    )
}

/// The tests of `outcomes` that did not pass.
fn not_passed(outcomes: &Outcomes) -> Outcomes {
    outcomes
        .iter()
        .filter(|(_, status)| **status != Status::Passed)
        .map(|(id, status)| (id.clone(), status.clone()))
        .collect()
}

/// The one failure of `maxfail` that `-x` lets run.
fn first_failure_only() -> Outcomes {
    outcomes::expect(&[("tests/test_a_fail.py::test_fail_1", Status::Failed)])
}

/// A project with `files` (name, content) and four passing tests.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("test_four.py"),
        "def test_a():\n    pass\n\ndef test_b():\n    pass\n\ndef test_c():\n    pass\n\ndef test_d():\n    pass\n",
    )
    .unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

#[test]
fn pytest_flags_need_no_dashes() {
    let out = pacer_in(
        &suite("maxfail"),
        &[
            "-n",
            "2",
            "-x",
            "--tb=line",
            "-p",
            "no:randomly",
            "-rA",
            "-p",
            "no:cacheprovider",
            "tests/",
        ],
        &[],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(!all.contains("unexpected argument"), "{all}");
    assert!(
        stdout(&out).contains(" stopping after 1 failures "),
        "{all}"
    );
    // Which passes ran before the stop depends on the two workers' pace;
    // `-rA` lists each of them, and the final line counts them.
    let summary = from_summary(&stdout(&out));
    assert_eq!(not_passed(&summary), first_failure_only(), "{all}");
    let passes = summary.len() as u64 - 1;
    assert_eq!(
        final_line(&stdout(&out)),
        tallies(&[(1, Tally::Failed), (passes, Tally::Passed)]),
        "{all}"
    );
    assert!(
        stdout(&out).lines().any(
            |l| l == "FAILED tests/test_a_fail.py::test_fail_1 - AssertionError: first failure"
        ),
        "{all}"
    );
    // `--tb=line` is pytest's: one line per failure, `path:line: message`.
    assert!(
        stdout(&out).contains("test_a_fail.py:") && !stdout(&out).contains("def test_"),
        "{all}"
    );
}

#[test]
fn options_after_dashes_are_honoured_too() {
    let out = pacer_in(
        &suite("maxfail"),
        &["-n", "2", "--", "-x", "-v", "-p", "no:cacheprovider"],
        &[],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        stdout(&out).contains(" stopping after 1 failures "),
        "{all}"
    );
    let verbose = from_verbose(&stdout(&out));
    assert_eq!(
        not_passed(&verbose),
        first_failure_only(),
        "-v lines\n{all}"
    );
    assert_eq!(
        final_line(&stdout(&out)),
        tallies(&[
            (1, Tally::Failed),
            (verbose.len() as u64 - 1, Tally::Passed)
        ]),
        "{all}"
    );
}

#[test]
fn an_option_pytest_does_not_know_gets_its_own_error_and_exit_4() {
    let dir = project(&[]);
    let out = pacer_in(dir.path(), &["--no-such-option"], &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    snapshot!(
        "pytest_cli__unknown_option",
        "pytest's own usage error: unrecognized arguments: --no-such-option; no fallback",
        &[(dir.path(), "[DIR]")],
        all,
    );
}

#[test]
fn a_bad_value_for_one_of_pacers_options_is_a_usage_error() {
    let dir = project(&[]);
    let out = pacer_in(dir.path(), &["--maxprocesses", "many"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    snapshot!(
        "pytest_cli__bad_maxprocesses",
        "the usage error names --maxprocesses and the value `many`",
        &[(dir.path(), "[DIR]")],
        text(&out),
    );
}

#[test]
fn xdist_numprocesses_in_addopts_sets_the_workers_unless_pacer_is_told() {
    let dir = project(&[(
        "pytest.ini",
        "[pytest]\naddopts = -n 3 -p no:cacheprovider\n",
    )]);
    let mut shown = String::new();
    for (args, env) in [
        (&[][..], &[][..]),
        (&["-n", "1"][..], &[][..]),
        (&[][..], &[("PACER_WORKERS", "2")][..]),
        (&["--maxprocesses", "2"][..], &[][..]),
    ] {
        let out = pacer_in(dir.path(), args, env);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?} {env:?}\n{}",
            text(&out)
        );
        shown.push_str(&format!("----- pacer {args:?} {env:?}\n{}", stdout(&out)));
    }
    snapshot!(
        "pytest_cli__numprocesses_in_addopts",
        "pacer: 3 workers from addopts' -n 3; then 1 (-n 1), 2 (PACER_WORKERS), 2 (--maxprocesses); 4 passed each time",
        &[(dir.path(), "[DIR]")],
        shown,
    );
}

#[test]
fn numprocesses_on_the_command_line_is_pacers_workers() {
    let dir = project(&[]);
    let out = pacer_in(
        dir.path(),
        &["--numprocesses", "3", "-p", "no:cacheprovider"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    snapshot!(
        "pytest_cli__numprocesses_flag",
        "pacer: 3 workers from --numprocesses 3; 4 passed",
        &[(dir.path(), "[DIR]")],
        stdout(&out),
    );
}

#[test]
fn junitxml_from_addopts_or_pytest_addopts_is_written_once_by_pacer() {
    let dir = project(&[(
        "pyproject.toml",
        "[tool.pytest.ini_options]\naddopts = \"--junitxml=out/from-ini.xml\"\n",
    )]);
    let out = pacer_in(dir.path(), &["-n", "2"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let xml = std::fs::read_to_string(dir.path().join("out/from-ini.xml")).unwrap_or_default();
    assert_eq!(
        from_junit(&xml),
        as_junit(&four_passed()),
        "{xml}\n{}",
        text(&out)
    );
    assert!(xml.contains("tests=\"4\""), "{xml}\n{}", text(&out));

    let out = pacer_in(
        dir.path(),
        &["-n", "2"],
        &[("PYTEST_ADDOPTS", "--junitxml=out/from-env.xml")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let xml = std::fs::read_to_string(dir.path().join("out/from-env.xml")).unwrap_or_default();
    assert_eq!(
        from_junit(&xml),
        as_junit(&four_passed()),
        "{xml}\n{}",
        text(&out)
    );
    assert!(xml.contains("tests=\"4\""), "{xml}\n{}", text(&out));
}

#[test]
fn collect_only_in_addopts_is_answered_by_pytest() {
    let dir = project(&[("pytest.ini", "[pytest]\naddopts = --co -q\n")]);
    let out = pacer_in(dir.path(), &["-n", "2"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    snapshot!(
        "pytest_cli__collect_only_in_addopts",
        "pytest's listing of the four ids, nothing run; pacer says plain pytest answers",
        &[(dir.path(), "[DIR]")],
        text(&out),
    );
}

#[test]
fn dash_s_from_addopts_streams_output_live() {
    let dir = project(&[
        ("pytest.ini", "[pytest]\naddopts = -s\n"),
        (
            "test_print.py",
            "def test_print():\n    print('hello from the test')\n",
        ),
    ]);
    let out = pacer_in(dir.path(), &["-n", "2"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains("hello from the test"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_interpreter_that_cannot_run_pytest_is_named_instead_of_a_fallback() {
    let dir = project(&[]);
    let script = dir.path().join("broken-python");
    std::fs::write(
        &script,
        "#!/bin/sh\necho 'this is not python' >&2\nexit 127\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut shown = String::new();
    for python in [script.to_str().unwrap(), "/bin/true", "no-such-python-here"] {
        let out = pacer_in(dir.path(), &["--python", python], &[]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(4), "{python}: {all}");
        shown.push_str(&format!("----- --python {python}\n{all}\n"));
    }
    snapshot!(
        "pytest_cli__interpreter_cannot_run_pytest",
        "each interpreter named, with what it said, and the hint to pass --python; no fallback",
        &[(dir.path(), "[DIR]")],
        shown,
    );
}

#[test]
fn config_says_where_durations_are_written_beside_the_file_it_reads() {
    let dir = project(&[]);
    let out = pacer_in(dir.path(), &["config"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let config = stdout(&out);
    let rows = common::config_rows(&config);
    let root = dir.path().display();
    assert_eq!(
        rows.get("durations_file"),
        Some(&(format!("{root}/.test_durations"), "default".to_string())),
        "{config}"
    );
    let (store, source) = rows.get("durations_store").expect(&config);
    assert_eq!(
        *store,
        format!("{root}/.pytest_cache/v/pacer/durations"),
        "{config}"
    );
    assert!(source.starts_with("default"), "{config}");
}

/// The collected line and pytest's `run-last-failure:` line, as pytest
/// prints them for the same cache.
fn last_failed_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("collected ") || l.starts_with("run-last-failure"))
        .map(str::to_string)
        .collect()
}

/// Runs the project once to record its failures, then each `args` under
/// pytest and pacer, and compares the collected and run-last-failure lines.
fn assert_last_failed_like_pytest(files: &[(&str, &str)], arg_sets: &[&[&str]]) {
    let dir = project(files);
    let python = common::python();
    let pytest = |args: &[&str]| {
        let out = std::process::Command::new(&python)
            .args(["-m", "pytest", "-p", "no:xdist"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for args in arg_sets {
        let _ = std::fs::remove_dir_all(dir.path().join(".pytest_cache"));
        pytest(&[]);
        let theirs = last_failed_lines(&pytest(args));
        let _ = std::fs::remove_dir_all(dir.path().join(".pytest_cache"));
        pacer_in(dir.path(), &["-n", "2"], &[]);
        let out = pacer_in(dir.path(), &[&["-n", "2"][..], args].concat(), &[]);
        assert_eq!(
            last_failed_lines(&stdout(&out)),
            theirs,
            "{args:?}\n{}",
            text(&out)
        );
        assert_eq!(theirs.len(), 2, "{theirs:?}");
    }
}

#[test]
fn last_failed_and_failed_first_say_what_pytest_says() {
    assert_last_failed_like_pytest(
        &[
            (
                "test_mixed.py",
                "import os\n\ndef test_fails():\n    assert os.environ.get('FIXED')\n\ndef test_passes():\n    pass\n\nclass TestK:\n    def test_k_fails(self):\n        assert os.environ.get('FIXED')\n\n    def test_k_passes(self):\n        pass\n",
            ),
            ("pytest.ini", "[pytest]\n"),
        ],
        &[&["--lf"], &["--ff"], &["--lf", "-k", "passes"]],
    );
}

/// pytest's --lf skips files and drops passing module-level tests only once
/// it met a file whose module-level tests hold a failure: a failure inside a
/// class alone collects every file (`765 items / 764 deselected`), and files
/// of class-only failures collected before that one stay whole.
#[test]
fn last_failed_counts_with_failures_inside_classes_as_pytest() {
    let passing = "def test_p():\n    pass\n\nclass TestK:\n    def test_a(self):\n        pass\n";
    let in_class = "class TestA:\n    def test_ok(self):\n        pass\n\n    def test_bad(self):\n        assert 0\n\ndef test_plain():\n    pass\n";
    assert_last_failed_like_pytest(
        &[
            ("tests/test_a.py", passing),
            ("tests/test_b_cls.py", in_class),
            ("tests/test_c.py", passing),
            ("pytest.ini", "[pytest]\n"),
        ],
        &[&["--lf"], &["--lf", "-k", "ok"]],
    );
    assert_last_failed_like_pytest(
        &[
            ("tests/test_a.py", passing),
            ("tests/test_b_cls.py", in_class),
            (
                "tests/test_c_mod.py",
                "def test_one():\n    pass\n\ndef test_bad2():\n    assert 0\n\nclass TestZ:\n    def test_z(self):\n        pass\n",
            ),
            ("tests/test_d.py", passing),
            ("pytest.ini", "[pytest]\n"),
        ],
        &[&["--lf"], &["--lf", "tests/test_c_mod.py", "tests"]],
    );
}

#[test]
fn xdist_remote_options_are_named_not_ignored() {
    let dir = project(&[]);
    let out = pacer_in(
        dir.path(),
        &["-n", "2", "-p", "no:cacheprovider", "--", "--tx", "popen"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    snapshot!(
        "pytest_cli__xdist_remote_options",
        "`--tx`/`--px`/`--rsyncdir` are not supported, said once; the run goes on: 4 passed",
        &[(dir.path(), "[DIR]")],
        text(&out),
    );
}

/// xdist's `-f` watches files for ever: pacer hands it to plain pytest,
/// saying so, instead of hanging in a worker.
#[test]
fn looponfail_is_handed_to_plain_pytest() {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let dir = project(&[]);
    let mut child = pacer_command(dir.path(), &["-n", "2", "-f", "-p", "no:cacheprovider"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut buf = [0u8; 1024];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            if seen.contains("looponfail") {
                break;
            }
        }
        let _ = tx.send(seen);
    });
    let seen = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_default();
    // SAFETY: signalling the process group this test started.
    unsafe {
        libc_kill(-(child.id() as i32), 9);
    }
    let _ = child.wait();
    assert!(
        seen.contains("`--looponfail` watches files and reruns"),
        "{seen}"
    );
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

/// Workers beyond the cores start once the plan says how many tests can run
/// at once: `-n 300` on four tests starts four workers, not 300.
#[test]
fn workers_never_outnumber_the_tests_that_can_run() {
    let dir = project(&[]);
    let out = pacer_in(
        dir.path(),
        &["-n", "300", "--debug", "-p", "no:cacheprovider"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        final_line(&stdout(&out)),
        tallies(&[(4, Tally::Passed)]),
        "{}",
        text(&out)
    );
    let started = stderr(&out).matches("says Hello(Hello").count();
    assert!(
        (1..=4).contains(&started),
        "{started} workers\n{}",
        text(&out)
    );
}
