//! Running pacer itself: `pacer list --json` for the categories, then one
//! timed run per category, mode and repeat, each read from its JSON report.

use std::path::Path;
use std::process::{Command, Stdio};

use pacer_report::RunReport;
use pacer_types::exit;
use serde_json::Value;

use super::schema::RunTime;
use super::{mode_name, Failure};
use crate::child::{args as child, describe, timed};

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

/// Runs one child pacer, timed and read as measure records it.
pub fn time_run(
    exe: &Path,
    dir: &Path,
    argv: &[String],
    report_path: &Path,
) -> Result<(RunTime, RunReport), Failure> {
    let run = timed::time_run(exe, dir, argv, report_path, &[])?;
    let time = RunTime {
        wall: run.wall,
        elapsed: run.report.elapsed,
        exit_code: run.exit_code,
        counts: run
            .report
            .counts
            .iter()
            .map(|(status, n)| (status.to_string(), *n))
            .collect(),
    };
    Ok((time, run.report))
}

/// A report's file in the scratch folder: its category, mode and repeat.
pub fn report_name(category: &str, sequential: bool, repeat: usize) -> String {
    format!("{category}-{}-{repeat}.json", mode_name(sequential))
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
