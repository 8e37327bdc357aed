//! pytest-shaped terminal output.
//!
//! What pytest prints, in its order: the header (with every plugin's
//! `pytest_report_header` lines), the collected line, progress (characters
//! with a percentage, or with `-v` one `[gw0] [ 10%] PASSED id` line per
//! outcome as pytest-xdist prints them, after the test's `log_cli` records),
//! then ERRORS, FAILURES, the warnings summary, PASSES, `generated xml file`,
//! durations, the short summary and the final line, framed or bare as the
//! verbosity says. A progress bar replaces the characters on a terminal;
//! under GitHub Actions (`TerminalOptions::github`) plain progress lines do,
//! and each failure, error and the warnings are folded in a log group.
//!
//! Tracebacks come rendered by pytest in the workers (with `--tb`, `-l`,
//! `--showlocals` applied); this file lays them out. Colours follow pytest's
//! markup, code for code, so that `--color=yes` output compares too.

use std::collections::HashMap;
use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pacer_runner::events::{CollectProblem, Hello, PhaseReport};
use pacer_runner::events::{Event, PluginReport, Reporter, Stream, Summary};
use pacer_types::{FlakyResult, Outcome, Phase, Status};

use crate::attempts::attempts;
pub use crate::options::{TbStyle, TerminalOptions};
use crate::tally::{format_elapsed, plural, sep, Counted, Tally};

/// Warnings with the same text, in first-seen order, with the tests that raised them.
fn group_warnings(warnings: Vec<(String, String)>) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (id, message) in warnings {
        match groups.iter_mut().find(|(m, _)| *m == message) {
            Some((_, ids)) => ids.push(id),
            None => groups.push((message, vec![id])),
        }
    }
    groups
}

/// pytest's `collapsed_location_report`: up to 9 node ids, else a count per file.
fn collapse_locations(locations: &[String]) -> String {
    if locations.len() < 10 {
        return locations.join("\n");
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for location in locations {
        let file = location.split("::").next().unwrap_or(location);
        match counts.iter_mut().find(|(f, _)| *f == file) {
            Some((_, n)) => *n += 1,
            None => counts.push((file, 1)),
        }
    }
    counts
        .iter()
        .map(|(file, n)| format!("{file}: {n} warning{}", if *n > 1 { "s" } else { "" }))
        .collect::<Vec<_>>()
        .join("\n")
}

/// pytest's `_format_trimmed(" - {}", message, available)`: the message's
/// first line, cut with `...` to fit; nothing when not even that fits.
fn trimmed_message(message: &str, available: usize) -> Option<String> {
    let first = message.split('\n').next().unwrap_or_default();
    const FORMAT: usize = 3; // " - "
    const ELLIPSIS: usize = 3;
    if FORMAT + ELLIPSIS > available {
        return None;
    }
    if FORMAT + first.chars().count() <= available {
        return Some(format!(" - {first}"));
    }
    let keep = available - ELLIPSIS - FORMAT;
    let cut: String = first.chars().take(keep).collect();
    Some(format!(" - {cut}..."))
}

// pytest's TerminalWriter escape codes.
const RED: &str = "31";
const GREEN: &str = "32";
const YELLOW: &str = "33";
const CYAN: &str = "36";
const BOLD: &str = "1";

/// pytest's `_color_for_type`: the colour of a count of the final line (a
/// status category, or `deselected` / `warnings`); pacer's `flaky` is red
/// when flakiness fails the run (`--flaky-result fail`).
fn color_for(counted: &Counted, flaky: FlakyResult) -> &'static str {
    match counted {
        Counted::Status(Status::Failed | Status::Error) => RED,
        Counted::Status(Status::Passed) => GREEN,
        Counted::Status(Status::Flaky) => match flaky {
            FlakyResult::Fail => RED,
            FlakyResult::Pass => YELLOW,
        },
        Counted::Status(Status::Skipped | Status::XFailed | Status::XPassed | Status::Other(_))
        | Counted::Deselected
        | Counted::Warnings => YELLOW,
    }
}

struct Failure {
    id: String,
    report: PhaseReport,
}

pub struct Terminal<W: Write> {
    out: W,
    options: TerminalOptions,
    /// `log_cli` is on: pytest then prints a line per test as with `-v`.
    log_cli: bool,
    /// (rootdir, invocation folder) when they differ: node ids are then
    /// shown relative to the invocation folder, as pytest's
    /// `cwd_relative_nodeid` does.
    relative_to: Option<(std::path::PathBuf, std::path::PathBuf)>,
    tally: Tally,
    failures: Vec<Failure>,
    errors: Vec<Failure>,
    collect_problems: Vec<CollectProblem>,
    skips: Vec<(String, PhaseReport)>,
    passes: Vec<(String, PhaseReport)>,
    xfails: Vec<(String, PhaseReport)>,
    xpasses: Vec<(String, PhaseReport)>,
    /// Tests that passed after failed attempts: (node id, the attempt that
    /// passed, the first failure's message).
    flaky: Vec<(String, usize, Option<String>)>,
    /// `--flaky-result fail`: flakiness paints the run red.
    flaky_result: FlakyResult,
    /// Captured output of passing teardowns, by node id: pytest prints it
    /// after the test's failure or pass section.
    teardown_sections: HashMap<String, Vec<(String, String)>>,
    /// (seconds, phase, node id) of every reported phase, for `--durations`.
    timings: Vec<(f64, Phase, String)>,
    warnings: Vec<(String, String)>,
    column: usize,
    finished: usize,
    total: usize,
    bar: Option<ProgressBar>,
    /// Plugins' controller output (pytest-cov's report), printed where pytest does.
    plugin_reports: Vec<PluginReport>,
    /// GitHub Actions' progress lines, timed from the collected line.
    github_progress: Option<(std::time::Instant, crate::github::progress::Progress)>,
    /// Under GitHub Actions, what a group's content is fenced with
    /// (`::stop-commands::<token>`): test output is data, and a line of it
    /// starting with `::` must not run as a workflow command. Random, so
    /// that no test can end the fence.
    github_fence: String,
}

