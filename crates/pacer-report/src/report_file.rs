//! A report's file, shared by the JUnit, JSON and HTML reports: checked
//! before the run (its folder made, a probe written there), then written
//! atomically (a hidden file beside it, renamed over it), so a reader never
//! sees half a report. Each report wraps [`FileError`] in its own error.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub(crate) enum FileError {
    /// The path names a folder.
    IsDirectory,
    /// Its folder could not be made.
    CreateDir(PathBuf, std::io::Error),
    Write(std::io::Error),
}

/// Makes the folder of `path` and writes a probe file there, then removes it.
pub(crate) fn check_writable(path: &Path) -> Result<(), FileError> {
    prepare_folder(path)?;
    let probe = temp_path(path, "probe");
    std::fs::File::create(&probe).map_err(FileError::Write)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_with(path, |out| out.write_all(bytes))
}

/// As [`write_atomically`], the report written by `write` straight into
/// the file: a 50,000-test report is never a string in memory too.
pub(crate) fn write_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), FileError> {
    prepare_folder(path)?;
    let temp = temp_path(path, "tmp");
    let written = std::fs::File::create(&temp)
        .and_then(|file| {
            let mut out = std::io::BufWriter::new(file);
            write(&mut out)?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()
        })
        .and_then(|()| std::fs::rename(&temp, path));
    written.map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        FileError::Write(source)
    })
}

fn prepare_folder(path: &Path) -> Result<(), FileError> {
    if path.is_dir() {
        return Err(FileError::IsDirectory);
    }
    let dir = folder(path);
    std::fs::create_dir_all(&dir).map_err(|source| FileError::CreateDir(dir, source))
}

fn folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A hidden file beside `path`, unique to this process.
fn temp_path(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    folder(path).join(format!(".{name}.pacer-{what}-{}", std::process::id()))
}
