//! GitHub Actions: what a run adds under `GITHUB_ACTIONS=true`.
//!
//! - A Markdown summary appended to `$GITHUB_STEP_SUMMARY` ([`summary`]),
//!   written whenever the run ends, as the JSON report is, and rewritten in
//!   place when the binary learns more (the 429 rerun, the proxies'
//!   statistics, the final exit code).
//! - `::error file=..,line=..::` annotations for failed and errored tests,
//!   at most [`GithubOptions::max_annotations`] (GitHub shows ten of a kind
//!   per step) and a `::notice::` counting the rest; `::warning::` for
//!   flaky tests, those that passed only after reruns ([`annotations`];
//!   [`commands`] escapes them).
//! - For the terminal: log groups around long sections and periodic
//!   progress lines instead of pytest's dots ([`progress`]); see
//!   `TerminalOptions::github`.

pub mod annotations;
pub mod commands;
pub mod progress;
pub mod summary;

use std::collections::HashMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use pacer_runner::events::Event;
use pacer_runner::protocol::PhaseReport;

use crate::schema::RunReport;

/// GitHub shows at most ten error (and ten warning) annotations per step.
pub const DEFAULT_MAX_ANNOTATIONS: usize = 10;

/// Where and how much: read once from the environment GitHub sets.
#[derive(Debug, Clone, PartialEq)]
pub struct GithubOptions {
    /// `$GITHUB_STEP_SUMMARY`: the file the summary is appended to.
    pub step_summary: Option<PathBuf>,
    /// `$GITHUB_WORKSPACE`: annotations name files relative to it.
    pub workspace: Option<PathBuf>,
    /// Error annotations at most (`PACER_GITHUB_ANNOTATIONS`); the same for warnings.
    pub max_annotations: usize,
}

impl GithubOptions {
    /// From the environment (`env` looks a variable up): `None` unless
    /// `GITHUB_ACTIONS` is `true`, or when `PACER_GITHUB` is `0`/`false`/`no`.
    /// A bad `PACER_GITHUB` or `PACER_GITHUB_ANNOTATIONS` is an error
    /// naming the variable.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let on_github = env("GITHUB_ACTIONS").is_some_and(|v| v == "true");
        let wanted = match env("PACER_GITHUB").as_deref().map(str::trim) {
            None | Some("") => on_github,
            Some("0" | "false" | "no" | "off") => false,
            Some("1" | "true" | "yes" | "on") => true,
            Some(other) => {
                return Err(format!(
                    "PACER_GITHUB={other:?} is not a switch\n\nhint: set PACER_GITHUB=0 to turn GitHub Actions output off, 1 to force it"
                ))
            }
        };
        if !wanted {
            return Ok(None);
        }
        let max_annotations = match env("PACER_GITHUB_ANNOTATIONS") {
            None => DEFAULT_MAX_ANNOTATIONS,
            Some(v) => v.trim().parse().map_err(|_| {
                format!("PACER_GITHUB_ANNOTATIONS={v:?} is not a number\n\nhint: set it to how many failures to annotate, e.g. 10")
            })?,
        };
        let path = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        Ok(Some(GithubOptions {
            step_summary: path("GITHUB_STEP_SUMMARY"),
            workspace: path("GITHUB_WORKSPACE"),
            max_annotations,
        }))
    }
}

/// What the run's record lacks for GitHub: where each failure happened,
/// and the warnings pytest's final line counts; plus where in the step
/// summary file this run's summary starts, so that it is rewritten, not
/// appended twice.
#[derive(Debug)]
pub struct Github {
    options: GithubOptions,
    locations: HashMap<String, (String, Option<i64>)>,
    warnings: usize,
    summary_start: Option<u64>,
}

impl Github {
    pub fn new(options: GithubOptions) -> Self {
        Github {
            options,
            locations: HashMap::new(),
            warnings: 0,
            summary_start: None,
        }
    }

