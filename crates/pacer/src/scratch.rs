//! A scratch folder for a command that runs pytest as a child: the plugin it
//! hands pytest (put first on `PYTHONPATH`) and the files the child writes
//! back. Removed when dropped; named as a run folder
//! (`pacer-run-<pid>-<label>-<n>`), so that when a Ctrl-C ends the command
//! before it can remove it, the next pacer does.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(label: &str) -> std::io::Result<Self> {
        // Unique within the process: bisect makes one per prober.
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}{label}-{n}", pacer_runner::stale::run_folder_prefix());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    pub fn dir(&self) -> &Path {
        &self.0
    }

    /// `name` inside the folder, with anything but letters, digits, `-`
    /// and `.` made `_` (names come from test ids and categories).
    pub fn path(&self, name: &str) -> PathBuf {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.0.join(safe)
    }

    /// `PYTHONPATH` for the child: this folder first (its plugin is loaded
    /// with `-p`), then whatever the user had.
    pub fn python_path(&self) -> OsString {
        match std::env::var_os("PYTHONPATH") {
            Some(old) if !old.is_empty() => {
                let mut paths = vec![self.0.clone()];
                paths.extend(std::env::split_paths(&old));
                std::env::join_paths(paths).unwrap_or_else(|_| self.0.clone().into())
            }
            _ => self.0.clone().into(),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_scratches_are_two_folders_removed_when_dropped() {
        let a = Scratch::new("t").unwrap();
        let b = Scratch::new("t").unwrap();
        assert_ne!(a.dir(), b.dir());
        assert!(a.dir().is_dir());
        assert_eq!(a.path("x::y[1]").file_name().unwrap(), "x__y_1_");
        assert!(a
            .python_path()
            .to_string_lossy()
            .starts_with(&*a.dir().to_string_lossy()));
        let dir = a.dir().to_path_buf();
        drop(a);
        assert!(!dir.exists());
    }
}
