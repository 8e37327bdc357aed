//! `pacer proxy`: the proxies alone, outside a test run, with live statistics.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::error::ProxyError;
use crate::proxy::{start_proxy_with, ProxyHandle, ProxyOptions};
use crate::rate_limit::{env_var_name, UpstreamConfig};

/// How often the live statistics line is printed.
pub const STATS_INTERVAL: Duration = Duration::from_secs(5);

/// Runs one proxy per upstream until Ctrl-C, writing to `out`: each
/// upstream's address first, then every [`STATS_INTERVAL`] a statistics line
/// per upstream that saw traffic since the last one, and the final
/// statistics at the end.
///
/// With `port`, the first upstream listens on it and the next ones on the
/// following ports; without, each gets an ephemeral port.
pub async fn run_standalone(
    cfgs: Vec<UpstreamConfig>,
    bind_ip: IpAddr,
    port: Option<u16>,
    allow_non_loopback: bool,
    out: impl Write,
) -> Result<(), ProxyError> {
    let ctrl_c = async { tokio::signal::ctrl_c().await.map_err(ProxyError::Signal) };
    run_until(
        cfgs,
        bind_ip,
        port,
        allow_non_loopback,
        out,
        STATS_INTERVAL,
        ctrl_c,
    )
    .await
}

/// [`run_standalone`] stopping when `stop` completes, printing every
/// `interval`; tests drive it without signals.
pub async fn run_until(
    cfgs: Vec<UpstreamConfig>,
    bind_ip: IpAddr,
    port: Option<u16>,
    allow_non_loopback: bool,
    mut out: impl Write,
    interval: Duration,
    stop: impl std::future::Future<Output = Result<(), ProxyError>>,
) -> Result<(), ProxyError> {
    let opts = ProxyOptions {
        allow_non_loopback,
        ..ProxyOptions::default()
    };
    let mut proxies: Vec<ProxyHandle> = Vec::with_capacity(cfgs.len());
    for (i, cfg) in cfgs.into_iter().enumerate() {
        let port = match port {
            Some(p) => p
                .checked_add(i as u16)
                .ok_or_else(|| ProxyError::InvalidConfig {
                    upstream: cfg.name.clone(),
                    reason: format!("no port left after {p} for upstream number {}", i + 1),
                })?,
            None => 0,
        };
        let proxy = start_proxy_with(cfg, SocketAddr::new(bind_ip, port), opts.clone()).await?;
        proxies.push(proxy);
    }
    let print =
        |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(ProxyError::Output);
    if !bind_ip.is_loopback() {
        print(
            &mut out,
            format!("warning: listening on {bind_ip}, outside loopback: anyone who can reach it spends the upstreams' rate budget"),
        )?;
    }
    for p in &proxies {
        print(
            &mut out,
            format!(
                "{} -> {}  ({}={})",
                p.url(),
                crate::url::redact_url(&p.config().url),
                env_var_name(p.name()),
                p.url()
            ),
        )?;
    }
    out.flush().map_err(ProxyError::Output)?;

    tokio::pin!(stop);
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await; // the first tick is immediate
    let mut last_seen: Vec<u64> = vec![0; proxies.len()];
    let stopped = loop {
        tokio::select! {
            result = &mut stop => break result,
            _ = ticker.tick() => {
                for (p, seen) in proxies.iter().zip(last_seen.iter_mut()) {
                    let stats = p.stats();
                    // Quiet while idle, so a long-running proxy's log shows activity.
                    if stats.requests != *seen {
                        *seen = stats.requests;
                        print(&mut out, stats.summary_line())?;
                    }
                }
                out.flush().map_err(ProxyError::Output)?;
            }
        }
    };
    print(&mut out, "final statistics:".to_owned())?;
    for p in proxies {
        let stats = p.shutdown().await;
        print(&mut out, stats.summary_line())?;
    }
    out.flush().map_err(ProxyError::Output)?;
    stopped
}
