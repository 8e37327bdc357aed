//! `--changed`: the tests a change can affect, and why each.
//!
//! The change comes from git (`git.rs`: `git diff REF` and the untracked
//! files) or, under `--watch`, from the files seen saved. A changed test
//! file selects itself; a changed module selects every file that imports
//! it, directly or not, in the project's import graph (`graph.rs`, from
//! the sources read by `imports.rs`, cached under `.pacer/`). A change to
//! a `conftest.py`, to pytest's or pacer's configuration, to the
//! requirements, or to a file matching `changed_always` (`glob.rs`)
//! selects everything. The pool keeps the selected files' tests and
//! deselects the rest as pytest deselects (`pacer_runner::pool::ChangedFiles`).

pub mod dry_run;
mod git;
mod glob;
pub mod graph;
mod imports;
mod pythonpath;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pacer_runner::pool::ChangedFiles;
use pacer_settings::Settings;

pub use git::GitError;
use graph::{BuildStats, Graph};

/// Where the change is measured from.
#[derive(Debug, Clone)]
pub enum Since {
    /// `git diff REV` and the untracked files.
    Git(String),
    /// These files (absolute) were saved or removed (`--watch`).
    Files(Vec<PathBuf>),
}

/// Files whose change can change any test's outcome: pytest's and pacer's
/// configuration, and what is installed.
const CONFIGURATION: [&str; 5] = [
    "pyproject.toml",
    "pytest.ini",
    "setup.cfg",
    "tox.ini",
    "pacer.toml",
];

/// Why a file is selected: the chain from it to the changed file it
/// imports (itself alone when it changed), relative to the project root.
pub type Chain = Vec<PathBuf>;

pub struct Selection {
    pub since: String,
    pub root: PathBuf,
    /// Why every test is selected, when one change selects them all.
    pub everything: Option<String>,
    /// The selected files (absolute), each with its chain.
    pub files: BTreeMap<PathBuf, Chain>,
    /// Changed paths relative to the project root (deleted ones marked).
    pub changed: Vec<(PathBuf, bool)>,
    /// Changed files the import graph does not follow (not Python).
    pub not_followed: Vec<PathBuf>,
    pub stats: BuildStats,
}

impl Selection {
    /// What the pool keeps.
    pub fn filter(&self) -> ChangedFiles {
        ChangedFiles {
            files: self.files.keys().cloned().collect(),
            everything: self.everything.is_some(),
            why: self.why(),
        }
    }

    /// The notice's words: what changed, and what was not followed.
    pub fn why(&self) -> String {
        let mut why = match &self.everything {
            Some(reason) => format!("{reason}: every test"),
            None if self.changed.is_empty() => format!("nothing changed since {}", self.since),
            None => {
                let names: Vec<String> = self
                    .changed
                    .iter()
                    .map(|(p, deleted)| {
                        format!(
                            "{}{}",
                            p.display(),
                            if *deleted { " (deleted)" } else { "" }
                        )
                    })
                    .collect();
                let shown = match names.len() {
                    1..=4 => names.join(", "),
                    n => format!("{} and {} more", names[..4].join(", "), n - 4),
                };
                format!(
                    "{} changed file{} since {} ({shown})",
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    self.since
                )
            }
        };
        if self.everything.is_none() && !self.not_followed.is_empty() {
            let names: Vec<String> = self
                .not_followed
                .iter()
                .take(3)
                .map(|p| p.display().to_string())
                .collect();
            let more = match self.not_followed.len() {
                n if n > 3 => format!(" and {} more", n - 3),
                _ => String::new(),
            };
            why.push_str(&format!(
                "; not followed (not Python): {}{more}; `changed_always` widens it",
                names.join(", ")
            ));
        }
        why
    }
}

fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

/// Whether `rel` lies in a folder no test imports from: a hidden one
/// (`.pacer/`, `.pytest_cache/`, `.git/`, `.venv/`) or `__pycache__`, which
/// pacer and pytest themselves write to and which may not be ignored by git.
fn in_a_cache(rel: &Path) -> bool {
    let mut folders = rel.components().rev().skip(1);
    folders.any(|c| {
        let name = c.as_os_str().to_string_lossy();
        name.starts_with('.') && name != "." && name != ".." || name == "__pycache__"
    })
}

