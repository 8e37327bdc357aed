//! A sliding window log of booked starts: the quota "at most N in any W".
//!
//! GCRA with burst b lets b + rate·W requests through in a window of length
//! W, which a fixed- or sliding-window server refuses. The log keeps the
//! last N booked starts (in order: the limiter books them monotonically), so
//! the earliest moment a new start keeps every window within the quota is
//! one step: the N-th most recent start + W. Memory is O(N) (2N starts are
//! kept, more while bookings wait ahead; 100 000/h is 3.2 MB), and a start not taken is not lost: as long as the last W seconds
//! hold fewer than N starts, the log lets the next one go at once.

use std::collections::VecDeque;
use std::time::Duration;

/// At most `limit` starts in any window of `window`.
#[derive(Debug, Clone)]
pub struct WindowLog {
    limit: usize,
    window: Duration,
    starts: VecDeque<Duration>,
}

impl WindowLog {
    /// A log for `limit` starts per `window`; a `limit` of 0 means no bound.
    pub fn new(limit: u64, window: Duration) -> Self {
        Self {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            window,
            starts: VecDeque::new(),
        }
    }

    /// Changes the bound for starts booked from now on (AIMD scales it, an
    /// advertised quota replaces it). Lowering it keeps the log, so the
    /// next start waits for the window to drain to the new bound.
    pub fn set(&mut self, limit: u64, window: Duration) {
        self.limit = usize::try_from(limit).unwrap_or(usize::MAX);
        self.window = window;
    }

    /// The bound: starts per window.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The earliest start at which the window holds room for one more.
    ///
    /// A start exactly one window after the limit-th most recent one would
    /// be allowed, but requests reach the API a little bunched (a new
    /// connection, a busy machine that wakes a request late): a margin of 2%
    /// of the window (5 to 100 ms) keeps the API's own count within the
    /// quota, and [`WindowLog::started`] records when a request really went.
    pub fn earliest(&self) -> Duration {
        if self.limit == 0 || self.starts.len() < self.limit {
            return Duration::ZERO;
        }
        // The limit-th most recent start must have left the window.
        let nth = self.starts[self.starts.len() - self.limit];
        nth.saturating_add(self.window)
            .saturating_add(self.margin())
    }

    fn margin(&self) -> Duration {
        (self.window / 50).clamp(Duration::from_millis(5), Duration::from_millis(100))
    }

    /// Booked starts in `[from, to)`; only the last `limit` starts are kept.
    pub fn count_between(&self, from: Duration, to: Duration) -> usize {
        self.starts
            .iter()
            .filter(|t| **t >= from && **t < to)
            .count()
    }

    /// The request booked at `booked` really started at `actual` (a busy
    /// runtime wakes sleepers late): the log keeps the later time, in order.
    pub fn started(&mut self, booked: Duration, actual: Duration) {
        if actual <= booked {
            return;
        }
        if let Some(i) = self.starts.iter().rposition(|t| *t == booked) {
            self.starts.remove(i);
            let at = self.starts.partition_point(|t| *t <= actual);
            self.starts.insert(at, actual);
        }
    }

    /// The `n`-th most recent start before `before` (1 is the latest).
    pub fn nth_recent_before(&self, n: usize, before: Duration) -> Option<Duration> {
        let end = self.starts.partition_point(|t| *t < before);
        end.checked_sub(n).map(|i| self.starts[i])
    }

    /// Forgets one booking that will not be used (its request books again
    /// after a pause); a booking already forgotten is ignored.
    pub fn cancel(&mut self, booked: Duration) {
        if let Some(i) = self.starts.iter().rposition(|t| *t == booked) {
            self.starts.remove(i);
        }
    }

    /// Forgets the starts booked after `now` (they are booked again).
    pub fn forget_after(&mut self, now: Duration) {
        while self.starts.back().is_some_and(|t| *t > now) {
            self.starts.pop_back();
        }
    }

    /// Records a start (not before the previous one), booked at `now`.
    pub fn book(&mut self, start: Duration, now: Duration) {
        if self.limit == 0 {
            return;
        }
        self.starts.push_back(start);
        // Only the last `limit` starts can ever bind the next one; twice
        // that is kept so that the window of a request answered now can be
        // counted although others have booked after it. A start that could
        // still hold back one booked from `now` on stays, however many
        // bookings lie ahead: they may be cancelled or forgotten (a pause, a
        // new quota), and the starts they had pushed out were then missing
        // from the window (issue 17).
        while self.starts.len() > self.limit.saturating_mul(2)
            && self
                .starts
                .front()
                .is_some_and(|t| t.saturating_add(self.window).saturating_add(self.margin()) <= now)
        {
            self.starts.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_n_plus_first_waits_for_the_first_to_leave_the_window() {
        let mut w = WindowLog::new(3, Duration::from_secs(1));
        for t in [0, 100, 200] {
            assert!(w.earliest() <= t * MS);
            w.book(t * MS, t * MS);
        }
        assert_eq!(w.earliest(), 1020 * MS);
        w.book(1020 * MS, 1020 * MS);
        assert_eq!(w.earliest(), 1120 * MS);
    }

    #[test]
    fn a_start_not_taken_is_not_lost_while_the_window_has_room() {
        let mut w = WindowLog::new(4, Duration::from_secs(1));
        w.book(Duration::ZERO, Duration::ZERO);
        // 500 ms of silence: three more may still go at once.
        for _ in 0..3 {
            assert_eq!(w.earliest(), Duration::ZERO);
            w.book(500 * MS, 500 * MS);
        }
        assert_eq!(w.earliest(), 1020 * MS);
    }

    #[test]
    fn lowering_the_limit_waits_for_the_window_to_drain() {
        let mut w = WindowLog::new(4, Duration::from_secs(1));
        for t in [0, 10, 20, 30] {
            w.book(t * MS, t * MS);
        }
        w.set(2, Duration::from_secs(1));
        assert_eq!(w.earliest(), 1040 * MS);
    }

    #[test]
    fn zero_means_no_bound() {
        let mut w = WindowLog::new(0, Duration::from_secs(1));
        for _ in 0..100 {
            w.book(Duration::ZERO, Duration::ZERO);
        }
        assert_eq!(w.earliest(), Duration::ZERO);
    }
}
