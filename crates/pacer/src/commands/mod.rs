//! pacer's commands, one file each. Each returns an exit code or a typed
//! [`Error`](crate::error::Error); `main` settles it against the exit-code
//! table in one place (`error::settle`).
//!
//! - [`run`]: the suite on the pool, the 429 rerun, the proxies around it.
//! - [`list`]: the collected tests grouped by category.
//! - [`config`]: every effective setting and where it came from.
//! - [`proxy`]: the run's rate-limiting proxy, alone.
//! - [`measure`]: categories timed sequentially and in parallel, with a history.
//! - [`doctor`]: where a suite's time goes, and what would make it faster.

use std::path::PathBuf;

use pacer_settings::{ProcessEnv, Settings};

use crate::cli::CommonArgs;
use crate::error::Error;

pub mod config;
pub mod doctor;
pub mod init;
pub mod list;
pub mod measure;
pub mod proxy;
pub mod run;

/// Resolves settings as every command does: `-C` first, then all sources.
pub fn settings(common: &CommonArgs) -> Result<Settings, Error> {
    let start = match &common.directory {
        Some(dir) => match std::fs::canonicalize(dir) {
            Ok(dir) if dir.is_dir() => dir,
            _ => return Err(Error::NoSuchDirectory { dir: dir.clone() }),
        },
        None => std::env::current_dir().map_err(|source| Error::CurrentDir { source })?,
    };
    Ok(Settings::resolve(&start, &common.overrides(), &ProcessEnv)?)
}

/// Where pacer acts: `-C DIR`, else the current directory.
pub fn start_dir(common: &CommonArgs) -> PathBuf {
    common
        .directory
        .as_ref()
        .and_then(|d| std::fs::canonicalize(d).ok())
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}
