//! GCRA (generic cell rate algorithm) as a reservation.
//!
//! The state is one number, the theoretical arrival time (TAT): when the
//! next request would be due if requests arrived exactly every emission
//! interval `T = 1 / rate`. A request may start once `now >= TAT - tau`,
//! where `tau = (burst - 1) * T` is how far ahead of schedule a burst may run.
//!
//! Instead of answering "allowed / denied" and making callers poll, [`Gcra::reserve`]
//! books the earliest permitted start, advances the TAT past it and returns
//! how long the caller must wait: one step, no polling, and the same
//! arithmetic works as a Redis script (redis-cell's `CL.THROTTLE` is this
//! algorithm). The rate can change at run time (AIMD does it); reservations
//! already handed out keep their slot.
//!
//! `min_delay`, a minimum gap between request starts, is folded into the same
//! reservation: the start is also pushed to `last_start + min_delay`, so a
//! burst never puts two starts closer than that.

use std::time::Duration;

/// The GCRA state for one upstream. Not synchronised: the limiter keeps it
/// behind a mutex that is never held across an `.await`.
#[derive(Debug, Clone)]
pub struct Gcra {
    interval: Duration,
    burst: u32,
    min_delay: Duration,
    tat: Duration,
    last_start: Option<Duration>,
}

/// The emission interval for `rate` requests per second; an infinite rate
/// means no spacing at all.
pub fn interval_for(rate: f64) -> Duration {
    if rate.is_finite() && rate > 0.0 {
        Duration::try_from_secs_f64(1.0 / rate).unwrap_or(Duration::MAX)
    } else {
        Duration::ZERO
    }
}

impl Gcra {
    /// A limiter for `rate` requests per second, `burst` of them at once
    /// (0 is treated as 1), starts at least `min_delay` apart.
    pub fn new(rate: f64, burst: u32, min_delay: Duration) -> Self {
        Self {
            interval: interval_for(rate),
            burst: burst.max(1),
            min_delay,
            tat: Duration::ZERO,
            last_start: None,
        }
    }

    /// Changes how many may start at once, for reservations made from now
    /// on (0 is treated as 1). The limiter narrows it to a lower quota.
    pub fn set_burst(&mut self, burst: u32) {
        self.burst = burst.max(1);
    }

    /// Changes the rate for reservations made from now on.
    pub fn set_rate(&mut self, rate: f64) {
        let interval = interval_for(rate);
        // A lower rate lengthens the tolerance, (burst - 1) x T: with the
        // TAT left where it was, the earliest start would move back and a
        // burst just spent would go again at once (issue 17). Moving the
        // TAT by as much keeps the next start where it was.
        if interval > self.interval && self.last_start.is_some() {
            let longer = (interval - self.interval).saturating_mul(self.burst - 1);
            self.tat = self.tat.saturating_add(longer);
        }
        self.interval = interval;
    }

    /// The current emission interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How far ahead of schedule a burst may run: `(burst - 1) * T`.
    fn tolerance(&self) -> Duration {
        self.interval.saturating_mul(self.burst - 1)
    }

    /// The earliest start the rate alone permits, and the earliest the
    /// minimum gap permits (zero when there is none).
    pub fn earliest(&self) -> (Duration, Duration) {
        let by_rate = self.tat.saturating_sub(self.tolerance());
        let by_gap = match self.last_start {
            Some(last) if !self.min_delay.is_zero() => last.saturating_add(self.min_delay),
            _ => Duration::ZERO,
        };
        (by_rate, by_gap)
    }

    /// Forgets the bookings after `now`: the schedule restarts from `now`
    /// at the current rate, after what the starts made so far still hold
    /// (the bookings are made again after a rate change).
    pub fn rebase(&mut self, now: Duration) {
        // The starts already made keep their debt, at most a burst's worth
        // of intervals past `now`; clamping to `now` itself forgot it, and a
        // request booked again went at the same instant as the one that had
        // just started (issue 17).
        let spent = now.saturating_add(self.interval.saturating_mul(self.burst));
        self.tat = self.tat.min(spent);
        if self.last_start.is_some_and(|l| l > now) {
            self.last_start = Some(now);
        }
    }

