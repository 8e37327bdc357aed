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

    #[error("the Python interpreter `{}` (from {origin}) does not exist or is not an executable file\n\nhint: pass --python PATH to an interpreter that has pytest", path.display())]
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

    /// Plain pytest would run the whole selection, every machine's part.
    #[error("shard {shard}: plain pytest would run every part, not this one ({reason})\n\nhint: {}", if *usage { "run it without --shard (and PACER_SHARD, --splits/--group)" } else { "fix what kept the pool from running, or run without --shard on one machine" })]
    ShardWithoutPool {
        shard: String,
        reason: String,
        /// Handed over on purpose (`--pdb`, `--collect-only`), not a failure.
        usage: bool,
    },

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
    #[error("no upstream to proxy\n\nhint: pass --upstream NAME=URL, or add [tool.pacer.upstreams.NAME] with a `url` to pyproject.toml")]
    NoUpstream,

    #[error("refusing to listen on {bind}, which is not a loopback address: anyone who can reach it spends your rate budget\n\nhint: pass --allow-non-loopback to bind there anyway, or leave --bind at 127.0.0.1")]
    NonLoopbackBind { bind: std::net::IpAddr },

    #[error("failed to start the async runtime: {source}")]
    Runtime {
        #[source]
        source: std::io::Error,
    },

    /// `pacer proxy`'s proxy could not start or stopped with an error; its
    /// causes are worded on one line, as the proxy gives no hint of its own.
    #[error(
        "failed to run the proxy: {}\n\nhint: check --upstream, --port and --bind",
        with_causes(source)
    )]
    Proxy {
        #[source]
        source: pacer_limiter::ProxyError,
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

    /// `pacer report merge`: a shard's report that cannot be read.
    #[error("cannot read {}: {source}\n\nhint: pass the JSON reports the shards wrote with --json-report", path.display())]
    ReadReport {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `pacer report merge`: a file that is not a JSON run report (serde
    /// names the line and column).
    #[error("{} is not a pacer JSON report: {source}\n\nhint: pass the JSON reports the shards wrote with --json-report", path.display())]
    ParseReport {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// `pacer report merge`: shards that are not one run's, or not all of it.
    #[error("{source}\n\nhint: pass every shard's report of one run (one PACER_RUN_ID, --shard 1/N to N/N)")]
    Merge {
        #[source]
        source: pacer_report::merge::MergeError,
    },
    /// `pacer report merge`: a merged report that cannot be written.
    #[error("failed to write {}: {message}\n\nhint: pass an OUT_DIR in a writable place", path.display())]
    WriteMerged { path: PathBuf, message: String },

    /// `pacer replay`, `bisect`, `audit`: a test or a report they cannot
    /// work with (the message names it, the hint says what to pass).
    #[error("{message}\n\nhint: {hint}")]
    Order { message: String, hint: String },

    /// `--changed`: git could not say what changed.
    #[error("--changed: {source}\n\nhint: {}", changed_hint(source))]
    Changed {
        #[source]
        source: crate::changes::GitError,
    },

    /// `--dry-run` lists what `--changed` selects; alone it means nothing.
    #[error("--dry-run lists the tests --changed selects, and --changed is not given\n\nhint: pass --changed [REF] (or set PACER_CHANGED) with --dry-run")]
    DryRunWithoutChanged,

    /// `pacer init` could not write the file it proposed.
    #[error("failed to write {}: {source}", path.display())]
    WriteConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// What `pacer init` wrote does not resolve: pacer's bug. The file
    /// (`file`, as shown to the user) went back to what it was, if it could.
    #[error("the section pacer init wrote does not resolve: {source}\n{} {file} as it was; please report this", if *restored { "restored" } else { "could not restore" })]
    InitUnresolved {
        source: Box<SettingsError>,
        file: String,
        restored: bool,
    },
}

fn changed_hint(error: &crate::changes::GitError) -> &'static str {
    use crate::changes::GitError;
    match error {
        GitError::Spawn(_) => "install git (pacer runs the `git` program), or run without --changed",
        GitError::NotARepository { .. } => "run --changed inside a git repository (`git init`), or run without --changed (and PACER_CHANGED)",
        GitError::UnknownRevision { .. } => "pass --changed a branch, tag or commit git knows (`git log --oneline`), or --changed alone for the working tree's changes",
        GitError::Failed { .. } => "check that `git status` works in the project",
    }
}

impl Error {
    /// The exit code this error ends pacer with.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NoSuchDirectory { .. }
            | Error::CurrentDir { .. }
            | Error::NoInterpreter { .. }
            | Error::BrokenInterpreter { .. }
            | Error::Github { .. }
            | Error::WriteConfig { .. }
            | Error::ReadReport { .. }
            | Error::ParseReport { .. }
            | Error::Merge { .. }
            | Error::WriteMerged { .. }
            | Error::Order { .. }
            | Error::Changed { .. }
            | Error::DryRunWithoutChanged => exit::USAGE_ERROR,
            Error::Settings(err) => err.exit_code(),
            Error::Proxies { error } if error.usage => exit::USAGE_ERROR,
            Error::NoUpstream | Error::NonLoopbackBind { .. } => exit::USAGE_ERROR,
            Error::Proxy { source } if proxy_usage(source) => exit::USAGE_ERROR,
            Error::Run(err) => err.exit_code(),
            Error::ShardWithoutPool { usage: true, .. } => exit::USAGE_ERROR,
            Error::ShardWithoutPool { usage: false, .. } => exit::INTERNAL_ERROR,
            // A run whose report is missing must not pass in CI.
            Error::Proxies { .. }
            | Error::Runtime { .. }
            | Error::Proxy { .. }
            | Error::Plugin { .. }
            | Error::SequentialPytest { .. }
            | Error::Junit { .. }
            | Error::InitUnresolved { .. }
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

/// A configuration or an address the proxy refuses is the user's to fix;
/// anything else went wrong while it ran.
fn proxy_usage(err: &pacer_limiter::ProxyError) -> bool {
    use pacer_limiter::ProxyError;
    matches!(
        err,
        ProxyError::InvalidConfig { .. }
            | ProxyError::CaFile { .. }
            | ProxyError::Backend { .. }
            | ProxyError::NonLoopback { .. }
            | ProxyError::Bind { .. }
    )
}

/// The error and each of its causes, joined with `: `.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        message.push_str(&format!(": {c}"));
        cause = c.source();
    }
    message
}

/// A command's result as an exit code, the error printed first.
pub fn settle(result: Result<i32, Error>) -> i32 {
    result.unwrap_or_else(|err| {
        err.print();
        err.exit_code()
    })
}
