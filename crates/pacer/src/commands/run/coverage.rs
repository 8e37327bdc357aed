//! pytest-cov's controller side, played by pacer.
//!
//! Under pytest-xdist, pytest-cov splits in two: each worker measures and
//! saves a data file (`DistWorker`), and the controller combines those files
//! and prints the one report (`DistMaster`). pacer's workers get the
//! `workerinput` keys a worker needs (see `_controller_input` in the worker
//! plugin) and say in their `bye` what pytest-cov left in
//! `config.workeroutput`, with pytest-cov's options as they parsed them.
//! After the last worker, this reporter runs one short Python step with the
//! user's interpreter (`cov_controller_main` in the plugin, which calls
//! pytest-cov's own `DistMaster`), hands its report to the reporters before
//! the run's `Finished`, and makes `--cov-fail-under` fail the run, as
//! pytest-cov does under xdist.
//!
//! It wraps the run's reporters rather than living in the pool: the pool
//! knows nothing of any plugin, and the step needs only what the workers sent.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pacer_runner::events::{Event, PluginReport, Reporter, Summary};
use pacer_runner::pool::RunEnd;
use pacer_types::exit;
use serde::Deserialize;

/// How to run the step: the workers' interpreter, folder and environment.
pub struct Step {
    pub python: PathBuf,
    pub plugin_dir: PathBuf,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
}

/// A reporter in front of the run's reporters that collects the workers'
/// coverage hand-over and adds pytest-cov's report before `Finished`.
pub struct CovController<'a> {
    inner: &'a mut dyn Reporter,
    step: Step,
    /// A worker said pytest-cov was active there: play its controller.
    active: bool,
    /// `(worker, config.workeroutput, pytest-cov's options and data file)`,
    /// each as the JSON text the worker sent.
    workers: Vec<(String, Option<String>, Option<String>)>,
    /// `--cov-fail-under` was not reached: the run fails.
    fail_under_failed: bool,
}

#[derive(Debug, Deserialize)]
struct StepResult {
    after_tests: String,
    title: String,
    text: String,
    fail: bool,
}

impl<'a> CovController<'a> {
    pub fn new(step: Step, inner: &'a mut dyn Reporter) -> Self {
        CovController {
            inner,
            step,
            active: false,
            workers: Vec::new(),
            fail_under_failed: false,
        }
    }

    /// The run's end as pytest-cov leaves it: a run whose coverage is under
    /// `--cov-fail-under` fails (exit code 1) even when every test passed.
    pub fn amend(&self, end: RunEnd) -> RunEnd {
        match end {
            RunEnd::Finished(summary) => RunEnd::Finished(self.amend_summary(&summary)),
            other => other,
        }
    }

    fn amend_summary(&self, summary: &Summary) -> Summary {
        let mut summary = summary.clone();
        if self.fail_under_failed && summary.exit_code == exit::OK {
            summary.exit_code = exit::TESTS_FAILED;
        }
        summary
    }

    /// Runs the controller step; `tests_failed` is pytest's `session.testsfailed`
    /// (for `--no-cov-on-fail`).
    fn combine(&self, tests_failed: bool) -> Result<StepResult, String> {
        let json = |text: &Option<String>| -> serde_json::Value {
            text.as_deref()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or(serde_json::Value::Null)
        };
        let workers: Vec<serde_json::Value> = self
            .workers
            .iter()
            .map(|(worker, output, cov)| serde_json::json!([worker, json(output), json(cov)]))
            .collect();
        let request = serde_json::json!({
            "workers": workers,
            "failed": tests_failed,
        });
        run_step(&self.step, &request.to_string())
    }
}

fn run_step(step: &Step, request: &str) -> Result<StepResult, String> {
    let mut python_path = step.plugin_dir.display().to_string();
    if let Some(existing) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
        python_path = format!("{python_path}:{}", existing.to_string_lossy());
    }
    let mut child = Command::new(&step.python)
        .args([
            "-c",
            "import pacer_worker; pacer_worker.cov_controller_main()",
        ])
        .current_dir(&step.cwd)
        .envs(step.env.iter().map(|(k, v)| (k, v)))
        .env("PYTHONPATH", python_path)
        // pytest-cov fits its `coverage: platform ...` rule to the terminal;
        // the step's stdout is a pipe, so say how wide pacer's terminal is.
        .env(
            "COLUMNS",
            pacer_report::TerminalOptions::detect(0).width.to_string(),
        )
        .env_remove("PYTEST_DEBUG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("failed to start {}: {e}", step.python.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(request.as_bytes())
            .map_err(|e| format!("failed to send the workers' data: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("failed to wait for the step: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "unreadable answer ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

impl Reporter for CovController<'_> {
    fn report(&mut self, event: Event<'_>) {
        match event {
            Event::WorkerFinished { worker, bye } => {
                self.active |= bye.cov.is_some();
                self.workers.push((
                    worker.to_string(),
                    bye.workeroutput.clone(),
                    bye.cov.clone(),
                ));
            }
            Event::Finished { summary } => {
                if !self.active {
                    return self.inner.report(event);
                }
                let tests_failed = !summary.failed.is_empty();
                match self.combine(tests_failed) {
                    Ok(result) => {
                        self.fail_under_failed = result.fail;
                        let report = PluginReport {
                            after_tests: result.after_tests,
                            title: result.title,
                            text: result.text,
                        };
                        self.inner.report(Event::PluginReport { report: &report });
                    }
                    Err(message) => {
                        let message = format!(
                            "pytest-cov: failed to combine the workers' coverage: {message}"
                        );
                        self.inner.report(Event::Notice { message: &message });
                    }
                }
                let summary = self.amend_summary(summary);
                self.inner.report(Event::Finished { summary: &summary });
                return;
            }
            _ => {}
        }
        self.inner.report(event);
    }
}

/// The step's folder and environment, from where the workers ran.
pub fn step(python: &Path, plugin_dir: &Path, cwd: &Path, env: &[(String, String)]) -> Step {
    Step {
        python: python.to_path_buf(),
        plugin_dir: plugin_dir.to_path_buf(),
        cwd: cwd.to_path_buf(),
        env: env.to_vec(),
    }
}