impl<W: Write> Terminal<W> {
    pub fn new(out: W, options: TerminalOptions) -> Self {
        Terminal {
            out,
            options,
            log_cli: false,
            relative_to: None,
            tally: Tally::default(),
            failures: Vec::new(),
            errors: Vec::new(),
            collect_problems: Vec::new(),
            skips: Vec::new(),
            passes: Vec::new(),
            xfails: Vec::new(),
            xpasses: Vec::new(),
            flaky: Vec::new(),
            flaky_result: FlakyResult::Pass,
            teardown_sections: HashMap::new(),
            timings: Vec::new(),
            warnings: Vec::new(),
            column: 0,
            finished: 0,
            total: 0,
            bar: None,
            plugin_reports: Vec::new(),
            github_progress: None,
            github_fence: crate::github::commands::fence_token(),
        }
    }

    /// `--flaky-result`: with `fail`, a flaky test colours the run as a
    /// failure would (pacer's exit code is then 1).
    pub fn with_flaky_result(mut self, result: FlakyResult) -> Self {
        self.flaky_result = result;
        self
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn line(&mut self, text: &str) {
        self.end_progress_line();
        // A `\r` starts a new line in GitHub's log, which could then start
        // with `::`.
        let neutral;
        let text = if self.options.github && text.contains('\r') {
            neutral = text.replace('\r', "\\r");
            neutral.as_str()
        } else {
            text
        };
        match &self.bar {
            Some(bar) => bar.suspend(|| {
                let _ = writeln!(self.out, "{text}");
                let _ = self.out.flush();
            }),
            None => {
                let _ = writeln!(self.out, "{text}");
            }
        }
    }

    /// Text that already ends its own lines (a traceback as pytest rendered it).
    fn block(&mut self, text: &str) {
        match text.strip_suffix('\n') {
            Some(text) => self.line(text),
            None => self.line(text),
        }
    }

    fn end_progress_line(&mut self) {
        if self.column > 0 {
            let _ = writeln!(self.out);
            self.column = 0;
        }
    }

    /// pytest's `TerminalWriter.markup`: each code, the text, a reset.
    fn markup(&self, text: &str, codes: &[&str]) -> String {
        if !self.options.color || codes.is_empty() {
            return text.to_string();
        }
        let mut out = String::new();
        for code in codes {
            out.push_str(&format!("\x1b[{code}m"));
        }
        out.push_str(text);
        out.push_str("\x1b[0m");
        out
    }

    fn sep_line(&mut self, ch: char, title: &str, codes: &[&str]) {
        let line = self.markup(&sep(ch, title, self.options.width), codes);
        self.line(&line);
    }

    /// Lines per test (pytest's `-v`, or any verbosity under `log_cli`).
    fn verbose_lines(&self) -> bool {
        self.options.verbosity > 0 || self.log_cli
    }

    fn started(&mut self, hello: &Hello, workers: usize) {
        if let Some(pytest) = &hello.terminal {
            self.options = std::mem::take(&mut self.options).with_pytest(pytest);
        }
        self.log_cli = hello.log_cli;
        if let Some(dir) = &hello.invocation_dir {
            if *dir != hello.rootdir {
                self.relative_to = Some((hello.rootdir.clone().into(), dir.into()));
            }
        }
        if self.options.verbosity < 0 {
            return;
        }
        self.sep_line('=', "test session starts", &[BOLD]);
        if !self.options.no_header {
            let mut platform = format!(
                "platform {} -- Python {}, pytest-{}, pluggy-{}",
                hello.platform, hello.python, hello.pytest, hello.pluggy
            );
            if self.options.verbosity > 0 {
                if let Some(executable) = &hello.executable {
                    platform.push_str(&format!(" -- {executable}"));
                }
            }
            self.line(&platform);
            let lines = if !self.options.report_header_lines.is_empty() {
                self.options.report_header_lines.clone()
            } else if !hello.header_lines.is_empty() {
                hello.header_lines.clone()
            } else {
                fallback_header(hello)
            };
            for line in lines {
                self.line(&line);
            }
        }
        self.line(&format!(
            "pacer: {workers} worker{}",
            if workers == 1 { "" } else { "s" }
        ));
    }

    fn collected(&mut self, total: usize, deselected: usize, problems: &[CollectProblem]) {
        self.total = total;
        self.tally.add(Counted::Deselected, deselected);
        for problem in problems {
            match problem.outcome {
                Outcome::Failed => self.tally.add(Status::Error, 1),
                Outcome::Skipped => self.tally.add(Status::Skipped, 1),
                Outcome::Passed | Outcome::Rerun | Outcome::Other => {}
            }
        }
        self.collect_problems = problems.to_vec();
        if self.options.verbosity >= 0 {
            // pytest's `report_collect(final=True)`.
            let errors = problems
                .iter()
                .filter(|p| p.outcome == Outcome::Failed)
                .count();
            let skipped = problems
                .iter()
                .filter(|p| p.outcome == Outcome::Skipped)
                .count();
            let collected = total + deselected;
            let mut text = format!(
                "collected {collected} item{}",
                if collected == 1 { "" } else { "s" }
            );
            if errors > 0 {
                text.push_str(&format!(
                    " / {errors} error{}",
                    if errors == 1 { "" } else { "s" }
                ));
            }
            if deselected > 0 {
                text.push_str(&format!(" / {deselected} deselected"));
            }
            if skipped > 0 {
                text.push_str(&format!(" / {skipped} skipped"));
            }
            if deselected > 0 {
                text.push_str(&format!(" / {total} selected"));
            }
            // Piped, pytest -v leaves its "collecting ... " in front; on a
            // terminal it rewrites the line in place.
            if self.options.verbosity > 0 && !self.options.tty {
                text.insert_str(0, "collecting ... ");
            }
            let text = if self.options.tty {
                self.markup(&text, &[BOLD])
            } else {
                text
            };
            self.line(&text);
            if let Some(note) = self.options.last_failed_note.clone() {
                self.line(&format!("run-last-failure: {note}"));
            }
            self.line("");
        }
        if self.options.github {
            self.github_progress = Some((std::time::Instant::now(), Default::default()));
        }
        if self.options.progress_bar && total > 0 {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {pos}/{len} [{elapsed_precise}] {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            self.bar = Some(bar);
        }
    }

    fn percent(finished: usize, total: usize) -> String {
        let pct = (finished * 100).checked_div(total).unwrap_or(100);
        format!("[{pct:>3}%]")
    }

    /// pytest's `_determine_main_color`, as the run stands.
    fn main_color(&self, last: bool) -> &'static str {
        let has = |status: Status| self.tally.get(status) > 0;
        let flaky_fails = self.flaky_result == FlakyResult::Fail && has(Status::Flaky);
        if has(Status::Failed) || has(Status::Error) || flaky_fails {
            RED
        } else if self.tally.get(Counted::Warnings) > 0
            || has(Status::XPassed)
            || has(Status::Flaky)
            || self.tally.has_unknown()
        {
            YELLOW
        } else if has(Status::Passed) || !last {
            GREEN
        } else {
            YELLOW
        }
    }

    fn finished(
        &mut self,
        id: &str,
        worker: &str,
        reports: &[PhaseReport],
        finished: usize,
        total: usize,
    ) {
        self.finished = finished;
        let shown = reports.iter().filter(|r| r.cat.is_some()).count();
        let mut nth = 0;
        for report in reports {
            // Kept only when asked for: on a 50,000-test run every copy
            // of every report is megabytes.
            if self.options.durations.is_some() {
                self.timings.push((report.dur, report.when, id.to_string()));
            }
            if let Some(records) = &report.live_log {
                self.live_log(report.when, records);
            }
            let Some(status) = &report.cat else {
                if report.when == Phase::Teardown && !report.sections.is_empty() {
                    self.teardown_sections
                        .entry(id.to_string())
                        .or_default()
                        .extend(report.sections.iter().cloned());
                }
                continue;
            };
            self.tally.add(status.clone(), 1);
            let failed = report.outcome == Outcome::Failed;
            let entry = || (id.to_string(), report.clone());
            if failed && report.when == Phase::Call {
                self.failures.push(Failure {
                    id: id.to_string(),
                    report: report.clone(),
                });
            } else if failed {
                self.errors.push(Failure {
                    id: id.to_string(),
                    report: report.clone(),
                });
            } else if *status == Status::XFailed {
                self.xfails.push(entry());
            } else if *status == Status::XPassed {
                self.xpasses.push(entry());
            } else if report.outcome == Outcome::Skipped {
                self.skips.push(entry());
            } else if *status == Status::Flaky {
                let tries = attempts(reports);
                let first = tries
                    .first()
                    .and_then(|a| a.iter().find_map(|r| r.msg.clone()));
                self.flaky.push((id.to_string(), tries.len(), first));
            } else if *status == Status::Passed
                && (self.options.wants('p') || self.options.wants('P'))
            {
                self.passes.push(entry());
            }
            nth += 1;
            // The line closes with the run's last character, not before it.
            let last = finished == total && nth == shown;
            self.progress(id, worker, report, finished, total, last);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(finished as u64);
            bar.set_message(self.tally.phrase());
        }
        let failed = self.tally.get(Status::Failed) + self.tally.get(Status::Error);
        let line = self
            .github_progress
            .as_mut()
            .and_then(|(t0, progress)| progress.tick(finished, total, failed, t0.elapsed()));
        if let Some(line) = line {
            self.line(&line);
        }
    }

    /// GitHub Actions folds the lines up to [`Self::end_group`] under `title`.
    fn group(&mut self, title: &str) {
        if self.options.github {
            let line = crate::github::commands::command("group", &[], title);
            self.line(&line);
            let fence = format!("::stop-commands::{}", self.github_fence);
            self.line(&fence);
        }
    }

    fn end_group(&mut self) {
        if self.options.github {
            let resume = format!("::{}::", self.github_fence);
            self.line(&resume);
            self.line("::endgroup::");
        }
    }

    /// A phase's `log_cli` records under pytest's `live log <phase>` rule.
    fn live_log(&mut self, when: Phase, records: &str) {
        self.sep_line('-', &format!("live log {when}"), &[BOLD]);
        self.block(records);
    }

    fn progress(
        &mut self,
        id: &str,
        worker: &str,
        report: &PhaseReport,
        finished: usize,
        total: usize,
        last: bool,
    ) {
        let percent = Self::percent(finished, total);
        let word_color = if report.xfail.is_some() || report.cat == Some(Status::Flaky) {
            YELLOW
        } else {
            match report.outcome {
                Outcome::Passed => GREEN,
                Outcome::Failed => RED,
                Outcome::Skipped | Outcome::Rerun | Outcome::Other => YELLOW,
            }
        };
        if self.verbose_lines() {
            let word = if report.word.is_empty() {
                report
                    .cat
                    .as_ref()
                    .map_or(String::new(), |s| s.as_str().to_uppercase())
            } else {
                report.word.clone()
            };
            let progress = self.markup(&format!(" {percent} "), &[CYAN]);
            let word = self.markup(&word, &[word_color]);
            let id = self.cwd_relative(id);
            self.line(&format!("[{worker}]{progress}{word} {id}"));
            return;
        }
        // GitHub Actions' log gets progress lines instead (`github_progress`).
        if self.bar.is_some() || self.options.github {
            return;
        }
        let letter = match &report.cat {
            Some(Status::Passed) => ".",
            Some(Status::Failed) => "F",
            Some(Status::Skipped) => "s",
            Some(Status::XFailed) => "x",
            Some(Status::XPassed) => "X",
            Some(Status::Error) => "E",
            Some(Status::Flaky) => "f",
            Some(Status::Other(word)) => word.get(..1).unwrap_or("?"),
            None => "?",
        };
        let letter = self.markup(letter, &[word_color]);
        let _ = write!(self.out, "{letter}");
        self.column += 1;
        // pytest's progress: ` [ 50%]` once the line would pass the edge,
        // and at the end, right-aligned to one column short of the width.
        let room = self.options.width.saturating_sub(percent.len() + 2);
        if last {
            let width = (room + percent.len() + 1).saturating_sub(self.column);
            let fill = format!("{:>width$}", format!(" {percent}"));
            let fill = self.markup(&fill, &[self.main_color(true)]);
            let _ = writeln!(self.out, "{fill}");
            self.column = 0;
        } else if self.column >= room {
            let text = self.markup(&format!(" {percent}"), &[self.main_color(false)]);
            let _ = writeln!(self.out, "{text}");
            self.column = 0;
        }
    }

    fn summary(&mut self, summary: &Summary) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        // pytest ends the progress line (or, with nothing on it and no
        // header, writes an empty one); once it has named a file or test
        // (verbosity 0 and above) it owes another newline before the summary.
        // With no test run, the blank line after "collected" is that line.
        if self.column > 0 {
            self.end_progress_line();
        } else if self.options.verbosity < 0 && self.finished == 0 {
            self.line("");
        }
        // Lines plugins print right after the tests (pytest-cov's failure
        // under `--cov-fail-under`).
        let after_tests: Vec<String> = self
            .plugin_reports
            .iter()
            .filter(|r| !r.after_tests.is_empty())
            .map(|r| r.after_tests.trim_end_matches('\n').to_string())
            .collect();
        for text in after_tests {
            self.line(&text);
        }
        if (self.options.verbosity >= 0 || self.verbose_lines()) && self.finished > 0 {
            self.line("");
        }
        let show = !self.options.no_summary;
        if show && self.options.tbstyle != TbStyle::No {
            self.errors_section();
            self.failures_section();
        }
        if show && self.options.wants('w') {
            self.warnings_section();
        }
        if show && self.options.tbstyle != TbStyle::No {
            if self.options.wants('P') {
                let passes = std::mem::take(&mut self.passes);
                self.passes_section("PASSES", &passes);
                self.passes = passes;
            }
            if self.options.wants('X') {
                let xpasses = std::mem::take(&mut self.xpasses);
                self.passes_section("XPASSES", &xpasses);
                self.xpasses = xpasses;
            }
        }
        // Other plugins' terminal summaries, in pytest's hook order.
        if let Some(path) = self.options.junitxml.clone() {
            if self.options.verbosity >= 0 {
                self.sep_line('-', &format!("generated xml file: {}", path.display()), &[]);
            }
        }
        if self.options.verbosity >= 0 {
            for (what, path) in self.options.generated_reports.clone() {
                self.sep_line('-', &format!("generated {what}: {}", path.display()), &[]);
            }
        }
        // Plugins' terminal summaries come after pytest's own sections and
        // before the durations and the short test summary, as in pytest.
        for report in std::mem::take(&mut self.plugin_reports) {
            if !report.text.is_empty() {
                self.line(&sep('=', &report.title, self.options.width));
                self.line(report.text.trim_end_matches('\n'));
            }
        }
        self.durations();
        if show {
            self.short_summary();
        }
        let width = self.options.width;
        // A stop, then an interruption: each reads as pytest's line.
        for reason in [&summary.stopped, &summary.interrupted]
            .into_iter()
            .flatten()
        {
            let line = self.markup(&sep('!', &reason.to_string(), width), &[RED]);
            self.line(&line);
        }
        if summary.not_run > 0 {
            self.line(&format!(
                "pacer: {} test{} not run",
                summary.not_run,
                if summary.not_run == 1 { "" } else { "s" }
            ));
        }
        self.final_line(summary);
        let _ = self.out.flush();
    }

