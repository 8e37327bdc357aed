//! The proxies of a run: one loopback proxy per upstream API, started before
//! the workers and stopped after the last test, with their statistics.
//!
//! The proxies run on a small runtime of their own rather than on the pool's
//! current-thread runtime: the pool's loop may do blocking work (forking,
//! writing to a worker's pipe), and a proxy that stalls meanwhile would hold
//! every test waiting on it. The pool and the proxies share nothing but the
//! URLs handed to the workers in `PACER_UPSTREAM_<NAME>`.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use pacer_limiter::{
    env_var_name, redact_url, start_proxy, CallsSnapshot, ProxyError, ProxyHandle, QuotaOrigin,
    UpstreamConfig, UpstreamStats,
};
use pacer_settings::{Settings, Upstream};
use serde::Serialize;

/// The limiter's view of an upstream as configured in pacer's settings:
/// the limits are the limiter's own type, passed as they are.
pub fn upstream_config(upstream: &Upstream) -> UpstreamConfig {
    UpstreamConfig {
        name: upstream.name.clone(),
        url: upstream.url.clone(),
        limits: upstream.limits.clone(),
        rate_configured: upstream.rate_configured(),
    }
}

/// Warnings to print before the run: limits that cap the rate below `rate`
/// whatever the API allows (a long `min_delay`, a small `max_concurrent`).
pub fn warnings(settings: &Settings) -> Vec<String> {
    settings
        .upstreams()
        .iter()
        .flat_map(|u| {
            u.limits
                .warnings()
                .into_iter()
                .map(move |w| format!("upstream {}: {w}", u.name))
        })
        .collect()
}

/// Whether this run needs proxies: rate limiting is on, upstreams are
/// configured, and some selected category is rate limited.
pub fn wanted(settings: &Settings, selected_rate_limited: bool) -> bool {
    settings.rate_limit_enabled().value && selected_rate_limited && !settings.upstreams().is_empty()
}

/// The variables workers get when no proxy runs (rate limiting turned off):
/// each upstream's own URL, so tests written against `PACER_UPSTREAM_<NAME>`
/// still run, unpaced.
pub fn direct_env(settings: &Settings) -> Vec<(String, String)> {
    worker_env(
        settings
            .upstreams()
            .iter()
            .map(|u| (u.name.as_str(), u.url.clone())),
    )
}

/// Set for the workers beside the URLs: each upstream's name and the
/// variable its URL is in, as JSON. The worker plugin's `pacer_upstream(name)`
/// (`fixtures.py`) looks the name up here, so pacer alone names the variables.
pub const UPSTREAMS_VAR: &str = "PACER_UPSTREAMS";

/// `PACER_UPSTREAM_<NAME>=URL` for each `(name, URL)`, and [`UPSTREAMS_VAR`].
fn worker_env<'a>(upstreams: impl Iterator<Item = (&'a str, String)>) -> Vec<(String, String)> {
    let mut names = serde_json::Map::new();
    let mut env = Vec::new();
    for (name, url) in upstreams {
        let var = env_var_name(name);
        names.insert(name.to_owned(), var.clone().into());
        env.push((var, url));
    }
    if !names.is_empty() {
        env.push((
            UPSTREAMS_VAR.to_owned(),
            serde_json::Value::Object(names).to_string(),
        ));
    }
    env
}

