//! Why a run could not start or could not go on, as one typed error.
//!
//! Messages are lowercase fragments that read after `error: `; the binary
//! prints them and takes the exit code from [`RunError::exit_code`], the
//! only place a runner error meets the exit-code table.

use std::path::PathBuf;

use pacer_types::exit;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("failed to create a run folder: {source}")]
    RunFolder {
        #[source]
        source: std::io::Error,
    },

    #[error("failed to start `{} -m pytest`: {source}", python.display())]
    SpawnWorker {
        python: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A worker did not say hello within the collection deadline: pytest
    /// or a conftest hangs while starting (pytest would hang as well).
    #[error("worker {worker} did not start within {seconds:.1}s ({setting}): pytest, a plugin or a conftest hangs while starting{}\n\nEvery thread's stack at the deadline:\n\n{stacks}", if loading.is_empty() { String::new() } else { format!(", in {loading}") })]
    StartupHang {
        worker: String,
        seconds: f64,
        setting: String,
        /// The conftest or module the stacks show it in, if any.
        loading: String,
        stacks: String,
    },

    #[error("failed to start the zygote: {source}")]
    SpawnZygote {
        #[source]
        source: std::io::Error,
    },

    #[error("worker plugin speaks protocol {theirs} but pacer speaks {ours}; remove the cache folder {}", plugin_dir.display())]
    ProtocolMismatch {
        theirs: u32,
        ours: u32,
        plugin_dir: PathBuf,
    },

    /// pytest's own usage error (`pytest.UsageError`), in pytest's words.
    #[error("ERROR: {message}")]
    PytestUsage { message: String },

    /// pytest refused its arguments before the plugin could speak (exit
    /// code 4): what it printed.
    #[error("{output}")]
    PytestRefused { output: String },

    #[error("pytest is not importable with `{python}`\n\nhint: install it with `{python} -m pip install pytest`, or pick another interpreter with --python PATH")]
    PytestMissing { python: String },

    /// The binary's own refusal once it saw pytest's options (an unwritable
    /// `--junitxml`), worded by the binary with its `error:` and `hint:`.
    #[error("{message}")]
    Refused { message: String },

    #[error("interrupted before tests started")]
    InterruptedBeforeStart,

    #[error("failed to start the async runtime: {source}")]
    Runtime {
        #[source]
        source: std::io::Error,
    },
}

impl RunError {
    /// pytest's exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::PytestUsage { .. }
            | RunError::PytestRefused { .. }
            | RunError::PytestMissing { .. }
            | RunError::Refused { .. }
            // As pytest's own code for a conftest that fails to load.
            | RunError::StartupHang { .. } => exit::USAGE_ERROR,
            RunError::InterruptedBeforeStart => exit::INTERRUPTED,
            RunError::RunFolder { .. }
            | RunError::SpawnWorker { .. }
            | RunError::SpawnZygote { .. }
            | RunError::ProtocolMismatch { .. }
            | RunError::Runtime { .. } => exit::INTERNAL_ERROR,
        }
    }

    /// Whether the message is already worded as an error (pytest's
    /// `ERROR:`, or the binary's own `error:`), so that it is printed as is
    /// rather than after pacer's `error: `.
    pub fn is_worded(&self) -> bool {
        match self {
            RunError::PytestUsage { .. } | RunError::Refused { .. } => true,
            // pytest's own output: worded when pytest (or argparse) said
            // `ERROR:` / `error:` in it.
            RunError::PytestRefused { output } => {
                output.starts_with("error:")
                    || output.contains("\nerror:")
                    || output.contains("ERROR:")
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_exit_code() {
        assert_eq!(
            RunError::PytestUsage {
                message: "bad".into()
            }
            .exit_code(),
            exit::USAGE_ERROR
        );
        assert_eq!(
            RunError::InterruptedBeforeStart.exit_code(),
            exit::INTERRUPTED
        );
    }

    #[test]
    fn pytests_own_words_are_printed_as_they_are() {
        let usage = RunError::PytestUsage {
            message: "file or directory not found: nope".into(),
        };
        assert!(usage.is_worded());
        assert_eq!(
            usage.to_string(),
            "ERROR: file or directory not found: nope"
        );
        let refused = RunError::PytestRefused {
            output: "usage: pytest\npytest: error: unrecognized arguments".into(),
        };
        assert!(!refused.is_worded());
        let refused = RunError::PytestRefused {
            output: "ERROR: usage: pytest\n".into(),
        };
        assert!(refused.is_worded());
        assert!(!RunError::InterruptedBeforeStart.is_worded());
    }

    #[test]
    fn io_causes_are_kept_as_sources() {
        use std::error::Error;
        let err = RunError::SpawnZygote {
            source: std::io::Error::other("no fork today"),
        };
        assert_eq!(err.source().unwrap().to_string(), "no fork today");
        assert_eq!(err.to_string(), "failed to start the zygote: no fork today");
    }
}
