//! Running pacer itself: `pacer list --json` for the categories, then one
//! timed run per category, mode and repeat, each read from its JSON report.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use pacer_report::RunReport;
use pacer_types::exit;
use serde_json::Value;

use super::schema::RunTime;
use super::{child, mode_name, Failure};

fn describe(code: Option<i32>) -> String {
    code.map_or_else(
        || "killed by a signal".to_string(),
        |c| format!("exit code {c}"),
    )
}

/// A selected category with tests, as `pacer list --json` gives it.
pub struct Listed {
    pub name: String,
    pub kind: String,
    pub rate_limited: bool,
    pub exclusive: bool,
    pub max_workers: usize,
    pub tests: usize,
}

/// The selected categories that have tests, from `pacer list --json`
/// with the user's selection and pytest arguments.
pub fn list_categories(
    exe: &Path,
    dir: &Path,
    common: &[String],
    user: &crate::cli::CommonArgs,
    pytest_args: &[String],
) -> Result<Vec<Listed>, Failure> {
    let mut argv = vec!["list".to_string(), "--json".to_string()];
    argv.extend(common.iter().cloned());
    argv.extend(child::selection_args(user));
    let argv = child::with_pytest_args(argv, pytest_args);
    let output = Command::new(exe)
        .args(&argv)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Failure::internal(format!("cannot run `pacer list`: {e}")))?;
    let doc: Value = serde_json::from_slice(&output.stdout).map_err(|_| Failure {
        message: format!(
            "`pacer {}` failed ({}):\n{}",
            argv.join(" "),
            describe(output.status.code()),
            String::from_utf8_lossy(&output.stderr).trim_end()
        ),
        code: output
            .status
            .code()
            .filter(|&c| c != exit::OK)
            .unwrap_or(exit::INTERNAL_ERROR),
    })?;
    if let Some(errors) = doc["collection_errors"]
        .as_array()
        .filter(|e| !e.is_empty())
    {
        let ids: Vec<&str> = errors.iter().filter_map(|e| e["id"].as_str()).collect();
        return Err(Failure {
            message: format!(
                "the suite has collection errors ({}); measuring it would time the errors\n\nhint: run `pacer list` to see them",
                ids.join(", ")
            ),
            code: exit::INTERRUPTED,
        });
    }
    let categories = doc["categories"].as_array().cloned().unwrap_or_default();
    Ok(categories
        .iter()
        .filter(|c| c["selected"].as_bool() == Some(true) && c["count"].as_u64() > Some(0))
        .map(|c| Listed {
            name: c["name"].as_str().unwrap_or_default().to_string(),
            kind: c["kind"].as_str().unwrap_or("cpu").to_string(),
            rate_limited: c["rate_limited"].as_bool().unwrap_or(false),
            exclusive: c["exclusive"].as_bool().unwrap_or(false),
            max_workers: c["max_workers"].as_u64().unwrap_or(1) as usize,
            tests: c["count"].as_u64().unwrap_or(0) as usize,
        })
        .collect())
}

/// Runs one child pacer with `--json-report`, timing it from spawn to exit.
pub fn time_run(
    exe: &Path,
    dir: &Path,
    argv: &[String],
    report_path: &Path,
) -> Result<(RunTime, RunReport), Failure> {
    let _ = std::fs::remove_file(report_path);
    let mut full = vec![format!("--json-report={}", report_path.display())];
    full.extend(argv.iter().cloned());
    let mut command = Command::new(exe);
    command.args(&full).current_dir(dir).stdin(Stdio::null());
    if !argv.iter().any(|a| a == "--sequential") {
        // Measure chooses the mode: a parallel run stays parallel even
        // when the environment asks every run to be sequential.
        command
            .env_remove("PACER_DISABLE_PARALLEL")
            .env_remove("PYTEST_DISABLE_PARALLEL");
    }
    let start = Instant::now();
    let output = command
        .output()
        .map_err(|e| Failure::internal(format!("cannot run pacer: {e}")))?;
    let wall = start.elapsed().as_secs_f64();
    let code = output.status.code();
    let report: RunReport = match std::fs::read_to_string(report_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
    {
        Some(report) => report,
        None => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stdout = String::from_utf8_lossy(&output.stdout);
            let tail: Vec<&str> = stdout.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(Failure {
                message: format!(
                    "`pacer {}` ended ({}) without a run report, so it cannot be timed:\n{}\n{}",
                    argv.join(" "),
                    describe(code),
                    tail.join("\n"),
                    stderr.trim_end()
                ),
                code: code
                    .filter(|&c| c != exit::OK && c != exit::TESTS_FAILED)
                    .unwrap_or(exit::INTERNAL_ERROR),
            });
        }
    };
    let time = RunTime {
        wall,
        elapsed: report.elapsed,
        exit_code: code,
        counts: report
            .counts
            .iter()
            .map(|(status, n)| (status.to_string(), *n))
            .collect(),
    };
    Ok((time, report))
}

/// A folder for the children's reports, removed when dropped. Named as a
/// run folder (`pacer-run-<pid>-measure`), so that when a Ctrl-C ends
/// measure before it can remove it, the next pacer does.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new() -> Result<Self, Failure> {
        let name = format!("{}measure", pacer_runner::stale::run_folder_prefix());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).map_err(|e| {
            Failure::internal(format!(
                "cannot create {}: {e}\n\nhint: set TMPDIR to a writable folder",
                dir.display()
            ))
        })?;
        Ok(Scratch(dir))
    }
    pub fn path(&self, category: &str, sequential: bool, repeat: usize) -> PathBuf {
        let safe: String = category
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        self.0
            .join(format!("{safe}-{}-{repeat}.json", mode_name(sequential)))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn git_commit(root: &Path) -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !text.is_empty()).then_some(text)
}
