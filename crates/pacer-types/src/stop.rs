//! Why a run ended before every test ran.

use std::fmt;

/// Why a run stopped handing out tests, or was interrupted. Its `Display`
/// is the line pytest (or pacer, for what pytest does not have) prints
/// between `!` rules at the end of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// `-x` / `--maxfail`: the Nth failure was seen.
    MaxFail { failures: usize },
    /// More workers crashed than `--max-worker-restart` allows.
    WorkerRestarts { max: usize },
    /// Work was pending that no worker could ever be given (a scheduler bug,
    /// reported instead of waiting for ever).
    Stuck { pending: usize },
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// Collection errors, without `--continue-on-collection-errors`.
    CollectionErrors { errors: usize },
    /// pacer itself failed (a panic in its own code): the run stops, and
    /// what ran is still reported (pytest's INTERNALERROR, exit code 3).
    Internal { message: String },
    /// A test or fixture called `pytest.exit(message, returncode)`: the run
    /// ends with that code (pytest's 2 when none was given).
    Exit {
        message: String,
        returncode: Option<i32>,
    },
}

impl StopReason {
    /// Whether the run was interrupted (pytest's exit code 2) rather than
    /// stopped on purpose.
    pub fn is_interruption(&self) -> bool {
        matches!(
            self,
            StopReason::Interrupted | StopReason::CollectionErrors { .. }
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // pytest's own words, plural and all ("after 1 failures").
            StopReason::MaxFail { failures } => write!(f, "stopping after {failures} failures"),
            StopReason::WorkerRestarts { max } => write!(
                f,
                "maximum worker restarts reached ({max}); not running the remaining tests (raise --max-worker-restart)"
            ),
            StopReason::Stuck { pending } => write!(
                f,
                "stopping: {pending} test{} could not be handed to any worker",
                plural(*pending)
            ),
            StopReason::Interrupted => f.write_str("KeyboardInterrupt"),
            StopReason::CollectionErrors { errors } => write!(
                f,
                "Interrupted: {errors} error{} during collection",
                plural(*errors)
            ),
            StopReason::Internal { message } => write!(
                f,
                "INTERNALERROR: pacer failed ({message}); stopping, what ran is reported (please report this)"
            ),
            StopReason::Exit { message, .. } => write!(f, "_pytest.outcomes.Exit: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_reads_as_pytest_prints_it() {
        assert_eq!(
            StopReason::MaxFail { failures: 1 }.to_string(),
            "stopping after 1 failures"
        );
        assert_eq!(StopReason::Interrupted.to_string(), "KeyboardInterrupt");
        assert_eq!(
            StopReason::CollectionErrors { errors: 2 }.to_string(),
            "Interrupted: 2 errors during collection"
        );
        assert_eq!(
            StopReason::Stuck { pending: 1 }.to_string(),
            "stopping: 1 test could not be handed to any worker"
        );
        assert!(StopReason::Interrupted.is_interruption());
        assert!(!StopReason::MaxFail { failures: 3 }.is_interruption());
    }
}
