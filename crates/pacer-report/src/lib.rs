//! pacer's reporters: they turn the runner's events into output.
//!
//! - [`terminal`]: pytest-shaped terminal output (progress, failures, summary).
//! - [`junit`]: the JUnit XML file of `--junitxml`, written by pacer, not the workers.
//! - [`record`]: the run's record behind the JSON and HTML reports ([`RunReport`]).
//! - [`json`], [`html`]: `--json-report` and `--html-report`, drawn from that record.
//! - [`reports`]: the reporter that writes them whenever a run ends ([`RunReports`]).
//! - [`github`]: GitHub Actions' step summary, annotations, log groups and progress lines.
//! - [`tee`]: hands every event to several reporters (the terminal and the JUnit file).
//! - [`options`]: what shapes the terminal's output ([`TerminalOptions`]).
//! - [`lastfailed`]: the words pytest's `--lf`/`--ff` print, for `run-last-failure:`.
//! - [`tally`]: outcome counting and pytest's final line, shared by reporters.

pub mod calls;
pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod lastfailed;
pub mod options;
pub mod record;
mod report_file;
pub mod reports;
mod stored;
pub mod tally;
pub mod tee;
pub mod terminal;

pub use github::{Github, GithubOptions};
pub use junit::{Junit, JunitError};
pub use options::{TbStyle, TerminalOptions};
pub use record::{RunRecord, RunReport};
pub use reports::{ReportError, ReportKind, RunReports};
pub use tee::Tee;
pub use terminal::Terminal;