    fn errors_section(&mut self) {
        let collect_errors: Vec<CollectProblem> = self
            .collect_problems
            .iter()
            .filter(|p| p.outcome == Outcome::Failed)
            .cloned()
            .collect();
        if collect_errors.is_empty() && self.errors.is_empty() {
            return;
        }
        self.sep_line('=', "ERRORS", &[]);
        for problem in &collect_errors {
            let title = format!("ERROR collecting {}", problem.id);
            self.group(&title);
            self.sep_line('_', &title, &[RED, BOLD]);
            self.block(&problem.longrepr);
            self.end_group();
        }
        let errors = std::mem::take(&mut self.errors);
        for failure in &errors {
            let head = failure
                .report
                .head
                .clone()
                .unwrap_or_else(|| failure.id.clone());
            let title = format!("ERROR at {} of {head}", failure.report.when);
            self.group(&title);
            self.sep_line('_', &title, &[RED, BOLD]);
            self.outcome_body(&failure.report);
            self.end_group();
        }
        self.errors = errors;
    }

    fn failures_section(&mut self) {
        if self.failures.is_empty() {
            return;
        }
        self.sep_line('=', "FAILURES", &[]);
        let failures = std::mem::take(&mut self.failures);
        for failure in &failures {
            if self.options.tbstyle == TbStyle::Line {
                self.outcome_body(&failure.report);
                let crash = failure.report.crash.clone().unwrap_or_default();
                self.line(&crash);
                continue;
            }
            let head = failure
                .report
                .head
                .clone()
                .unwrap_or_else(|| failure.id.clone());
            self.group(&format!("FAILED {head}"));
            self.sep_line('_', &head, &[RED, BOLD]);
            self.outcome_body(&failure.report);
            self.teardown_output(&failure.id);
            self.end_group();
        }
        self.failures = failures;
    }

