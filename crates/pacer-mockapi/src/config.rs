//! How the mock behaves: [`MockConfig`].

use std::time::Duration;

use crate::limit::Limit;

/// How a refusal says when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryAfterFormat {
    /// Whole seconds, rounded up (`Retry-After: 1`).
    #[default]
    Seconds,
    /// Fractional seconds (`Retry-After: 0.025`), not in the RFC but common.
    Fractional,
    /// An HTTP-date, rounded up to the next whole second.
    HttpDate,
    /// No `Retry-After` header.
    Absent,
}

/// Which headers advertise the limit on every API answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Advertise {
    /// None.
    #[default]
    None,
    /// The IETF draft: `RateLimit-Policy: "default";q=40;w=1` and
    /// `RateLimit: "default";r=12;t=1`.
    Ietf,
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset` (seconds from now).
    XRateLimit,
}

/// What the mock answers to the requests it admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum App {
    /// Echo every request back as JSON (see [`crate::Echo`]), plus the
    /// `/status/{code}` and `/stream/{n}` endpoints.
    #[default]
    Echo,
    /// The API that `examples/demo`'s client and end-to-end tests call:
    /// `GET /health`, `GET /resources?limit=&offset=`, `GET /resources/{id}`,
    /// `POST /activities` and `GET /activities/{id}`, in memory.
    Demo,
}

/// The mock API's behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// The rate limit.
    pub limit: Limit,
    /// The status of a refusal: 429 or 503.
    pub reject_status: u16,
    /// How refusals carry `Retry-After`.
    pub retry_after: RetryAfterFormat,
    /// Added to every accepted request before it is answered.
    pub latency: Duration,
    /// Refuse the first N API requests whatever the limit says (to force
    /// retries in tests).
    pub fail_first: u32,
    /// The `Retry-After` wait announced for those forced refusals.
    pub fail_first_wait: Duration,
    /// Refuse requests beyond this many in flight at once.
    pub max_concurrent: Option<usize>,
    /// What admitted requests get.
    pub app: App,
    /// Headers that advertise the limit.
    pub advertise: Advertise,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            limit: Limit::None,
            reject_status: 429,
            retry_after: RetryAfterFormat::Seconds,
            latency: Duration::ZERO,
            fail_first: 0,
            fail_first_wait: Duration::from_millis(100),
            max_concurrent: None,
            app: App::Echo,
            advertise: Advertise::None,
        }
    }
}
