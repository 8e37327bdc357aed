//! The proxies of a run: one loopback proxy per upstream API, started before
//! the workers and stopped after the last test, with their statistics.
//!
//! The proxies run on a small runtime of their own rather than on the pool's
//! current-thread runtime: the pool's loop may do blocking work (forking,
//! writing to a worker's pipe), and a proxy that stalls meanwhile would hold
//! every test waiting on it. The pool and the proxies share nothing but the
//! URLs handed to the workers in `PACER_UPSTREAM_<NAME>`.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use pacer_limiter::{env_var_name, redact_url, start_proxy, ProxyError, ProxyHandle};
use pacer_settings::Settings;

use super::config::{direct_env, upstream_config, wanted, warnings, worker_env};
use super::report::UpstreamReport;

/// The proxies a session runs with, if it needs any, and the variables its
/// workers get: the proxies' addresses, or each upstream's own URL when no
/// proxy runs.
pub struct SessionProxies {
    pub running: Option<RunProxies>,
    pub env: Vec<(String, String)>,
}

/// Starts the proxies a session needs ([`wanted`]: rate limiting on,
/// upstreams configured, a rate-limited category selected), before its
/// first worker, so that module-level code already sees
/// `PACER_UPSTREAM_<NAME>`.
pub fn start(
    settings: &Settings,
    rate_limited_selected: bool,
) -> Result<SessionProxies, StartError> {
    let running = if wanted(settings, rate_limited_selected) {
        Some(RunProxies::start(settings)?)
    } else {
        None
    };
    let env = match &running {
        Some(p) => p.env(),
        None => direct_env(settings),
    };
    Ok(SessionProxies { running, env })
}

impl SessionProxies {
    /// Stops the proxies, if any ran, and returns their final statistics.
    pub fn shutdown(self) -> Vec<UpstreamReport> {
        self.running.map(RunProxies::shutdown).unwrap_or_default()
    }
}

/// The proxies of a run and the runtime that serves them.
pub struct RunProxies {
    runtime: tokio::runtime::Runtime,
    handles: Vec<ProxyHandle>,
}

/// Why the proxies could not start: the upstream and the limiter's reason.
#[derive(Debug)]
pub struct StartError {
    pub upstream: String,
    pub source: ProxyError,
    /// A usage error (a bad setting), as opposed to the machine's refusal.
    pub usage: bool,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "failed to start the proxy for upstream {:?}: {}",
            self.upstream, self.source
        )?;
        let mut cause = std::error::Error::source(&self.source);
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

impl RunProxies {
    /// Starts one proxy per upstream on 127.0.0.1, each on an ephemeral port.
    pub fn start(settings: &Settings) -> Result<Self, StartError> {
        for warning in warnings(settings) {
            eprintln!("warning: {warning}");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pacer-proxy")
            .enable_all()
            .build()
            .map_err(|e| StartError {
                upstream: String::new(),
                source: ProxyError::Output(e),
                usage: false,
            })?;
        let mut handles = Vec::new();
        for upstream in settings.upstreams() {
            let cfg = upstream_config(upstream, settings);
            let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
            match runtime.block_on(start_proxy(cfg, bind)) {
                Ok(handle) => handles.push(handle),
                Err(source) => {
                    let usage = matches!(
                        source,
                        ProxyError::InvalidConfig { .. }
                            | ProxyError::CaFile { .. }
                            | ProxyError::Backend { .. }
                    );
                    // Stop the ones already started before reporting.
                    for h in handles {
                        runtime.block_on(h.shutdown());
                    }
                    return Err(StartError {
                        upstream: upstream.name.clone(),
                        source,
                        usage,
                    });
                }
            }
        }
        Ok(RunProxies { runtime, handles })
    }

    /// `PACER_UPSTREAM_<NAME>=http://127.0.0.1:<port>` for every proxy, and
    /// [`UPSTREAMS_VAR`], and `PACER_UPSTREAM_<NAME>_MAX_WAIT` (seconds):
    /// the longest the proxy takes to answer, from which
    /// `pacer_requests`/`pacer_httpx` set their read timeout.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = worker_env(self.handles.iter().map(|h| (h.name(), h.url())));
        env.extend(self.handles.iter().map(|h| {
            let max_wait = h.config().limits.max_wait.as_secs_f64().to_string();
            (format!("{}_MAX_WAIT", env_var_name(h.name())), max_wait)
        }));
        env
    }

    /// Each worker's own `PACER_UPSTREAM_<NAME>`: a listener per worker
    /// and upstream, so the proxy knows whose calls it paces. Should a
    /// listener fail to open, the worker gets the shared address.
    pub fn worker_env(&self) -> pacer_runner::pool::WorkerEnv {
        let shared = self.env();
        let own: Vec<_> = self
            .handles
            .iter()
            .map(|h| (env_var_name(h.name()), h.listeners()))
            .collect();
        std::sync::Arc::new(move |worker: &str| {
            // The zygote runs no test: what its modules read at import, its
            // forks keep, and the shared address traces each call to the
            // fork that made it (`worker_pid`).
            let mut env = shared.clone();
            if worker == "zygote" {
                return env;
            }
            for (var, url) in &mut env {
                if let Some((_, listeners)) = own.iter().find(|(v, _)| v == var) {
                    if let Ok(mine) = listeners.url(worker) {
                        *url = mine;
                    }
                }
            }
            env
        })
    }

    /// Stops the proxies (open requests get a short grace) and returns their
    /// final statistics.
    pub fn shutdown(self) -> Vec<UpstreamReport> {
        let RunProxies { runtime, handles } = self;
        let reports = handles
            .into_iter()
            .map(|h| {
                let upstream_url = redact_url(&h.config().url);
                let proxy_url = h.url();
                let env_var = env_var_name(h.name());
                let log = h.call_log();
                let stats = runtime.block_on(h.shutdown());
                UpstreamReport {
                    upstream_url,
                    proxy_url,
                    env_var,
                    stats,
                    series: None,
                    calls: Some(log.snapshot()),
                }
            })
            .collect();
        runtime.shutdown_timeout(Duration::from_secs(1));
        reports
    }
}

/// Tells the proxies each worker's pid, so that a call on the shared
/// address (a forked worker's client built in the zygote) is traced to it.
pub fn worker_pid() -> pacer_runner::pool::WorkerPid {
    std::sync::Arc::new(|name: &str, pid: u32| pacer_limiter::register_worker_pid(pid, name))
}