    /// pytest's PASSES / XPASSES: each test with captured output, under its name.
    fn passes_section(&mut self, title: &str, reports: &[(String, PhaseReport)]) {
        if reports.is_empty() {
            return;
        }
        self.sep_line('=', title, &[]);
        self.group(title);
        for (id, report) in reports {
            if !report.sections.is_empty() {
                let head = report.head.clone().unwrap_or_else(|| id.clone());
                self.sep_line('_', &head, &[GREEN, BOLD]);
                self.outcome_body(report);
            }
            self.teardown_output(id);
        }
        self.end_group();
    }

    fn warnings_section(&mut self) {
        if self.warnings.is_empty() {
            return;
        }
        self.sep_line('=', "warnings summary", &[YELLOW]);
        self.group("warnings summary");
        for (message, ids) in group_warnings(self.warnings.clone()) {
            let locations: Vec<String> = ids.into_iter().filter(|id| !id.is_empty()).collect();
            if locations.is_empty() {
                self.line(message.trim_end());
            } else {
                self.line(&collapse_locations(&locations));
                let indented: Vec<String> = message.lines().map(|l| format!("  {l}")).collect();
                self.line(indented.join("\n").trim_end());
            }
            self.line("");
        }
        self.line("-- Docs: https://docs.pytest.org/en/stable/how-to/capture-warnings.html");
        self.end_group();
    }

