//! pacer-limiter: one rate limit shared by every test worker.
//!
//! pacer starts one loopback reverse proxy per rate-limited upstream API
//! before the workers; tests reach it through `PACER_UPSTREAM_<NAME>`. The
//! proxy paces every call (a quota per window, its rate and burst, a cap on
//! requests in flight, a minimum gap when set), pauses every request when
//! the API says when to come back (`Retry-After`, nothing remaining), reads
//! the limits the API advertises, retries 429/503, and slows the shared
//! rate on 429s (AIMD) so a rate set too high still converges.
//!
//! The crate is two layers:
//!
//! - a pure core, generic over a [`Clock`], with no HTTP in it:
//!   [`RateLimit`] and [`Quota`] (the one definition of the settings, their
//!   defaults and their validation), [`Gcra`] (rate and burst as a
//!   reservation), [`WindowLog`] (never more than N in any window),
//!   [`Aimd`] (adaptive rate), [`Backoff`] and [`parse_retry_after`],
//!   [`parse_advertised`] (`RateLimit-Policy`, `X-RateLimit-*`),
//!   [`StatsRecorder`], joined by [`Limiter`] with the in-flight semaphore;
//! - the proxy ([`start_proxy`], [`run_standalone`]) that wraps the core in
//!   layers whose order `forward.rs` explains.
//!
//! Modules import one way, never in a circle (`tests/modules.rs` checks it):
//! the core's (`quota`, `gcra`, `window`, `aimd`, `retry`, `limiter`,
//! `stats`) never name `rate_limit` or the proxy's; `rate_limit` (with
//! `url` and `encoding`) builds the core's configurations from an
//! [`UpstreamConfig`]; the proxy's (`accept`, `listeners`, `forward`,
//! `proxy`, `standalone`) sit on top.
//!
//! One limit can also be shared by several pacers (CI shards, machines)
//! through Redis: `shared/` keeps the same rules in a Lua script run by the
//! store, and falls back to memory at `rate / shards` when it is gone.
//!
//! Nothing in the crate holds a lock across an `.await`: the mutex around
//! the admission state guards arithmetic only, and the statistics are atomics.

mod accept;
mod advertised;
mod aimd;
mod backend;
mod body;
mod clock;
mod encoding;
mod error;
mod forward;
mod gcra;
mod limiter;
mod listeners;
mod peer;
mod proxy;
mod quota;
mod rate_limit;
mod retry;
mod series;
mod shared;
mod standalone;
mod stats;
mod url;
mod window;

pub use advertised::{parse_advertised, Advertised};
pub use aimd::{Aimd, AimdConfig};
pub use backend::{Backend, BackendFallback, BackendStats, Outage};
pub use clock::{Clock, ManualClock, TokioClock};
pub use error::{ProxyError, RateLimitError};
pub use gcra::{interval_for, Gcra};
pub use limiter::{
    burst_within, Admission, Constraint, Limiter, LimiterConfig, QuotaOrigin, RateSnapshot,
};
pub use listeners::WorkerListeners;
pub use peer::register_worker_pid;
pub use proxy::{start_proxy, start_proxy_with, ProxyHandle, ProxyOptions};
pub use quota::{Quota, MAX_SECONDS};
pub use rate_limit::{env_var_name, RateLimit, UpstreamConfig};
pub use retry::{parse_retry_after, small_jitter, Backoff};
pub use series::{
    Call, CallLog, CallsSnapshot, FoldedCalls, Series, MAX_BUCKETS, MAX_CALLS, MAX_FOLDED,
};
pub use standalone::{run_standalone, run_until, STATS_INTERVAL};
pub use stats::{ratio, StatsRecorder, UpstreamStats};
pub use url::{parse_url, redact_url, strip_credentials, Target, UrlProblem};
pub use window::WindowLog;
