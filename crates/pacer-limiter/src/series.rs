//! What a run's report needs from a proxy beyond its counters: every call
//! with the worker that sent it and when it waited in the limiter (so that
//! the report can charge each test its own waits and 429 retries), and the
//! admissions per time bucket (the rate the upstream really got, over time).
//!
//! The worker is known from the listener a call arrived on (each worker
//! gets its own, see `listeners.rs`), not from a header, so any HTTP client
//! a test uses is attributed. The log is bounded: past [`MAX_CALLS`] calls,
//! further calls are folded into one entry per worker and second, which
//! keeps their counts and waits but not where in the second they waited
//! (past [`MAX_FOLDED`] such entries, the span doubles).
//! The series is bounded too: past [`MAX_BUCKETS`] buckets, neighbouring
//! buckets merge and the bucket doubles.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Calls kept one by one; later ones are folded per worker and second.
pub const MAX_CALLS: usize = 50_000;
/// Folded entries kept before their span doubles (a proxy left running
/// for days, as `pacer proxy` may be, stays bounded).
pub const MAX_FOLDED: usize = 50_000;
/// Buckets kept in the series before two neighbours merge.
pub const MAX_BUCKETS: usize = 2_048;
/// Wait spans kept per call (one per attempt); a call retried more often
/// keeps its first ones, and its total wait stays exact.
const MAX_SPANS: usize = 16;

/// One call a client made through the proxy. Times are seconds since the
/// log's origin ([`CallsSnapshot::origin`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The worker whose listener it came in on (`gw3`); `None` on the
    /// proxy's shared address.
    pub worker: Option<Arc<str>>,
    /// When it reached the proxy.
    pub arrival: f64,
    /// When its answer was handed back (headers, not the body's end).
    pub done: f64,
    /// Seconds its attempts waited for admission, summed (what the
    /// statistics' `time_queued` sums over every call).
    pub queued: f64,
    /// `[from, to]` of each attempt's wait for admission.
    pub waits: Vec<(f64, f64)>,
    /// Retries of this call, for any retry status.
    pub retries: u32,
    /// When each retry after a 429 was decided (the refusal's arrival).
    pub retries_429: Vec<f64>,
    /// The status handed back (a 502 of the proxy's own included).
    pub status: u16,
    /// The request as a test's `touched.api` names it: method and path
    /// (`GET /users`), the query left out.
    pub request: Arc<str>,
}

/// Calls of one worker within one span (a second, longer once there are
/// too many), once the log is full.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedCalls {
    pub worker: Option<Arc<str>>,
    /// The span's start, seconds since the origin.
    pub from: f64,
    /// The span's length in seconds.
    pub span: f64,
    pub calls: u64,
    pub queued: f64,
    pub retries_429: u64,
}

/// Admissions per bucket, from the origin on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Series {
    /// A bucket's length in seconds.
    pub step: f64,
    /// Attempts admitted (first tries and retries) per bucket: the series
    /// sums to the statistics' `admitted`.
    pub admitted: Vec<u64>,
    /// 429 answers per bucket.
    pub seen_429: Vec<u64>,
    /// The lowest rate the limiter paced to during the bucket, requests
    /// per second (the configured or learned quota, lowered by AIMD);
    /// `None` for a bucket without admissions.
    pub limit: Vec<Option<f64>>,
}

/// Everything the log holds, read at once.
#[derive(Debug, Clone)]
pub struct CallsSnapshot {
    /// The moment its times count from.
    pub origin: Instant,
    pub calls: Vec<Call>,
    pub folded: Vec<FoldedCalls>,
    pub series: Series,
}

#[derive(Debug, Default)]
struct Inner {
    calls: Vec<Call>,
    folded: BTreeMap<(Option<Arc<str>>, u64), FoldedCalls>,
    /// Seconds a folded entry spans.
    fold_span: u64,
    step: u32,
    admitted: Vec<u64>,
    seen_429: Vec<u64>,
    limit: Vec<Option<f64>>,
}

impl Inner {
    /// The bucket for `at`, growing (and, past the bound, coarsening) the series.
    fn bucket(&mut self, at: f64) -> usize {
        loop {
            let i = (at / f64::from(self.step)).floor().max(0.0) as usize;
            if i < MAX_BUCKETS {
                if self.admitted.len() <= i {
                    self.admitted.resize(i + 1, 0);
                    self.seen_429.resize(i + 1, 0);
                    self.limit.resize(i + 1, None);
                }
                return i;
            }
            self.coarsen();
        }
    }

