//! What one upstream is and how it is paced: [`UpstreamConfig`].
//!
//! The runner resolves these values from `[tool.pacer.rate_limit]`,
//! `[tool.pacer.upstreams.NAME]`, the environment and the command line; this
//! crate only checks that they make sense (see [`UpstreamConfig::validate`]).

use std::path::PathBuf;
use std::time::Duration;

use http::uri::{Scheme, Uri};

use crate::aimd::AimdConfig;
use crate::error::ProxyError;
use crate::limiter::LimiterConfig;
use crate::retry::Backoff;

/// One upstream API and its pacing. Defaults are those of
/// `[tool.pacer.rate_limit]`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamConfig {
    /// The name tests use (`PACER_UPSTREAM_<NAME>`).
    pub name: String,
    /// The upstream's base URL, `http://` or `https://`, optionally with a
    /// path prefix that is put in front of every request's path.
    pub url: String,
    /// Requests per second.
    pub rate: f64,
    /// Requests that may start at once after an idle period.
    pub burst: u32,
    /// Requests in flight at once; 0 means no cap.
    pub max_concurrent: usize,
    /// Minimum gap between request starts.
    pub min_delay: Duration,
    /// Retries after a retry status (so at most `1 + max_retries` attempts).
    pub max_retries: u32,
    /// First backoff bound; doubles per retry (full jitter).
    pub base_backoff: Duration,
    /// Upper bound of every backoff, `Retry-After` included.
    pub max_backoff: Duration,
    /// Whether 429s lower the rate, which then climbs back (AIMD).
    pub adaptive: bool,
    /// Statuses that are retried.
    pub retry_statuses: Vec<u16>,
    /// Request bodies up to this size are buffered so they can be replayed
    /// on retry; larger ones are streamed and not retried.
    pub max_body_bytes: usize,
    /// A PEM file of extra CA certificates to trust for this upstream, on
    /// top of the built-in web roots: a corporate CA, a self-signed server.
    pub ca_file: Option<PathBuf>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            name: String::from("upstream"),
            url: String::new(),
            rate: 10.0,
            burst: 1,
            max_concurrent: 10,
            min_delay: Duration::from_millis(100),
            max_retries: 3,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            adaptive: true,
            retry_statuses: vec![429, 503],
            max_body_bytes: 8 * 1024 * 1024,
            ca_file: None,
        }
    }
}

/// The environment variable that carries an upstream's proxy URL to the
/// tests: `PACER_UPSTREAM_` + the name upper-cased, `-` (and any other
/// character not valid in a variable name) as `_`.
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
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub scheme: Scheme,
    pub authority: http::uri::Authority,
    /// The base path without its trailing `/` ("" for none).
    pub prefix: String,
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
        if self.rate.is_nan() || self.rate <= 0.0 {
            return Err(invalid(format!(
                "rate must be above 0 requests per second, got {}",
                self.rate
            )));
        }
        if self.max_backoff < self.base_backoff {
            return Err(invalid(format!(
                "max_backoff ({:?}) is below base_backoff ({:?})",
                self.max_backoff, self.base_backoff
            )));
        }
        if self.url.trim().is_empty() {
            return Err(invalid(
                "no url given; set `url` under [tool.pacer.upstreams.NAME] or pass --upstream NAME=URL"
                    .into(),
            ));
        }
        let uri: Uri = self
            .url
            .parse()
            .map_err(|e| invalid(format!("url {:?} is not a valid URL: {e}", self.url)))?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::HTTP,
            Some("https") => Scheme::HTTPS,
            _ => {
                return Err(invalid(format!(
                    "url {:?} must start with http:// or https://",
                    self.url
                )))
            }
        };
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| invalid(format!("url {:?} has no host", self.url)))?;
        if uri.query().is_some() {
            return Err(invalid(format!(
                "url {:?} has a query; give the base URL only",
                self.url
            )));
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        Ok(Target {
            scheme,
            authority,
            prefix,
        })
    }

    /// The admission settings of this upstream.
    pub fn limiter_config(&self) -> LimiterConfig {
        LimiterConfig {
            rate: self.rate,
            burst: self.burst,
            min_delay: self.min_delay,
            max_concurrent: self.max_concurrent,
            adaptive: self.adaptive,
            aimd: AimdConfig::default(),
        }
    }

    /// The backoff bounds of this upstream.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            base: self.base_backoff,
            max: self.max_backoff,
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
        assert_eq!(
            (d.rate, d.burst, d.max_concurrent, d.max_retries),
            (10.0, 1, 10, 3)
        );
        assert_eq!(d.min_delay, Duration::from_millis(100));
        assert_eq!(d.base_backoff, Duration::from_secs(1));
        assert_eq!(d.max_backoff, Duration::from_secs(60));
        assert!(d.adaptive);
        assert_eq!(d.retry_statuses, vec![429, 503]);
        assert_eq!(d.max_body_bytes, 8 << 20);
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
            ("http://x", 0.0, "rate must be above 0"),
            ("http://x", f64::NAN, "rate must be above 0"),
            ("", 1.0, "no url given"),
            ("127.0.0.1:8080", 1.0, "http:// or https://"),
            ("http://x/?a=1", 1.0, "has a query"),
        ] {
            let cfg = UpstreamConfig {
                url: url.into(),
                rate,
                ..Default::default()
            };
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
