//! pacer's vocabulary, spoken by every other crate.
//!
//! - [`exit`]: the one exit-code table (pytest's codes, which pacer keeps).
//! - [`Outcome`], [`Phase`], [`Status`]: what one phase of one test did, as
//!   pytest reports it; parsed from the worker's wire strings by serde, so no
//!   crate compares those strings again, and written as the same words in
//!   the run's JSON report.
//! - [`FlakyResult`]: whether a flaky test fails the run.
//! - [`StopReason`]: why a run ended before every test ran (serde writes
//!   and reads it as the line pytest prints).
//! - [`Collection`]: whether the workers collect the whole suite or a share.
//! - [`Kind`]: whether a category's tests are bound by the cores or wait.
//! - [`Shard`]: one CI job's part of a run (`--shard K/N`).
//!
//! It depends on nothing but serde, so that the runner, the reporters, the
//! settings and the binary can all name these types without depending on
//! each other.

mod collection;
pub mod exit;
mod kind;
mod outcome;
mod shard;
mod stop;

pub use collection::Collection;
pub use kind::Kind;
pub use outcome::{FlakyResult, Outcome, Phase, Status, UnknownWord};
pub use shard::Shard;
pub use stop::StopReason;
