//! The run as Markdown for the job's summary page (`$GITHUB_STEP_SUMMARY`):
//! pytest's final line, the exit code, the per-category table, the slowest
//! tests, the upstreams' statistics when proxies ran, and each failure
//! folded in a `<details>` element.

use std::fmt::Write;

use pacer_types::Status;
use serde_json::Value;

use crate::schema::{CollectionOutcome, RunReport, TestReport};
use crate::tally::{format_elapsed, Counted, Tally};

/// The slowest tests listed.
const SLOWEST: usize = 10;
/// Failures shown with their output; the rest are named in one line.
const FAILURES: usize = 50;
/// A failure's output is cut to its last lines (where the error is).
const OUTPUT_LINES: usize = 150;

/// pytest's final line without the time: `1 failed, 2 passed, 1 error`.
pub fn counts_phrase(report: &RunReport, warnings: usize) -> String {
    let mut tally = Tally::default();
    for (status, n) in &report.counts {
        tally.add(status.clone(), *n);
    }
    tally.add(Counted::Deselected, report.deselected);
    tally.add(Counted::Warnings, warnings);
    if tally.is_empty() {
        "no tests ran".to_string()
    } else {
        tally.phrase()
    }
}

pub fn render(report: &RunReport, warnings: usize) -> String {
    let mut md = String::new();
    let elapsed = std::time::Duration::from_secs_f64(report.elapsed.max(0.0));
    let _ = writeln!(
        md,
        "## pacer: {} in {}\n",
        counts_phrase(report, warnings),
        format_elapsed(elapsed)
    );
    let mut facts = Vec::new();
    if let Some(code) = report.exit_code {
        facts.push(format!("exit code **{code}** ({})", exit_meaning(code)));
    }
    facts.push(format!(
        "{} worker{}",
        report.workers,
        if report.workers == 1 { "" } else { "s" }
    ));
    if let (Some(python), Some(pytest)) = (&report.python, &report.pytest) {
        facts.push(format!("Python {python}, pytest {pytest}"));
    }
    if !report.shards.is_empty() {
        facts.push(format!("{} shards merged", report.shards.len()));
    }
    if let Some(run_id) = &report.run_id {
        facts.push(format!("run {}", text(run_id)));
    }
    if report.not_run > 0 {
        facts.push(format!("{} not run", report.not_run));
    }
    let _ = writeln!(md, "{}\n", facts.join(" · "));
    for reason in [&report.stopped, &report.interrupted].into_iter().flatten() {
        let _ = writeln!(md, "> {}\n", text(&reason.to_string()));
    }
    categories(&mut md, report);
    slowest(&mut md, report);
    upstreams(&mut md, &report.upstreams);
    failures(&mut md, report);
    md
}

fn exit_meaning(code: i32) -> &'static str {
    use pacer_types::exit;
    match code {
        exit::OK => "all passed",
        exit::TESTS_FAILED => "tests failed",
        exit::INTERRUPTED => "interrupted",
        exit::INTERNAL_ERROR => "internal error",
        exit::USAGE_ERROR => "usage error",
        exit::NO_TESTS_COLLECTED => "no tests collected",
        _ => "other",
    }
}

fn categories(md: &mut String, report: &RunReport) {
    let shown: Vec<_> = report.categories.iter().filter(|c| c.tests > 0).collect();
    if shown.is_empty() {
        return;
    }
    md.push_str("### Categories\n\n");
    md.push_str(
        "| category | tests | passed | failed | skipped | other | test time | wall | workers |\n",
    );
    md.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for c in shown {
        let (mut passed, mut failed, mut skipped) = (0, 0, 0);
        for (status, n) in &c.counts {
            match status {
                Status::Passed => passed += n,
                Status::Failed | Status::Error => failed += n,
                Status::Skipped => skipped += n,
                // `other`: pytest's final line above names each apart.
                Status::Flaky | Status::XFailed | Status::XPassed | Status::Other(_) => {}
            }
        }
        let other = c.tests.saturating_sub(passed + failed + skipped);
        let name = if c.rate_limited {
            format!("{} (rate-limited)", text(&c.name))
        } else {
            text(&c.name)
        };
        let _ = writeln!(
            md,
            "| {name} | {} | {passed} | {failed} | {skipped} | {other} | {:.2}s | {:.2}s | {} |",
            c.tests, c.work, c.wall, c.workers
        );
    }
    md.push('\n');
}

