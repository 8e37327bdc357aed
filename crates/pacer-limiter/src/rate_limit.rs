//! The one definition of how an upstream is paced: [`RateLimit`] with its
//! [`Quota`], their defaults and their validation, and [`UpstreamConfig`]
//! (an upstream's name, URL and `RateLimit`).
//!
//! pacer-settings resolves these values from flags, the environment and the
//! project's files and only remembers where each came from; it calls
//! [`RateLimit::validate`] and [`parse_url`] and wraps their errors with that
//! source. The proxy calls the same functions again at start, for library
//! users who build an [`UpstreamConfig`] by hand; there is no second rule set.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use http::uri::{Authority, Scheme, Uri};
use serde::{Serialize, Serializer};

use crate::aimd::AimdConfig;
use crate::error::ProxyError;
use crate::limiter::LimiterConfig;
use crate::retry::Backoff;

/// A quota: at most `amount` requests in any sliding window of `window`.
/// `rate = 40` is `40` per second; `"2400/min"` is 2400 per 60 s.
///
/// The steady rate is `amount / window`; the window bounds how far a burst
/// may run ahead: pacer never starts more than `floor(amount)` requests in
/// any window of that length (see [`crate::WindowLog`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    /// Requests allowed per window (fractional for slow per-second rates).
    pub amount: f64,
    /// The window's length.
    pub window: Duration,
}

impl Quota {
    /// `rate` requests per second.
    pub const fn per_second(rate: f64) -> Self {
        Self {
            amount: rate,
            window: Duration::from_secs(1),
        }
    }

    /// The steady rate, requests per second.
    pub fn rate(&self) -> f64 {
        let secs = self.window.as_secs_f64();
        if secs > 0.0 {
            self.amount / secs
        } else {
            f64::INFINITY
        }
    }

    /// How many starts any window may hold, when that is a whole number of
    /// at least one (a rate of 0.5/s has no such bound: the spacing alone
    /// keeps it).
    pub fn limit(&self) -> Option<u64> {
        (self.amount.is_finite() && self.amount >= 1.0).then(|| self.amount.floor() as u64)
    }

    /// Checks the quota on its own.
    pub fn validate(&self) -> Result<(), RateLimitError> {
        if !(self.amount.is_finite() && self.amount > 0.0) || self.window.is_zero() {
            return Err(RateLimitError::new(
                "rate",
                format!("{self} is not above 0 requests; expected e.g. 40, \"40/s\", \"2400/min\" or \"100000/h\""),
            ));
        }
        // Past these bounds the spacing between two requests no longer fits
        // the clock's arithmetic (a rate of 1e-300 is one request per 1e300 s).
        if self.window > MAX_DURATION || self.amount > 1e9 || self.rate() < 1.0 / MAX_SECONDS {
            // `{:e}`: 1e300 written out is three hundred digits.
            return Err(RateLimitError::new(
                "rate",
                format!(
                    "{:e} per {:e} s is out of range; expected at most 1e9 requests per window, a window of at most a year, and at least one request a year",
                    self.amount,
                    self.window.as_secs_f64()
                ),
            ));
        }
        Ok(())
    }
}

/// Units a quota's window may be written in, longest name first per unit.
const UNITS: &[(&str, f64)] = &[
    ("ms", 0.001),
    ("seconds", 1.0),
    ("second", 1.0),
    ("sec", 1.0),
    ("s", 1.0),
    ("minutes", 60.0),
    ("minute", 60.0),
    ("min", 60.0),
    ("m", 60.0),
    ("hours", 3600.0),
    ("hour", 3600.0),
    ("h", 3600.0),
    ("days", 86400.0),
    ("day", 86400.0),
    ("d", 86400.0),
];

impl FromStr for Quota {
    type Err = RateLimitError;

