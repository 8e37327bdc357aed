//! Statistics per upstream: counters kept in atomics, read as a snapshot.
//!
//! Every counter is its own atomic, so recording never takes a lock and can
//! never be held across an `.await` (the system pacer replaces deadlocked
//! with five concurrent calls by doing exactly that). A snapshot reads the
//! counters one by one; the ratios are computed so that they stay within
//! `[0, 1]` even if a snapshot catches the counters mid-update.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::backend::BackendStats;
use crate::limiter::{Constraint, QuotaOrigin, RateSnapshot};

/// Live counters of one upstream.
#[derive(Debug, Default)]
pub struct StatsRecorder {
    requests: AtomicU64,
    admitted: AtomicU64,
    retried: AtomicU64,
    seen_429: AtomicU64,
    seen_503: AtomicU64,
    completed: AtomicU64,
    final_failures: AtomicU64,
    upstream_errors: AtomicU64,
    not_replayable: AtomicU64,
    timeouts: AtomicU64,
    out_of_budget: AtomicU64,
    queued_nanos: AtomicU64,
    backoff_nanos: AtomicU64,
    /// The union of the backoff intervals: requests refused together wait
    /// together, so their summed backoff can exceed the run many times over.
    backoff_wall: Mutex<WallTime>,
    /// Things the user should know about the run that are not counts
    /// (an API that asked for a longer wait than pacer allows).
    notices: Mutex<Vec<String>>,
}

/// The length of a union of intervals that arrive in order of their start
/// (each starts "now"). Arithmetic only under its lock.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WallTime {
    covered_until: Option<Instant>,
    total: Duration,
}

impl WallTime {
    /// Adds `[start, start + length)`; only the part not covered yet counts.
    pub(crate) fn add(&mut self, start: Instant, length: Duration) {
        let end = start + length;
        let from = match self.covered_until {
            Some(until) if until >= end => return,
            Some(until) => until.max(start),
            None => start,
        };
        self.total += end - from;
        self.covered_until = Some(end);
    }

    /// The covered time up to `now`: an interval still running counts only
    /// as far as it got.
    pub(crate) fn until(&self, now: Instant) -> Duration {
        let ahead = self
            .covered_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
        self.total.saturating_sub(ahead)
    }
}

fn add_duration(counter: &AtomicU64, d: Duration) {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    counter.fetch_add(nanos, Ordering::Relaxed);
}

impl StatsRecorder {
    /// A request arrived from a client.
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// An attempt (first try or retry) passed admission after `queued`.
    pub fn admitted(&self, queued: Duration) {
        self.admitted.fetch_add(1, Ordering::Relaxed);
        add_duration(&self.queued_nanos, queued);
    }

