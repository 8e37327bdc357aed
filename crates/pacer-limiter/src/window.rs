//! A sliding window log of booked starts: the quota "at most N in any W".
//!
//! GCRA with burst b lets b + rate·W requests through in a window of length
//! W, which a fixed- or sliding-window server refuses. The log keeps the
//! last N booked starts (in order: the limiter books them monotonically), so
//! the earliest moment a new start keeps every window within the quota is
//! one step: the N-th most recent start + W. Memory is O(N) (2N starts are
//! kept; 100 000/h is 3.2 MB), and a start not taken is not lost: as long as the last W seconds
//! hold fewer than N starts, the log lets the next one go at once.

use std::collections::VecDeque;
use std::time::Duration;

/// At most `limit` starts in any window of `window`.
#[derive(Debug, Clone)]
pub struct WindowLog {
    limit: usize,
    window: Duration,
    starts: VecDeque<Entry>,
    /// The quickest answer seen: what a request with no delay on its way
    /// takes there and back.
    fastest: Option<Duration>,
}

/// One booked start, and how much later than the quickest its answer came.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: Duration,
    /// The API may have counted the request this much after its start (a
    /// new connection, a busy peer): it leaves the API's window that much
    /// later too.
    late: Duration,
}

impl WindowLog {
    /// A log for `limit` starts per `window`; a `limit` of 0 means no bound.
    pub fn new(limit: u64, window: Duration) -> Self {
        Self {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            window,
            starts: VecDeque::new(),
            fastest: None,
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
    /// quota, [`WindowLog::started`] records when a request really went, and
    /// [`WindowLog::answered`] how late it may have reached the API.
    pub fn earliest(&self) -> Duration {
        if self.limit == 0 || self.starts.len() < self.limit {
            return Duration::ZERO;
        }
        // The limit-th most recent arrival at the API must have left the
        // window. Arrivals are starts plus their lateness, so that one is at
        // most the latest arrival among the limit-th most recent start and
        // those before it; lateness is bounded, so only starts within that
        // bound of it can arrive later.
        let i = self.starts.len() - self.limit;
        let nth = self.starts[i].start;
        let reach = nth.saturating_sub(self.most_late());
        let arrival = self
            .starts
            .range(..=i)
            .rev()
            .take_while(|e| e.start >= reach)
            .map(|e| e.start + e.late)
            .max()
            .unwrap_or(nth);
        let margin = (self.window / 50).clamp(Duration::from_millis(5), Duration::from_millis(100));
        arrival.saturating_add(self.window).saturating_add(margin)
    }

    /// The most a request's lateness counts: a tenth of the window, so a
    /// slow API costs at most that share of the quota.
    fn most_late(&self) -> Duration {
        self.window / 10
    }

    /// The request that started at `start` was answered `took` after it:
    /// whatever it took beyond the quickest answer it may have spent on the
    /// way there, so the API may have counted it that much later.
    pub fn answered(&mut self, start: Duration, took: Duration) {
        let fastest = *self.fastest.get_or_insert(took);
        self.fastest = Some(fastest.min(took));
        let late = took.saturating_sub(fastest).min(self.most_late());
        if let Some(e) = self.starts.iter_mut().rev().find(|e| e.start == start) {
            e.late = late;
        }
    }

    /// Booked starts in `[from, to)`; only the last `limit` starts are kept.
    pub fn count_between(&self, from: Duration, to: Duration) -> usize {
        self.starts
            .iter()
            .filter(|e| e.start >= from && e.start < to)
            .count()
    }

    /// The request booked at `booked` really started at `actual` (a busy
    /// runtime wakes sleepers late): the log keeps the later time, in order.
    pub fn started(&mut self, booked: Duration, actual: Duration) {
        if actual <= booked {
            return;
        }
        if let Some(i) = self.starts.iter().rposition(|e| e.start == booked) {
            self.starts.remove(i);
            let at = self.starts.partition_point(|e| e.start <= actual);
            self.starts.insert(
                at,
                Entry {
                    start: actual,
                    late: Duration::ZERO,
                },
            );
        }
    }

    /// The `n`-th most recent start before `before` (1 is the latest).
    pub fn nth_recent_before(&self, n: usize, before: Duration) -> Option<Duration> {
        let end = self.starts.partition_point(|e| e.start < before);
        end.checked_sub(n).map(|i| self.starts[i].start)
    }

    /// Forgets one booking that will not be used (its request books again
    /// after a pause); a booking already forgotten is ignored.
    pub fn cancel(&mut self, booked: Duration) {
        if let Some(i) = self.starts.iter().rposition(|e| e.start == booked) {
            self.starts.remove(i);
        }
    }

    /// Forgets the starts booked after `now` (they are booked again).
    pub fn forget_after(&mut self, now: Duration) {
        while self.starts.back().is_some_and(|e| e.start > now) {
            self.starts.pop_back();
        }
    }

    /// Records a start (not before the previous one).
    pub fn book(&mut self, start: Duration) {
        if self.limit == 0 {
            return;
        }
        self.starts.push_back(Entry {
            start,
            late: Duration::ZERO,
        });
        // Only the last `limit` starts can ever bind the next one; twice
        // that is kept so that the window of a request answered now can be
        // counted although others have booked after it.
        while self.starts.len() > self.limit.saturating_mul(2) {
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
            w.book(t * MS);
        }
        assert_eq!(w.earliest(), 1020 * MS);
        w.book(1020 * MS);
        assert_eq!(w.earliest(), 1120 * MS);
    }

    #[test]
    fn a_start_not_taken_is_not_lost_while_the_window_has_room() {
        let mut w = WindowLog::new(4, Duration::from_secs(1));
        w.book(Duration::ZERO);
        // 500 ms of silence: three more may still go at once.
        for _ in 0..3 {
            assert_eq!(w.earliest(), Duration::ZERO);
            w.book(500 * MS);
        }
        assert_eq!(w.earliest(), 1020 * MS);
    }

    #[test]
    fn lowering_the_limit_waits_for_the_window_to_drain() {
        let mut w = WindowLog::new(4, Duration::from_secs(1));
        for t in [0, 10, 20, 30] {
            w.book(t * MS);
        }
        w.set(2, Duration::from_secs(1));
        assert_eq!(w.earliest(), 1040 * MS);
    }

    #[test]
    fn a_request_answered_late_leaves_the_window_late() {
        let mut w = WindowLog::new(2, Duration::from_secs(1));
        w.book(Duration::ZERO);
        w.book(10 * MS);
        // The first took 40 ms more than the second (a new connection):
        // the API may have counted it as late as 40 ms.
        w.answered(10 * MS, 2 * MS);
        w.answered(Duration::ZERO, 42 * MS);
        assert_eq!(w.earliest(), 1060 * MS);
        // Lateness counts up to a tenth of the window.
        w.answered(Duration::ZERO, 900 * MS);
        assert_eq!(w.earliest(), 1120 * MS);
    }

    #[test]
    fn a_later_arrival_before_the_nth_start_binds() {
        let mut w = WindowLog::new(2, Duration::from_secs(1));
        for t in [0, 5, 10] {
            w.book(t * MS);
        }
        w.answered(5 * MS, MS);
        w.answered(10 * MS, MS);
        // The oldest start may have arrived after the second: the bound
        // takes the latest arrival at or before the limit-th most recent
        // start, 51 ms.
        w.answered(Duration::ZERO, 52 * MS);
        assert_eq!(w.earliest(), 1071 * MS);
    }

    #[test]
    fn zero_means_no_bound() {
        let mut w = WindowLog::new(0, Duration::from_secs(1));
        for _ in 0..100 {
            w.book(Duration::ZERO);
        }
        assert_eq!(w.earliest(), Duration::ZERO);
    }
}
