//! Running pacer or pytest with a deadline and reading pytest's final line,
//! for the tests that compare the two (`compare.rs`, `layouts.rs`,
//! `plugins.rs`, `junit_options.rs`). The one copy of these helpers.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longer than any fixture suite takes, short enough that a hung run fails the test.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// One finished run of pacer or pytest.
pub struct Run {
    /// The command line, for failure messages.
    pub label: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Killed (with its process group) past the deadline.
    pub timed_out: bool,
}

impl Run {
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Its exit code and output in [`super::text`]'s shape, for a snapshot.
    pub fn shown(&self) -> String {
        format!(
            "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    pub fn describe(&self) -> String {
        format!(
            "----- {} -----\nexit code: {:?}{}\n----- stdout -----\n{}\n----- stderr -----\n{}\n",
            self.label,
            self.code,
            if self.timed_out {
                " (killed: timed out)"
            } else {
                ""
            },
            self.stdout,
            self.stderr
        )
    }

    /// Counts from pytest's final line (`1 failed, 7 passed, 2 rerun in 0.1s`),
    /// framed with `=` or bare (`-q`).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        final_counts(&self.stdout)
            .unwrap_or_else(|| panic!("no pytest-style final line\n{}", self.describe()))
    }

    /// pacer ran its own workers: no sequential fallback.
    pub fn assert_parallel(&self) {
        assert!(
            !self.stderr.contains("falling back") && !self.stdout.contains("falling back"),
            "pacer fell back to a sequential run\n{}",
            self.describe()
        );
    }
}

/// Runs `program args` in `dir`, clear of the caller's PYTEST_*/PACER_*
/// variables, plus `env`; panics if it outlives RUN_TIMEOUT.
pub fn run(program: &Path, args: &[String], dir: &Path, env: &[(&str, String)]) -> Run {
    let run = run_with_deadline(program, args, dir, env);
    if run.timed_out {
        panic!("{} did not finish within {RUN_TIMEOUT:?}", run.label);
    }
    run
}

/// Like [`run`], but a run past RUN_TIMEOUT has its process group killed
/// and comes back marked `timed_out`, with what it printed so far.
pub fn run_with_deadline(
    program: &Path,
    args: &[String],
    dir: &Path,
    env: &[(&str, String)],
) -> Run {
    let label = format!(
        "(cd {} && {}{} {})",
        dir.display(),
        env.iter()
            .map(|(k, v)| format!("{k}={v} "))
            .collect::<String>(),
        program.display(),
        args.join(" ")
    );
    let mut command = Command::new(program);
    command.args(args).current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("PYTEST_")
            || key.starts_with("PACER_")
            || key == "VIRTUAL_ENV"
            || super::CI_RUN_IDS.contains(&key.as_str())
        {
            command.env_remove(key);
        }
    }
    command
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("COLUMNS", "120")
        .env("NO_COLOR", "1")
        // As `pacer_command`: no workers beyond the cores from a record an
        // earlier test left in a fixture suite's cache.
        .env("PACER_MAX_WAIT_WORKERS", "0");
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {label}: {e}"));
    let (tx, rx) = mpsc::channel();
    let pipes: [(usize, Box<dyn Read + Send>); 2] = [
        (0, Box::new(child.stdout.take().unwrap())),
        (1, Box::new(child.stderr.take().unwrap())),
    ];
    for (which, mut pipe) in pipes {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            let _ = tx.send((which, bytes));
        });
    }
    drop(tx);
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            timed_out = true;
            kill_group(child.id());
            break child.wait().expect("wait for killed child");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Orphaned grandchildren may hold the pipes open: do not wait for them forever.
    if timed_out {
        kill_group(child.id());
    }
    let mut out = [Vec::new(), Vec::new()];
    let grace = Instant::now() + Duration::from_secs(if timed_out { 2 } else { 30 });
    for _ in 0..2 {
        let left = grace.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((which, bytes)) => out[which] = bytes,
            Err(_) => break,
        }
    }
    Run {
        label,
        code: status.code(),
        stdout: String::from_utf8_lossy(&out[0]).into_owned(),
        stderr: String::from_utf8_lossy(&out[1]).into_owned(),
        timed_out,
    }
}

pub fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Counts from pytest's final line: `==== 9 failed, 85 passed in 1.22s ====`
/// or `-q`'s bare `9 failed, 85 passed in 1.22s` (`error`/`warning` folded
/// into their plurals; `no tests ran` is empty).
pub fn final_counts(text: &str) -> Option<BTreeMap<String, u64>> {
    for line in text.lines().rev() {
        let inner = line.trim().trim_matches('=').trim();
        let Some(at) = inner.rfind(" in ") else {
            continue;
        };
        if !inner[at + 4..].starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let summary = &inner[..at];
        let mut counts = BTreeMap::new();
        if summary == "no tests ran" {
            return Some(counts);
        }
        let mut ok = true;
        for part in summary.split(", ") {
            let mut words = part.split_whitespace();
            match (
                words.next().and_then(|n| n.parse::<u64>().ok()),
                words.next(),
                words.next(),
            ) {
                (Some(n), Some(word), None) => {
                    let word = match word {
                        "error" => "errors",
                        "warning" => "warnings",
                        other => other,
                    };
                    counts.insert(word.to_string(), n);
                }
                _ => ok = false,
            }
        }
        if ok {
            return Some(counts);
        }
    }
    None
}

/// `pacer --python <the test interpreter> ARGS` in `dir`, with `env`.
pub fn pacer(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Run {
    let mut full = strings(&["--python"]);
    full.push(super::python().display().to_string());
    full.extend(strings(args));
    run(&assert_cmd::cargo::cargo_bin("pacer"), &full, dir, env)
}

/// Plain `python -m pytest -p no:cacheprovider ARGS` in `dir`, with `env`.
pub fn pytest(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Run {
    let mut full = strings(&["-m", "pytest", "-p", "no:cacheprovider"]);
    full.extend(strings(args));
    run(&super::python(), &full, dir, env)
}