    /// `40`, `0.5`, `"40/s"`, `"2400/min"`, `"100000/h"`, `"500/10s"`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            RateLimitError::new(
                "rate",
                format!("{text:?} is not a rate; expected requests per second (40) or a quota per window (\"40/s\", \"2400/min\", \"100000/h\")"),
            )
        };
        let text_t = text.trim();
        let (amount, window) = match text_t.split_once('/') {
            None => (text_t, Duration::from_secs(1)),
            Some((amount, per)) => {
                let per = per.trim().to_ascii_lowercase();
                let digits = per
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .ok_or_else(bad)?;
                let (count, unit) = per.split_at(digits);
                let count: f64 = if count.is_empty() {
                    1.0
                } else {
                    count.parse().map_err(|_| bad())?
                };
                let unit = UNITS
                    .iter()
                    .find(|(name, _)| *name == unit)
                    .map(|(_, secs)| *secs)
                    .ok_or_else(bad)?;
                let window = Duration::try_from_secs_f64(count * unit).map_err(|_| bad())?;
                (amount.trim(), window)
            }
        };
        // Plain decimals only: `parse::<f64>` would also take "inf" and "NaN".
        if amount.is_empty() || !amount.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(bad());
        }
        let amount: f64 = amount.parse().map_err(|_| bad())?;
        let quota = Quota { amount, window };
        quota.validate()?;
        Ok(quota)
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.window.as_secs_f64();
        match secs {
            1.0 => write!(f, "{}/s", self.amount),
            60.0 => write!(f, "{}/min", self.amount),
            3600.0 => write!(f, "{}/h", self.amount),
            86400.0 => write!(f, "{}/d", self.amount),
            _ => write!(f, "{}/{}s", self.amount, secs),
        }
    }
}

/// A per-second quota compares equal to its rate (`rate == 10.0`).
impl PartialEq<f64> for Quota {
    fn eq(&self, other: &f64) -> bool {
        self.window == Duration::from_secs(1) && self.amount == *other
    }
}

/// A per-second quota serialises as its number (`10`), any other as its
/// text (`"2400/min"`), as it would be written in `pacer.toml`.
impl Serialize for Quota {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.window == Duration::from_secs(1) {
            s.serialize_f64(self.amount)
        } else {
            s.serialize_str(&self.to_string())
        }
    }
}

/// The longest duration any setting takes, in seconds: a year. Far beyond
/// any sane timeout or backoff, far below what `Instant + Duration` holds.
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// How one upstream is paced: the values of `[tool.pacer.rate_limit]` and
/// `[tool.pacer.upstreams.NAME]`. Durations serialise as seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateLimit {
    /// The quota: requests per second, or per window.
    pub rate: Quota,
    /// Requests that may start at once (after an idle period).
    pub burst: u32,
    /// Requests in flight at once; 0 means no cap.
    pub max_concurrent: u32,
    /// Minimum gap between two request starts; zero means none.
    #[serde(serialize_with = "secs")]
    pub min_delay: Duration,
    /// Retries after a retry status (so at most `1 + max_retries` attempts).
    pub max_retries: u32,
    /// Backoff ceiling of the first retry; doubles per retry (full jitter).
    #[serde(serialize_with = "secs")]
    pub base_backoff: Duration,
    /// Upper bound of every backoff, `Retry-After` included.
    #[serde(serialize_with = "secs")]
    pub max_backoff: Duration,
    /// Lower the rate on 429 (AIMD) and climb back on success.
    pub adaptive: bool,
    /// HTTP statuses that are retried.
    pub retry_statuses: Vec<u16>,
    /// PEM file of extra CA certificates trusted for this upstream, on top
    /// of the built-in web roots (corporate CAs, self-signed test servers).
    pub ca_file: Option<PathBuf>,
    /// How long one attempt may wait for the upstream's answer (its status
    /// and headers) before the proxy answers 504 and frees the slot.
    #[serde(serialize_with = "secs")]
    pub upstream_timeout: Duration,
    /// The whole budget of one request: queueing, every attempt, every
    /// backoff. Past it the last refusal is passed through, or the proxy
    /// answers 504 when there was none.
    #[serde(serialize_with = "secs")]
    pub max_wait: Duration,
    /// Request bodies up to this size are kept so they can be replayed on
    /// retry; larger ones are streamed once and never retried.
    pub max_body_bytes: u64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            rate: Quota::per_second(10.0),
            burst: 1,
            max_concurrent: 10,
            // Issue 9: a default gap of 0.1 s capped every upstream at
            // 10 req/s whatever `rate` said; the gap applies only when set.
            min_delay: Duration::ZERO,
            max_retries: 3,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            adaptive: true,
            retry_statuses: vec![429, 503],
            ca_file: None,
            upstream_timeout: Duration::from_secs(60),
            // Room for the default backoffs (1 + 2 + 4 s, or three capped
            // `Retry-After`s of 60 s would not fit: two do) and one slow
            // answer, short enough that a test's own timeout is not hit first
            // by a silent wait.
            max_wait: Duration::from_secs(120),
            max_body_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Why a [`RateLimit`] value or an upstream URL is refused: the setting
