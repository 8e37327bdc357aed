//! Where a setting's value came from, so `pacer config` and every error can
//! name it: a flag, an environment variable, a line of a config file, or the
//! built-in default.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// The origin of one effective setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// The built-in default.
    Default,
    /// A default computed from other settings or found on disk, e.g.
    /// `4 × workers` or `.venv in the project root`.
    Derived { how: String },
    /// A command-line flag, named with its dashes (`--workers`).
    Flag { flag: String },
    /// A variable of the process environment.
    Env { name: String },
    /// A variable set by `[tool.pytest_env]` (or pytest-env's `env` lines) in
    /// `pyproject.toml`; ranks as the environment.
    PytestEnv {
        name: String,
        file: PathBuf,
        line: usize,
    },
    /// A key of a config file, with its dotted path as written in the file
    /// (`tool.pacer.workers` in `pyproject.toml`, `workers` in `pacer.toml`).
    File {
        file: PathBuf,
        line: usize,
        key: String,
    },
}

impl Source {
    pub(crate) fn flag(flag: &str) -> Self {
        Source::Flag {
            flag: flag.to_string(),
        }
    }

    pub(crate) fn env(name: &str) -> Self {
        Source::Env {
            name: name.to_string(),
        }
    }

    pub(crate) fn derived(how: impl Into<String>) -> Self {
        Source::Derived { how: how.into() }
    }

    /// The precedence rank of this source: higher wins. Flags (3) beat the
    /// environment (2), which beats config files (1), which beat defaults (0).
    pub fn rank(&self) -> u8 {
        match self {
            Source::Flag { .. } => 3,
            Source::Env { .. } | Source::PytestEnv { .. } => 2,
            Source::File { .. } => 1,
            Source::Default | Source::Derived { .. } => 0,
        }
    }
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::Derived { how } => write!(f, "default ({how})"),
            Source::Flag { flag } => write!(f, "flag {flag}"),
            Source::Env { name } => write!(f, "env {name}"),
            Source::PytestEnv { name, file, line } => {
                write!(f, "{}:{line} tool.pytest_env.{name}", file_name(file))
            }
            Source::File { file, line, key } => write!(f, "{}:{line} {key}", file_name(file)),
        }
    }
}

/// A value together with the source it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    pub(crate) fn new(value: T, source: Source) -> Self {
        Sourced { value, source }
    }

    pub(crate) fn default(value: T) -> Self {
        Sourced {
            value,
            source: Source::Default,
        }
    }

    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Sourced<U> {
        Sourced {
            value: f(self.value),
            source: self.source,
        }
    }
}

/// The first present layer wins; layers are given highest precedence first.
pub(crate) fn first_of<T>(
    layers: impl IntoIterator<Item = Option<Sourced<T>>>,
) -> Option<Sourced<T>> {
    layers.into_iter().flatten().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_each_kind_of_source() {
        assert_eq!(Source::Default.to_string(), "default");
        assert_eq!(Source::flag("--workers").to_string(), "flag --workers");
        assert_eq!(
            Source::env("PYTEST_WORKERS").to_string(),
            "env PYTEST_WORKERS"
        );
        let file = Source::File {
            file: PathBuf::from("/p/pyproject.toml"),
            line: 12,
            key: "tool.pacer.workers".into(),
        };
        assert_eq!(file.to_string(), "pyproject.toml:12 tool.pacer.workers");
        let pe = Source::PytestEnv {
            name: "PYTEST_WORKERS".into(),
            file: PathBuf::from("/p/pyproject.toml"),
            line: 30,
        };
        assert_eq!(
            pe.to_string(),
            "pyproject.toml:30 tool.pytest_env.PYTEST_WORKERS"
        );
    }

    #[test]
    fn ranks_follow_precedence() {
        assert!(Source::flag("--x").rank() > Source::env("X").rank());
        assert!(
            Source::env("X").rank()
                > Source::File {
                    file: "f".into(),
                    line: 1,
                    key: "k".into()
                }
                .rank()
        );
        assert!(
            Source::File {
                file: "f".into(),
                line: 1,
                key: "k".into()
            }
            .rank()
                > Source::Default.rank()
        );
    }
}
