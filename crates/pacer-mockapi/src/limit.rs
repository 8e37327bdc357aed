//! The mock's own rate limit: a token bucket or a sliding window log.
//!
//! Both answer "accept" or "refuse, and a client could succeed after this
//! long", which becomes the `Retry-After` hint. Times are passed in, so the
//! algorithms are tested without a clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Which limit the mock enforces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// Accept everything.
    None,
    /// `rate` tokens per second, at most `burst` saved up.
    TokenBucket {
        /// Requests per second.
        rate: f64,
        /// Bucket capacity (at least 1).
        burst: u32,
    },
    /// At most `limit` accepted requests in any `window`.
    SlidingWindow {
        /// Requests per window.
        limit: u32,
        /// The window's length.
        window: Duration,
    },
}

/// The state of a [`Limit`].
#[derive(Debug)]
pub(crate) enum Limiter {
    None,
    Bucket {
        rate: f64,
        capacity: f64,
        tokens: f64,
        updated: Option<Instant>,
    },
    Window {
        limit: usize,
        window: Duration,
        accepted: VecDeque<Instant>,
    },
}

impl Limiter {
    pub(crate) fn new(limit: Limit) -> Self {
        match limit {
            Limit::None => Self::None,
            Limit::TokenBucket { rate, burst } => {
                let capacity = f64::from(burst.max(1));
                Self::Bucket {
                    rate,
                    capacity,
                    tokens: capacity,
                    updated: None,
                }
            }
            Limit::SlidingWindow { limit, window } => Self::Window {
                limit: limit.max(1) as usize,
                window,
                accepted: VecDeque::new(),
            },
        }
    }

    /// `Ok(())` to accept a request arriving at `now`, `Err(wait)` to refuse
    /// it, `wait` being when the next request could be accepted.
    pub(crate) fn check(&mut self, now: Instant) -> Result<(), Duration> {
        match self {
            Self::None => Ok(()),
            Self::Bucket {
                rate,
                capacity,
                tokens,
                updated,
            } => {
                if let Some(last) = *updated {
                    let refill = now.saturating_duration_since(last).as_secs_f64() * *rate;
                    *tokens = (*tokens + refill).min(*capacity);
                }
                *updated = Some(now);
                if *tokens >= 1.0 {
                    *tokens -= 1.0;
                    Ok(())
                } else {
                    let wait = (1.0 - *tokens) / *rate;
                    Err(Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX))
                }
            }
            Self::Window {
                limit,
                window,
                accepted,
            } => {
                while accepted
                    .front()
                    .is_some_and(|t| now.saturating_duration_since(*t) >= *window)
                {
                    accepted.pop_front();
                }
                if accepted.len() < *limit {
                    accepted.push_back(now);
                    Ok(())
                } else {
                    let oldest = accepted[0];
                    Err((oldest + *window).saturating_duration_since(now))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn token_bucket_allows_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut l = Limiter::new(Limit::TokenBucket {
            rate: 10.0,
            burst: 2,
        });
        assert!(l.check(t0).is_ok());
        assert!(l.check(t0).is_ok());
        let wait = l.check(t0).unwrap_err();
        assert!(wait > 99 * MS && wait <= 100 * MS, "{wait:?}");
        assert!(l.check(t0 + 100 * MS).is_ok());
        assert!(l.check(t0 + 150 * MS).is_err());
        assert!(l.check(t0 + 200 * MS).is_ok());
    }

    #[test]
    fn sliding_window_counts_accepted_requests_in_the_window() {
        let t0 = Instant::now();
        let mut l = Limiter::new(Limit::SlidingWindow {
            limit: 3,
            window: Duration::from_secs(1),
        });
        for i in 0..3 {
            assert!(l.check(t0 + i * 100 * MS).is_ok());
        }
        assert_eq!(l.check(t0 + 500 * MS).unwrap_err(), 500 * MS);
        assert!(l.check(t0 + 1000 * MS).is_ok());
        assert!(l.check(t0 + 1050 * MS).is_err());
    }

    #[test]
    fn no_limit_accepts_everything() {
        let mut l = Limiter::new(Limit::None);
        let t0 = Instant::now();
        assert!((0..1000).all(|_| l.check(t0).is_ok()));
    }
}