/// One upstream's part of the run's report: where it was reached and how
/// its calls went. Serialised as is into the JSON/HTML reports.
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamReport {
    /// The upstream's base URL, its userinfo (credentials) redacted.
    pub upstream_url: String,
    /// The proxy's URL, as given to the workers.
    pub proxy_url: String,
    /// The variable that carried `proxy_url`.
    pub env_var: String,
    /// The proxy's statistics at the end of the run.
    pub stats: UpstreamStats,
    /// Admissions over time, since the run started (`proxy_calls::attach`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<crate::commands::run::proxy_calls::SeriesReport>,
    /// Every call, for charging tests their waits; not written as is.
    #[serde(skip)]
    pub calls: Option<CallsSnapshot>,
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
            let cfg = upstream_config(upstream);
            let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
            match runtime.block_on(start_proxy(cfg, bind)) {
                Ok(handle) => handles.push(handle),
                Err(source) => {
                    let usage = matches!(
                        source,
                        ProxyError::InvalidConfig { .. } | ProxyError::CaFile { .. }
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

/// Writes the statistics block printed after pytest's final line.
pub fn print_stats(out: &mut dyn Write, reports: &[UpstreamReport]) -> std::io::Result<()> {
    if reports.is_empty() {
        return Ok(());
    }
    let title = " rate-limited upstreams ";
    let side = (80usize.saturating_sub(title.len())) / 2;
    writeln!(
        out,
        "{}{title}{}",
        "-".repeat(side),
        "-".repeat(80 - side - title.len())
    )?;
    for r in reports {
        let s = &r.stats;
        writeln!(out, "{} ({}) via {}", s.name, r.upstream_url, r.proxy_url)?;
        writeln!(
            out,
            "  requests {}, retried {}, 429 seen {}, 503 seen {}, final failures {}{}",
            s.requests,
            s.retried,
            s.seen_429,
            s.seen_503,
            s.final_failures,
            if s.upstream_errors > 0 {
                format!(", unreachable {}", s.upstream_errors)
            } else {
                String::new()
            }
        )?;
        let mut more = Vec::new();
        if s.timeouts > 0 {
            more.push(format!("timed out (504) {}", s.timeouts));
        }
        if s.out_of_budget > 0 {
            more.push(format!(
                "refusals passed on at max_wait {}",
                s.out_of_budget
            ));
        }
        if s.not_replayable > 0 {
            more.push(format!(
                "refusals not retried (body over max_body_bytes) {}",
                s.not_replayable
            ));
        }
        if !more.is_empty() {
            writeln!(out, "  {}", more.join(", "))?;
        }
        if s.requests == 0 {
            // Ratios of nothing are not 100%.
            writeln!(out, "  no request went through this proxy")?;
        } else {
            // Requests refused together wait together: the wall time is
            // what the run lost, the sum what the requests did.
            let success = if s.completed == 0 {
                "n/a".to_owned()
            } else {
                format!("{:.1}%", s.success_rate * 100.0)
            };
            writeln!(
                out,
                "  time queued {:.1}s, time in backoff {:.1}s wall ({:.1}s summed over requests), retry rate {:.1}%, success after retries {success}",
                s.time_queued,
                s.time_in_backoff_wall,
                s.time_in_backoff,
                s.retry_rate * 100.0,
            )?;
        }
        for notice in &s.notices {
            writeln!(out, "  {notice}")?;
        }
        let settled = if (s.current_rate - s.configured_rate).abs() < 1e-9 {
            let from = match s.quota_origin {
                QuotaOrigin::Default => "the default",
                QuotaOrigin::Advertised => "advertised by the API",
                _ => "as configured",
            };
            format!("  rate limit {:.2} req/s ({from})", s.current_rate)
        } else {
            format!(
                "  rate settled at {:.2} req/s (configured {:.2}, lowered {} time{})",
                s.current_rate,
                s.configured_rate,
                s.rate_decreases,
                if s.rate_decreases == 1 { "" } else { "s" }
            )
        };
        writeln!(out, "{settled}")?;
        writeln!(out, "{}", achieved_line(s))?;
    }
    out.flush()
}

/// What the upstream really got, and why not more: the achieved rate, the
/// quota in force (and whether the API's headers set it), and the
/// constraint that held requests back longest.
fn achieved_line(s: &UpstreamStats) -> String {
    let quota = match s.quota_origin {
        QuotaOrigin::Configured => format!("quota {}", s.quota),
        QuotaOrigin::Default => format!("quota {} (the default)", s.quota),
        QuotaOrigin::Advertised => format!("quota {} (advertised by the API)", s.quota),
        QuotaOrigin::LoweredByApi => {
            format!(
                "quota {} (advertised by the API, below the configured one)",
                s.quota
            )
        }
        QuotaOrigin::LearnedFromRefusals => {
            format!("quota {} (learned from the API's refusals)", s.quota)
        }
    };
    let held = match s.held_back_by {
        Some(c) => {
            let secs = s
                .held_back
                .iter()
                .find(|(k, _)| *k == c)
                .map_or(0.0, |(_, v)| *v);
            format!("held back mostly by {} ({secs:.1}s in all)", c.describe())
        }
        None => "nothing held requests back".to_owned(),
    };
    let pauses = match s.pauses {
        0 => String::new(),
        1 => ", paused once by the upstream".to_owned(),
        n => format!(", paused {n} times by the upstream"),
    };
    format!(
        "  achieved {:.2} req/s, {quota}; {held}{pauses}",
        s.achieved_rate
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pacer_limiter::{RateSnapshot, StatsRecorder};

    #[test]
    fn the_stats_block_names_every_figure() {
        let recorder = StatsRecorder::default();
        recorder.request();
        recorder.admitted(Duration::from_millis(300));
        recorder.status(429);
        recorder.retry(Duration::from_millis(500));
        recorder.admitted(Duration::ZERO);
        recorder.status(200);
        recorder.completed(false);
        let stats = recorder.snapshot(
            "api",
            RateSnapshot {
                configured: 20.0,
                current: 14.0,
                decreases: 1,
                ..RateSnapshot::default()
            },
        );
        let report = UpstreamReport {
            upstream_url: "http://127.0.0.1:9".into(),
            proxy_url: "http://127.0.0.1:10".into(),
            env_var: "PACER_UPSTREAM_API".into(),
            stats,
            series: None,
            calls: None,
        };
        let mut out = Vec::new();
        print_stats(&mut out, std::slice::from_ref(&report)).unwrap();
        let text = String::from_utf8(out).unwrap();
        for needle in [
            "rate-limited upstreams",
            "api (http://127.0.0.1:9) via http://127.0.0.1:10",
            "requests 1, retried 1, 429 seen 1, 503 seen 0, final failures 0",
            "time queued 0.3s, time in backoff 0.0s wall (0.5s summed over requests), retry rate 50.0%, success after retries 100.0%",
            "rate settled at 14.00 req/s (configured 20.00, lowered 1 time)",
        ] {
            assert!(text.contains(needle), "{needle:?} not in\n{text}");
        }
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["stats"]["seen_429"], 1);
        assert_eq!(json["env_var"], "PACER_UPSTREAM_API");
    }

    #[test]
    fn workers_get_each_url_and_the_variable_each_name_is_in() {
        let env = worker_env(
            [
                ("my-api", "http://a".to_owned()),
                ("b.2", "http://b".to_owned()),
            ]
            .into_iter(),
        );
        assert_eq!(
            env[0],
            ("PACER_UPSTREAM_MY_API".to_owned(), "http://a".to_owned())
        );
        assert_eq!(
            env[1],
            ("PACER_UPSTREAM_B_2".to_owned(), "http://b".to_owned())
        );
        assert_eq!(env[2].0, UPSTREAMS_VAR);
        let names: serde_json::Value = serde_json::from_str(&env[2].1).unwrap();
        assert_eq!(
            names,
            serde_json::json!({"my-api": "PACER_UPSTREAM_MY_API", "b.2": "PACER_UPSTREAM_B_2"})
        );
        assert!(worker_env(std::iter::empty()).is_empty());
    }

    #[test]
    fn a_proxy_nobody_used_claims_no_success_rate() {
        let stats = StatsRecorder::default().snapshot("api", RateSnapshot::default());
        let report = UpstreamReport {
            upstream_url: "http://127.0.0.1:9".into(),
            proxy_url: "http://127.0.0.1:10".into(),
            env_var: "PACER_UPSTREAM_API".into(),
            stats,
            series: None,
            calls: None,
        };
        let mut out = Vec::new();
        print_stats(&mut out, std::slice::from_ref(&report)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("no request went through this proxy"),
            "{text}"
        );
        assert!(!text.contains("100.0%"), "{text}");
    }
}