    /// Doubles the folded entries' span, merging neighbours.
    fn widen_folds(&mut self) {
        let span = self.fold_span.max(1) * 2;
        self.fold_span = span;
        let old = std::mem::take(&mut self.folded);
        for ((worker, from), f) in old {
            let from = from / span * span;
            let entry = self
                .folded
                .entry((worker, from))
                .or_insert_with(|| FoldedCalls {
                    from: from as f64,
                    span: span as f64,
                    calls: 0,
                    queued: 0.0,
                    retries_429: 0,
                    ..f.clone()
                });
            entry.calls += f.calls;
            entry.queued += f.queued;
            entry.retries_429 += f.retries_429;
        }
    }

    fn coarsen(&mut self) {
        self.step *= 2;
        let pairs = |v: &[u64]| v.chunks(2).map(|c| c.iter().sum()).collect::<Vec<u64>>();
        self.admitted = pairs(&self.admitted);
        self.seen_429 = pairs(&self.seen_429);
        self.limit = self
            .limit
            .chunks(2)
            .map(|c| c.iter().flatten().copied().reduce(f64::min))
            .collect();
    }
}

/// The log of one upstream's calls and its admissions series.
#[derive(Debug)]
pub struct CallLog {
    origin: Instant,
    inner: Mutex<Inner>,
}

impl Default for CallLog {
    fn default() -> Self {
        Self::new()
    }
}

impl CallLog {
    /// A log whose times count from now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            inner: Mutex::new(Inner {
                step: 1,
                ..Inner::default()
            }),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Plain bookkeeping that cannot be left half done: keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds since the origin.
    pub fn now(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    /// An attempt was admitted now, paced to `limit` requests per second.
    pub fn admitted(&self, limit: f64) {
        let at = self.now();
        let mut inner = self.inner();
        let i = inner.bucket(at);
        inner.admitted[i] += 1;
        let slot = &mut inner.limit[i];
        *slot = Some(slot.map_or(limit, |l: f64| l.min(limit)));
    }

    /// The upstream answered 429 now.
    pub fn refused_429(&self) {
        let at = self.now();
        let mut inner = self.inner();
        let i = inner.bucket(at);
        inner.seen_429[i] += 1;
    }

    /// A call is done: kept as it is, or folded once the log is full.
    pub fn record(&self, call: Call) {
        let mut inner = self.inner();
        if inner.calls.len() < MAX_CALLS {
            inner.calls.push(call);
            return;
        }
        if inner.folded.len() >= MAX_FOLDED {
            inner.widen_folds();
        }
        let span = inner.fold_span.max(1);
        let from = (call.arrival.max(0.0) as u64) / span * span;
        let entry = inner
            .folded
            .entry((call.worker.clone(), from))
            .or_insert_with(|| FoldedCalls {
                worker: call.worker.clone(),
                from: from as f64,
                span: span as f64,
                calls: 0,
                queued: 0.0,
                retries_429: 0,
            });
        entry.calls += 1;
        entry.queued += call.queued;
        entry.retries_429 += call.retries_429.len() as u64;
    }

    /// Everything so far.
    pub fn snapshot(&self) -> CallsSnapshot {
        let inner = self.inner();
        CallsSnapshot {
            origin: self.origin,
            calls: inner.calls.clone(),
            folded: inner.folded.values().cloned().collect(),
            series: Series {
                step: f64::from(inner.step),
                admitted: inner.admitted.clone(),
                seen_429: inner.seen_429.clone(),
                limit: inner.limit.clone(),
            },
        }
    }
}

/// One call as it goes: started when the request arrives, finished into
/// the log when its answer is handed back.
#[derive(Debug)]
pub(crate) struct CallTrace {
    call: Call,
    queued: Duration,
}

impl CallTrace {
    pub(crate) fn start(log: &CallLog, worker: Option<Arc<str>>, request: Arc<str>) -> Self {
        let now = log.now();
        Self {
            call: Call {
                worker,
                arrival: now,
                done: now,
                queued: 0.0,
                waits: Vec::new(),
                retries: 0,
                retries_429: Vec::new(),
                status: 0,
                request,
            },
            queued: Duration::ZERO,
        }
    }

    /// An attempt passed admission after `queued`, paced to `limit` req/s.
    pub(crate) fn admitted(&mut self, log: &CallLog, queued: Duration, limit: f64) {
        log.admitted(limit);
        self.queued += queued;
        if !queued.is_zero() && self.call.waits.len() < MAX_SPANS {
            let to = log.now();
            self.call.waits.push((to - queued.as_secs_f64(), to));
        }
    }