    /// pytest's `_outrep_summary`: the rendered failure, then each captured
    /// section `--show-capture` lets through.
    fn outcome_body(&mut self, report: &PhaseReport) {
        if let Some(longrepr) = &report.longrepr {
            self.block(longrepr);
        }
        for (title, content) in &report.sections {
            if self.options.shows_section(title) {
                self.sep_line('-', title, &[]);
                self.block(content);
            }
        }
    }

    /// pytest's `_handle_teardown_sections`: a passing teardown's own output.
    fn teardown_output(&mut self, id: &str) {
        let Some(sections) = self.teardown_sections.get(id).cloned() else {
            return;
        };
        if self.options.show_capture == "no" {
            return;
        }
        for (title, content) in sections {
            if title.contains("teardown") && self.options.shows_section(&title) {
                self.sep_line('-', &title, &[]);
                self.block(&content);
            }
        }
    }

    /// pytest's `summary_stats`: framed at verbosity 0 and above, bare with
    /// `-q`, absent with `-qq`; each count in its colour, the rest in the
    /// run's.
    fn final_line(&mut self, summary: &Summary) {
        if self.options.verbosity < -1 {
            return;
        }
        let main = self.main_color(true);
        let mut parts = Vec::new();
        let mut plain = Vec::new();
        for (counted, n) in self.tally.ordered() {
            let text = plural(n, &counted);
            let color = color_for(&counted, self.flaky_result);
            let codes: &[&str] = if color == main {
                &[color, BOLD]
            } else {
                &[color]
            };
            parts.push(self.markup(&text, codes));
            plain.push(text);
        }
        if parts.is_empty() {
            parts.push(self.markup("no tests ran", &[YELLOW]));
            plain.push("no tests ran".into());
        }
        let duration = format!(" in {}", format_elapsed(summary.elapsed));
        let plain = format!("{}{duration}", plain.join(", "));
        let mut text = format!("{}{}", parts.join(", "), self.markup(&duration, &[main]));
        if self.options.verbosity < 0 {
            let line = self.markup(&text, &[main]);
            self.line(&line);
            return;
        }
        if self.options.color {
            // pytest leaves the run's colour open after the text, so the
            // right-hand rule is coloured too; the width counts visible text.
            text.push_str(&format!("\x1b[{main}m"));
        }
        let framed = sep('=', &plain, self.options.width).replacen(&plain, &text, 1);
        let line = self.markup(&framed, &[main]);
        self.line(&line);
    }

    /// `SKIPPED [2] tests/test_a.py:12: reason`, grouped like pytest does.
    fn skipped_lines(&self) -> Vec<String> {
        let mut groups: Vec<(String, usize)> = Vec::new();
        let skipped = self.skips.iter().map(|(_, r)| r.skip.as_ref());
        let collected = self
            .collect_problems
            .iter()
            .filter(|p| p.outcome == Outcome::Skipped)
            .map(|p| p.skip.as_ref());
        for skip in skipped.chain(collected).flatten() {
            let reason = skip.2.strip_prefix("Skipped: ").unwrap_or(&skip.2);
            let place = match skip.1 {
                Some(line) => format!("{}:{line}: {reason}", skip.0),
                None => format!("{}: {reason}", skip.0),
            };
            match groups.iter_mut().find(|(p, _)| *p == place) {
                Some((_, n)) => *n += 1,
                None => groups.push((place, 1)),
            }
        }
        let word = self.markup("SKIPPED", &[YELLOW]);
        groups
            .into_iter()
            .map(|(place, n)| format!("{word} [{n}] {place}"))
            .collect()
    }
    /// pytest's `--durations` section.
    fn durations(&mut self) {
        let Some(n) = self.options.durations else {
            return;
        };
        let mut timings = std::mem::take(&mut self.timings);
        timings.sort_by(|a, b| b.0.total_cmp(&a.0));
        let title = if n == 0 {
            "slowest durations".to_string()
        } else {
            format!("slowest {n} durations")
        };
        self.sep_line('=', &title, &[]);
        let shown = if n == 0 {
            timings.len()
        } else {
            n.min(timings.len())
        };
        let min = if self.options.verbosity >= 2 {
            0.0
        } else {
            self.options.durations_min
        };
        let mut hidden = 0;
        for (secs, when, id) in timings.iter().take(shown) {
            if *secs < min {
                hidden += 1;
                continue;
            }
            self.line(&format!("{secs:.2}s {when:<8} {id}"));
        }
        if hidden > 0 {
            self.line("");
            self.line(&format!(
                "({hidden} durations < {min}s hidden.  Use -vv to show these durations.)"
            ));
        }
    }

    /// pytest's `cwd_relative_nodeid`: the id's path relative to where
    /// pytest was started, when that is not the rootdir.
    fn cwd_relative(&self, id: &str) -> String {
        let Some((rootdir, invocation)) = &self.relative_to else {
            return id.to_string();
        };
        let (path, rest) = match id.split_once("::") {
            Some((path, rest)) => (path, Some(rest)),
            None => (id, None),
        };
        let shown = relative_path(invocation, &rootdir.join(path));
        match rest {
            Some(rest) => format!("{shown}::{rest}"),
            None => shown,
        }
    }

