//! A quota: at most N requests in any window of W, with its text form
//! (`40`, `"2400/min"`), and the longest duration any setting takes.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::error::RateLimitError;

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
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

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
}
