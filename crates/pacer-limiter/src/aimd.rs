//! AIMD: the shared rate backs off on 429 and climbs back on success.
//!
//! A rate configured too high must still converge, so a 429 multiplies the
//! current rate by `beta` and later successes add it back, never above the
//! configured rate and never below a floor.
//!
//! *At most one decrease per cooldown.* Many requests are in flight when the
//! upstream starts refusing; their 429s all describe the *old* rate. As in
//! TCP's "one decrease per window", a 429 only lowers the rate when the
//! refused request started after the previous decrease (so it saw the new
//! rate) and at least `min_cooldown` has passed. This lets the rate fall
//! quickly (one step per round trip) when it is far too high, without
//! collapsing to the floor on one burst of stale 429s.
//!
//! *Climbing back.* The increase is additive in time: each success adds
//! `slope * elapsed` since the last adjustment (elapsed capped at one
//! second, so a single success after a long idle does not jump). The rate
//! the last decrease happened at is remembered as the ceiling: below 90% of
//! it the rate climbs fast (it was fine there a moment ago), above it it
//! probes slowly. Averaged over the saw-tooth this keeps the achieved rate
//! close to the real limit while 429s stay rare.

use std::time::Duration;

/// Tuning of [`Aimd`]. The defaults suit limits of a few to a few hundred
/// requests per second; they were chosen with
/// `cargo run --release -p pacer-limiter --example converge`, which at a
/// rate configured 2.5x too high for a 40 req/s token bucket (burst 5,
/// 0.1 s latency) reaches about 92% of the limit with about 3.5% retries.
#[derive(Debug, Clone, PartialEq)]
pub struct AimdConfig {
    /// Factor applied to the rate on a 429 (0 < beta < 1).
    pub beta: f64,
    /// Lowest rate, as a fraction of the configured rate.
    pub floor_fraction: f64,
    /// Minimum time between two decreases.
    pub min_cooldown: Duration,
    /// Climb below 90% of the ceiling, as a fraction of the ceiling per second.
    pub fast_slope: f64,
    /// Climb above that, as a fraction of the ceiling per second.
    pub slow_slope: f64,
}

impl Default for AimdConfig {
    fn default() -> Self {
        Self {
            beta: 0.7,
            floor_fraction: 0.05,
            min_cooldown: Duration::from_millis(50),
            fast_slope: 0.5,
            slow_slope: 0.03,
        }
    }
}

/// The adaptive rate of one upstream. Times are [`crate::Clock`] readings.
#[derive(Debug, Clone)]
pub struct Aimd {
    cfg: AimdConfig,
    configured: f64,
    current: f64,
    ceiling: Option<f64>,
    last_decrease: Option<Duration>,
    last_adjust: Option<Duration>,
    decreases: u64,
}

impl Aimd {
    /// Starts at the configured rate.
    pub fn new(configured: f64, cfg: AimdConfig) -> Self {
        Self {
            cfg,
            configured,
            current: configured,
            ceiling: None,
            last_decrease: None,
            last_adjust: None,
            decreases: 0,
        }
    }

    /// The rate to use now.
    pub fn rate(&self) -> f64 {
        self.current
    }

    /// The rate the user configured (the upper bound).
    pub fn configured(&self) -> f64 {
        self.configured
    }

    /// Replaces the upper bound (an advertised quota): a rate at the old
    /// bound moves to the new one, a lowered rate stays lowered, and nothing
    /// is ever above the new bound.
    pub fn set_configured(&mut self, rate: f64) {
        if self.current >= self.configured {
            self.current = rate;
        }
        self.configured = rate;
        self.current = self.current.min(rate);
        self.ceiling = self.ceiling.map(|c| c.min(rate));
    }

    /// The rate was lowered by other means at `now` (a quota learned from a
    /// refusal): 429s of requests that started before count as stale.
    pub fn note_decrease(&mut self, now: Duration) {
        self.ceiling = Some(self.current);
        self.last_decrease = Some(now);
        self.last_adjust = Some(now);
        self.decreases += 1;
    }

    /// How many times the rate was lowered.
    pub fn decreases(&self) -> u64 {
        self.decreases
    }

    fn floor(&self) -> f64 {
        self.configured * self.cfg.floor_fraction
    }

    /// A 429 arrived at `now` for a request that started at `started_at`.
    /// Returns the new rate if it was lowered.
    pub fn on_throttled(&mut self, now: Duration, started_at: Duration) -> Option<f64> {
        if let Some(last) = self.last_decrease {
            let stale = started_at < last;
            let cooling = now.saturating_sub(last) < self.cfg.min_cooldown;
            if stale || cooling {
                return None;
            }
        }
        if !self.current.is_finite() {
            // Unlimited rate: there is nothing sensible to multiply.
            return None;
        }
        self.ceiling = Some(self.current);
        self.current = (self.current * self.cfg.beta).max(self.floor());
        self.last_decrease = Some(now);
        self.last_adjust = Some(now);
        self.decreases += 1;
        Some(self.current)
    }

