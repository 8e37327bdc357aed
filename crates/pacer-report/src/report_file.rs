//! A report's file, shared by the JUnit, JSON and HTML reports: checked
//! before the run (its folder made, a probe written there), then written
//! atomically (a hidden file beside it, renamed over it), so a reader never
//! sees half a report. A path that exists and is not a regular file
//! (`/dev/null`, `/dev/stdout`, a symlink, a FIFO) is the user's: it is
//! opened and written through, as pytest does, never replaced. Each report
//! wraps [`FileError`] in its own error.

use std::io::Write;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub(crate) enum FileError {
    /// The path names a folder.
    IsDirectory,
    /// Its folder could not be made.
    CreateDir(PathBuf, std::io::Error),
    Write(std::io::Error),
}

/// Makes the folder of `path` and writes a probe file there, then removes
/// it; a path written through is opened for writing instead (a FIFO not
/// even that: opening it waits for a reader).
pub(crate) fn check_writable(path: &Path) -> Result<(), FileError> {
    if path.is_dir() {
        return Err(FileError::IsDirectory);
    }
    if let Some(kind) = written_through(path) {
        if !kind.is_fifo() {
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(FileError::Write)?;
        }
        return Ok(());
    }
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
    if path.is_dir() {
        return Err(FileError::IsDirectory);
    }
    if written_through(path).is_some() {
        // `create`: a dangling symlink's target is made, as pytest's
        // `open(path, "w")` makes it.
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .and_then(|file| {
                let mut out = std::io::BufWriter::new(file);
                write(&mut out)?;
                out.flush()
            });
        return written.map_err(FileError::Write);
    }
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

/// The type of `path` when it exists and is not a regular file (a symlink
/// is told by what it points to, and written through whatever that is).
fn written_through(path: &Path) -> Option<std::fs::FileType> {
    let own = std::fs::symlink_metadata(path).ok()?;
    if own.file_type().is_file() {
        return None;
    }
    Some(
        std::fs::metadata(path)
            .map(|m| m.file_type())
            .unwrap_or(own.file_type()),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_is_written_through_and_stays_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.xml");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("link.xml");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        check_writable(&link).unwrap();
        write_atomically(&link, b"new report").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new report");
        // A dangling one gets its target made.
        let gone = dir.path().join("gone.xml");
        let dangling = dir.path().join("dangling.xml");
        std::os::unix::fs::symlink(&gone, &dangling).unwrap();
        write_atomically(&dangling, b"made").unwrap();
        assert_eq!(std::fs::read_to_string(&gone).unwrap(), "made");
    }

    #[test]
    fn a_device_behind_a_symlink_is_written_to_not_replaced() {
        // `/dev/null` itself is never at stake here: a link to it is.
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("null.xml");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        check_writable(&link).unwrap();
        write_atomically(&link, b"<testsuites/>").unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/dev/null"));
        assert!(std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp file left beside it: {left:?}");
    }

    #[test]
    fn a_fifo_is_written_into_for_its_reader() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("report.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        check_writable(&fifo).unwrap();
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_atomically(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
    }
}
