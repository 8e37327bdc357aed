//! Settings, resolved as every command resolves them: `-C` first, then
//! flags, environment, config file and defaults, into one `Settings`
//! (`pacer-settings`) that remembers where each value came from.

use std::path::{Path, PathBuf};

use pacer_settings::{ProcessEnv, Settings};

use crate::cli::CommonArgs;
use crate::error::Error;

/// Resolves settings as every command does: `-C` first, then all sources.
pub fn settings(common: &CommonArgs) -> Result<Settings, Error> {
    let start = start(common.directory.as_deref())?;
    Ok(Settings::resolve(&start, &common.overrides(), &ProcessEnv)?)
}

/// [`settings`], with their notes said on stderr (an ignored
/// `[tool.pacer]`, ...): how a command that runs pytest starts.
pub fn settings_noted(common: &CommonArgs) -> Result<Settings, Error> {
    let settings = settings(common)?;
    for note in settings.notes() {
        eprintln!("pacer: {note}");
    }
    Ok(settings)
}

/// The folder settings are resolved from: `-C DIR`, which must exist, else
/// the current directory.
pub fn start(directory: Option<&Path>) -> Result<PathBuf, Error> {
    match directory {
        Some(dir) => match std::fs::canonicalize(dir) {
            Ok(dir) if dir.is_dir() => Ok(dir),
            _ => Err(Error::NoSuchDirectory {
                dir: dir.to_path_buf(),
            }),
        },
        None => std::env::current_dir().map_err(|source| Error::CurrentDir { source }),
    }
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
