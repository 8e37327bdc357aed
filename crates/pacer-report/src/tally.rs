//! Counting outcomes the way pytest counts them, and its final line.

use std::time::Duration;

use pacer_types::Status;

/// What pytest's final line counts: a phase's status, the run's
/// deselected tests, its warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    Status(Status),
    Deselected,
    Warnings,
}

impl From<Status> for Counted {
    fn from(status: Status) -> Self {
        Counted::Status(status)
    }
}

impl Counted {
    /// Its word in the final line (`xfailed`, `deselected`, a plugin's own).
    pub fn word(&self) -> &str {
        match self {
            Counted::Status(status) => status.as_str(),
            Counted::Deselected => "deselected",
            Counted::Warnings => "warnings",
        }
    }

    /// Its place in pytest's final line (with pacer's `flaky` after
    /// `passed`); `None` for a word pytest does not know (a plugin's, e.g.
    /// `rerun`), which follows the others in first-seen order.
    fn place(&self) -> Option<usize> {
        match self {
            Counted::Status(status) => match status {
                Status::Failed => Some(0),
                Status::Passed => Some(1),
                Status::Flaky => Some(2),
                Status::Skipped => Some(3),
                Status::XFailed => Some(5),
                Status::XPassed => Some(6),
                Status::Error => Some(8),
                Status::Other(_) => None,
            },
            Counted::Deselected => Some(4),
            Counted::Warnings => Some(7),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Tally {
    counts: Vec<(Counted, usize)>,
}

impl Tally {
    pub fn add(&mut self, counted: impl Into<Counted>, n: usize) {
        let counted = counted.into();
        if counted.word().is_empty() || n == 0 {
            return;
        }
        match self.counts.iter_mut().find(|(c, _)| *c == counted) {
            Some((_, count)) => *count += n,
            None => self.counts.push((counted, n)),
        }
    }

    pub fn get(&self, counted: impl Into<Counted>) -> usize {
        let counted = counted.into();
        self.counts
            .iter()
            .find(|(c, _)| *c == counted)
            .map_or(0, |(_, n)| *n)
    }

    /// "1 failed, 2 passed, 1 error" in pytest's order and wording.
    pub fn phrase(&self) -> String {
        self.ordered()
            .iter()
            .map(|(c, n)| plural(*n, c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The counts in pytest's final-line order: known words first, then
    /// the others as first seen.
    pub fn ordered(&self) -> Vec<(Counted, usize)> {
        let mut out = self.counts.clone();
        // Stable: the unknown words (last) keep the order they came in.
        out.sort_by_key(|(c, _)| c.place().unwrap_or(usize::MAX));
        out
    }

    /// A category pytest does not know (a plugin's, e.g. `rerun`): pytest
    /// then paints the run yellow.
    pub fn has_unknown(&self) -> bool {
        self.counts.iter().any(|(c, _)| c.place().is_none())
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// `1 error`, `2 errors`, `1 warning`: pytest's plural for errors and
/// warnings; every other word stays as it is (`3 passed`).
pub fn plural(n: usize, counted: &Counted) -> String {
    let s = if n == 1 { "" } else { "s" };
    match counted {
        Counted::Status(Status::Error) => format!("{n} error{s}"),
        Counted::Warnings => format!("{n} warning{s}"),
        Counted::Status(
            Status::Passed
            | Status::Failed
            | Status::Skipped
            | Status::XFailed
            | Status::XPassed
            | Status::Flaky
            | Status::Other(_),
        )
        | Counted::Deselected => format!("{n} {}", counted.word()),
    }
}

/// "1.22s", or "75.03s (0:01:15)" past a minute, as pytest writes it.
pub fn format_elapsed(elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.2}s")
    } else {
        let whole = elapsed.as_secs();
        format!(
            "{secs:.2}s ({}:{:02}:{:02})",
            whole / 3600,
            (whole % 3600) / 60,
            whole % 60
        )
    }
}

/// A pytest separator line: `==== text ====` filling `width`.
pub fn sep(ch: char, text: &str, width: usize) -> String {
    if text.is_empty() {
        return ch.to_string().repeat(width);
    }
    let text_len = text.chars().count();
    let n = width.saturating_sub(text_len + 2) / 2;
    let n = n.max(1);
    let fill = ch.to_string().repeat(n);
    let mut line = format!("{fill} {text} {fill}");
    if line.chars().count() < width {
        line.push(ch);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrase_follows_pytest_order_and_plurals() {
        let mut t = Tally::default();
        t.add(Status::Passed, 85);
        t.add(Status::Error, 2);
        t.add(Status::Other("rerun".into()), 4);
        t.add(Status::Failed, 9);
        t.add(Status::XPassed, 1);
        t.add(Status::Skipped, 5);
        t.add(Status::XFailed, 3);
        t.add(Counted::Deselected, 0);
        assert_eq!(
            t.phrase(),
            "9 failed, 85 passed, 5 skipped, 3 xfailed, 1 xpassed, 2 errors, 4 rerun"
        );
        assert!(t.has_unknown());
        assert_eq!(t.get(Status::Failed), 9);
        let mut t = Tally::default();
        t.add(Status::Error, 1);
        t.add(Counted::Warnings, 1);
        t.add(Counted::Deselected, 2);
        t.add(Status::Flaky, 1);
        assert_eq!(t.phrase(), "1 flaky, 2 deselected, 1 warning, 1 error");
        assert!(!t.has_unknown());
    }

    #[test]
    fn separator_matches_pytest_width() {
        assert_eq!(sep('=', "1 passed in 0.01s", 80).len(), 80);
        assert_eq!(
            sep('=', "1 passed in 0.01s", 80),
            format!("{} 1 passed in 0.01s {}", "=".repeat(30), "=".repeat(31))
        );
    }

    #[test]
    fn elapsed_past_a_minute_shows_clock_time() {
        assert_eq!(format_elapsed(Duration::from_millis(1220)), "1.22s");
        assert_eq!(format_elapsed(Duration::from_secs(75)), "75.00s (0:01:15)");
    }
}
