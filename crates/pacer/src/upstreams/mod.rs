//! The upstream APIs of a session and their proxies, as `pacer run`,
//! `pacer doctor` and `pacer proxy` share them.
//!
//! - [`config`]: from settings to the limiter's configuration and to the
//!   workers' `PACER_UPSTREAM_<NAME>` variables.
//! - [`proxies`]: the proxies' lifecycle: started before the first worker,
//!   stopped after the last test, each worker given a listener of its own.
//! - [`report`]: what the proxies leave for the reports (statistics, calls,
//!   admissions over time).
//!
//! Nothing here knows who reads the reports: `pacer run` puts the calls on
//! its clock (`commands/run/proxy_calls.rs`) and prints the statistics
//! (`commands/run/upstream_stats.rs`).

mod config;
mod proxies;
mod report;

pub use config::{upstream_config, warnings};
pub use proxies::{start, worker_pid, RunProxies, SessionProxies, StartError};
pub use report::{SeriesReport, UpstreamReport};