    /// The upstream answered with `status`; counts 429s and 503s.
    pub fn status(&self, status: u16) {
        match status {
            429 => self.seen_429.fetch_add(1, Ordering::Relaxed),
            503 => self.seen_503.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// A retry is scheduled after `backoff`.
    pub fn retry(&self, backoff: Duration) {
        self.retried.fetch_add(1, Ordering::Relaxed);
        add_duration(&self.backoff_nanos, backoff);
        if let Ok(mut wall) = self.backoff_wall.lock() {
            wall.add(Instant::now(), backoff);
        }
    }

    /// A request got no answer in time (`upstream_timeout` or `max_wait`)
    /// and was answered 504.
    pub fn timed_out(&self) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a notice for the end-of-run statistics and prints it now, on
    /// stderr: a test waiting a minute should not wait in silence.
    pub fn notice(&self, message: String) {
        eprintln!("pacer: warning: {message}");
        tracing::warn!("{message}");
        if let Ok(mut notices) = self.notices.lock() {
            notices.push(message);
        }
    }

    /// A refusal was passed through unretried: the backoff it asked for
    /// did not fit in `max_wait`.
    pub fn out_of_budget(&self) {
        self.out_of_budget.fetch_add(1, Ordering::Relaxed);
    }

    /// A request got a refusal it could not retry (its body was too large
    /// to buffer for replay).
    pub fn not_replayable(&self) {
        self.not_replayable.fetch_add(1, Ordering::Relaxed);
    }

    /// A request finished with the upstream's answer; `refused` when that
    /// answer is still a retry status after the retries ran out.
    pub fn completed(&self, refused: bool) {
        if refused {
            self.final_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    /// A request finished with a 502 because the upstream was unreachable.
    pub fn upstream_error(&self) {
        self.upstream_errors.fetch_add(1, Ordering::Relaxed);
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads the counters; `configured_rate`, `current_rate` and
    /// `rate_decreases` come from the limiter.
    pub fn snapshot(&self, name: &str, rates: RateSnapshot) -> UpstreamStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        // Read the "part" counters before the "whole" ones they are part of:
        // the wholes only grow, so part <= whole holds in the snapshot too.
        let retried = get(&self.retried);
        let final_failures = get(&self.final_failures);
        let upstream_errors = get(&self.upstream_errors);
        let timeouts = get(&self.timeouts);
        let completed = get(&self.completed);
        let admitted = get(&self.admitted);
        let attempts = admitted.max(retried);
        let failed = final_failures + upstream_errors + timeouts;
        let backoff_wall = self
            .backoff_wall
            .lock()
            .map(|w| w.until(Instant::now()))
            .unwrap_or_default();
        UpstreamStats {
            name: name.to_owned(),
            requests: get(&self.requests),
            admitted,
            retried,
            seen_429: get(&self.seen_429),
            seen_503: get(&self.seen_503),
            completed,
            final_failures,
            upstream_errors,
            timeouts,
            out_of_budget: get(&self.out_of_budget),
            not_replayable: get(&self.not_replayable),
            time_queued: Duration::from_nanos(get(&self.queued_nanos)).as_secs_f64(),
            time_in_backoff: Duration::from_nanos(get(&self.backoff_nanos)).as_secs_f64(),
            time_in_backoff_wall: backoff_wall.as_secs_f64(),
            retry_rate: ratio(retried, attempts),
            // Of nothing, nothing succeeded: 0, and printed as "n/a".
            success_rate: ratio(completed.saturating_sub(failed), completed),
            configured_rate: rates.configured,
            current_rate: rates.current,
            rate_decreases: rates.decreases,
            quota: rates.quota.to_string(),
            quota_origin: rates.origin,
            achieved_rate: rates.achieved,
            held_back_by: rates.binding,
            held_back: rates.held.clone(),
            pauses: rates.pauses,
            notices: self.notices.lock().map(|n| n.clone()).unwrap_or_default(),
            backend: None,
        }
    }
}

/// `part / whole` in `[0, 1]`; 0 when `whole` is 0.
pub fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64).clamp(0.0, 1.0)
    }
}

/// A snapshot of one upstream's statistics. Times are seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpstreamStats {
    /// The upstream's name (as in `PACER_UPSTREAM_<NAME>`).
    pub name: String,
    /// Requests received from clients.
    pub requests: u64,
    /// Attempts sent upstream (first tries and retries).
    pub admitted: u64,
    /// Retries (attempts after the first).
    pub retried: u64,
    /// 429 answers seen from the upstream, retried or not.
    pub seen_429: u64,
    /// 503 answers seen from the upstream, retried or not.
    pub seen_503: u64,
    /// Requests answered to the client (by the upstream or with a 502).
    pub completed: u64,
    /// Requests whose final answer was still a retry status.
    pub final_failures: u64,
    /// Requests answered with a 502 because the upstream was unreachable.
    pub upstream_errors: u64,
    /// Requests answered 504: no answer within `upstream_timeout`, or no
    /// turn within `max_wait`.
    pub timeouts: u64,
    /// Refusals passed through unretried because the backoff did not fit
    /// in `max_wait`.
    pub out_of_budget: u64,
    /// Refusals not retried because the body was too large to replay.
    pub not_replayable: u64,
    /// Total time attempts waited for admission (rate and in-flight cap).
    pub time_queued: f64,
    /// Time spent waiting between retries, summed over requests (requests
    /// that wait together each count it).
    pub time_in_backoff: f64,
    /// Wall time during which some request waited between retries (the
    /// union of the waits): never longer than the run.
    pub time_in_backoff_wall: f64,
    /// Retries / attempts, in `[0, 1]`.
    pub retry_rate: f64,
    /// Completed requests that did not fail, after retries, in `[0, 1]`;
    /// 0 when none completed.
    pub success_rate: f64,
    /// The configured rate, requests per second.
    pub configured_rate: f64,
    /// The rate the limiter uses now (settled on, when adaptive).
    pub current_rate: f64,
    /// How many times the adaptive rate was lowered.
    pub rate_decreases: u64,
    /// The quota in force at the end (`"40/s"`, `"2400/min"`).
    pub quota: String,
    /// Where that quota came from.
    pub quota_origin: QuotaOrigin,
    /// Attempts started per second, from the first to the last: what the
    /// upstream really got, whatever was configured.
    pub achieved_rate: f64,
    /// The constraint that held attempts back longest (none if nothing
    /// ever waited).
    pub held_back_by: Option<Constraint>,
    /// Seconds of waiting charged to each constraint.
    pub held_back: Vec<(Constraint, f64)>,
    /// Pauses of every request the upstream asked for (`Retry-After`,
    /// nothing remaining).
    pub pauses: u64,
    /// Notices about the run (an API asking for longer waits than allowed).
    pub notices: Vec<String>,
    /// The shared backend (Redis), when the limit is shared: its URL
    /// (redacted), its admissions, each fallback to memory and reconnect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<BackendStats>,
}

