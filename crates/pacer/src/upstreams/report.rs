//! What a run's proxies leave for its reports: each upstream's statistics,
//! its calls, and (once `pacer run` has put them on the run's clock) its
//! admissions over time.

use pacer_limiter::{CallsSnapshot, UpstreamStats};
use serde::Serialize;

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
    /// Admissions over time, since the run started (`pacer run` fills it in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesReport>,
    /// Every call, for charging tests their waits; not written as is.
    #[serde(skip)]
    pub calls: Option<CallsSnapshot>,
}

/// An upstream's admissions over time, as the reports carry it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesReport {
    /// When the first bucket begins, seconds since the run started (the
    /// proxies start a moment before the run's clock, so it may be just
    /// below 0).
    pub start: f64,
    /// A bucket's length in seconds.
    pub step: f64,
    /// Attempts admitted per bucket (first tries and retries); sums to
    /// the statistics' `admitted`.
    pub admitted: Vec<u64>,
    /// 429 answers per bucket.
    pub seen_429: Vec<u64>,
    /// The lowest rate the limiter paced to in the bucket, requests per
    /// second; null for a bucket without admissions.
    pub limit: Vec<Option<f64>>,
}
