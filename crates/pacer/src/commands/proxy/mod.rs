//! `pacer proxy`: the same rate-limiting proxy as in a run, alone, for use
//! outside a test run (a notebook, a script, another test runner).
//!
//! Upstreams and limits resolve exactly as for `pacer run` (the project's
//! `[tool.pacer]` tables, the environment, the flags), so a proxy started by
//! hand paces like the run's. It listens on loopback unless
//! `--allow-non-loopback` says otherwise, and then it prints a warning.

use pacer_types::exit;

use crate::cli::{CommonArgs, ProxyArgs};
use crate::error::Error;
use crate::session;
use crate::upstreams::upstream_config;

pub fn proxy(args: ProxyArgs) -> Result<i32, Error> {
    let common = CommonArgs {
        directory: args.directory.clone(),
        upstreams: args.upstreams.clone(),
        limits: args.limits.clone(),
        ..CommonArgs::default()
    };
    let settings = session::settings(&common)?;
    // Only the upstreams named on the command line, when any are: the
    // project may list others this proxy is not meant for.
    let named: Vec<&str> = args
        .upstreams
        .iter()
        .filter_map(|u| u.split_once('=').map(|(name, _)| name.trim()))
        .collect();
    let cfgs: Vec<_> = settings
        .upstreams()
        .iter()
        .filter(|u| named.is_empty() || named.contains(&u.name.as_str()))
        .map(|u| upstream_config(u, &settings))
        .collect();
    for warning in crate::upstreams::warnings(&settings) {
        eprintln!("warning: {warning}");
    }
    if cfgs.is_empty() {
        return Err(Error::NoUpstream);
    }
    if !args.bind.is_loopback() && !args.allow_non_loopback {
        return Err(Error::NonLoopbackBind { bind: args.bind });
    }
    if !args.bind.is_loopback() {
        eprintln!(
            "warning: the proxy listens on {}, outside loopback: anyone who can reach it spends the upstreams' rate budget",
            args.bind
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Runtime { source })?;
    runtime
        .block_on(pacer_limiter::run_standalone(
            cfgs,
            args.bind,
            args.port,
            args.allow_non_loopback,
            std::io::stdout(),
        ))
        .map_err(|source| Error::Proxy { source })?;
    Ok(exit::OK)
}
