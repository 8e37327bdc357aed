//! Step 3 of `pacer run`: the upstreams' proxies, started before the first
//! worker so that module-level code already sees `PACER_UPSTREAM_<NAME>`
//! (it is in every worker's launch environment), and wired into the pool:
//! its `worker_env` hook gives each worker a listener of its own, its
//! `worker_pid` hook tells the proxies each worker's pid, so that every
//! call is charged to the test that made it. They stop after the last
//! test, the rerun's included (`reports.rs`).

use pacer_runner::pool::RunConfig;
use pacer_settings::Settings;

use crate::error::Error;
use crate::upstreams::{self, RunProxies, SessionProxies};

/// Starts the proxies the run needs, if any, and hands the pool their
/// addresses (or, with rate limiting off, each upstream's own URL).
pub fn start(settings: &Settings, config: &mut RunConfig) -> Result<SessionProxies, Error> {
    let limited_selected = config
        .categories
        .iter()
        .any(|c| c.selected && c.rate_limited);
    let proxies =
        upstreams::start(settings, limited_selected).map_err(|error| Error::Proxies { error })?;
    config.launch.env.extend(proxies.env.iter().cloned());
    config.worker_env = proxies.running.as_ref().map(RunProxies::worker_env);
    config.worker_pid = proxies.running.as_ref().map(|_| upstreams::worker_pid());
    Ok(proxies)
}