/// and the reason, which settings wraps with where the value came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct RateLimitError {
    /// The key, as in `[tool.pacer.rate_limit]` (`rate`, `burst`, `url`...).
    pub setting: &'static str,
    /// What is wrong, and what is expected.
    pub reason: String,
}

impl RateLimitError {
    fn new(setting: &'static str, reason: String) -> Self {
        Self { setting, reason }
    }
}

impl RateLimit {
    /// The one validator of rate-limit values.
    pub fn validate(&self) -> Result<(), RateLimitError> {
        self.rate.validate()?;
        if self.burst == 0 {
            return Err(RateLimitError::new(
                "burst",
                "must be at least 1 (requests that may start at once)".into(),
            ));
        }
        for (setting, value) in [
            ("min_delay", self.min_delay),
            ("base_backoff", self.base_backoff),
            ("max_backoff", self.max_backoff),
            ("upstream_timeout", self.upstream_timeout),
            ("max_wait", self.max_wait),
        ] {
            if value > MAX_DURATION {
                return Err(RateLimitError::new(
                    setting,
                    format!(
                        "{}s is more than a year; expected at most 31536000 seconds",
                        value.as_secs_f64()
                    ),
                ));
            }
        }
        for (setting, value) in [
            ("upstream_timeout", self.upstream_timeout),
            ("max_wait", self.max_wait),
        ] {
            if value.is_zero() {
                return Err(RateLimitError::new(
                    setting,
                    "must be above 0 seconds".into(),
                ));
            }
        }
        if self.max_backoff < self.base_backoff {
            return Err(RateLimitError::new(
                "max_backoff",
                format!(
                    "max_backoff ({:?}) is below base_backoff ({:?})",
                    self.max_backoff, self.base_backoff
                ),
            ));
        }
        if let Some(bad) = self
            .retry_statuses
            .iter()
            .find(|s| !(100..=599).contains(*s))
        {
            return Err(RateLimitError::new(
                "retry_statuses",
                format!("{bad} is not an HTTP status (100-599)"),
            ));
        }
        Ok(())
    }

    /// Warnings about values that hold the rate below `rate` whatever the
    /// API allows: a `min_delay` longer than the rate's interval, or a
    /// `max_concurrent` that cannot keep `rate` busy unless calls are fast.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let rate = self.rate.rate();
        if !self.min_delay.is_zero() {
            let cap = 1.0 / self.min_delay.as_secs_f64();
            if cap < rate * 0.999 {
                out.push(format!(
                    "min_delay = {}s caps the rate at {:.2} req/s, below rate = {} ({:.2} req/s); \
                     lower min_delay or leave it unset (0)",
                    self.min_delay.as_secs_f64(),
                    cap,
                    self.rate,
                    rate
                ));
            }
        }
        if self.max_concurrent > 0 && rate.is_finite() {
            // Little's law: in flight = rate x latency.
            let latency = f64::from(self.max_concurrent) / rate;
            if latency < 0.25 {
                out.push(format!(
                    "max_concurrent = {} caps the rate below rate = {} ({:.2} req/s) whenever a call \
                     takes longer than {:.0} ms; raise max_concurrent if the API is slower than that",
                    self.max_concurrent,
                    self.rate,
                    rate,
                    latency * 1000.0
                ));
            }
        }
        out
    }
}

/// The environment variable that carries an upstream's proxy URL to the
/// tests: `PACER_UPSTREAM_` + the name upper-cased, `-` (and any other
/// character not valid in a variable name) as `_`. The only place pacer
/// builds it for a run (workers read the names from `PACER_UPSTREAMS`); the
/// worker plugin's `upstream_variable` mirrors it for plain pytest only.
pub fn env_var_name(upstream: &str) -> String {
    let suffix: String = upstream
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("PACER_UPSTREAM_{suffix}")
}

/// A validated upstream URL split into what forwarding needs.
#[derive(Clone)]
pub struct Target {
    pub(crate) scheme: Scheme,
    /// Host and port only: the URL's userinfo never reaches `Host`.
    pub(crate) authority: Authority,
    /// The base path without its trailing `/` ("" for none).
    pub(crate) prefix: String,
    /// `Basic` credentials from the URL's userinfo (`http://user:pass@host`),
    /// sent on every request that has no `Authorization` of its own.
    pub(crate) authorization: Option<http::HeaderValue>,
}

