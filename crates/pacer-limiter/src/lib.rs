//! pacer-limiter: one rate limit shared by every test worker.
//!
//! pacer starts one loopback reverse proxy per rate-limited upstream API
//! before the workers; tests reach it through `PACER_UPSTREAM_<NAME>`. The
//! proxy paces every call (a global rate, a cap on requests in flight, a
//! minimum gap), retries 429/503 with `Retry-After` or full-jitter backoff,
//! and slows the shared rate on 429s (AIMD) so a rate set too high still
//! converges.
//!
//! The crate is two layers:
//!
//! - a pure core, generic over a [`Clock`], with no HTTP in it:
//!   [`Gcra`] (rate and burst as a reservation), [`Aimd`] (adaptive rate),
//!   [`Backoff`] and [`parse_retry_after`], [`StatsRecorder`], joined by
//!   [`Limiter`] with the in-flight semaphore;
//! - the proxy ([`start_proxy`], [`run_standalone`]) that wraps the core in
//!   layers whose order `forward.rs` explains.
//!
//! Nothing in the crate holds a lock across an `.await`: the mutex around
//! the GCRA/AIMD state guards arithmetic only, and the statistics are atomics.

mod aimd;
mod body;
mod clock;
mod config;
mod error;
mod forward;
mod gcra;
mod limiter;
mod proxy;
mod retry;
mod standalone;
mod stats;

pub use aimd::{Aimd, AimdConfig};
pub use clock::{Clock, ManualClock, TokioClock};
pub use config::{env_var_name, UpstreamConfig};
pub use error::ProxyError;
pub use gcra::{interval_for, Gcra};
pub use limiter::{Admission, Limiter, LimiterConfig};
pub use proxy::{start_proxy, start_proxy_with, ProxyHandle, ProxyOptions};
pub use retry::{parse_retry_after, small_jitter, Backoff};
pub use standalone::{run_standalone, run_until, STATS_INTERVAL};
pub use stats::{ratio, RateSnapshot, StatsRecorder, UpstreamStats};