fn slowest(md: &mut String, report: &RunReport) {
    let mut tests: Vec<&TestReport> = report.tests.iter().collect();
    if tests.is_empty() {
        return;
    }
    tests.sort_by(|a, b| (b.end - b.start).total_cmp(&(a.end - a.start)));
    let _ = writeln!(md, "### Slowest tests\n");
    md.push_str("| test | seconds | outcome | category | worker |\n|---|--:|---|---|---|\n");
    for t in tests.iter().take(SLOWEST) {
        let _ = writeln!(
            md,
            "| {} | {:.2} | {} | {} | {} |",
            code(&t.id),
            t.end - t.start,
            text(t.outcome.as_str()),
            text(t.category.as_deref().unwrap_or("")),
            text(&t.worker)
        );
    }
    md.push('\n');
}

fn upstreams(md: &mut String, upstreams: &[Value]) {
    if upstreams.is_empty() {
        return;
    }
    md.push_str("### Rate-limited upstreams\n\n");
    md.push_str("| upstream | requests | retried | 429s | 503s | failed | queued | rate (configured / achieved) |\n");
    md.push_str("|---|--:|--:|--:|--:|--:|--:|--:|\n");
    for upstream in upstreams {
        let stats = upstream.get("stats").unwrap_or(upstream);
        let int = |key: &str| stats.get(key).and_then(Value::as_u64).unwrap_or(0);
        let float = |key: &str| stats.get(key).and_then(Value::as_f64).unwrap_or(0.0);
        let name = stats.get("name").and_then(Value::as_str).unwrap_or("?");
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {:.1}s | {:.2} / {:.2} req/s |",
            text(name),
            int("requests"),
            int("retried"),
            int("seen_429"),
            int("seen_503"),
            int("final_failures"),
            float("time_queued"),
            float("configured_rate"),
            float("achieved_rate"),
        );
    }
    md.push('\n');
}

fn failures(md: &mut String, report: &RunReport) {
    let failed: Vec<(&str, &str, Option<&str>, &str)> = report
        .collection
        .iter()
        .filter(|p| match p.outcome {
            CollectionOutcome::Error => true,
            CollectionOutcome::Skipped => false,
        })
        .map(|p| (p.id.as_str(), "error collecting", None, p.output.as_str()))
        .chain(report.tests.iter().filter_map(|t| {
            let word = match t.outcome {
                Status::Failed => "failed",
                Status::Error => "error",
                Status::Passed
                | Status::Skipped
                | Status::XFailed
                | Status::XPassed
                | Status::Flaky
                | Status::Other(_) => return None,
            };
            Some((
                t.id.as_str(),
                word,
                t.message.as_deref(),
                t.output.as_deref().unwrap_or(""),
            ))
        }))
        .collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(md, "### Failures ({})\n", failed.len());
    for (id, word, message, output) in failed.iter().take(FAILURES) {
        let message = message
            .and_then(|m| m.lines().next())
            .map(|m| format!(": {}", text(m)))
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "<details><summary>{word} {}{message}</summary>\n",
            code(id)
        );
        let output = last_lines(output, OUTPUT_LINES);
        let fence = "`".repeat(longest_backtick_run(&output).max(2) + 1);
        let _ = writeln!(
            md,
            "{fence}text\n{}\n{fence}\n\n</details>\n",
            output.trim_end()
        );
    }
    if failed.len() > FAILURES {
        let _ = writeln!(
            md,
            "and {} more: see the job's log.\n",
            failed.len() - FAILURES
        );
    }
}

/// The last `n` lines of `output`, with a line saying what was left out.
fn last_lines(output: &str, n: usize) -> String {
    let lines: Vec<&str> = output.lines().collect();
    if lines.len() <= n {
        return output.to_string();
    }
    let cut = lines.len() - n;
    format!("[{cut} lines left out]\n{}", lines[cut..].join("\n"))
}

fn longest_backtick_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// Text in a Markdown table cell or heading: HTML's specials escaped, and
/// `|`, which would end the cell.
fn text(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "&#124;")
        .replace('\n', " ")
}

/// A node id as code, safe in a table cell (`[a|b]` ids) and in HTML.
fn code(raw: &str) -> String {
    format!("<code>{}</code>", text(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_fences_survive_what_tests_print() {
        assert_eq!(code("t.py::test[a|b]"), "<code>t.py::test[a&#124;b]</code>");
        assert_eq!(text("<script>"), "&lt;script&gt;");
        assert_eq!(longest_backtick_run("a ``` b ```` c"), 4);
        let long: String = (0..200).map(|i| format!("{i}\n")).collect();
        let cut = last_lines(&long, 150);
        assert!(cut.starts_with("[50 lines left out]\n50\n"), "{cut}");
        assert!(cut.ends_with("199"), "{cut}");
    }
}