    /// Books a start at `start`, which must be at or after [`Gcra::earliest`].
    pub fn book(&mut self, start: Duration) {
        // An idle limiter's TAT lies in the past; the new schedule counts
        // from the start, not from that stale TAT, or idle time would turn
        // into an unbounded burst.
        self.tat = self.tat.max(start).saturating_add(self.interval);
        self.last_start = Some(start);
    }

    /// Books the earliest start permitted at or after `now` and returns how
    /// long to wait for it (zero when the caller may go at once).
    pub fn reserve(&mut self, now: Duration) -> Duration {
        let (by_rate, by_gap) = self.earliest();
        let start = now.max(by_rate).max(by_gap);
        self.book(start);
        start - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn spaces_requests_by_the_interval() {
        let mut g = Gcra::new(10.0, 1, Duration::ZERO);
        let now = Duration::from_secs(5);
        assert_eq!(g.reserve(now), Duration::ZERO);
        assert_eq!(g.reserve(now), 100 * MS);
        assert_eq!(g.reserve(now), 200 * MS);
        // Arriving exactly at the booked time costs nothing more.
        assert_eq!(g.reserve(now + 300 * MS), Duration::ZERO);
    }

    #[test]
    fn burst_lets_that_many_go_at_once_then_paces() {
        let mut g = Gcra::new(10.0, 3, Duration::ZERO);
        let now = Duration::from_secs(1);
        assert_eq!(g.reserve(now), Duration::ZERO);
        assert_eq!(g.reserve(now), Duration::ZERO);
        assert_eq!(g.reserve(now), Duration::ZERO);
        assert_eq!(g.reserve(now), 100 * MS);
        assert_eq!(g.reserve(now), 200 * MS);
    }

    #[test]
    fn burst_refills_at_the_rate_after_idle_time() {
        let mut g = Gcra::new(10.0, 3, Duration::ZERO);
        for _ in 0..3 {
            g.reserve(Duration::ZERO);
        }
        // After 1 s of idleness the whole burst is available again, not more.
        let later = Duration::from_secs(1);
        for _ in 0..3 {
            assert_eq!(g.reserve(later), Duration::ZERO);
        }
        assert_eq!(g.reserve(later), 100 * MS);
    }

    #[test]
    fn min_delay_spaces_starts_even_within_a_burst() {
        let mut g = Gcra::new(10.0, 5, 30 * MS);
        let now = Duration::from_secs(1);
        assert_eq!(g.reserve(now), Duration::ZERO);
        assert_eq!(g.reserve(now), 30 * MS);
        assert_eq!(g.reserve(now), 60 * MS);
    }

    #[test]
    fn min_delay_larger_than_the_interval_wins() {
        let mut g = Gcra::new(100.0, 1, 50 * MS);
        let now = Duration::ZERO;
        assert_eq!(g.reserve(now), Duration::ZERO);
        assert_eq!(g.reserve(now), 50 * MS);
        assert_eq!(g.reserve(now), 100 * MS);
    }

    #[test]
    fn rate_change_applies_to_later_reservations() {
        let mut g = Gcra::new(10.0, 1, Duration::ZERO);
        let now = Duration::ZERO;
        assert_eq!(g.reserve(now), Duration::ZERO); // tat = 100ms
        g.set_rate(2.0);
        assert_eq!(g.reserve(now), 100 * MS); // tat = 600ms
        assert_eq!(g.reserve(now), 600 * MS);
    }

    #[test]
    fn over_a_long_run_the_rate_is_exact() {
        let mut g = Gcra::new(40.0, 4, Duration::ZERO);
        let mut last = Duration::ZERO;
        for _ in 0..404 {
            last = g.reserve(Duration::ZERO);
        }
        // 4 go at once, the other 400 take 400 intervals of 25 ms.
        assert_eq!(last, Duration::from_secs(10));
    }

    #[test]
    fn infinite_rate_never_waits() {
        let mut g = Gcra::new(f64::INFINITY, 1, Duration::ZERO);
        for _ in 0..100 {
            assert_eq!(g.reserve(Duration::ZERO), Duration::ZERO);
        }
    }
}
