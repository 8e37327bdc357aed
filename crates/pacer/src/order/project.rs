//! The project an order command works on: its interpreter (found as
//! `pacer run` finds it) and its folder, from `--python` and `-C`.

use std::path::{Path, PathBuf};

use crate::cli::CommonArgs;
use crate::error::Error;
use crate::session;
use crate::store::last_run;

pub struct Project {
    pub python: PathBuf,
    pub root: PathBuf,
}

impl Project {
    pub fn find(python: Option<PathBuf>, directory: Option<PathBuf>) -> Result<Project, Error> {
        let common = CommonArgs {
            python,
            directory,
            ..CommonArgs::default()
        };
        let settings = session::settings(&common)?;
        Ok(Project {
            python: settings.python().value.clone(),
            root: settings.project_root().to_path_buf(),
        })
    }

    /// The last run's report, or an error saying how to get one.
    pub fn last_run(&self) -> Result<PathBuf, Error> {
        let path = last_run::default_path(&self.root);
        if path.is_file() {
            return Ok(path);
        }
        Err(Error::Order {
            message: format!("no report of a last run at {}", shown(&path)),
            hint: "run the suite with pacer first (it keeps its report there unless pytest's cache is off or moved), or pass the run's --json-report file: pacer bisect REPORT.json TEST, pacer replay REPORT.json".into(),
        })
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}
