//! What changed since a revision, asked of the `git` program (no libgit2:
//! the user's own git, with its configuration and ignore rules).

use std::path::{Path, PathBuf};
use std::process::Command;

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// Absolute.
    pub path: PathBuf,
    pub deleted: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("failed to run git: {0}")]
    Spawn(std::io::Error),
    #[error("{} is not inside a git repository", dir.display())]
    NotARepository { dir: PathBuf },
    #[error("`{rev}` is not a commit of this repository ({why})")]
    UnknownRevision { rev: String, why: String },
    #[error("`git {args}` failed: {why}")]
    Failed { args: String, why: String },
}

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output, GitError> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(GitError::Spawn)
}

fn stdout(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let out = git(dir, args)?;
    if !out.status.success() {
        return Err(GitError::Failed {
            args: args.join(" "),
            why: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

/// The top folder of the repository holding `dir`.
pub fn toplevel(dir: &Path) -> Result<PathBuf, GitError> {
    let out = git(dir, &["rev-parse", "--show-toplevel"])?;
    if !out.status.success() {
        return Err(GitError::NotARepository {
            dir: dir.to_path_buf(),
        });
    }
    let top = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'));
    Ok(std::fs::canonicalize(&top).unwrap_or(top))
}

/// Every path changed between `rev` and the working tree: `git diff REV`
/// (committed since, staged and unstaged alike) and the untracked files
/// git does not ignore. Renames are a deletion and an addition.
pub fn changed_since(top: &Path, rev: &str) -> Result<Vec<Changed>, GitError> {
    let commit = format!("{rev}^{{commit}}");
    let out = git(top, &["rev-parse", "--verify", "--quiet", &commit])?;
    if !out.status.success() {
        let why = if rev == "HEAD" {
            "the repository has no commit yet: commit once, or name a revision"
        } else {
            "git rev-parse does not know it"
        };
        return Err(GitError::UnknownRevision {
            rev: rev.to_string(),
            why: why.to_string(),
        });
    }
    let diff = stdout(
        top,
        &["diff", "--name-status", "--no-renames", "-z", rev, "--"],
    )?;
    let mut changed = Vec::new();
    let mut fields = diff.split(|b| *b == 0).filter(|f| !f.is_empty());
    while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
        changed.push(Changed {
            path: top.join(String::from_utf8_lossy(path).as_ref()),
            deleted: status.first() == Some(&b'D'),
        });
    }
    let untracked = stdout(top, &["ls-files", "--others", "--exclude-standard", "-z"])?;
    for path in untracked.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        changed.push(Changed {
            path: top.join(String::from_utf8_lossy(path).as_ref()),
            deleted: false,
        });
    }
    changed.sort_by(|a, b| a.path.cmp(&b.path));
    changed.dedup_by(|a, b| a.path == b.path);
    Ok(changed)
}