/// Never prints the credentials.
impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .field("prefix", &self.prefix)
            .field("authorization", &self.authorization.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The URL as it may be printed: userinfo (`user:password@`) becomes
/// `***@`, whatever else the URL holds. Every place pacer shows an upstream
/// URL (banner, summary, statistics, `pacer config`, errors, reports, logs)
/// goes through here.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // Not a URL pacer could use; still hide anything before an `@`.
        return match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_owned(),
        };
    };
    match split_userinfo(rest) {
        Some((_, after)) => format!("{scheme}://***@{after}"),
        None => url.to_owned(),
    }
}

/// The URL without its `user:password@`, and whether it had one (`pacer
/// init` proposes a URL for a file that is usually committed).
pub fn strip_credentials(url: &str) -> (String, bool) {
    match url
        .split_once("://")
        .and_then(|(scheme, rest)| Some((scheme, split_userinfo(rest)?)))
    {
        Some((scheme, (_, after))) => (format!("{scheme}://{after}"), true),
        None => (url.to_owned(), false),
    }
}

/// `user:password` and the rest (host, path, query) of what follows a URL's
/// `scheme://`, when its authority holds an `@`.
fn split_userinfo(rest: &str) -> Option<(&str, String)> {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host) = authority.rsplit_once('@')?;
    Some((userinfo, format!("{host}{tail}")))
}

/// Decodes `%XX` escapes of a URL's userinfo (an `@` in a password is
/// written `%40`); anything else is kept as written.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Standard base64 with padding, for a `Basic` header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `Authorization: Basic ...` for a URL's userinfo (`user` or `user:pass`).
fn basic_authorization(userinfo: &str) -> Result<http::HeaderValue, UrlProblem> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let mut credentials = percent_decode(user);
    credentials.push(b':');
    credentials.extend(percent_decode(password));
    let mut value = http::HeaderValue::try_from(format!("Basic {}", base64(&credentials)))
        .map_err(|_| UrlProblem::NotAUrl)?;
    // Kept out of HTTP/2 header compression tables and debug output.
    value.set_sensitive(true);
    Ok(value)
}

/// What is wrong with an upstream URL; [`UrlProblem::reason`] says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlProblem {
    /// Nothing given.
    Empty,
    /// Not parseable as a URL at all.
    NotAUrl,
    /// Not `http://` or `https://`.
    Scheme,
    /// No host after the scheme.
    NoHost,
    /// A query string, which the proxy could not put in front of every path.
    Query,
    /// Whitespace inside.
    Whitespace,
}

impl UrlProblem {
    /// A lowercase fragment that reads after "the url is refused:".
    pub fn reason(self) -> &'static str {
        match self {
            UrlProblem::Empty => {
                "no url given; set `url` under [tool.pacer.upstreams.NAME] or pass --upstream NAME=URL"
            }
            UrlProblem::NotAUrl => "it is not a valid URL",
            UrlProblem::Scheme => "the scheme must be http or https (start with http:// or https://)",
            UrlProblem::NoHost => "no host",
            UrlProblem::Query => "it has a query; give the base URL only",
            UrlProblem::Whitespace => "it contains whitespace",
        }
    }
}

/// The one check of an upstream URL: `http://` or `https://`, a host, an
/// optional path prefix, no query.
pub fn parse_url(url: &str) -> Result<Target, UrlProblem> {
    if url.trim().is_empty() {
        return Err(UrlProblem::Empty);
    }
    if url.chars().any(char::is_whitespace) {
        return Err(UrlProblem::Whitespace);
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(UrlProblem::Scheme);
    };
    let scheme = if scheme.eq_ignore_ascii_case("http") {
        Scheme::HTTP
    } else if scheme.eq_ignore_ascii_case("https") {
        Scheme::HTTPS
    } else {
        return Err(UrlProblem::Scheme);
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(UrlProblem::NoHost);
    }
    let uri: Uri = url.parse().map_err(|_| UrlProblem::NotAUrl)?;
    if uri.query().is_some() || url.contains('?') {
        return Err(UrlProblem::Query);
    }
    let authority = uri.authority().ok_or(UrlProblem::NoHost)?;
    let (authority, authorization) = match authority.as_str().rsplit_once('@') {
        Some((userinfo, host)) => (
            Authority::from_str(host).map_err(|_| UrlProblem::NoHost)?,
            Some(basic_authorization(userinfo)?),
        ),
        None => (authority.clone(), None),
    };
    let prefix = uri.path().trim_end_matches('/').to_owned();
    Ok(Target {
        scheme,
        authority,
        prefix,
        authorization,
    })
}

