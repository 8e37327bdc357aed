//! pacer's reporters: they turn the runner's events into output.
//!
//! - [`terminal`]: pytest-shaped terminal output (progress, failures, summary).
//! - [`junit`]: the JUnit XML file of `--junitxml`, written by pacer, not the workers.
//! - [`record`]: the run's record behind the JSON and HTML reports, gathered
//!   from the events ([`RunRecord`]).
//! - [`schema`]: that record's types, the JSON schema ([`RunReport`]): where
//!   a test's typed outcome becomes a JSON word, when serde writes it.
//! - [`json`], [`html`]: `--json-report` and `--html-report`, written from that record's report.
//! - `slim`: a slim record's tests, all the last run's report keeps when no
//!   report is asked for.
//! - [`reports`]: the reporter that writes them whenever a run ends ([`RunReports`]).
//! - [`github`]: GitHub Actions' step summary, annotations, log groups and progress lines.
//! - [`tee`]: hands every event to several reporters (the terminal and the JUnit file).
//! - [`options`]: what shapes the terminal's output ([`TerminalOptions`]).
//! - [`lastfailed`]: the words pytest's `--lf`/`--ff` print, for `run-last-failure:`.
//! - [`tally`]: outcome counting and pytest's final line, shared by reporters.
//! - [`calls`]: charging each test the calls it made through the proxies.
//! - [`merge`]: the reports of a run's shards made into one (`pacer report merge`).
//!
//! Modules import one way, never back. The leaves import no other module:
//! `schema`, the report's types; `attempts`, a test's phase reports cut
//! into attempts; `longrepr`, a failure's plain text; `stored`, `tally`,
//! `options`, `report_file`, `lastfailed`. `calls` and `merge` import `schema`;
//! `slim` imports `schema` and `attempts`; `record` imports `calls`, `slim`,
//! `json` and leaves; `junit`, `github`, `json` and
//! `html` import leaves; `terminal` leaves and `github`'s commands;
//! `reports` imports `record`, `github`, `json` and `html`.

mod attempts;
pub mod calls;
pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod lastfailed;
mod longrepr;
pub mod merge;
pub mod options;
pub mod record;
mod report_file;
pub mod reports;
pub mod schema;
mod slim;
mod stored;
pub mod tally;
pub mod tee;
pub mod terminal;

pub use github::{Github, GithubOptions};
pub use junit::{Junit, JunitError};
pub use options::{TbStyle, TerminalOptions};
pub use record::RunRecord;
pub use reports::{ReportError, ReportKind, RunReports};
pub use schema::RunReport;
pub use tee::Tee;
pub use terminal::Terminal;
