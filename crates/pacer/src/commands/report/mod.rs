//! `pacer report`: commands on the JSON reports runs wrote.
//!
//! - `merge.rs`: `pacer report merge OUT_DIR REPORT.json...`, a sharded
//!   run's shards' reports made into the run's reports.

mod merge;

use crate::cli::{ReportArgs, ReportCommand};
use crate::error::Error;

pub fn report(args: ReportArgs) -> Result<i32, Error> {
    match args.command {
        ReportCommand::Merge(args) => merge::merge(&args),
    }
}
