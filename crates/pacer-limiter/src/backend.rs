//! Where an upstream's admission state lives ([`Backend`]: this pacer's
//! memory, or a Redis shared by every pacer using it) and what a pacer does
//! when that store is unreachable at start ([`BackendFallback`]): the
//! values of `backend` and `fallback`, parsed and printed (never with the
//! URL's password). The store itself is `shared/`.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::error::RateLimitError;
use crate::url::redact_url;

/// Where the admission state of an upstream lives.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Backend {
    /// In this pacer's memory: one limit per pacer process.
    #[default]
    Memory,
    /// In Redis (`redis://` or `rediss://`, with a password or ACL user in
    /// the URL when it needs one): one limit for every pacer sharing it.
    Redis {
        /// The URL as written, credentials included; printed redacted.
        url: String,
    },
}

impl Backend {
    /// `memory`, or a `redis://` / `rediss://` URL.
    pub fn parse(text: &str) -> Result<Self, RateLimitError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("memory") {
            return Ok(Backend::Memory);
        }
        let scheme = text.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("redis" | "rediss") => {}
            _ => {
                return Err(RateLimitError::new(
                    "backend",
                    format!(
                        "{:?} is not a backend; expected \"memory\" or a URL \
                         redis://[user:password@]host:6379/0 (rediss:// for TLS)",
                        redact_url(text)
                    ),
                ))
            }
        }
        ::redis::Client::open(text).map_err(|e| {
            RateLimitError::new(
                "backend",
                format!("{}: {}", redact_url(text), e.to_string().replace(text, "")),
            )
        })?;
        Ok(Backend::Redis { url: text.into() })
    }

    /// The backend as it may be printed (`memory`, or the URL redacted).
    pub fn describe(&self) -> String {
        match self {
            Backend::Memory => "memory".into(),
            Backend::Redis { url } => redact_url(url),
        }
    }
}

/// Never prints the URL's credentials.
impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.describe())
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.describe())
    }
}

impl Serialize for Backend {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.describe())
    }
}

/// What a pacer does when its shared backend cannot be reached at start.
/// (Once running, losing the backend always falls back to memory: the run
/// must not lose its tests.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendFallback {
    /// Stop with an error naming the backend (exit 4).
    #[default]
    Fail,
    /// Go on alone with a memory limiter at `rate / shards`, and say so.
    Memory,
}

impl BackendFallback {
    /// `fail` or `memory`.
    pub fn parse(text: &str) -> Result<Self, RateLimitError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "fail" => Ok(BackendFallback::Fail),
            "memory" => Ok(BackendFallback::Memory),
            other => Err(RateLimitError::new(
                "fallback",
                format!("{other:?} is not a fallback; expected \"fail\" or \"memory\""),
            )),
        }
    }

    /// How the setting spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendFallback::Fail => "fail",
            BackendFallback::Memory => "memory",
        }
    }
}

impl fmt::Display for BackendFallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One time the store could not be reached, for the statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outage {
    /// When pacer fell back to memory, seconds since the Unix epoch.
    pub since_unix: f64,
    /// How long it ran on memory; `None` while the store is still gone.
    pub seconds: Option<f64>,
    /// Why it fell back (the store's error, or the timeout).
    pub reason: String,
}

/// The shared backend's part of an upstream's statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackendStats {
    /// The store's URL, redacted.
    pub url: String,
    /// The namespace of the keys (the run id, or the upstream's URL).
    pub namespace: String,
    /// How many pacers share the limit (`rate / shards` on fallback).
    pub shards: u32,
    /// Attempts admitted by the store.
    pub shared_admissions: u64,
    /// Attempts admitted by the memory fallback.
    pub fallback_admissions: u64,
    /// Each time admission fell back to memory.
    pub outages: Vec<Outage>,
    /// How many times the store came back.
    pub reconnects: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_parse_and_never_print_the_password() {
        assert_eq!(Backend::parse("memory").unwrap(), Backend::Memory);
        let b = Backend::parse("rediss://pacer:s3cret@cache:6380/2").unwrap();
        assert_eq!(b.describe(), "rediss://***@cache:6380/2");
        assert!(!format!("{b:?}").contains("s3cret"));
        let err = Backend::parse("http://u:s3cret@h").unwrap_err().to_string();
        assert!(err.contains("expected \"memory\""), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        assert_eq!(
            BackendFallback::parse("Memory").unwrap(),
            BackendFallback::Memory
        );
        assert!(BackendFallback::parse("maybe").is_err());
    }
}
