//! Why a run ended before every test ran.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::UnknownWord;

/// Why a run stopped handing out tests, or was interrupted. Its `Display`
/// is the line pytest (or pacer, for what pytest does not have) prints
/// between `!` rules at the end of the run; serde writes and reads it as
/// that line (the run report's `stopped` and `interrupted`). The line has
/// no `Exit`'s `returncode` (the report's `exit_code` has it), so that one
/// reads back as `None`.
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

impl FromStr for StopReason {
    type Err = UnknownWord;

    /// The reason whose line `line` is: `Display`'s inverse.
    fn from_str(line: &str) -> Result<Self, UnknownWord> {
        // The number a line starts with after `prefix`.
        let number = |prefix: &str| -> Option<usize> {
            let rest = line.strip_prefix(prefix)?;
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..end].parse().ok()
        };
        let candidates = [
            Some(StopReason::Interrupted),
            number("stopping after ").map(|failures| StopReason::MaxFail { failures }),
            number("maximum worker restarts reached (")
                .map(|max| StopReason::WorkerRestarts { max }),
            number("stopping: ").map(|pending| StopReason::Stuck { pending }),
            number("Interrupted: ").map(|errors| StopReason::CollectionErrors { errors }),
            line.strip_prefix("INTERNALERROR: pacer failed (")
                .and_then(|rest| {
                    rest.strip_suffix("); stopping, what ran is reported (please report this)")
                })
                .map(|message| StopReason::Internal {
                    message: message.to_string(),
                }),
            line.strip_prefix("_pytest.outcomes.Exit: ")
                .map(|message| StopReason::Exit {
                    message: message.to_string(),
                    returncode: None,
                }),
        ];
        // Each candidate is checked by writing it again: the line is its
        // reason's only if the two agree to the letter.
        candidates
            .into_iter()
            .flatten()
            .find(|reason| reason.to_string() == line)
            .ok_or_else(|| UnknownWord(line.to_string()))
    }
}

impl Serialize for StopReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StopReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StopReason, D::Error> {
        let line = String::deserialize(deserializer)?;
        line.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One reason of each kind, with the numbers and messages that make
    /// their lines awkward (singular, parentheses, the suffix inside).
    fn one_of_each() -> Vec<StopReason> {
        let all = vec![
            StopReason::MaxFail { failures: 1 },
            StopReason::WorkerRestarts { max: 4 },
            StopReason::Stuck { pending: 1 },
            StopReason::Stuck { pending: 12 },
            StopReason::Interrupted,
            StopReason::CollectionErrors { errors: 1 },
            StopReason::CollectionErrors { errors: 3 },
            StopReason::Internal {
                message: "a (b); stopping, what ran is reported (please report this)".into(),
            },
            StopReason::Exit {
                message: "stopping after 2 failures".into(),
                returncode: None,
            },
        ];
        // A new reason does not compile here until it is named: add it
        // above, and its line to `from_str`.
        for reason in &all {
            match reason {
                StopReason::MaxFail { .. }
                | StopReason::WorkerRestarts { .. }
                | StopReason::Stuck { .. }
                | StopReason::Interrupted
                | StopReason::CollectionErrors { .. }
                | StopReason::Internal { .. }
                | StopReason::Exit { .. } => {}
            }
        }
        all
    }

    #[test]
    fn each_reason_reads_back_from_its_line() {
        for reason in one_of_each() {
            let line = reason.to_string();
            assert_eq!(line.parse::<StopReason>(), Ok(reason.clone()), "{line}");
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, serde_json::to_string(&line).unwrap());
            assert_eq!(serde_json::from_str::<StopReason>(&json).unwrap(), reason);
        }
        let exit = StopReason::Exit {
            message: "bye".into(),
            returncode: Some(3),
        };
        assert_eq!(
            exit.to_string().parse(),
            Ok(StopReason::Exit {
                message: "bye".into(),
                returncode: None
            }),
            "the line has no return code"
        );
        for line in [
            "",
            "stopping after x failures",
            "stopping after 1 failure",
            "Ctrl-C",
        ] {
            assert!(line.parse::<StopReason>().is_err(), "{line}");
        }
    }

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
