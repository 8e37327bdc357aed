//! When to retry a refused request: `Retry-After` first, else full jitter.
//!
//! RFC 9110 §10.2.3 allows `Retry-After` as delta seconds or as an
//! HTTP-date; some APIs send fractional seconds, which we accept too. When
//! the upstream says when, we wait that long plus a little jitter (so the
//! retries of many workers do not land on the same instant), capped by
//! `max_backoff`. Otherwise the delay is AWS's "full jitter":
//! `U(0, min(max_backoff, base * 2^attempt))`, which spreads retries out
//! best among the schemes that paper compares.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// Parses a `Retry-After` value into a delay measured from `now`.
///
/// Accepts delta seconds (`"3"`), fractional seconds (`"0.25"`) and
/// HTTP-dates (`"Wed, 21 Oct 2015 07:28:00 GMT"`; a date in the past means
/// "now", zero). Anything else, negative or non-finite numbers included, is
/// `None`: an unreadable hint is ignored, not guessed at.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // Only plain decimals: `parse::<f64>` would also take "inf", "NaN", "1e3".
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        if let Ok(secs) = value.parse::<f64>() {
            return Duration::try_from_secs_f64(secs).ok();
        }
        return None;
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The backoff bounds of one upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first retry's upper bound; it doubles with every attempt.
    pub base: Duration,
    /// No delay is ever longer than this.
    pub max: Duration,
}

impl Backoff {
    /// The exponential cap for retry number `attempt` (0 for the first
    /// retry): `min(max, base * 2^attempt)`.
    pub fn cap(&self, attempt: u32) -> Duration {
        let factor = 2u32.checked_pow(attempt).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Full jitter: uniform in `[0, cap(attempt)]`.
    pub fn full_jitter(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let cap = self.cap(attempt);
        if cap.is_zero() {
            return Duration::ZERO;
        }
        rng.gen_range(Duration::ZERO..=cap)
    }

    /// The delay before retry number `attempt`: the upstream's `Retry-After`
    /// plus a small jitter if it gave one, full jitter otherwise; never more
    /// than `max`.
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Duration {
        let delay = match retry_after {
            Some(after) => after.saturating_add(small_jitter(after, rng)),
            None => self.full_jitter(attempt, rng),
        };
        delay.min(self.max)
    }
}

/// Up to 10% of the hinted delay, between 10 ms and 1 s: enough to spread
/// simultaneous retries, small next to the wait the upstream asked for.
pub fn small_jitter(after: Duration, rng: &mut impl Rng) -> Duration {
    let bound = (after / 10).clamp(Duration::from_millis(10), Duration::from_secs(1));
    rng.gen_range(Duration::ZERO..=bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn now() -> SystemTime {
        httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap()
    }

    #[test]
    fn retry_after_delta_seconds() {
        assert_eq!(parse_retry_after("3", now()), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("120", now()),
            Some(Duration::from_secs(120))
        );
    }

    #[test]
    fn retry_after_fractional_seconds() {
        assert_eq!(
            parse_retry_after("0.25", now()),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_retry_after("1.5", now()),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after(".5", now()),
            Some(Duration::from_millis(500))
        );
    }

    #[test]
    fn retry_after_http_date() {
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:07 GMT", now()),
            Some(Duration::from_secs(7))
        );
        // A date in the past means "go now".
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
        // The obsolete RFC 850 form is still a valid HTTP-date.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:02 GMT", now()),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn retry_after_garbage_is_none() {
        for bad in [
            "",
            "  ",
            "soon",
            "-1",
            "-0.5",
            "1.2.3",
            ".",
            "NaN",
            "inf",
            "1e3",
            "3s",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "0x10",
            "99999999999999999999999999",
        ] {
            assert_eq!(parse_retry_after(bad, now()), None, "{bad:?}");
        }
    }

    #[test]
    fn cap_doubles_and_saturates_at_max() {
        let b = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        assert_eq!(b.cap(0), Duration::from_secs(1));
        assert_eq!(b.cap(3), Duration::from_secs(8));
        assert_eq!(b.cap(6), Duration::from_secs(60));
        assert_eq!(b.cap(200), Duration::from_secs(60));
    }

    #[test]
    fn full_jitter_stays_within_bounds_and_spreads() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..10 {
            let cap = b.cap(attempt);
            let samples: Vec<_> = (0..500).map(|_| b.full_jitter(attempt, &mut rng)).collect();
            assert!(samples.iter().all(|d| *d <= cap));
            // Full jitter uses the whole range, not just its top.
            assert!(samples.iter().any(|d| *d < cap / 4));
            assert!(samples.iter().any(|d| *d > cap * 3 / 4));
        }
    }

    #[test]
    fn retry_after_wins_with_small_jitter() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(60),
        };
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..500 {
            let d = b.delay(0, Some(Duration::from_secs(2)), &mut rng);
            assert!(
                d >= Duration::from_secs(2) && d <= Duration::from_millis(2200),
                "{d:?}"
            );
            let d = b.delay(5, Some(Duration::ZERO), &mut rng);
            assert!(d <= Duration::from_millis(10), "{d:?}");
        }
    }

    #[test]
    fn every_delay_is_capped_by_max_backoff() {
        let b = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(5),
        };
        let mut rng = StdRng::seed_from_u64(3);
        for attempt in 0..20 {
            assert!(b.delay(attempt, Some(Duration::from_secs(3600)), &mut rng) <= b.max);
            assert!(b.delay(attempt, None, &mut rng) <= b.max);
        }
    }
}
