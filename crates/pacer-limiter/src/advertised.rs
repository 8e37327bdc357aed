//! Limits an API advertises in its response headers.
//!
//! Two families are read:
//!
//! - the IETF draft (`draft-ietf-httpapi-ratelimit-headers`):
//!   `RateLimit-Policy: "p";q=40;w=1` (quota q per w seconds) and
//!   `RateLimit: "p";r=12;t=1` (r remaining, t seconds until more). Earlier
//!   drafts' `RateLimit-Policy: 40;w=1`, `RateLimit: limit=40, remaining=12,
//!   reset=1` and `RateLimit-Limit/-Remaining/-Reset` are read too;
//! - the common `X-RateLimit-Limit`, `-Remaining`, `-Reset`, whose reset is
//!   seconds from now or a Unix time depending on the vendor. A value above
//!   10^9 cannot be a wait in seconds (31 years), so it is read as a Unix
//!   time (in milliseconds above 10^12).
//!
//! The X- family names no window; [`Advertised::quota`] then leaves it
//! unknown and the limiter estimates it from the longest reset it has seen.
//! Parsing is pure: `now` is passed in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

/// What one response says about the upstream's limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Advertised {
    /// Requests per window, and the window when the header names one.
    pub quota: Option<(f64, Option<Duration>)>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// When more requests become available, from now.
    pub reset: Option<Duration>,
}

impl Advertised {
    /// Whether the response advertised anything at all.
    pub fn is_empty(&self) -> bool {
        self.quota.is_none() && self.remaining.is_none() && self.reset.is_none()
    }
}

fn number(text: &str) -> Option<f64> {
    let text = text.trim().trim_matches('"');
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    text.parse().ok()
}

fn seconds(value: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(value).ok()
}

/// A reset value: seconds from now, or a Unix time (seconds or milliseconds).
fn reset_from(value: f64, now: SystemTime) -> Option<Duration> {
    let epoch = now.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    let secs = if value > 1e12 {
        value / 1000.0 - epoch
    } else if value > 1e9 {
        value - epoch
    } else {
        value
    };
    seconds(secs.max(0.0))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The parameters of a structured-field item, `"name";q=40;w=1`, with a
/// bare leading number (older drafts) as `q`.
fn params(item: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, part) in item.split(';').enumerate() {
        let part = part.trim();
        match part.split_once('=') {
            Some((k, v)) => out.push((k.trim().to_ascii_lowercase(), v.trim().to_owned())),
            None if i == 0 && number(part).is_some() => out.push(("q".into(), part.to_owned())),
            None => {}
        }
    }
    out
}

fn get<'a>(params: &'a [(String, String)], keys: &[&str]) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| keys.contains(&k.as_str()))
        .map(|(_, v)| v.as_str())
}

/// Reads the advertised limit from `headers`, as of `now`.
pub fn parse_advertised(headers: &HeaderMap, now: SystemTime) -> Advertised {
    let mut adv = Advertised::default();
    // IETF draft: the most restrictive policy (lowest rate) wins.
    if let Some(policy) = header(headers, "ratelimit-policy") {
        for item in policy.split(',') {
            let p = params(item);
            let Some(q) = get(&p, &["q"]).and_then(number) else {
                continue;
            };
            let w = get(&p, &["w"]).and_then(number).and_then(seconds);
            let rate = |(q, w): (f64, Option<Duration>)| q / w.map_or(1.0, |w| w.as_secs_f64());
            if q > 0.0 && adv.quota.is_none_or(|old| rate((q, w)) < rate(old)) {
                adv.quota = Some((q, w));
            }
        }
    }
    if let Some(state) = header(headers, "ratelimit") {
        // `"p";r=12;t=1`, or draft 7's `limit=40, remaining=12, reset=1`.
        let p: Vec<_> = state.split([',', ';']).flat_map(params).collect();
        if let Some(r) = get(&p, &["r", "remaining"]).and_then(number) {
            adv.remaining = Some(r as u64);
        }
        if let Some(t) = get(&p, &["t", "reset"]).and_then(number) {
            adv.reset = reset_from(t, now);
        }
        if adv.quota.is_none() {
            if let Some(l) = get(&p, &["limit"]).and_then(number) {
                adv.quota = Some((l, None));
            }
        }
    }
    // Separate headers: X-RateLimit-* and draft 6's RateLimit-*.
    for prefix in ["ratelimit-", "x-ratelimit-"] {
        let field = |name: &str| header(headers, &format!("{prefix}{name}")).and_then(number);
        if adv.quota.is_none() {
            if let Some(limit) = field("limit") {
                adv.quota = Some((limit, None));
            }
        }
        if adv.remaining.is_none() {
            adv.remaining = field("remaining").map(|r| r as u64);
        }
        if adv.reset.is_none() {
            adv.reset = field("reset").and_then(|r| reset_from(r, now));
        }
    }
    adv
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn ietf_draft_policy_and_state() {
        let a = parse_advertised(
            &headers(&[
                ("ratelimit-policy", "\"a\";q=100;w=1, \"p\";q=40;w=1"),
                ("ratelimit", "\"p\";r=12;t=1"),
            ]),
            now(),
        );
        assert_eq!(a.quota, Some((40.0, Some(Duration::from_secs(1)))));
        assert_eq!(a.remaining, Some(12));
        assert_eq!(a.reset, Some(Duration::from_secs(1)));
    }

    #[test]
    fn older_drafts() {
        let a = parse_advertised(&headers(&[("ratelimit-policy", "10;w=2")]), now());
        assert_eq!(a.quota, Some((10.0, Some(Duration::from_secs(2)))));
        let a = parse_advertised(
            &headers(&[("ratelimit", "limit=40, remaining=0, reset=3")]),
            now(),
        );
        assert_eq!(a.quota, Some((40.0, None)));
        assert_eq!(
            (a.remaining, a.reset),
            (Some(0), Some(Duration::from_secs(3)))
        );
    }

    #[test]
    fn x_ratelimit_with_reset_in_seconds_or_as_a_unix_time() {
        let a = parse_advertised(
            &headers(&[
                ("x-ratelimit-limit", "40"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "2"),
            ]),
            now(),
        );
        assert_eq!(a.quota, Some((40.0, None)));
        assert_eq!(
            (a.remaining, a.reset),
            (Some(0), Some(Duration::from_secs(2)))
        );
        let a = parse_advertised(&headers(&[("x-ratelimit-reset", "1700000005")]), now());
        assert_eq!(a.reset, Some(Duration::from_secs(5)));
        let a = parse_advertised(&headers(&[("x-ratelimit-reset", "1700000000500")]), now());
        assert_eq!(a.reset, Some(Duration::from_millis(500)));
        // A reset in the past is "now".
        let a = parse_advertised(&headers(&[("x-ratelimit-reset", "1600000000")]), now());
        assert_eq!(a.reset, Some(Duration::ZERO));
    }

    #[test]
    fn nothing_or_garbage_is_nothing() {
        assert!(parse_advertised(&HeaderMap::new(), now()).is_empty());
        let a = parse_advertised(
            &headers(&[("x-ratelimit-limit", "lots"), ("ratelimit-policy", "q=-1")]),
            now(),
        );
        assert!(a.is_empty(), "{a:?}");
    }
}