    /// Takes what it needs from an event (the record takes the rest).
    pub fn observe(&mut self, event: Event<'_>) {
        match event {
            Event::TestFinished { id, reports, .. } | Event::TestAmended { id, reports, .. } => {
                self.locate(id, reports)
            }
            Event::Warning { .. } => self.warnings += 1,
            _ => {}
        }
    }

    fn locate(&mut self, id: &str, reports: &[PhaseReport]) {
        if let Some(at) = reports
            .iter()
            .filter(|r| r.outcome.is_failed())
            .find_map(|r| r.at.clone())
        {
            self.locations.entry(id.to_string()).or_insert(at);
        }
    }

    /// Writes the summary into `$GITHUB_STEP_SUMMARY`: appended the first
    /// time, over its own earlier text after that.
    pub fn write_summary(&mut self, report: &RunReport) -> std::io::Result<()> {
        let Some(path) = &self.options.step_summary else {
            return Ok(());
        };
        let text = summary::render(report, self.warnings);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(false)
            .write(true)
            .truncate(false)
            .open(path)?;
        let start = match self.summary_start {
            Some(start) => start,
            None => file.metadata()?.len(),
        };
        file.set_len(start)?;
        file.seek(SeekFrom::Start(start))?;
        file.write_all(text.as_bytes())?;
        self.summary_start = Some(start);
        Ok(())
    }

    /// The step summary's file, for a message about it.
    pub fn summary_path(&self) -> Option<&Path> {
        self.options.step_summary.as_deref()
    }

    /// The workflow commands for the run's end ([`annotations`]).
    pub fn annotations(&self, report: &RunReport) -> Vec<String> {
        annotations::annotations(
            report,
            &self.locations,
            self.options.workspace.as_deref(),
            self.options.max_annotations,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn on_only_under_actions_unless_switched() {
        assert_eq!(GithubOptions::from_env(env(&[])), Ok(None));
        let on = GithubOptions::from_env(env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", "/tmp/s.md"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(on.step_summary, Some(PathBuf::from("/tmp/s.md")));
        assert_eq!(on.max_annotations, DEFAULT_MAX_ANNOTATIONS);
        let off = env(&[("GITHUB_ACTIONS", "true"), ("PACER_GITHUB", "0")]);
        assert_eq!(GithubOptions::from_env(off), Ok(None));
        let forced = env(&[("PACER_GITHUB", "1"), ("PACER_GITHUB_ANNOTATIONS", "3")]);
        assert_eq!(
            GithubOptions::from_env(forced)
                .unwrap()
                .unwrap()
                .max_annotations,
            3
        );
        let bad = GithubOptions::from_env(env(&[
            ("PACER_GITHUB_ANNOTATIONS", "x"),
            ("PACER_GITHUB", "1"),
        ]));
        assert!(bad.unwrap_err().starts_with("PACER_GITHUB_ANNOTATIONS"));
        let bad = GithubOptions::from_env(env(&[("PACER_GITHUB", "maybe")]));
        assert!(bad.unwrap_err().starts_with("PACER_GITHUB="));
    }

    #[test]
    fn the_summary_is_rewritten_in_place_after_what_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        std::fs::write(&path, "# an earlier step\n").unwrap();
        let mut github = Github::new(GithubOptions {
            step_summary: Some(path.clone()),
            workspace: None,
            max_annotations: 10,
        });
        let mut report = crate::RunRecord::with_clock("0", Box::new(|| 0.0)).to_report();
        report.counts.insert(pacer_types::Status::Passed, 2);
        github.write_summary(&report).unwrap();
        report.counts.insert(pacer_types::Status::Failed, 1);
        github.write_summary(&report).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# an earlier step\n## pacer: 1 failed, 2 passed in "),
            "{text}"
        );
        assert_eq!(text.matches("## pacer:").count(), 1, "{text}");
    }
}