/// Why a change to `rel` selects everything, if it does.
fn selects_everything(rel: &Path, settings: &Settings) -> Option<String> {
    let name = rel.file_name()?.to_str()?;
    let shown = rel.display();
    if name == "conftest.py" {
        return Some(format!("conftest.py changed ({shown})"));
    }
    if CONFIGURATION.contains(&name) || name.starts_with("requirements") {
        return Some(format!("configuration changed ({shown})"));
    }
    let text = rel.to_string_lossy().replace('\\', "/");
    let always = settings.changed_always();
    always
        .value
        .iter()
        .find(|g| glob::matches(g, &text))
        .map(|g| format!("{shown} matches changed_always `{g}` ({})", always.source))
}

/// The change a command selects by, if any: `--watch`'s saved files, else
/// `--changed [REF]` / `PACER_CHANGED`.
pub fn since(settings: &Settings, common: &crate::cli::CommonArgs) -> Option<Since> {
    if !common.changed_files.is_empty() {
        return Some(Since::Files(common.changed_files.clone()));
    }
    settings.changed().value.clone().map(Since::Git)
}

/// The files a change since `since` can affect, under the project root.
pub fn select(settings: &Settings, since: &Since) -> Result<Selection, GitError> {
    let root = settings.project_root().to_path_buf();
    let (label, changed) = match since {
        Since::Git(rev) => {
            let top = git::toplevel(&root)?;
            (rev.clone(), git::changed_since(&top, rev)?)
        }
        Since::Files(files) => (
            "the last run".to_string(),
            files
                .iter()
                .map(|path| git::Changed {
                    path: path.clone(),
                    deleted: !path.exists(),
                })
                .collect(),
        ),
    };
    // git names paths under its top folder as the kernel resolves it; the
    // project root may be reached through a symlink (`/tmp` on macOS).
    let resolved_root = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
    let changed: Vec<(PathBuf, bool)> = changed
        .into_iter()
        // Paths are compared as the walk names them: under the root.
        .map(|c| {
            let rel = match c.path.strip_prefix(&resolved_root) {
                Ok(rel) => rel.to_path_buf(),
                Err(_) => relative(&root, &c.path),
            };
            (rel, c.deleted)
        })
        .filter(|(rel, _)| !in_a_cache(rel))
        .collect();
    let everything = changed
        .iter()
        .find_map(|(rel, _)| selects_everything(rel, settings));
    let is_python = |p: &Path| p.extension().is_some_and(|e| e == "py");
    let deleted: Vec<PathBuf> = changed
        .iter()
        .filter(|(p, d)| *d && is_python(p))
        .map(|(p, _)| p.clone())
        .collect();
    let graph = Graph::build(&root, &pythonpath::read(&root), &deleted);
    let seeds: Vec<PathBuf> = changed
        .iter()
        .filter(|(p, _)| is_python(p))
        .map(|(p, _)| p.clone())
        .collect();
    let via = graph.importers_of(&seeds);
    let mut files = BTreeMap::new();
    for file in via.keys() {
        let mut chain = vec![file.clone()];
        let mut at = file;
        while let Some(Some(next)) = via.get(at) {
            chain.push(next.clone());
            at = next;
        }
        files.insert(root.join(file), chain);
    }
    // A changed file the graph does not hold (a doctest `.txt`, a test
    // file outside the walk) still selects its own tests.
    let mut not_followed = Vec::new();
    for (rel, _) in &changed {
        if !is_python(rel) {
            not_followed.push(rel.clone());
        }
        files
            .entry(root.join(rel))
            .or_insert_with(|| vec![rel.clone()]);
    }
    Ok(Selection {
        since: label,
        root,
        everything,
        files,
        changed,
        not_followed,
        stats: graph.stats,
    })
}
