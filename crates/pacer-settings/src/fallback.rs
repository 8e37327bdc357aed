//! When the sequential rerun of 429-failed tests kicks in.

use std::fmt;

use serde::Serialize;

use crate::error::SettingsError;
use crate::source::Source;
use crate::values::invalid;

/// How many tests of a rate-limited category must still fail on 429 after
/// the proxy's retries before pacer reruns them once, sequentially.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackThreshold {
    /// At least this many tests (≥ 1).
    Count(u32),
    /// At least this fraction (0 < f ≤ 1) of the category's tests, and one.
    Fraction(f64),
}

impl Default for FallbackThreshold {
    /// Any 429 failure triggers the rerun.
    fn default() -> Self {
        FallbackThreshold::Count(1)
    }
}

const EXPECTED: &str = "a count ≥ 1 (`3`) or a fraction in (0, 1] (`0.2` or `20%`)";

impl FallbackThreshold {
    /// Whether `failed_on_429` of `total` tests triggers the rerun.
    pub fn triggers(self, failed_on_429: usize, total: usize) -> bool {
        match self {
            FallbackThreshold::Count(n) => failed_on_429 >= n as usize,
            FallbackThreshold::Fraction(f) => {
                failed_on_429 > 0 && total > 0 && failed_on_429 as f64 >= f * total as f64
            }
        }
    }

    /// `3` → count, `0.2` or `20%` → fraction.
    pub(crate) fn parse(text: &str, origin: &Source) -> Result<Self, SettingsError> {
        let t = text.trim();
        let bad = || invalid("fallback_threshold", text, EXPECTED, origin);
        if let Some(pct) = t.strip_suffix('%') {
            let v: f64 = pct.trim().parse().map_err(|_| bad())?;
            return Self::fraction(v / 100.0, text, origin);
        }
        if let Ok(n) = t.parse::<i64>() {
            return Self::count(n, origin);
        }
        let v: f64 = t.parse().map_err(|_| bad())?;
        Self::fraction(v, text, origin)
    }

    pub(crate) fn count(n: i64, origin: &Source) -> Result<Self, SettingsError> {
        u32::try_from(n)
            .ok()
            .filter(|n| *n >= 1)
            .map(FallbackThreshold::Count)
            .ok_or_else(|| invalid("fallback_threshold", &n.to_string(), EXPECTED, origin))
    }

    pub(crate) fn fraction(v: f64, text: &str, origin: &Source) -> Result<Self, SettingsError> {
        if v > 0.0 && v <= 1.0 {
            Ok(FallbackThreshold::Fraction(v))
        } else {
            Err(invalid("fallback_threshold", text, EXPECTED, origin))
        }
    }
}

impl fmt::Display for FallbackThreshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FallbackThreshold::Count(n) => write!(f, "{n} test(s)"),
            FallbackThreshold::Fraction(v) => write!(f, "{}% of tests", v * 100.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o() -> Source {
        Source::env("PACER_FALLBACK_THRESHOLD")
    }

    #[test]
    fn parses_counts_fractions_and_percentages() {
        assert_eq!(
            FallbackThreshold::parse("3", &o()).unwrap(),
            FallbackThreshold::Count(3)
        );
        assert_eq!(
            FallbackThreshold::parse("0.25", &o()).unwrap(),
            FallbackThreshold::Fraction(0.25)
        );
        assert_eq!(
            FallbackThreshold::parse("20%", &o()).unwrap(),
            FallbackThreshold::Fraction(0.2)
        );
        for bad in ["0", "-1", "1.5", "150%", "lots"] {
            assert!(FallbackThreshold::parse(bad, &o()).is_err(), "{bad}");
        }
    }

    #[test]
    fn triggers_at_the_threshold() {
        assert!(!FallbackThreshold::Count(2).triggers(1, 10));
        assert!(FallbackThreshold::Count(2).triggers(2, 10));
        assert!(!FallbackThreshold::Fraction(0.2).triggers(1, 10));
        assert!(FallbackThreshold::Fraction(0.2).triggers(2, 10));
        assert!(!FallbackThreshold::Fraction(0.2).triggers(0, 0));
        assert!(FallbackThreshold::default().triggers(1, 100));
    }
}
