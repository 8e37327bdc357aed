//! `pacer proxy`: the same rate-limiting proxy as in a run, alone, for use
//! outside a test run (a notebook, a script, another test runner).
//!
//! Upstreams and limits resolve exactly as for `pacer run` (the project's
//! `[tool.pacer]` tables, the environment, the flags), so a proxy started by
//! hand paces like the run's. It listens on loopback unless
//! `--allow-non-loopback` says otherwise, and then it prints a warning.

use pacer_runner::pool::exit;

use crate::cli::{CommonArgs, ProxyArgs};
use crate::upstreams::upstream_config;

pub fn proxy(args: ProxyArgs) -> i32 {
    let common = CommonArgs {
        directory: args.directory.clone(),
        upstreams: args.upstreams.clone(),
        limits: args.limits.clone(),
        ..CommonArgs::default()
    };
    let settings = match crate::run::settings(&common) {
        Ok(s) => s,
        Err(code) => return code,
    };
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
        .map(upstream_config)
        .collect();
    for warning in crate::upstreams::warnings(&settings) {
        eprintln!("warning: {warning}");
    }
    if cfgs.is_empty() {
        eprintln!(
            "error: no upstream to proxy\n\nhint: pass --upstream NAME=URL, or add [tool.pacer.upstreams.NAME] with a `url` to pyproject.toml"
        );
        return exit::USAGE_ERROR;
    }
    if !args.bind.is_loopback() && !args.allow_non_loopback {
        eprintln!(
            "error: refusing to listen on {}, which is not a loopback address: anyone who can reach it spends your rate budget\n\nhint: pass --allow-non-loopback to bind there anyway, or leave --bind at 127.0.0.1",
            args.bind
        );
        return exit::USAGE_ERROR;
    }
    if !args.bind.is_loopback() {
        eprintln!(
            "warning: the proxy listens on {}, outside loopback: anyone who can reach it spends the upstreams' rate budget",
            args.bind
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return exit::INTERNAL_ERROR;
        }
    };
    let result = runtime.block_on(pacer_limiter::run_standalone(
        cfgs,
        args.bind,
        args.port,
        args.allow_non_loopback,
        std::io::stdout(),
    ));
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            let usage = matches!(
                e,
                pacer_limiter::ProxyError::InvalidConfig { .. }
                    | pacer_limiter::ProxyError::CaFile { .. }
                    | pacer_limiter::ProxyError::NonLoopback { .. }
                    | pacer_limiter::ProxyError::Bind { .. }
            );
            let mut message = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                message.push_str(&format!(": {c}"));
                cause = c.source();
            }
            eprintln!("error: failed to run the proxy: {message}\n\nhint: check --upstream, --port and --bind");
            if usage {
                exit::USAGE_ERROR
            } else {
                exit::INTERNAL_ERROR
            }
        }
    }
}