    /// A node id as pytest's short summary marks it up: the part after the
    /// file in bold.
    fn node_id(&self, id: &str) -> String {
        let id = self.cwd_relative(id);
        let id = id.as_str();
        match id.split_once("::") {
            Some((path, rest)) if self.options.color => {
                format!("{path}::{}", self.markup(rest, &[BOLD]))
            }
            _ => id.to_string(),
        }
    }

    /// `WORD id - message`: the whole message on CI or with -vv, else its
    /// first line cut to what the width leaves after the node id, which is
    /// never cut (pytest's `_get_line_with_reprcrash_message`).
    fn simple_line(&self, word: &str, color: &str, id: &str, message: Option<&String>) -> String {
        // pytest measures the line with its markup in, and `wcswidth` of
        // an escape code is -1: coloured, the whole width plus one is left.
        let used = if self.options.color {
            -1
        } else {
            format!("{word} {id}").chars().count() as isize
        };
        let available = (self.options.width as isize - used).max(0) as usize;
        let mut line = format!("{} {}", self.markup(word, &[color]), self.node_id(id));
        let Some(message) = message else {
            return line;
        };
        if self.options.on_ci || self.options.verbosity >= 2 {
            line.push_str(&format!(" - {message}"));
        } else if let Some(tail) = trimmed_message(message, available) {
            line.push_str(&tail);
        }
        line
    }

    fn short_summary(&mut self) {
        let mut lines = Vec::new();
        for c in self.options.report_chars.chars() {
            match c {
                'f' => {
                    for failure in &self.failures {
                        lines.push(self.simple_line(
                            "FAILED",
                            RED,
                            &failure.id,
                            failure.report.msg.as_ref(),
                        ));
                    }
                    // pacer's: a flaky test failed before it passed.
                    for (id, attempt, first) in &self.flaky {
                        let message = match first {
                            Some(first) => {
                                format!("passed on attempt {attempt} (attempt 1: {first})")
                            }
                            None => format!("passed on attempt {attempt}"),
                        };
                        lines.push(self.simple_line("FLAKY", YELLOW, id, Some(&message)));
                    }
                }
                'E' => {
                    for problem in self
                        .collect_problems
                        .iter()
                        .filter(|p| p.outcome == Outcome::Failed)
                    {
                        lines.push(self.simple_line("ERROR", RED, &problem.id, None));
                    }
                    for failure in &self.errors {
                        lines.push(self.simple_line(
                            "ERROR",
                            RED,
                            &failure.id,
                            failure.report.msg.as_ref(),
                        ));
                    }
                }
                'p' => {
                    for (id, _) in &self.passes {
                        lines.push(self.simple_line("PASSED", GREEN, id, None));
                    }
                }
                'x' => {
                    for (id, report) in &self.xfails {
                        let word = self.markup("XFAIL", &[YELLOW]);
                        let at = if report.when == Phase::Call {
                            String::new()
                        } else {
                            format!("at {} of ", report.when)
                        };
                        let line = format!("{word} {at}{}", self.node_id(id));
                        lines.push(with_reason(line, report));
                    }
                }
                'X' => {
                    for (id, report) in &self.xpasses {
                        let word = self.markup("XPASS", &[YELLOW]);
                        let line = format!("{word} {}", self.node_id(id));
                        lines.push(with_reason(line, report));
                    }
                }
                's' => lines.extend(self.skipped_lines()),
                _ => {}
            }
        }
        if !lines.is_empty() {
            self.sep_line('=', "short test summary info", &[CYAN, BOLD]);
            for line in lines {
                self.line(&line);
            }
        }
    }
}

/// An xfail or xpass line: pytest never shortens these.
fn with_reason(line: String, report: &PhaseReport) -> String {
    match report.xfail.as_deref().filter(|r| !r.is_empty()) {
        Some(reason) => format!("{line} - {reason}"),
        None => line,
    }
}

