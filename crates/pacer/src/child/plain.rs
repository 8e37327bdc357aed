//! Plain `python -m pytest`, as the user would run it, timed from spawn to
//! exit, each test's outcome read through our plugin (`pacer_outcomes.py`,
//! put on `PYTHONPATH` from a scratch folder and loaded with `-p`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use pacer_types::exit;
use serde::Deserialize;

use super::{describe, tail, Failure};
use crate::scratch::Scratch;

const PLUGIN: &str = include_str!("pacer_outcomes.py");

/// One test's outcome, as the plugin wrote it.
#[derive(Debug, Clone, Deserialize)]
pub struct PlainOutcome {
    pub id: String,
    /// The word pacer's JSON report would use (`passed`, `failed`, ...).
    pub outcome: String,
    #[serde(default)]
    pub message: Option<String>,
    /// Its place in the run: 1 for the first test that ended.
    #[serde(skip)]
    pub position: usize,
}

/// One plain pytest run.
pub struct PlainRun {
    /// Seconds from spawning pytest to its exit.
    pub wall: f64,
    pub exit_code: Option<i32>,
    /// Node id → its outcome (the last line written for it).
    pub outcomes: BTreeMap<String, PlainOutcome>,
}

/// Runs `python -m pytest -p pacer_outcomes ARGS` in `cwd`; `name` names
/// its outcome file in `scratch`.
pub fn run(
    python: &Path,
    cwd: &Path,
    pytest_args: &[String],
    env: &[(String, String)],
    scratch: &Scratch,
    name: &str,
) -> Result<PlainRun, Failure> {
    let plugin = scratch.dir().join("pacer_outcomes.py");
    if !plugin.exists() {
        std::fs::write(&plugin, PLUGIN)
            .map_err(|e| Failure::internal(format!("cannot write {}: {e}", plugin.display())))?;
    }
    let out = scratch.path(name);
    let _ = std::fs::remove_file(&out);
    let start = Instant::now();
    let output = Command::new(python)
        .args(["-m", "pytest", "-p", "pacer_outcomes"])
        .args(pytest_args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("PYTHONPATH", scratch.python_path())
        .env("PACER_OUTCOMES_OUT", &out)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            Failure::internal(format!(
                "cannot run {} -m pytest: {e}\n\nhint: pass --python PATH",
                python.display()
            ))
        })?;
    let wall = start.elapsed().as_secs_f64();
    let code = output.status.code();
    let mut outcomes = BTreeMap::new();
    for line in std::fs::read_to_string(&out).unwrap_or_default().lines() {
        if let Ok(mut outcome) = serde_json::from_str::<PlainOutcome>(line) {
            // A rerun's later line keeps the place of the test's first.
            outcome.position = outcomes
                .get(&outcome.id)
                .map_or(outcomes.len() + 1, |o: &PlainOutcome| o.position);
            outcomes.insert(outcome.id.clone(), outcome);
        }
    }
    // pytest that refused its arguments or could not start ran nothing to
    // compare: say why in its own words.
    let ran = !outcomes.is_empty()
        || matches!(
            code,
            Some(exit::OK | exit::TESTS_FAILED | exit::NO_TESTS_COLLECTED)
        );
    if !ran {
        return Err(Failure {
            message: format!(
                "plain pytest (`{} -m pytest {}`) ended ({}) before running a test:\n{}\n{}",
                python.display(),
                pytest_args.join(" "),
                describe(code),
                tail(&String::from_utf8_lossy(&output.stdout), 15),
                tail(&String::from_utf8_lossy(&output.stderr), 15),
            ),
            code: code
                .filter(|&c| c != exit::OK && c != exit::TESTS_FAILED)
                .unwrap_or(exit::INTERNAL_ERROR),
        });
    }
    Ok(PlainRun {
        wall,
        exit_code: code,
        outcomes,
    })
}
