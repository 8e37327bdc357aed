//! When the pool does not finish the run itself: plain `python -m pytest`
//! takes over. pytest's modes that list or explain run no tests and are
//! handed over whole; a parallel run that cannot start or go on falls back
//! to a sequential one, unless the interpreter cannot even import pytest
//! (then the fallback would fail the same way, and the user needs it named).

use std::path::Path;

use pacer_runner::pool::RunEnd;
use pacer_settings::Settings;
use pacer_types::exit;

use super::Prepared;
use crate::error::Error;

/// Before falling back to plain pytest: can this interpreter run pytest at
/// all? If not, the fallback would fail the same way, or pass with no test
/// (`/bin/true`); the user needs the interpreter named instead.
fn probe_interpreter(python: &Path, cwd: &Path) -> Result<(), String> {
    const MARK: &str = "pacer-probe-ok";
    let output = std::process::Command::new(python)
        .args(["-c", &format!("import pytest; print('{MARK}')")])
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&output.stdout).contains(MARK) {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("it printed nothing");
    Err(match output.status.code() {
        Some(code) => format!("exit code {code}: {}", last.trim()),
        None => format!("killed by a signal: {}", last.trim()),
    })
}

/// The exit code of a run the pool did not finish (or did).
pub fn finish(
    end: RunEnd,
    python: &Path,
    cwd: &Path,
    fallback_args: &[String],
    env: &[(String, String)],
) -> Result<i32, Error> {
    match end {
        RunEnd::Finished(summary) => Ok(summary.exit_code),
        RunEnd::Failed(err) => Err(err.into()),
        RunEnd::Delegate { reason } => {
            eprintln!("pacer: {reason}");
            sequential_pytest(python, cwd, fallback_args, env)
        }
        RunEnd::Fallback { reason } => {
            if let Err(why) = probe_interpreter(python, cwd) {
                return Err(Error::BrokenInterpreter {
                    python: python.to_path_buf(),
                    why,
                });
            }
            eprintln!("pacer: falling back to a sequential run: {reason}");
            sequential_pytest(python, cwd, fallback_args, env)
        }
    }
}

/// pytest's modes that list or explain instead of running tests need no
/// workers: plain pytest answers them exactly as the user expects. Its exit
/// code (or why it could not start) for such a session; `None` for a session
/// that runs tests.
pub fn non_running(settings: &Settings, prepared: &Prepared) -> Option<Result<i32, Error>> {
    let mode = non_running_mode(&prepared.pytest_args)?;
    if settings.debug().value {
        eprintln!("pacer: `{mode}` runs no tests; handing it to pytest");
    }
    Some(sequential_pytest(
        &prepared.python,
        &prepared.cwd,
        &prepared.pytest_args,
        &[],
    ))
}

/// The first pytest option that makes it list or explain rather than run.
pub fn non_running_mode(pytest_args: &[String]) -> Option<&str> {
    const MODES: [&str; 8] = [
        "--co",
        "--collect-only",
        "--fixtures",
        "--fixtures-per-test",
        "--markers",
        "--help",
        "-h",
        "--version",
    ];
    pytest_args
        .iter()
        .map(String::as_str)
        .find(|a| MODES.contains(a))
}

/// Plain `python -m pytest`, for when parallel workers cannot do the job.
fn sequential_pytest(
    python: &Path,
    cwd: &Path,
    args: &[String],
    env: &[(String, String)],
) -> Result<i32, Error> {
    match std::process::Command::new(python)
        .args(["-m", "pytest"])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .status()
    {
        Ok(status) => Ok(status.code().unwrap_or(exit::INTERRUPTED)),
        Err(source) => Err(Error::SequentialPytest {
            python: python.to_path_buf(),
            source,
        }),
    }
}
