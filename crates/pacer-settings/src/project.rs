//! Finding the project root and its config files.
//!
//! The root is the nearest ancestor of the start directory (itself included)
//! that holds one of [`ROOT_MARKERS`], the files pytest also uses to find its
//! rootdir; with none, the start directory itself. Config is read from that
//! directory only: `pacer.toml` (keys at top level) if present, else
//! `[tool.pacer]` of `pyproject.toml`. When both hold pacer config,
//! `pacer.toml` wins whole (the two are never merged, so one file tells the
//! truth) and `pacer config` says that `[tool.pacer]` was ignored.
//! `[tool.pytest_env]` is always read from `pyproject.toml`, as pytest-env does.

use std::path::{Path, PathBuf};

/// Files whose presence marks a project root, in no particular order.
pub const ROOT_MARKERS: &[&str] = &[
    "pyproject.toml",
    "pacer.toml",
    "pytest.ini",
    "setup.cfg",
    "tox.ini",
];

/// The nearest ancestor of `start` (inclusive) holding a root marker, else `start`.
pub fn find_project_root(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|dir| ROOT_MARKERS.iter().any(|m| dir.join(m).is_file()))
        .unwrap_or(start)
        .to_path_buf()
}

/// The config files present in a project root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProjectFiles {
    pub root: PathBuf,
    pub pyproject: Option<PathBuf>,
    pub pacer_toml: Option<PathBuf>,
}

impl ProjectFiles {
    /// `start` may be relative; it is taken from the current directory so
    /// that the search can climb above it.
    pub fn find(start: &Path) -> Self {
        let start = match std::env::current_dir() {
            Ok(cwd) if start.is_relative() => cwd.join(start),
            _ => start.to_path_buf(),
        };
        let root = find_project_root(&start);
        let existing = |name: &str| Some(root.join(name)).filter(|p| p.is_file());
        ProjectFiles {
            pyproject: existing("pyproject.toml"),
            pacer_toml: existing("pacer.toml"),
            root,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_ancestor_with_a_marker_is_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("proj");
        let deep = project.join("tests/unit");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(project.join("tox.ini"), "").unwrap();
        assert_eq!(find_project_root(&deep), project);
    }

    #[test]
    fn start_dir_is_the_root_without_markers() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        // tempdir's own ancestors (e.g. /tmp) carry no markers in a sane environment.
        let root = find_project_root(&deep);
        assert!(root == deep || !root.starts_with(dir.path()));
    }

    #[test]
    fn finds_both_config_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyproject.toml"), "").unwrap();
        std::fs::write(dir.path().join("pacer.toml"), "").unwrap();
        let files = ProjectFiles::find(dir.path());
        assert_eq!(files.root, dir.path());
        assert!(files.pyproject.is_some() && files.pacer_toml.is_some());
    }
}
