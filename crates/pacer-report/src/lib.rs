//! pacer's reporters: they turn the runner's events into output.
//!
//! - [`terminal`]: pytest-shaped terminal output (progress, failures, summary).
//! - [`tally`]: outcome counting and pytest's final line, shared by reporters.

pub mod tally;
pub mod terminal;

pub use terminal::{Terminal, TerminalOptions};