/// One upstream API and its pacing.
#[derive(Clone, PartialEq)]
pub struct UpstreamConfig {
    /// The name tests use (`PACER_UPSTREAM_<NAME>`).
    pub name: String,
    /// The upstream's base URL, `http://` or `https://`, optionally with a
    /// path prefix that is put in front of every request's path.
    pub url: String,
    /// How it is paced.
    pub limits: RateLimit,
    /// Whether `limits.rate` was set by someone (a flag, the environment, a
    /// file) rather than left at its default. A default rate gives way to
    /// the quota the API advertises, up or down; a configured one is only
    /// ever lowered by it.
    pub rate_configured: bool,
}

/// Never prints the URL's credentials.
impl fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .field("limits", &self.limits)
            .field("rate_configured", &self.rate_configured)
            .finish()
    }
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            name: String::from("upstream"),
            url: String::new(),
            limits: RateLimit::default(),
            rate_configured: true,
        }
    }
}

impl UpstreamConfig {
    /// Checks the values and parses the URL.
    pub(crate) fn validate(&self) -> Result<Target, ProxyError> {
        let invalid = |reason: String| ProxyError::InvalidConfig {
            upstream: self.name.clone(),
            reason,
        };
        if self.name.is_empty() {
            return Err(invalid("the name is empty".into()));
        }
        self.limits.validate().map_err(|e| invalid(e.to_string()))?;
        parse_url(&self.url).map_err(|problem| match problem {
            UrlProblem::Empty => invalid(problem.reason().into()),
            _ => invalid(format!(
                "url {:?}: {}",
                redact_url(&self.url),
                problem.reason()
            )),
        })
    }

    /// The admission settings of this upstream.
    pub fn limiter_config(&self) -> LimiterConfig {
        LimiterConfig {
            quota: self.limits.rate,
            rate_configured: self.rate_configured,
            burst: self.limits.burst,
            min_delay: self.limits.min_delay,
            max_concurrent: self.limits.max_concurrent as usize,
            adaptive: self.limits.adaptive,
            aimd: AimdConfig::default(),
        }
    }

    /// The backoff bounds of this upstream.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            base: self.limits.base_backoff,
            max: self.limits.max_backoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names() {
        assert_eq!(env_var_name("ofsc"), "PACER_UPSTREAM_OFSC");
        assert_eq!(env_var_name("my-api"), "PACER_UPSTREAM_MY_API");
        assert_eq!(env_var_name("a.b 2"), "PACER_UPSTREAM_A_B_2");
    }

    #[test]
    fn defaults_match_the_documented_rate_limit_table() {
        let d = UpstreamConfig::default();
        let l = &d.limits;
        assert_eq!(
            (l.rate, l.burst, l.max_concurrent, l.max_retries),
            (Quota::per_second(10.0), 1, 10, 3)
        );
        assert_eq!(l.min_delay, Duration::ZERO);
        assert_eq!(l.base_backoff, Duration::from_secs(1));
        assert_eq!(l.max_backoff, Duration::from_secs(60));
        assert!(l.adaptive);
        assert_eq!(l.retry_statuses, vec![429, 503]);
        assert_eq!(l.max_body_bytes, 8 << 20);
        assert_eq!(l.upstream_timeout, Duration::from_secs(60));
        assert_eq!(l.max_wait, Duration::from_secs(120));
    }

    #[test]
    fn validate_parses_the_url() {
        let cfg = UpstreamConfig {
            url: "https://acme.example.com/api/v1/".into(),
            ..Default::default()
        };
        let t = cfg.validate().unwrap();
        assert_eq!(t.scheme, Scheme::HTTPS);
        assert_eq!(t.authority.as_str(), "acme.example.com");
        assert_eq!(t.prefix, "/api/v1");
    }

