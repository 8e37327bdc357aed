//! The reporter behind `--json-report` and `--html-report`: it keeps a
//! [`RunRecord`] and writes the files whenever a run ends (all done, `-x`,
//! Ctrl-C, crashed workers: every end the pool reaches sends `Finished`),
//! as the JUnit file is written, and again when the binary adds what only
//! it knows after the run (the proxies' statistics, the final exit code).
//! With neither file nor GitHub's output asked for, its record is slim:
//! the binary writes the last run's report from it (`store/last_run.rs`).

use std::path::{Path, PathBuf};

use pacer_runner::events::{Event, Reporter};
use pacer_types::Status;

use crate::github::Github;
use crate::record::RunRecord;
use crate::report_file::{self, FileError};
use crate::schema::RunReport;
use crate::{html, json};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{} is a directory", path.display())]
    IsDirectory { path: PathBuf },
    #[error("failed to write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Which file a [`ReportError`] is about: its flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Json,
    Html,
}

impl ReportKind {
    pub fn flag(self) -> &'static str {
        match self {
            ReportKind::Json => "--json-report",
            ReportKind::Html => "--html-report",
        }
    }
}

pub struct RunReports {
    pub record: RunRecord,
    json: Option<PathBuf>,
    html: Option<PathBuf>,
    written: Option<Result<(), (ReportKind, ReportError)>>,
    /// GitHub Actions' step summary, written with the files.
    github: Option<Github>,
    /// Tests whose last result was flaky, counted whether or not a report
    /// is wanted (`--flaky-result fail` needs them).
    flaky: std::collections::HashSet<String>,
}

impl RunReports {
    /// With neither file asked for, `record` is made slim (before it sees
    /// an event): it keeps only what the last run's report needs.
    pub fn new(mut record: RunRecord, json: Option<PathBuf>, html: Option<PathBuf>) -> Self {
        if json.is_none() && html.is_none() {
            record.set_slim(true);
        }
        RunReports {
            record,
            json,
            html,
            written: None,
            github: None,
            flaky: Default::default(),
        }
    }

    /// Also writes GitHub Actions' step summary whenever the files are (the
    /// record then is a full one: the summary and annotations read it).
    pub fn with_github(mut self, github: Option<Github>) -> Self {
        if github.is_some() {
            self.record.set_slim(false);
        }
        self.github = github;
        self
    }

    /// Whether GitHub Actions' output is on.
    pub fn github(&self) -> bool {
        self.github.is_some()
    }

    /// The annotations for GitHub Actions, once a run ended.
    pub fn github_annotations(&self) -> Vec<String> {
        match &self.github {
            Some(github) if self.record.finished() => github.annotations(&self.record.to_report()),
            _ => Vec::new(),
        }
    }

    pub fn wanted(&self) -> bool {
        self.json.is_some() || self.html.is_some()
    }

    /// Writes the files asked for, if a run ended.
    pub fn write(&mut self) {
        if !(self.wanted() || self.github.is_some()) || !self.record.finished() {
            return;
        }
        let wanted = self.wanted();
        let (github, json_path, html_path) = (&mut self.github, &self.json, &self.html);
        let written = self.record.with_report(|report| {
            if let Some(github) = github {
                // The summary is a courtesy of the CI page, not a report a
                // script reads: failing to write it is said, not fatal.
                if let Err(e) = github.write_summary(report) {
                    let path = github.summary_path().map(|p| p.display().to_string());
                    eprintln!(
                        "pacer: cannot write the step summary to {} (GITHUB_STEP_SUMMARY): {e}",
                        path.unwrap_or_default()
                    );
                }
            }
            if !wanted {
                return None;
            }
            let mut result = Ok(());
            if let Some(path) = json_path {
                result = result.and(
                    report_file::write_with(path, |out| json::write(report, out))
                        .map_err(|e| (ReportKind::Json, report_error(path, e))),
                );
            }
            if let Some(path) = html_path {
                result = result.and(
                    write_atomically(path, &html::render(report))
                        .map_err(|e| (ReportKind::Html, e)),
                );
            }
            Some(result)
        });
        if written.is_some() {
            self.written = written;
        }
    }

    /// How many tests passed only after failed attempts.
    pub fn flaky_tests(&self) -> usize {
        self.flaky.len()
    }

    /// The outcome of the last write; `None` when nothing was written.
    pub fn take_result(&mut self) -> Option<Result<(), (ReportKind, ReportError)>> {
        self.written.take()
    }
}

impl Reporter for RunReports {
    fn report(&mut self, event: Event<'_>) {
        if let Event::TestFinished { id, reports, .. } = event {
            // A test run again (the 429 rerun) counts by its last result.
            if reports.iter().any(|r| r.cat == Some(Status::Flaky)) {
                self.flaky.insert(id.to_string());
            } else {
                self.flaky.remove(id);
            }
        }
        // A full record holds every test's reports (on 50,000 tests, tens
        // of megabytes): without a file or the step summary to write, it is
        // a slim one, for the last run's report (`RunRecord::set_slim`).
        self.record.report(event);
        if let Some(github) = &mut self.github {
            github.observe(event);
        }
        if let Event::Finished { .. } = event {
            self.write();
        }
    }
}

/// Writes `report` to `path` as the `kind` of file a run writes (atomically,
/// its folder made): how `pacer report merge` writes the merged reports.
pub fn write_file(kind: ReportKind, path: &Path, report: &RunReport) -> Result<(), ReportError> {
    match kind {
        ReportKind::Json => report_file::write_with(path, |out| json::write(report, out))
            .map_err(|e| report_error(path, e)),
        ReportKind::Html => write_atomically(path, &html::render(report)),
    }
}

/// Checks before the run that `path` can be written (its folder is made).
pub fn check_writable(path: &Path) -> Result<(), ReportError> {
    report_file::check_writable(path).map_err(|e| report_error(path, e))
}

fn write_atomically(path: &Path, text: &str) -> Result<(), ReportError> {
    report_file::write_atomically(path, text.as_bytes()).map_err(|e| report_error(path, e))
}

fn report_error(path: &Path, error: FileError) -> ReportError {
    let path = path.to_path_buf();
    match error {
        FileError::IsDirectory => ReportError::IsDirectory { path },
        FileError::CreateDir(_, source) | FileError::Write(source) => {
            ReportError::Write { path, source }
        }
    }
}
