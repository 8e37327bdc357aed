//! Plain progress lines for a CI log, where a progress bar would be noise
//! and pytest's dots say nothing until a line fills: one line each time
//! another tenth of the tests is done, or when ten seconds passed since
//! the last, and at the end.

use std::time::Duration;

const EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct Progress {
    tenths: usize,
    last: Option<Duration>,
    done: bool,
}

impl Progress {
    /// The line to print now, if one is due: `finished` of `total` tests
    /// done, `failed` of them failed or errored, `elapsed` since the start.
    pub fn tick(
        &mut self,
        finished: usize,
        total: usize,
        failed: usize,
        elapsed: Duration,
    ) -> Option<String> {
        if self.done || total == 0 {
            return None;
        }
        let tenths = finished * 10 / total;
        let due = finished >= total
            || tenths > self.tenths
            || self.last.is_some_and(|last| elapsed >= last + EVERY)
            || (self.last.is_none() && elapsed >= EVERY);
        if !due {
            return None;
        }
        self.tenths = tenths;
        self.last = Some(elapsed);
        self.done = finished >= total;
        Some(format!(
            "pacer: {finished}/{total} tests, {failed} failed, {:.1}s",
            elapsed.as_secs_f64()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_per_tenth_and_at_the_end() {
        let mut progress = Progress::default();
        let second = Duration::from_secs(1);
        let lines: Vec<String> = (1..=20)
            .filter_map(|n| progress.tick(n, 20, n / 7, second))
            .collect();
        assert_eq!(lines.len(), 10, "{lines:?}");
        assert_eq!(lines[0], "pacer: 2/20 tests, 0 failed, 1.0s");
        assert_eq!(lines[9], "pacer: 20/20 tests, 2 failed, 1.0s");
        assert_eq!(
            progress.tick(20, 20, 2, second),
            None,
            "the end is said once"
        );
    }

    #[test]
    fn a_slow_run_says_something_every_ten_seconds() {
        let mut progress = Progress::default();
        let at = Duration::from_secs;
        assert_eq!(progress.tick(1, 1000, 0, at(3)), None);
        assert!(progress.tick(2, 1000, 0, at(10)).is_some());
        assert_eq!(progress.tick(3, 1000, 0, at(15)), None);
        assert_eq!(
            progress.tick(4, 1000, 1, at(21)).as_deref(),
            Some("pacer: 4/1000 tests, 1 failed, 21.0s")
        );
    }
}
