//! pacer and plain pytest run as child processes of a command that
//! compares or times them (`pacer measure`, `pacer try`): one place that
//! builds their command lines, times them from spawn to exit and reads
//! what they ran, so that the commands compare like with like.
//!
//! - [`args`]: a child pacer's command line, the user's options passed on.
//! - [`timed`]: a child pacer timed and read from its `--json-report`, and
//!   the scratch folder the reports go to.
//! - [`plain`]: plain `python -m pytest`, timed, each test's outcome read
//!   through a small plugin of ours (`pacer_outcomes.py`).

pub mod args;
pub mod plain;
pub mod timed;

use pacer_types::exit;

/// A problem that ends the command: printed as pacer prints errors, with
/// the exit code it ends with.
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: exit::USAGE_ERROR,
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: exit::INTERNAL_ERROR,
        }
    }
}

/// `exit code N`, or that a signal ended it.
pub fn describe(code: Option<i32>) -> String {
    code.map_or_else(
        || "killed by a signal".to_string(),
        |c| format!("exit code {c}"),
    )
}

/// The last `n` lines of `text`, for an error that quotes a child.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
