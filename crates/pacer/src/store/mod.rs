//! What pacer keeps between runs, read when a run takes shape
//! (`session/tune.rs`) and written after it (`commands/run/stores.rs`):
//!
//! - [`durations`]: the tests' recorded durations, in pacer's store in
//!   pytest's cache folder and in pytest-split's `.test_durations`, so that
//!   the heaviest tests start first.
//! - [`lastfailed`]: pytest's `lastfailed`, kept for the whole run as
//!   xdist's controller keeps it, for `--lf` and `--ff`.
//! - [`last_run`]: the last run's JSON report, for `pacer bisect TEST` and
//!   `pacer replay` after a run that wrote none.
//! - [`cpu_times`]: each test's wall and CPU seconds, so that
//!   `workers = "auto"` sizes the pool for a suite that waits (issue 21).
//! - [`cache`]: JSON values in pytest's cache folder (and `.pacer/`), read and written as
//!   pytest's cache provider does.

pub mod cache;
pub mod cpu_times;
pub mod durations;
pub mod last_run;
pub mod lastfailed;