impl UpstreamStats {
    /// One line for a terminal, e.g. for `pacer proxy`'s live display.
    pub fn summary_line(&self) -> String {
        let shared = match &self.backend {
            Some(b) => format!(
                ", shared through {} ({} fallbacks to memory, {} reconnects)",
                b.url,
                b.outages.len(),
                b.reconnects
            ),
            None => String::new(),
        };
        format!(
            "{}: {} requests, {} retried ({:.1}%), {} x 429, {} x 503, {} failed, {} unreachable, \
             {} timed out, success {:.1}%, queued {:.1}s, backoff {:.1}s wall ({:.1}s summed), rate {:.2}/{:.2} req/s, achieved {:.2} req/s{shared}",
            self.name,
            self.requests,
            self.retried,
            self.retry_rate * 100.0,
            self.seen_429,
            self.seen_503,
            self.final_failures,
            self.upstream_errors,
            self.timeouts,
            self.success_rate * 100.0,
            self.time_queued,
            self.time_in_backoff_wall,
            self.time_in_backoff,
            self.current_rate,
            self.configured_rate,
            self.achieved_rate,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates() -> RateSnapshot {
        RateSnapshot {
            configured: 10.0,
            current: 10.0,
            decreases: 0,
            ..RateSnapshot::default()
        }
    }

    #[test]
    fn empty_stats_have_sane_ratios() {
        let s = StatsRecorder::default().snapshot("api", rates());
        assert_eq!(s.retry_rate, 0.0);
        // Issue 11: "success after retries 100.0%" when nothing succeeded.
        assert_eq!(s.success_rate, 0.0);
    }

    #[test]
    fn regression_backoff_wall_time_is_the_union_not_the_sum() {
        let t0 = Instant::now();
        let mut w = WallTime::default();
        // Six requests refused together, each waiting 60 s: one minute.
        for _ in 0..6 {
            w.add(t0, Duration::from_secs(60));
        }
        // Overlapping, then disjoint.
        w.add(t0 + Duration::from_secs(30), Duration::from_secs(60));
        w.add(t0 + Duration::from_secs(200), Duration::from_secs(10));
        assert_eq!(
            w.until(t0 + Duration::from_secs(1000)),
            Duration::from_secs(100)
        );
        // A wait still running counts as far as it got.
        assert_eq!(
            w.until(t0 + Duration::from_secs(205)),
            Duration::from_secs(95)
        );
    }

    #[test]
    fn timeouts_are_failures() {
        let r = StatsRecorder::default();
        r.request();
        r.admitted(Duration::ZERO);
        r.timed_out();
        let s = r.snapshot("api", rates());
        assert_eq!((s.timeouts, s.completed), (1, 1));
        assert_eq!(s.success_rate, 0.0);
    }

    #[test]
    fn retry_rate_is_retries_over_attempts() {
        let r = StatsRecorder::default();
        r.request();
        r.admitted(Duration::ZERO);
        r.status(429);
        r.retry(Duration::from_millis(500));
        r.admitted(Duration::from_millis(100));
        r.status(200);
        r.completed(false);
        let s = r.snapshot("api", rates());
        assert_eq!(
            (s.requests, s.admitted, s.retried, s.seen_429),
            (1, 2, 1, 1)
        );
        assert_eq!(s.retry_rate, 0.5);
        assert_eq!(s.success_rate, 1.0);
        assert!((s.time_in_backoff - 0.5).abs() < 1e-9);
        assert!((s.time_queued - 0.1).abs() < 1e-9);
    }

    #[test]
    fn ratios_never_exceed_one_even_when_every_attempt_fails() {
        // Regression guard: the replaced system's retry_rate exceeded 1
        // because it divided retries by requests.
        let r = StatsRecorder::default();
        for _ in 0..10 {
            r.request();
            r.admitted(Duration::ZERO);
            for _ in 0..5 {
                r.status(429);
                r.retry(Duration::ZERO);
                r.admitted(Duration::ZERO);
            }
            r.status(429);
            r.completed(true);
        }
        r.request();
        r.upstream_error();
        let s = r.snapshot("api", rates());
        assert!(s.retry_rate <= 1.0 && s.retry_rate > 0.8);
        assert_eq!(s.success_rate, 0.0);
        assert_eq!(s.final_failures, 10);
        assert_eq!(s.upstream_errors, 1);
        // Even counters caught mid-update cannot push a ratio above 1.
        assert_eq!(ratio(7, 3), 1.0);
    }

    #[test]
    fn success_rate_counts_failures_after_retries() {
        let r = StatsRecorder::default();
        for i in 0..4 {
            r.request();
            r.admitted(Duration::ZERO);
            r.completed(i == 0);
        }
        let s = r.snapshot("api", rates());
        assert_eq!(s.success_rate, 0.75);
        assert!(s.summary_line().starts_with("api: 4 requests"));
    }

    #[test]
    fn stats_serialize_to_json() {
        let s = StatsRecorder::default().snapshot("api", rates());
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["name"], "api");
        assert_eq!(v["retry_rate"], 0.0);
    }
}
