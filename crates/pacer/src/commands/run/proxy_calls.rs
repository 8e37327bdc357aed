//! The proxies' call logs, moved onto the run's clock: each call goes to
//! the run's record (which charges every test its own limiter waits and
//! 429 retries), and each upstream's admissions series goes into its part
//! of the report.

use std::time::Instant;

use pacer_report::calls::ProxyCall;
use pacer_report::RunRecord;

use crate::upstreams::{SeriesReport, UpstreamReport};

/// `a - b` in seconds, either way round.
fn since(a: Instant, b: Instant) -> f64 {
    match a.checked_duration_since(b) {
        Some(d) => d.as_secs_f64(),
        None => -b.duration_since(a).as_secs_f64(),
    }
}

fn micros(x: f64) -> f64 {
    (x * 1e6).round() / 1e6 + 0.0
}

/// Hands every upstream's calls to `record` and fills in its series.
pub fn attach(record: &mut RunRecord, mut upstreams: Vec<UpstreamReport>) -> Vec<UpstreamReport> {
    let origin = record.origin();
    let mut calls = Vec::new();
    for u in &mut upstreams {
        let Some(snap) = &u.calls else { continue };
        let offset = since(snap.origin, origin);
        let name = u.stats.name.clone();
        for c in &snap.calls {
            calls.push(ProxyCall {
                upstream: name.clone(),
                worker: c.worker.as_deref().map(String::from),
                arrival: c.arrival + offset,
                done: c.done + offset,
                queued: c.queued,
                waits: c
                    .waits
                    .iter()
                    .map(|(a, b)| (a + offset, b + offset))
                    .collect(),
                retries_429: c.retries_429.iter().map(|t| t + offset).collect(),
                count: 1,
                request: Some(c.request.to_string()),
            });
        }
        for f in &snap.folded {
            // Folded calls keep their span, not their place in it.
            let at = f.from + f.span / 2.0 + offset;
            calls.push(ProxyCall {
                upstream: name.clone(),
                worker: f.worker.as_deref().map(String::from),
                arrival: at,
                done: at,
                queued: f.queued,
                waits: Vec::new(),
                retries_429: vec![at; f.retries_429 as usize],
                count: f.calls,
                request: None,
            });
        }
        let s = &snap.series;
        u.series = Some(SeriesReport {
            start: micros(offset),
            step: s.step,
            admitted: s.admitted.clone(),
            seen_429: s.seen_429.clone(),
            limit: s.limit.clone(),
        });
    }
    record.set_proxy_calls(calls);
    upstreams
}
