//! Helpers shared by the integration tests that drive the real `pacer`
//! binary on the fixture suites under `tests/fixtures/`.
#![allow(dead_code)]

pub mod mockapi;
pub mod normalize;
pub mod outcomes;
pub mod runs;

/// `snapshot!(name, about, dirs, text)`: the insta snapshot `name` (a file
/// in `tests/it/snapshots/`) of `text` after [`normalize::settings`] for
/// `dirs` (`&[(path, label)]`), with `about`, what the snapshot must show,
/// as its description, so that whoever reviews a change to it knows what
/// to look for.
macro_rules! snapshot {
    ($name:expr, $about:expr, $dirs:expr, $text:expr $(,)?) => {{
        let mut settings = $crate::common::normalize::settings($dirs);
        settings.set_description($about);
        settings.bind(|| insta::assert_snapshot!($name, $text));
    }};
}
pub(crate) use snapshot;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("repo root")
        .to_path_buf()
}

/// `$PACER_TEST_PYTHON` (set by `scripts/test`), else `<repo>/.venv/bin/python`.
pub fn python() -> PathBuf {
    match std::env::var_os("PACER_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => repo_root().join(".venv/bin/python"),
    }
}

pub fn suite(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// The CI variables pacer's `run_id` defaults from.
pub const CI_RUN_IDS: [&str; 4] = [
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "CI_PIPELINE_ID",
    "BUILDKITE_BUILD_ID",
];

/// A `pacer` command in `dir`, clear of the caller's pacer and pytest variables.
pub fn pacer_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("pacer"));
    command
        .current_dir(dir)
        .args(args)
        .env_remove("VIRTUAL_ENV")
        // Run on GitHub Actions, pacer would add its GitHub output.
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    // Run in CI, pacer would take the CI's run id (`pacer config` shows it).
    for name in CI_RUN_IDS {
        command.env_remove(name);
    }
    for (name, _) in std::env::vars() {
        if name.starts_with("PACER_") && name != "PACER_TEST_PYTHON" || name.starts_with("PYTEST_")
        {
            command.env_remove(name);
        }
    }
    command.env("PACER_PYTHON", python());
    // No workers beyond the cores for tests that wait (issue 21): the
    // fixture suites run in place keep pytest's cache between test runs,
    // and a test's workers must not depend on what an earlier one recorded.
    // `wait_pool.rs` removes it to test the default.
    command.env("PACER_MAX_WAIT_WORKERS", "0");
    command
}

/// `pacer ARGS` in `dir` with extra environment variables.
pub fn pacer_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = pacer_command(dir, args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("pacer runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn text(output: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `pacer ARGS` on the `hang` suite, waits until a test has passed
/// (the hanging one then holds its worker), sends `signal`, and returns how
/// pacer ended and all it printed.
pub fn signal_mid_run(args: &[&str], signal: i32) -> (ExitStatus, String) {
    let mut child = pacer_command(&suite("hang"), args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("pacer starts");
    let started = Instant::now();
    let mut out = child.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains("PASSED") && started.elapsed() < Duration::from_secs(60) {
        let n = out.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling our own child process.
    unsafe {
        libc_kill(child.id() as i32, signal);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "pacer did not stop after signal {signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    out.read_to_string(&mut seen).ok();
    (status, seen)
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

/// Plain `python -m pytest`, without xdist, in `dir`, clear of the caller's
/// pacer and pytest variables: the reference pacer's output is held to.
pub fn pytest_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(python());
    command
        .current_dir(dir)
        .args(["-m", "pytest", "-p", "no:xdist"])
        .args(args)
        .env_remove("VIRTUAL_ENV")
        // Run on GitHub Actions, pacer would add its GitHub output.
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    for (name, _) in std::env::vars() {
        if name.starts_with("PACER_") || name.starts_with("PYTEST_") {
            command.env_remove(name);
        }
    }
    command
}

/// The same terminal for pacer and pytest: 80 columns, no CI (which makes
/// pytest print whole messages), no colour unless asked, no bytecode
/// written into the fixture suites.
pub fn same_terminal(command: &mut Command) -> &mut Command {
    for name in ["CI", "BUILD_NUMBER", "NO_COLOR", "PY_COLORS", "FORCE_COLOR"] {
        command.env_remove(name);
    }
    command
        .env("COLUMNS", "80")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
}

/// A fresh copy of the fixture suite `name` in a temporary folder, so that
/// what a command writes (`.pacer/`, `.pytest_cache/`) never lands in the repository.
pub fn suite_copy(name: &str) -> tempfile::TempDir {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap().flatten() {
            let name = entry.file_name();
            if name == "__pycache__" || name == ".pytest_cache" || name == ".pacer" {
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
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&suite(name), dir.path());
    dir
}

/// `pacer config`'s table as data: per key, its value and its source (the
/// columns are padded with two spaces or more; `#` lines are notes).
pub fn config_rows(stdout: &str) -> std::collections::BTreeMap<String, (String, String)> {
    stdout
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let columns: Vec<&str> = line
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            match columns[..] {
                [key, value, source] => (key.to_string(), (value.to_string(), source.to_string())),
                _ => panic!("not a key, value and source: {line:?}"),
            }
        })
        .collect()
}