/// pytest's `bestrelpath(base, target)`: `target` relative to `base`, with
/// `..` for each folder of `base` the two do not share.
fn relative_path(base: &std::path::Path, target: &std::path::Path) -> String {
    use std::path::Component;
    let base: Vec<Component> = base.components().collect();
    let target: Vec<Component> = target.components().collect();
    let common = base.iter().zip(&target).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return target
            .iter()
            .collect::<std::path::PathBuf>()
            .display()
            .to_string();
    }
    let mut parts: Vec<String> = vec!["..".to_string(); base.len() - common];
    parts.extend(
        target[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// The header from a worker that sent no `header_lines` (an older plugin).
fn fallback_header(hello: &Hello) -> Vec<String> {
    let mut lines = vec![format!("rootdir: {}", hello.rootdir)];
    if let Some(configfile) = &hello.configfile {
        let shown = configfile
            .strip_prefix(&format!("{}/", hello.rootdir))
            .unwrap_or(configfile);
        lines.push(format!("configfile: {shown}"));
    }
    if !hello.plugins.is_empty() {
        lines.push(format!("plugins: {}", hello.plugins.join(", ")));
    }
    lines
}

impl<W: Write> Reporter for Terminal<W> {
    fn report(&mut self, event: Event<'_>) {
        match event {
            Event::Started { hello, workers } => {
                self.options.apply(&hello.options);
                self.started(hello, workers)
            }
            Event::LastFailed { run } => {
                // pytest says nothing of it with -q.
                if self.options.verbosity >= 0 {
                    self.options.last_failed_note = Some(crate::lastfailed::note(run));
                }
            }
            Event::Collected {
                total,
                deselected,
                problems,
            } => self.collected(total, deselected, problems),
            Event::TestStarted { .. }
            | Event::TestTouched { .. }
            | Event::Planned { .. }
            | Event::WorkerFinished { .. } => {}
            Event::PluginReport { report } => self.plugin_reports.push(report.clone()),
            Event::TestFinished {
                id,
                worker,
                reports,
                finished,
                total,
                ..
            } => self.finished(id, worker, reports, finished, total),
            Event::TestAmended {
                id,
                worker,
                reports,
            } => {
                let finished = self.total;
                self.finished(id, worker, reports, finished, self.total);
            }
            Event::Output {
                worker,
                stream,
                line,
            } => {
                let tag = match stream {
                    Stream::Stdout => "",
                    Stream::Stderr => " err",
                };
                self.line(&format!("[{worker}{tag}] {line}"));
            }
            Event::Warning { id, message } => {
                self.warnings.push((id.to_string(), message.to_string()))
            }
            Event::Notice { message } => self.line(&format!("pacer: {message}")),
            Event::WaitWorkers { wait } => self.line(&format!("pacer: {}", wait.line())),
            Event::Finished { summary } => {
                if !self.warnings.is_empty() {
                    let n = self.warnings.len();
                    self.tally.add(Counted::Warnings, n);
                }
                self.summary(summary)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(when: &str, outcome: &str, cat: &str, word: &str) -> PhaseReport {
        PhaseReport {
            when: when.parse().unwrap(),
            outcome: outcome.parse().unwrap(),
            cat: Status::parse(cat),
            word: word.into(),
            dur: 0.01,
            longrepr: (outcome == "failed").then(|| "E   assert 1 == 2".to_string()),
            sections: if outcome == "failed" {
                vec![("Captured stdout call".into(), "hello\n".into())]
            } else {
                vec![]
            },
            head: (outcome == "failed").then(|| "test_b".to_string()),
            msg: (outcome == "failed").then(|| "assert 1 == 2".to_string()),
            ..Default::default()
        }
    }

    fn render(verbosity: i32, color: bool) -> String {
        render_with(TerminalOptions {
            verbosity,
            color,
            ..TerminalOptions::default()
        })
    }

    fn render_with(options: TerminalOptions) -> String {
        let mut terminal = Terminal::new(Vec::new(), options);
        terminal.report(Event::Collected {
            total: 3,
            deselected: 0,
            problems: &[],
        });
        let passed = [report("call", "passed", "passed", "PASSED")];
        let failed = [report("call", "failed", "failed", "FAILED")];
        let teardown = [
            report("call", "passed", "passed", "PASSED"),
            report("teardown", "failed", "error", "ERROR"),
        ];
        terminal.report(Event::TestFinished {
            id: "t.py::test_a",
            worker: "gw0",
            reports: &passed,
            finished: 1,
            total: 3,
            cpu: None,
        });
        terminal.report(Event::TestFinished {
            id: "t.py::test_b",
            worker: "gw1",
            reports: &failed,
            finished: 2,
            total: 3,
            cpu: None,
        });
        terminal.report(Event::TestFinished {
            id: "t.py::test_c",
            worker: "gw0",
            reports: &teardown,
            finished: 3,
            total: 3,
            cpu: None,
        });
        let summary = Summary {
            elapsed: std::time::Duration::from_millis(1220),
            exit_code: 1,
            ..Default::default()
        };
        terminal.report(Event::Finished { summary: &summary });
        String::from_utf8(terminal.into_inner()).unwrap()
    }

    #[test]
    fn on_github_sections_fold_and_progress_lines_replace_characters() {
        let out = render_with(TerminalOptions {
            github: true,
            ..TerminalOptions::default()
        });
        assert!(!out.contains(".F.E"), "{out}");
        assert!(out.contains("pacer: 3/3 tests, 2 failed, "), "{out}");
        let fence = out
            .lines()
            .find_map(|l| l.strip_prefix("::stop-commands::"))
            .expect("a group's content is fenced")
            .to_string();
        assert!(
            out.contains(&format!(
                "::group::FAILED test_b\n::stop-commands::{fence}\n{}",
                sep('_', "test_b", 80)
            )),
            "{out}"
        );
        assert_eq!(
            out.matches(&format!("::stop-commands::{fence}\n")).count(),
            out.matches(&format!("\n::{fence}::\n::endgroup::")).count(),
            "{out}"
        );
        assert!(
            out.contains("::group::ERROR at teardown of test_b\n"),
            "{out}"
        );
        assert_eq!(
            out.matches("::group::").count(),
            out.matches("::endgroup::").count()
        );
        assert!(out
            .lines()
            .last()
            .unwrap()
            .contains("1 failed, 2 passed, 1 error"));
    }

    #[test]
    fn on_github_test_output_cannot_run_workflow_commands() {
        // Issue 17: a failing test's output printed in a group ran
        // `::add-mask::`, `::error::` and `::stop-commands::` of its own.
        let mut terminal = Terminal::new(
            Vec::new(),
            TerminalOptions {
                github: true,
                ..TerminalOptions::default()
            },
        );
        terminal.report(Event::Collected {
            total: 1,
            deselected: 0,
            problems: &[],
        });
        let mut failed = report("call", "failed", "failed", "FAILED");
        failed.longrepr = Some(
            "E   boom\n::add-mask::secret\n::stop-commands::guess\nline\r::error::injected".into(),
        );
        terminal.report(Event::TestFinished {
            id: "t.py::test_x",
            worker: "gw0",
            reports: &[failed],
            finished: 1,
            total: 1,
            cpu: None,
        });
        terminal.report(Event::Finished {
            summary: &Summary {
                exit_code: 1,
                ..Default::default()
            },
        });
        let out = String::from_utf8(terminal.into_inner()).unwrap();
        let fence = out
            .lines()
            .find_map(|l| l.strip_prefix("::stop-commands::pacer-"))
            .expect("fenced");
        assert_ne!(fence, "guess");
        let inside = out
            .split(&format!("::stop-commands::pacer-{fence}\n"))
            .nth(1)
            .and_then(|rest| rest.split(&format!("::pacer-{fence}::")).next())
            .expect("the output sits inside the fence");
        assert!(inside.contains("::add-mask::secret"), "{out}");
        // The carriage return starts no new log line.
        assert!(inside.contains("line\\r::error::injected"), "{out}");
        assert!(!out.contains('\r'), "{out:?}");
        // Another run fences with another token.
        assert_ne!(
            crate::github::commands::fence_token(),
            crate::github::commands::fence_token()
        );
    }

    #[test]
    fn output_has_pytest_shape() {
        let out = render(0, false);
        assert!(out.contains(".F.E "), "{out}");
        assert!(out.contains(&sep('=', "FAILURES", 80)), "{out}");
        assert!(out.contains(&sep('_', "test_b", 80)), "{out}");
        assert!(out.contains(&sep('-', "Captured stdout call", 80)), "{out}");
        assert!(out.contains("ERROR at teardown of test_b"), "{out}");
        assert!(out.contains("FAILED t.py::test_b - assert 1 == 2"), "{out}");
        assert!(out.contains("ERROR t.py::test_c"), "{out}");
        let last = out.lines().last().unwrap();
        assert_eq!(last, sep('=', "1 failed, 2 passed, 1 error in 1.22s", 80));
    }

    #[test]
    fn verbose_lines_name_worker_percent_and_outcome() {
        let out = render(1, false);
        assert!(out.contains("[gw0] [ 33%] PASSED t.py::test_a"), "{out}");
        assert!(out.contains("[gw1] [ 66%] FAILED t.py::test_b"), "{out}");
        assert!(out.contains("[gw0] [100%] ERROR t.py::test_c"), "{out}");
    }

    #[test]
    fn warnings_group_by_text_and_collapse_past_nine_locations() {
        let warnings = vec![
            ("a.py::t1".to_string(), "w1".to_string()),
            ("a.py::t2".to_string(), "w2".to_string()),
            ("a.py::t3".to_string(), "w1".to_string()),
        ];
        let groups = group_warnings(warnings);
        assert_eq!(
            groups[0],
            (
                "w1".to_string(),
                vec!["a.py::t1".to_string(), "a.py::t3".to_string()]
            )
        );
        let many: Vec<String> = (0..12)
            .map(|i| format!("{}.py::t", if i < 10 { "a" } else { "b" }))
            .collect();
        assert_eq!(
            collapse_locations(&many),
            "a.py: 10 warnings\nb.py: 2 warnings"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(!render(0, false).contains('\x1b'));
        let coloured = render(0, true);
        assert!(
            coloured.lines().last().unwrap().starts_with("\x1b[31m"),
            "a failing run ends in red"
        );
    }

    // Both placements were read off pytest 9.2's own output: LFPlugin's line
    // comes from pytest_report_collectionfinish, right after the collected
    // line; LogXML's from pytest_terminal_summary, inside the terminal
    // reporter's wrapper, so after PASSES and before the short summary.
    #[test]
    fn last_failed_note_follows_the_collected_line() {
        let out = render_with(TerminalOptions {
            last_failed_note: Some("rerun previous 1 failure".into()),
            ..TerminalOptions::default()
        });
        assert!(
            out.starts_with("collected 3 items\nrun-last-failure: rerun previous 1 failure\n\n"),
            "{out}"
        );
        let quiet = render_with(TerminalOptions {
            verbosity: -1,
            last_failed_note: Some("rerun previous 1 failure".into()),
            ..TerminalOptions::default()
        });
        assert!(!quiet.contains("run-last-failure"), "{quiet}");
    }

    #[test]
    fn generated_xml_file_line_comes_before_the_short_summary() {
        let out = render_with(TerminalOptions {
            junitxml: Some("/tmp/report.xml".into()),
            ..TerminalOptions::default()
        });
        let expected = format!(
            "{}\n{}\n",
            sep('-', "generated xml file: /tmp/report.xml", 80),
            sep('=', "short test summary info", 80)
        );
        assert!(out.contains(&expected), "{out}");
    }

    #[test]
    fn quiet_final_line_is_bare_and_very_quiet_has_none() {
        let out = render(-1, false);
        assert!(out.starts_with(".F.E"), "{out}");
        assert_eq!(
            out.lines().last().unwrap(),
            "1 failed, 2 passed, 1 error in 1.22s"
        );
        let out = render(-2, false);
        assert!(!out.contains(" in 1.22s"), "{out}");
    }

    #[test]
    fn progress_line_stops_one_column_short_as_pytest() {
        let out = render(0, false);
        let progress = out.lines().nth(2).unwrap();
        assert!(progress.starts_with(".F.E"), "{out}");
        assert_eq!(progress.len(), 79, "{out}");
        assert!(progress.ends_with(" [100%]"), "{out}");
    }

    #[test]
    fn short_summary_cuts_the_message_never_the_node_id() {
        let long = format!("t.py::test_{}", "x".repeat(90));
        let options = TerminalOptions::default();
        let terminal = Terminal::new(Vec::new(), options);
        let message = "assert 1 == 2".to_string();
        assert_eq!(
            terminal.simple_line("FAILED", RED, &long, Some(&message)),
            format!("FAILED {long}")
        );
        let id = "t.py::test_b";
        let message = "m".repeat(100);
        let line = terminal.simple_line("FAILED", RED, id, Some(&message));
        assert_eq!(line.len(), 80, "{line}");
        assert!(line.ends_with("m..."), "{line}");
    }

    #[test]
    fn node_ids_are_shown_relative_to_the_invocation_folder() {
        use std::path::Path;
        assert_eq!(
            relative_path(Path::new("/p/tests"), Path::new("/p/tests/test_a.py")),
            "test_a.py"
        );
        assert_eq!(
            relative_path(Path::new("/p/sub"), Path::new("/p/tests/test_a.py")),
            "../tests/test_a.py"
        );
        let mut terminal = Terminal::new(Vec::new(), TerminalOptions::default());
        terminal.relative_to = Some(("/p".into(), "/p/tests".into()));
        assert_eq!(
            terminal.cwd_relative("tests/test_a.py::test_x[a/b]"),
            "test_a.py::test_x[a/b]"
        );
    }
}
