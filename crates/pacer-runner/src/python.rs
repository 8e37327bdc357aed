//! Which Python interpreter runs the workers.
//!
//! The order a user expects from a tool run inside a project: an explicit
//! `--python`, else the active virtualenv, else the project's `.venv/`, else
//! `python3` from `PATH`.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Interpreter {
    pub path: PathBuf,
    /// How it was found, for messages ("--python", "$VIRTUAL_ENV", ...).
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    #[error("{source_name} points at `{}`, which does not exist", path.display())]
    Missing { source_name: String, path: PathBuf },
}

pub fn find_interpreter(explicit: Option<&Path>, virtual_env: Option<&str>, project_root: &Path) -> Result<Interpreter, PythonError> {
    if let Some(path) = explicit {
        if !path.exists() && path.components().count() > 1 {
            return Err(PythonError::Missing { source_name: "--python".into(), path: path.into() });
        }
        return Ok(Interpreter { path: path.into(), source: "--python".into() });
    }
    if let Some(venv) = virtual_env.filter(|v| !v.is_empty()) {
        let path = Path::new(venv).join("bin").join("python");
        if path.exists() {
            return Ok(Interpreter { path, source: "$VIRTUAL_ENV".into() });
        }
    }
    let local = project_root.join(".venv").join("bin").join("python");
    if local.exists() {
        return Ok(Interpreter { path: local, source: ".venv in the project root".into() });
    }
    Ok(Interpreter { path: "python3".into(), source: "python3 on PATH".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_beats_virtualenv_beats_dot_venv_beats_path() {
        let dir = tempfile::tempdir().unwrap();
        let venv_python = dir.path().join("venv/bin/python");
        std::fs::create_dir_all(venv_python.parent().unwrap()).unwrap();
        std::fs::write(&venv_python, "").unwrap();
        let local = dir.path().join("proj/.venv/bin/python");
        std::fs::create_dir_all(local.parent().unwrap()).unwrap();
        std::fs::write(&local, "").unwrap();
        let root = dir.path().join("proj");
        let venv = dir.path().join("venv");
        let venv = venv.to_str();

        let found = find_interpreter(Some(&venv_python), None, &root).unwrap();
        assert_eq!(found.source, "--python");
        let found = find_interpreter(None, venv, &root).unwrap();
        assert_eq!(found.path, venv_python);
        let found = find_interpreter(None, None, &root).unwrap();
        assert_eq!(found.path, local);
        let found = find_interpreter(None, None, dir.path()).unwrap();
        assert_eq!(found.path, PathBuf::from("python3"));
    }

    #[test]
    fn a_missing_explicit_path_is_an_error_naming_the_flag() {
        let err = find_interpreter(Some(Path::new("/nope/bin/python")), None, Path::new("/")).unwrap_err();
        assert!(err.to_string().contains("--python"), "{err}");
    }
}
