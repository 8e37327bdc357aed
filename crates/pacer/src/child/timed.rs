//! A child pacer timed from spawn to exit and read from its JSON report
//! (`--json-report`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use pacer_report::RunReport;
use pacer_types::exit;

use super::{describe, tail, Failure};
use crate::scratch::Scratch;

/// One child pacer's run: its wall time, exit code and report.
pub struct TimedRun {
    /// Seconds from spawning pacer to its exit.
    pub wall: f64,
    pub exit_code: Option<i32>,
    pub report: RunReport,
}

/// Runs one child pacer with `--json-report`, timing it from spawn to exit.
pub fn time_run(
    exe: &Path,
    dir: &Path,
    argv: &[String],
    report_path: &Path,
    env: &[(String, String)],
) -> Result<TimedRun, Failure> {
    let _ = std::fs::remove_file(report_path);
    let mut full = vec![format!("--json-report={}", report_path.display())];
    full.extend(argv.iter().cloned());
    let mut command = Command::new(exe);
    command
        .args(&full)
        .current_dir(dir)
        .stdin(Stdio::null())
        .envs(env.iter().map(|(k, v)| (k, v)));
    if !argv.iter().any(|a| a == "--sequential") {
        // The caller chooses the mode: a parallel run stays parallel even
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
            return Err(Failure {
                message: format!(
                    "`pacer {}` ended ({}) without a run report:\n{}\n{}",
                    argv.join(" "),
                    describe(code),
                    tail(&String::from_utf8_lossy(&output.stdout), 15),
                    String::from_utf8_lossy(&output.stderr).trim_end()
                ),
                code: code
                    .filter(|&c| c != exit::OK && c != exit::TESTS_FAILED)
                    .unwrap_or(exit::INTERNAL_ERROR),
            });
        }
    };
    Ok(TimedRun {
        wall,
        exit_code: code,
        report,
    })
}

/// The scratch folder for the children's reports, or the failure that
/// names it.
pub fn scratch(label: &str) -> Result<Scratch, Failure> {
    Scratch::new(label).map_err(|e| {
        Failure::internal(format!(
            "cannot create a folder in {}: {e}\n\nhint: set TMPDIR to a writable folder",
            std::env::temp_dir().display()
        ))
    })
}
