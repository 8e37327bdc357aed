//! The binary's errors, and the one place they meet the exit-code table.
//!
//! Every command returns `Result<exit code, Error>`; [`settle`] prints an
//! error as `error: <message>` (with its `hint:`) and maps it to
//! [`pacer_types::exit`]. Messages are lowercase fragments that read after
//! `error: `; errors that are already worded (pytest's own `ERROR:`) are
//! printed as they are.

use std::path::PathBuf;

use pacer_runner::RunError;
use pacer_settings::SettingsError;
use pacer_types::exit;

use crate::upstreams::StartError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("-C {}: no such directory\n\nhint: pass an existing directory to -C", dir.display())]
    NoSuchDirectory { dir: PathBuf },

    #[error("cannot read the current directory: {source}")]
    CurrentDir {
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Settings(#[from] SettingsError),

    #[error("the Python interpreter `{}` (from {origin}) does not exist\n\nhint: pass --python PATH to an interpreter that has pytest", path.display())]
    NoInterpreter { path: PathBuf, origin: String },

    /// The fallback's probe: this interpreter cannot import pytest, so a
    /// sequential pytest would fail the same way (or pass with no test).
    #[error("`{} -c 'import pytest'` failed ({why})\n\nhint: pass --python PATH (or set PACER_PYTHON) to an interpreter that has pytest installed", python.display())]
    BrokenInterpreter { python: PathBuf, why: String },

    #[error("failed to write the worker plugin: {source}\n\nhint: set XDG_CACHE_HOME to a writable folder")]
    Plugin {
        #[source]
        source: std::io::Error,
    },

    /// `StartError` words its own causes (it has no `Error` impl to chain).
    #[error("{error}\n\nhint: check [tool.pacer.upstreams.{}] and [tool.pacer.rate_limit] (or --upstream), or pass --no-rate-limit to run without the proxy", error.upstream)]
    Proxies { error: StartError },

    #[error(transparent)]
    Run(#[from] RunError),

    #[error("failed to run `{} -m pytest`: {source}", python.display())]
    SequentialPytest {
        python: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "--junitxml: {source}\n\nhint: pass pytest's --junitxml a file path in a writable folder"
    )]
    Junit {
        #[source]
        source: pacer_report::JunitError,
    },
    #[error("{}: {source}\n\nhint: pass {} a file path in a writable folder", kind.flag(), kind.flag())]
    Report {
        kind: pacer_report::ReportKind,
        /// Found before any test ran (a usage error), not when writing.
        before_run: bool,
        #[source]
        source: pacer_report::ReportError,
    },
    /// `PACER_GITHUB` or `PACER_GITHUB_ANNOTATIONS` is not a value (the
    /// message names it and says what would be).
    #[error("{message}")]
    Github { message: String },
}

impl Error {
    /// The exit code this error ends pacer with.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NoSuchDirectory { .. }
            | Error::CurrentDir { .. }
            | Error::NoInterpreter { .. }
            | Error::BrokenInterpreter { .. }
            | Error::Github { .. } => exit::USAGE_ERROR,
            Error::Settings(err) => err.exit_code(),
            Error::Proxies { error } if error.usage => exit::USAGE_ERROR,
            Error::Run(err) => err.exit_code(),
            // A run whose report is missing must not pass in CI.
            Error::Proxies { .. }
            | Error::Plugin { .. }
            | Error::SequentialPytest { .. }
            | Error::Junit { .. }
            | Error::Report {
                before_run: false, ..
            } => exit::INTERNAL_ERROR,
            Error::Report {
                before_run: true, ..
            } => exit::USAGE_ERROR,
        }
    }

    /// Writes the error to stderr as pacer words errors.
    pub fn print(&self) {
        match self {
            Error::Run(err) if err.is_worded() => eprintln!("{err}"),
            err => eprintln!("error: {err}"),
        }
    }
}

/// A command's result as an exit code, the error printed first.
pub fn settle(result: Result<i32, Error>) -> i32 {
    result.unwrap_or_else(|err| {
        err.print();
        err.exit_code()
    })
}