    /// The upstream answered `status`; `retrying` when the proxy tries again.
    pub(crate) fn answered(&mut self, log: &CallLog, status: u16, retrying: bool) {
        if status == 429 {
            log.refused_429();
        }
        if retrying {
            self.call.retries += 1;
            if status == 429 {
                self.call.retries_429.push(log.now());
            }
        }
    }

    /// The call is answered with `status`.
    pub(crate) fn finish(mut self, log: &CallLog, status: u16) {
        self.call.done = log.now();
        self.call.status = status;
        self.call.queued = self.queued.as_secs_f64();
        log.record(self.call);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(worker: &str, arrival: f64, queued: f64) -> Call {
        Call {
            worker: Some(Arc::from(worker)),
            arrival,
            done: arrival + queued,
            queued,
            waits: vec![(arrival, arrival + queued)],
            retries: 1,
            retries_429: vec![arrival],
            status: 200,
            request: Arc::from("GET /x"),
        }
    }

    #[test]
    fn a_full_log_folds_calls_per_worker_and_second_keeping_their_sums() {
        let log = CallLog::new();
        for i in 0..MAX_CALLS + 30 {
            let worker = if i % 2 == 0 { "gw0" } else { "gw1" };
            log.record(call(worker, 5.0 + (i % 3) as f64 * 0.1, 0.25));
        }
        let snap = log.snapshot();
        assert_eq!(snap.calls.len(), MAX_CALLS);
        assert_eq!(snap.folded.len(), 2, "{:?}", snap.folded);
        let folded: u64 = snap.folded.iter().map(|f| f.calls).sum();
        assert_eq!(folded, 30);
        let queued: f64 = snap.folded.iter().map(|f| f.queued).sum();
        assert!((queued - 30.0 * 0.25).abs() < 1e-9);
        assert_eq!(snap.folded.iter().map(|f| f.retries_429).sum::<u64>(), 30);
        assert!(snap.folded.iter().all(|f| f.from == 5.0 && f.span == 1.0));
    }

    #[test]
    fn folded_entries_widen_past_their_bound_and_keep_their_sums() {
        let mut inner = Inner {
            step: 1,
            fold_span: 1,
            ..Inner::default()
        };
        for second in 0..MAX_FOLDED as u64 {
            inner.folded.insert(
                (None, second),
                FoldedCalls {
                    worker: None,
                    from: second as f64,
                    span: 1.0,
                    calls: 2,
                    queued: 0.5,
                    retries_429: 1,
                },
            );
        }
        inner.widen_folds();
        assert_eq!(inner.folded.len(), MAX_FOLDED / 2);
        let calls: u64 = inner.folded.values().map(|f| f.calls).sum();
        assert_eq!(calls, 2 * MAX_FOLDED as u64);
        assert!(inner.folded.values().all(|f| f.span == 2.0));
    }

    #[test]
    fn the_series_coarsens_past_its_bound_and_keeps_its_sum() {
        let mut inner = Inner {
            step: 1,
            ..Inner::default()
        };
        for second in 0..(MAX_BUCKETS as u64 * 3) {
            let i = inner.bucket(second as f64 + 0.5);
            inner.admitted[i] += 1;
            inner.limit[i] = Some(if second == 7 { 2.0 } else { 5.0 });
        }
        assert_eq!(inner.step, 4);
        assert!(inner.admitted.len() <= MAX_BUCKETS);
        assert_eq!(inner.admitted.iter().sum::<u64>(), MAX_BUCKETS as u64 * 3);
        // Merged buckets keep the lowest limit.
        assert_eq!(inner.limit[1], Some(2.0));
        assert_eq!(inner.limit[0], Some(5.0));
    }

    #[test]
    fn a_trace_records_its_waits_and_429_retries() {
        let log = CallLog::new();
        let mut trace = CallTrace::start(&log, Some(Arc::from("gw2")), Arc::from("GET /users"));
        trace.admitted(&log, Duration::ZERO, 10.0);
        trace.answered(&log, 429, true);
        trace.admitted(&log, Duration::from_millis(40), 7.0);
        trace.answered(&log, 200, false);
        trace.finish(&log, 200);
        let snap = log.snapshot();
        let c = &snap.calls[0];
        assert_eq!(c.worker.as_deref(), Some("gw2"));
        assert_eq!(&*c.request, "GET /users");
        assert_eq!((c.retries, c.retries_429.len(), c.status), (1, 1, 200));
        assert_eq!(c.waits.len(), 1);
        assert!((c.queued - 0.04).abs() < 1e-9);
        assert_eq!(snap.series.admitted.iter().sum::<u64>(), 2);
        assert_eq!(snap.series.seen_429.iter().sum::<u64>(), 1);
        assert_eq!(snap.series.limit[0], Some(7.0));
    }
}