    #[test]
    fn validate_rejects_bad_values_with_a_reason() {
        for (url, rate, needle) in [
            ("ftp://x", 1.0, "http:// or https://"),
            ("http://x", 0.0, "rate"),
            ("http://x", f64::NAN, "rate"),
            ("", 1.0, "no url given"),
            ("127.0.0.1:8080", 1.0, "http:// or https://"),
            ("http://x/?a=1", 1.0, "has a query"),
        ] {
            let mut cfg = UpstreamConfig {
                url: url.into(),
                ..Default::default()
            };
            cfg.limits.rate = Quota::per_second(rate);
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn quotas_parse_per_second_and_per_window() {
        let q = |t: &str| t.parse::<Quota>().unwrap();
        assert_eq!(q("40"), Quota::per_second(40.0));
        assert_eq!(q("0.5"), Quota::per_second(0.5));
        assert_eq!(q("40/s"), Quota::per_second(40.0));
        assert_eq!(
            q("2400/min"),
            Quota {
                amount: 2400.0,
                window: Duration::from_secs(60)
            }
        );
        assert_eq!(q("100000/h").window, Duration::from_secs(3600));
        assert_eq!(q(" 500 / 10s ").window, Duration::from_secs(10));
        assert!((q("2400/min").rate() - 40.0).abs() < 1e-9);
        assert_eq!(q("2400/min").to_string(), "2400/min");
        for bad in [
            "",
            "0",
            "-1",
            "0/s",
            "x/s",
            "40/fortnight",
            "inf",
            "NaN",
            "40/",
            "/s",
        ] {
            let err = bad.parse::<Quota>().unwrap_err();
            assert_eq!(err.setting, "rate", "{bad}");
        }
    }

    #[test]
    fn one_validator_refuses_what_the_proxy_could_not_use() {
        let ok = RateLimit::default();
        assert!(ok.validate().is_ok());
        let bad = RateLimit {
            base_backoff: Duration::from_secs(90),
            ..RateLimit::default()
        };
        assert_eq!(bad.validate().unwrap_err().setting, "max_backoff");
        let bad = RateLimit {
            burst: 0,
            ..RateLimit::default()
        };
        assert_eq!(bad.validate().unwrap_err().setting, "burst");
        assert_eq!(parse_url("http://x/?a=1").unwrap_err(), UrlProblem::Query);
        assert_eq!(parse_url("http://:80").unwrap_err(), UrlProblem::NoHost);
        assert!(parse_url("HTTPS://user@host/x").is_ok());
    }

    /// Issue 11: `http://alice:s3cret@host` was sent as `Host: alice:s3cret@host`.
    #[test]
    fn regression_userinfo_becomes_basic_credentials_never_the_host() {
        let t = parse_url("http://alice:s3cret@api.example.com:8080/v1/").unwrap();
        assert_eq!(t.authority.as_str(), "api.example.com:8080");
        assert_eq!(t.prefix, "/v1");
        assert_eq!(t.authorization.as_ref().unwrap(), "Basic YWxpY2U6czNjcmV0");
        assert!(!format!("{t:?}").contains("s3cret"));
        // `%40` is an `@` inside the password; a user alone has an empty password.
        let t = parse_url("https://bob:p%40ss@h").unwrap();
        assert_eq!(t.authorization.unwrap(), "Basic Ym9iOnBAc3M=");
        let t = parse_url("https://token@h").unwrap();
        assert_eq!(t.authorization.unwrap(), "Basic dG9rZW46");
        assert!(parse_url("https://h/x").unwrap().authorization.is_none());
    }

    #[test]
    fn printed_urls_hide_userinfo() {
        for (url, shown) in [
            ("http://alice:s3cret@host/x", "http://***@host/x"),
            ("https://tok@h:1", "https://***@h:1"),
            ("https://h/a@b", "https://h/a@b"),
            ("http://a:b@c@d/e", "http://***@d/e"),
            ("user:pw@host", "***@host"),
            ("https://h", "https://h"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
        let cfg = UpstreamConfig {
            url: "ftp://alice:s3cret@h".into(),
            ..Default::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(!format!("{cfg:?}").contains("s3cret"), "{cfg:?}");
    }

    #[test]
    fn base64_pads_like_the_standard() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
    }

    #[test]
    fn a_min_delay_that_caps_the_rate_is_warned_about() {
        let slow = RateLimit {
            rate: Quota::per_second(40.0),
            min_delay: Duration::from_millis(100),
            max_concurrent: 100,
            ..RateLimit::default()
        };
        let w = slow.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("caps the rate at 10.00 req/s"), "{w:?}");
        let fine = RateLimit {
            min_delay: Duration::ZERO,
            ..slow
        };
        assert!(fine.warnings().is_empty());
    }
}
