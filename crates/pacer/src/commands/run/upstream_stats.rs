//! The block of the proxies' statistics that `pacer run` prints after
//! pytest's final line, one paragraph per upstream.

use std::io::Write;

use pacer_limiter::{QuotaOrigin, UpstreamStats};

use crate::upstreams::UpstreamReport;

/// Writes the statistics block printed after pytest's final line.
pub fn print(out: &mut dyn Write, reports: &[UpstreamReport]) -> std::io::Result<()> {
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
        if let Some(b) = &s.backend {
            writeln!(out, "{}", backend_line(b))?;
            for o in &b.outages {
                let lasted = match o.seconds {
                    Some(secs) => format!("for {secs:.1}s, then reconnected"),
                    None => "until the end of the run".to_owned(),
                };
                writeln!(
                    out,
                    "  fell back to memory at rate / {} {lasted} ({}, {})",
                    b.shards,
                    unix_time(o.since_unix),
                    o.reason
                )?;
            }
        }
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
/// Where the limit was kept, when it was shared.
fn backend_line(b: &pacer_limiter::BackendStats) -> String {
    format!(
        "  limit shared through {} (namespace {}): {} admissions there, {} on memory, {} fallback{}, {} reconnect{}",
        b.url,
        pacer_limiter::redact_url(&b.namespace),
        b.shared_admissions,
        b.fallback_admissions,
        b.outages.len(),
        if b.outages.len() == 1 { "" } else { "s" },
        b.reconnects,
        if b.reconnects == 1 { "" } else { "s" },
    )
}

/// Seconds since the epoch as `HH:MM:SS UTC`, which a CI log lines up with.
fn unix_time(secs: f64) -> String {
    let day = secs.max(0.0) as u64 % 86_400;
    format!(
        "at {:02}:{:02}:{:02} UTC",
        day / 3600,
        day / 60 % 60,
        day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pacer_limiter::{RateSnapshot, StatsRecorder};
    use std::time::Duration;

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
        print(&mut out, std::slice::from_ref(&report)).unwrap();
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
        print(&mut out, std::slice::from_ref(&report)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("no request went through this proxy"),
            "{text}"
        );
        assert!(!text.contains("100.0%"), "{text}");
    }
}