    /// A request succeeded (was not refused) at `now`. Returns the new rate
    /// if it changed.
    pub fn on_success(&mut self, now: Duration) -> Option<f64> {
        let last = self.last_adjust.replace(now);
        if self.current >= self.configured {
            return None;
        }
        let ceiling = self.ceiling.unwrap_or(self.configured);
        let elapsed = now
            .saturating_sub(last.unwrap_or(now))
            .min(Duration::from_secs(1))
            .as_secs_f64();
        // Piecewise: fast up to 90% of the ceiling, the rest of the time slow.
        let knee = 0.9 * ceiling;
        let fast = self.cfg.fast_slope * ceiling;
        let slow = self.cfg.slow_slope * ceiling;
        let mut rate = self.current;
        let mut left = elapsed;
        if rate < knee && fast > 0.0 {
            let to_knee = (knee - rate) / fast;
            let spent = to_knee.min(left);
            rate += fast * spent;
            left -= spent;
        }
        rate += slow * left;
        let next = rate.min(self.configured);
        if next == self.current {
            return None;
        }
        self.current = next;
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn aimd(rate: f64) -> Aimd {
        Aimd::new(rate, AimdConfig::default())
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_429_multiplies_the_rate_by_beta() {
        let mut a = aimd(100.0);
        assert_eq!(
            a.on_throttled(Duration::from_secs(1), Duration::ZERO),
            Some(70.0)
        );
        assert!(close(a.rate(), 70.0));
        assert_eq!(a.decreases(), 1);
    }

    #[test]
    fn at_most_one_decrease_per_cooldown() {
        let mut a = aimd(100.0);
        let t = Duration::from_secs(1);
        assert!(a.on_throttled(t, t).is_some());
        // A fresh request refused 30 ms later: still cooling down (50 ms).
        assert!(a.on_throttled(t + 30 * MS, t + 10 * MS).is_none());
        assert!(close(a.rate(), 70.0));
        // After the cooldown a request that saw the new rate lowers it again.
        let r = a.on_throttled(t + 60 * MS, t + 20 * MS).unwrap();
        assert!(close(r, 49.0));
    }

    #[test]
    fn stale_429s_from_before_the_decrease_are_ignored() {
        let mut a = aimd(100.0);
        let t = Duration::from_secs(1);
        a.on_throttled(t, Duration::ZERO);
        // Long after the cooldown, but the request started before the decrease.
        assert!(a.on_throttled(t + Duration::from_secs(5), t - MS).is_none());
        assert!(close(a.rate(), 70.0));
    }

    #[test]
    fn the_rate_never_falls_below_the_floor() {
        let mut a = aimd(10.0);
        let mut t = Duration::ZERO;
        for _ in 0..100 {
            t += Duration::from_secs(1);
            a.on_throttled(t, t);
        }
        assert!(close(a.rate(), 0.5));
    }

    #[test]
    fn successes_climb_back_fast_below_the_ceiling_then_slowly() {
        let mut a = aimd(100.0);
        let t = Duration::from_secs(10);
        a.on_throttled(t, t); // 100 -> 70, ceiling 100
                              // Fast: 0.5 * 100 per second, so +5 after 100 ms.
        let r = a.on_success(t + 100 * MS).unwrap();
        assert!(close(r, 75.0), "{r}");
        let r = a.on_success(t + 400 * MS).unwrap();
        assert!(close(r, 90.0), "{r}");
        // At 90% of the ceiling: slow, 0.03 * 100 per second.
        let r = a.on_success(t + 600 * MS).unwrap();
        assert!(close(r, 90.6), "{r}");
    }

    #[test]
    fn the_climb_stops_at_the_configured_rate() {
        let mut a = aimd(10.0);
        let mut t = Duration::from_secs(1);
        a.on_throttled(t, t);
        for _ in 0..1000 {
            t += Duration::from_secs(1);
            a.on_success(t);
        }
        assert!(close(a.rate(), 10.0));
        assert_eq!(a.on_success(t + Duration::from_secs(1)), None);
    }

    #[test]
    fn one_success_after_a_long_idle_adds_at_most_one_second_of_climb() {
        let mut a = aimd(100.0);
        let t = Duration::from_secs(1);
        a.on_throttled(t, t);
        let r = a.on_success(t + Duration::from_secs(3600)).unwrap();
        // 0.4 s fast (70 -> 90), then 0.6 s slow (+1.8).
        assert!(close(r, 91.8), "{r}");
    }

    #[test]
    fn successes_without_any_429_leave_the_rate_alone() {
        let mut a = aimd(10.0);
        assert_eq!(a.on_success(Duration::from_secs(1)), None);
        assert!(close(a.rate(), 10.0));
    }
}
