//! Counting outcomes the way pytest counts them, and its final line.

use std::time::Duration;

/// pytest's order of outcome words in the final line (with pacer's `flaky`
/// after `passed`); others follow in first-seen order.
const KNOWN: [&str; 9] = [
    "failed",
    "passed",
    "flaky",
    "skipped",
    "deselected",
    "xfailed",
    "xpassed",
    "warnings",
    "error",
];

#[derive(Debug, Default, Clone)]
pub struct Tally {
    counts: Vec<(String, usize)>,
}

impl Tally {
    pub fn add(&mut self, category: &str, n: usize) {
        if category.is_empty() || n == 0 {
            return;
        }
        match self.counts.iter_mut().find(|(c, _)| c == category) {
            Some((_, count)) => *count += n,
            None => self.counts.push((category.to_string(), n)),
        }
    }

    pub fn get(&self, category: &str) -> usize {
        self.counts
            .iter()
            .find(|(c, _)| c == category)
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
    pub fn ordered(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for known in KNOWN {
            if let Some((c, n)) = self.counts.iter().find(|(c, _)| c == known) {
                out.push((c.clone(), *n));
            }
        }
        for (category, n) in &self.counts {
            if !KNOWN.contains(&category.as_str()) {
                out.push((category.clone(), *n));
            }
        }
        out
    }

    /// A category pytest does not know (a plugin's, e.g. `rerun`): pytest
    /// then paints the run yellow.
    pub fn has_unknown(&self) -> bool {
        self.counts
            .iter()
            .any(|(c, _)| !KNOWN.contains(&c.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

pub fn plural(n: usize, noun: &str) -> String {
    match noun {
        "error" | "warnings" => {
            let base = noun.trim_end_matches('s');
            format!("{n} {base}{}", if n == 1 { "" } else { "s" })
        }
        _ => format!("{n} {noun}"),
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
        t.add("passed", 85);
        t.add("error", 2);
        t.add("failed", 9);
        t.add("xpassed", 1);
        t.add("skipped", 5);
        t.add("xfailed", 3);
        assert_eq!(
            t.phrase(),
            "9 failed, 85 passed, 5 skipped, 3 xfailed, 1 xpassed, 2 errors"
        );
        let mut t = Tally::default();
        t.add("error", 1);
        t.add("warnings", 1);
        assert_eq!(t.phrase(), "1 warning, 1 error");
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
