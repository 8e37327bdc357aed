//! pacer's reporters: they turn the runner's events into output.
//!
//! - [`terminal`]: pytest-shaped terminal output (progress, failures, summary).
//! - [`junit`]: the JUnit XML file of `--junitxml`, written by pacer, not the workers.
//! - [`tee`]: hands every event to several reporters (the terminal and the JUnit file).
//! - [`options`]: what shapes the terminal's output ([`TerminalOptions`]).
//! - [`lastfailed`]: the words pytest's `--lf`/`--ff` print, for `run-last-failure:`.
//! - [`tally`]: outcome counting and pytest's final line, shared by reporters.

pub mod junit;
pub mod lastfailed;
pub mod options;
pub mod tally;
pub mod tee;
pub mod terminal;

pub use junit::{Junit, JunitError};
pub use options::{TbStyle, TerminalOptions};
pub use tee::Tee;
pub use terminal::Terminal;
