//! The mock's own rate limit: a token bucket, a fixed window or a sliding
//! window log, the three ways real APIs keep theirs.
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
    /// At most `limit` accepted requests per window, the windows starting
    /// every `window` from the first request (counters reset at the edge).
    FixedWindow {
        /// Requests per window.
        limit: u32,
        /// The window's length.
        window: Duration,
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
    Fixed {
        limit: usize,
        window: Duration,
        start: Option<Instant>,
        count: usize,
    },
}

/// What the limit looks like now, for the headers that advertise it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Advert {
    /// Requests per window.
    pub quota: f64,
    /// The window, seconds.
    pub window: f64,
    /// Requests left now.
    pub remaining: u64,
    /// Until more are available (the window's end for a fixed window).
    pub reset: Duration,
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
            Limit::FixedWindow { limit, window } => Self::Fixed {
                limit: limit.max(1) as usize,
                window,
                start: None,
                count: 0,
            },
            Limit::SlidingWindow { limit, window } => Self::Window {
                limit: limit.max(1) as usize,
                window,
                accepted: VecDeque::new(),
            },
        }
    }

    /// The limit as of `now`, as an API would advertise it; `None` for no limit.
    pub(crate) fn advert(&mut self, now: Instant) -> Option<Advert> {
        match self {
            Self::None => None,
            Self::Bucket {
                rate,
                capacity,
                tokens,
                updated,
            } => {
                let refill = updated.map_or(0.0, |last| {
                    now.saturating_duration_since(last).as_secs_f64() * *rate
                });
                let have = (*tokens + refill).min(*capacity);
                let reset = if have >= 1.0 {
                    0.0
                } else {
                    (1.0 - have) / *rate
                };
                Some(Advert {
                    quota: *rate,
                    window: 1.0,
                    remaining: have.floor() as u64,
                    reset: Duration::from_secs_f64(reset),
                })
            }
            Self::Fixed {
                limit,
                window,
                start,
                count,
            } => {
                let (used, reset) = match *start {
                    None => (0, *window),
                    Some(s) => {
                        let since = now.saturating_duration_since(s).as_secs_f64();
                        let w = window.as_secs_f64();
                        if since < w {
                            (*count, Duration::from_secs_f64(w - since))
                        } else {
                            // A later window, not yet counted in: all left.
                            (0, Duration::from_secs_f64(w - since % w))
                        }
                    }
                };
                Some(Advert {
                    quota: *limit as f64,
                    window: window.as_secs_f64(),
                    remaining: limit.saturating_sub(used) as u64,
                    reset,
                })
            }
            Self::Window {
                limit,
                window,
                accepted,
            } => {
                let live = accepted
                    .iter()
                    .filter(|t| now.saturating_duration_since(**t) < *window)
                    .count();
                let reset = accepted
                    .iter()
                    .find(|t| now.saturating_duration_since(**t) < *window)
                    .map_or(Duration::ZERO, |t| {
                        (*t + *window).saturating_duration_since(now)
                    });
                Some(Advert {
                    quota: *limit as f64,
                    window: window.as_secs_f64(),
                    remaining: limit.saturating_sub(live) as u64,
                    reset,
                })
            }
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
            Self::Fixed {
                limit,
                window,
                start,
                count,
            } => {
                let s = *start.get_or_insert(now);
                let since = now.saturating_duration_since(s);
                if since >= *window {
                    // Move to the window `now` falls in.
                    let edges = (since.as_secs_f64() / window.as_secs_f64()).floor();
                    *start = Some(s + window.mul_f64(edges));
                    *count = 0;
                }
                let s = start.expect("set above");
                if *count < *limit {
                    *count += 1;
                    Ok(())
                } else {
                    Err((s + *window).saturating_duration_since(now))
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
    fn fixed_window_resets_at_the_edge() {
        let t0 = Instant::now();
        let mut l = Limiter::new(Limit::FixedWindow {
            limit: 2,
            window: Duration::from_secs(1),
        });
        assert!(l.check(t0).is_ok());
        assert!(l.check(t0 + 900 * MS).is_ok());
        assert_eq!(l.check(t0 + 950 * MS).unwrap_err(), 50 * MS);
        let a = l.advert(t0 + 950 * MS).unwrap();
        assert_eq!((a.remaining, a.reset), (0, 50 * MS));
        // A new window: two more at once (four within 150 ms across the edge).
        assert!(l.check(t0 + 1000 * MS).is_ok());
        assert!(l.check(t0 + 1010 * MS).is_ok());
        assert!(l.check(t0 + 1020 * MS).is_err());
    }

    #[test]
    fn no_limit_accepts_everything() {
        let mut l = Limiter::new(Limit::None);
        let t0 = Instant::now();
        assert!((0..1000).all(|_| l.check(t0).is_ok()));
    }
}
