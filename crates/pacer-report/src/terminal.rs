//! pytest-shaped terminal output.
//!
//! Progress as pytest-xdist prints it (characters with a percentage, or one
//! `[gw0] [ 10%] PASSED id` line per outcome with `-v`), a progress bar on a
//! terminal, then ERRORS, FAILURES, warnings, the short summary and pytest's
//! final line.

use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pacer_runner::events::{Event, PluginReport, Reporter, Stream, Summary};
use pacer_runner::protocol::{CollectProblem, Hello, PhaseReport};

use crate::tally::{format_elapsed, sep, Tally};

#[derive(Debug, Clone)]
pub struct TerminalOptions {
    /// pytest's verbosity: -1 for `-q`, 1 for `-v`.
    pub verbosity: i32,
    /// Draw a progress bar (stderr is a terminal).
    pub progress_bar: bool,
    pub width: usize,
    /// Colour outcome words and the final line, as pytest does on a terminal.
    pub color: bool,
    /// pytest's `-r` characters, resolved (`fE` by default; `a`, `A`, `N` expanded).
    pub report_chars: String,
    /// pytest's `--durations=N` (0: all) and `--durations-min`.
    pub durations: Option<usize>,
    pub durations_min: f64,
    /// pytest's `running_on_ci()` (`CI` or `BUILD_NUMBER` set): the short
    /// summary then shows whole messages instead of fitting them to the width.
    pub on_ci: bool,
}

impl TerminalOptions {
    pub fn detect(verbosity: i32) -> Self {
        use std::io::IsTerminal;
        let tty = std::io::stdout().is_terminal();
        let width = terminal_size::terminal_size()
            .map(|(w, _)| w.0 as usize)
            .filter(|_| tty)
            .or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()))
            .unwrap_or(80);
        // pytest's own switches: NO_COLOR wins, then PY_COLORS / FORCE_COLOR.
        let env = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let color = if env("NO_COLOR") {
            false
        } else if std::env::var("PY_COLORS").is_ok_and(|v| v == "1") || env("FORCE_COLOR") {
            true
        } else {
            tty
        };
        TerminalOptions {
            verbosity,
            progress_bar: tty && std::env::var_os("CI").is_none(),
            width,
            color,
            report_chars: "fE".into(),
            durations: None,
            durations_min: 0.005,
            on_ci: ["CI", "BUILD_NUMBER"].iter().any(|v| env(v)),
        }
    }

    /// Takes pytest's own reporting options from the arguments given to
    /// pytest (`-r CHARS`, `--durations N`, `--durations-min S`), which mean
    /// here what they mean there.
    pub fn with_pytest_args(mut self, args: &[String]) -> Self {
        let mut chars = String::from("fE");
        let mut i = 0;
        while i < args.len() {
            let arg = args[i].as_str();
            let value = |prefix: &str| -> Option<String> {
                if arg == prefix {
                    args.get(i + 1).cloned()
                } else {
                    arg.strip_prefix(prefix)
                        .map(|v| v.trim_start_matches('=').to_string())
                }
            };
            if arg.starts_with("-r") && !arg.starts_with("--") {
                if let Some(v) = value("-r") {
                    chars = resolve_report_chars(&v);
                }
            } else if arg.starts_with("--durations-min") {
                if let Some(v) = value("--durations-min").and_then(|v| v.parse().ok()) {
                    self.durations_min = v;
                }
            } else if arg.starts_with("--durations") {
                if let Some(v) = value("--durations").and_then(|v| v.parse().ok()) {
                    self.durations = Some(v);
                }
            }
            i += 1;
        }
        self.report_chars = chars;
        self
    }
}

/// pytest's `getreportopt`: `a` is everything but passes, `A` everything,
/// `N` nothing; other characters add themselves once.
fn resolve_report_chars(given: &str) -> String {
    let mut out = String::new();
    for c in given.chars() {
        match c {
            'a' => out = "sxXEf".into(),
            'A' => out = "PpsxXEf".into(),
            'N' => out.clear(),
            c if !out.contains(c) => out.push(c),
            _ => {}
        }
    }
    out
}

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

/// An xfail or xpass line: pytest never shortens these.
fn with_reason(line: String, report: &PhaseReport) -> String {
    match report.xfail.as_deref().filter(|r| !r.is_empty()) {
        Some(reason) => format!("{line} - {reason}"),
        None => line,
    }
}

const RED: &str = "31";
const GREEN: &str = "32";
const YELLOW: &str = "33";

struct Failure {
    id: String,
    report: PhaseReport,
}

pub struct Terminal<W: Write> {
    out: W,
    options: TerminalOptions,
    tally: Tally,
    failures: Vec<Failure>,
    errors: Vec<Failure>,
    collect_problems: Vec<CollectProblem>,
    skips: Vec<(String, PhaseReport)>,
    passes: Vec<String>,
    xfails: Vec<(String, PhaseReport)>,
    xpasses: Vec<(String, PhaseReport)>,
    /// (seconds, phase, node id) of every reported phase, for `--durations`.
    timings: Vec<(f64, String, String)>,
    warnings: Vec<(String, String)>,
    column: usize,
    total: usize,
    bar: Option<ProgressBar>,
    /// Plugins' controller output (pytest-cov's report), printed where pytest does.
    plugin_reports: Vec<PluginReport>,
}

impl<W: Write> Terminal<W> {
    pub fn new(out: W, options: TerminalOptions) -> Self {
        Terminal {
            out,
            options,
            tally: Tally::default(),
            failures: Vec::new(),
            errors: Vec::new(),
            collect_problems: Vec::new(),
            skips: Vec::new(),
            passes: Vec::new(),
            xfails: Vec::new(),
            xpasses: Vec::new(),
            timings: Vec::new(),
            warnings: Vec::new(),
            column: 0,
            total: 0,
            bar: None,
            plugin_reports: Vec::new(),
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn line(&mut self, text: &str) {
        self.end_progress_line();
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

    fn end_progress_line(&mut self) {
        if self.column > 0 {
            let _ = writeln!(self.out);
            self.column = 0;
        }
    }

    fn started(&mut self, hello: &Hello, workers: usize) {
        if self.options.verbosity < 0 {
            return;
        }
        self.line(&sep('=', "test session starts", self.options.width));
        self.line(&format!(
            "platform {} -- Python {}, pytest-{}, pluggy-{}",
            hello.platform, hello.python, hello.pytest, hello.pluggy
        ));
        self.line(&format!("rootdir: {}", hello.rootdir));
        if let Some(configfile) = &hello.configfile {
            let shown = configfile
                .strip_prefix(&format!("{}/", hello.rootdir))
                .unwrap_or(configfile);
            self.line(&format!("configfile: {shown}"));
        }
        if !hello.plugins.is_empty() {
            self.line(&format!("plugins: {}", hello.plugins.join(", ")));
        }
        self.line(&format!(
            "pacer: {workers} worker{}",
            if workers == 1 { "" } else { "s" }
        ));
    }

    fn collected(&mut self, total: usize, deselected: usize, problems: &[CollectProblem]) {
        self.total = total;
        self.tally.add("deselected", deselected);
        for problem in problems {
            match problem.outcome.as_str() {
                "failed" => self.tally.add("error", 1),
                "skipped" => self.tally.add("skipped", 1),
                _ => {}
            }
        }
        self.collect_problems = problems.to_vec();
        if self.options.verbosity >= 0 {
            let errors = problems.iter().filter(|p| p.outcome == "failed").count();
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
                text.push_str(&format!(" / {deselected} deselected / {total} selected"));
            }
            self.line(&text);
            self.line("");
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

    fn finished(
        &mut self,
        id: &str,
        worker: &str,
        reports: &[PhaseReport],
        finished: usize,
        total: usize,
    ) {
        let shown = reports.iter().filter(|r| !r.cat.is_empty()).count();
        let mut nth = 0;
        for report in reports {
            self.tally.add(&report.cat, 1);
            self.timings
                .push((report.dur, report.when.clone(), id.to_string()));
            if report.cat.is_empty() {
                continue;
            }
            let failed = report.outcome == "failed";
            if failed && report.when == "call" {
                self.failures.push(Failure {
                    id: id.to_string(),
                    report: report.clone(),
                });
            } else if failed {
                self.errors.push(Failure {
                    id: id.to_string(),
                    report: report.clone(),
                });
            } else if report.cat == "xfailed" {
                self.xfails.push((id.to_string(), report.clone()));
            } else if report.cat == "xpassed" {
                self.xpasses.push((id.to_string(), report.clone()));
            } else if report.outcome == "skipped" {
                self.skips.push((id.to_string(), report.clone()));
            } else if report.cat == "passed" {
                self.passes.push(id.to_string());
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
        if self.options.verbosity > 0 {
            let word = if report.word.is_empty() {
                report.cat.to_uppercase()
            } else {
                report.word.clone()
            };
            let color = match report.cat.as_str() {
                "passed" => GREEN,
                "failed" | "error" => RED,
                _ => YELLOW,
            };
            let word = self.paint(&word, color);
            self.line(&format!("[{worker}] {percent} {word} {id}"));
            return;
        }
        if self.options.verbosity < 0 || self.bar.is_some() {
            return;
        }
        let letter = match report.cat.as_str() {
            "passed" => ".",
            "failed" => "F",
            "skipped" => "s",
            "xfailed" => "x",
            "xpassed" => "X",
            "error" => "E",
            other => other.get(..1).unwrap_or("?"),
        };
        let _ = write!(self.out, "{letter}");
        self.column += 1;
        let room = self.options.width.saturating_sub(percent.len() + 1);
        if self.column >= room || last {
            let pad = room.saturating_sub(self.column);
            let _ = writeln!(self.out, "{} {percent}", " ".repeat(pad));
            self.column = 0;
        }
    }

    fn summary(&mut self, summary: &Summary) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.end_progress_line();
        let width = self.options.width;
        let after_tests: Vec<String> = self
            .plugin_reports
            .iter()
            .filter(|r| !r.after_tests.is_empty())
            .map(|r| r.after_tests.trim_end_matches('\n').to_string())
            .collect();
        for text in after_tests {
            self.line(&text);
        }
        let has_errors =
            !self.errors.is_empty() || self.collect_problems.iter().any(|p| p.outcome == "failed");
        if has_errors {
            self.line(&sep('=', "ERRORS", width));
            for problem in std::mem::take(&mut self.collect_problems) {
                if problem.outcome == "failed" {
                    self.line(&sep(
                        '_',
                        &format!("ERROR collecting {}", problem.id),
                        width,
                    ));
                    self.line(problem.longrepr.trim_end());
                }
                self.collect_problems.push(problem);
            }
            for failure in std::mem::take(&mut self.errors) {
                let head = failure
                    .report
                    .head
                    .clone()
                    .unwrap_or_else(|| failure.id.clone());
                self.line(&sep(
                    '_',
                    &format!("ERROR at {} of {head}", failure.report.when),
                    width,
                ));
                self.failure_body(&failure.report);
                self.errors.push(failure);
            }
        }
        if !self.failures.is_empty() {
            self.line(&sep('=', "FAILURES", width));
            for failure in std::mem::take(&mut self.failures) {
                let head = failure
                    .report
                    .head
                    .clone()
                    .unwrap_or_else(|| failure.id.clone());
                self.line(&sep('_', &head, width));
                self.failure_body(&failure.report);
                self.failures.push(failure);
            }
        }
        if !self.warnings.is_empty() {
            self.line(&sep('=', "warnings summary", width));
            for (message, ids) in group_warnings(std::mem::take(&mut self.warnings)) {
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
        }
        // Plugins' terminal summaries come after pytest's own sections and
        // before the durations and the short test summary, as in pytest.
        for report in std::mem::take(&mut self.plugin_reports) {
            if !report.text.is_empty() {
                self.line(&sep('=', &report.title, width));
                self.line(report.text.trim_end_matches('\n'));
            }
        }
        self.durations();
        self.short_summary();
        if let Some(stopped) = &summary.stopped {
            self.line(&sep('!', stopped, width));
        }
        if let Some(interrupted) = &summary.interrupted {
            let text = if interrupted == "KeyboardInterrupt" {
                interrupted.clone()
            } else {
                format!("Interrupted: {interrupted}")
            };
            self.line(&sep('!', &text, width));
        }
        if summary.not_run > 0 {
            self.line(&format!(
                "pacer: {} test{} not run",
                summary.not_run,
                if summary.not_run == 1 { "" } else { "s" }
            ));
        }
        let elapsed = format_elapsed(summary.elapsed);
        let phrase = self.tally.phrase();
        let text = if phrase.is_empty() {
            format!("no tests ran in {elapsed}")
        } else {
            format!("{phrase} in {elapsed}")
        };
        let bad = self.tally.get("failed") + self.tally.get("error") > 0;
        let warn = self.tally.get("passed") == 0
            || self.tally.get("xpassed") + self.tally.get("warnings") > 0;
        let color = if bad {
            RED
        } else if warn {
            YELLOW
        } else {
            GREEN
        };
        let line = self.paint(&sep('=', &text, width), color);
        self.line(&line);
        let _ = self.out.flush();
    }

    fn paint(&self, text: &str, color: &str) -> String {
        if self.options.color {
            format!("\x1b[{color}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn failure_body(&mut self, report: &PhaseReport) {
        if let Some(longrepr) = &report.longrepr {
            self.line(longrepr.trim_end());
        }
        for (title, content) in &report.sections {
            self.line(&sep('-', title, self.options.width));
            self.line(content.trim_end_matches('\n'));
        }
    }

    /// `SKIPPED [2] tests/test_a.py:12: reason`, grouped like pytest does.
    fn skipped_lines(&self) -> Vec<String> {
        let mut groups: Vec<(String, usize)> = Vec::new();
        let skipped = self.skips.iter().map(|(_, r)| r.skip.as_ref());
        let collected = self
            .collect_problems
            .iter()
            .filter(|p| p.outcome == "skipped")
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
        groups
            .into_iter()
            .map(|(place, n)| format!("SKIPPED [{n}] {place}"))
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
        self.line(&sep('=', &title, self.options.width));
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

    fn short_summary(&mut self) {
        let mut lines = Vec::new();
        let width = self.options.width;
        // As pytest: whole messages on CI or with -vv, else the first line
        // fitted to the terminal's width.
        let whole = self.options.on_ci || self.options.verbosity >= 2;
        let shorten = |prefix: String, message: Option<&String>| -> String {
            let Some(message) = message else {
                return prefix;
            };
            if whole {
                return format!("{prefix} - {message}");
            }
            let first = message.lines().next().unwrap_or_default();
            let line = format!("{prefix} - {first}");
            if line.chars().count() <= width {
                line
            } else {
                let keep: String = line.chars().take(width.saturating_sub(3)).collect();
                format!("{keep}...")
            }
        };
        for c in self.options.report_chars.chars() {
            match c {
                'f' => {
                    for failure in &self.failures {
                        lines.push(shorten(
                            format!("FAILED {}", failure.id),
                            failure.report.msg.as_ref(),
                        ));
                    }
                }
                'E' => {
                    for problem in self
                        .collect_problems
                        .iter()
                        .filter(|p| p.outcome == "failed")
                    {
                        lines.push(format!("ERROR {}", problem.id));
                    }
                    for failure in &self.errors {
                        lines.push(shorten(
                            format!("ERROR {}", failure.id),
                            failure.report.msg.as_ref(),
                        ));
                    }
                }
                'p' => {
                    for id in &self.passes {
                        lines.push(format!("PASSED {id}"));
                    }
                }
                'x' => {
                    for (id, report) in &self.xfails {
                        let at = if report.when == "call" {
                            String::new()
                        } else {
                            format!("at {} of ", report.when)
                        };
                        lines.push(with_reason(format!("XFAIL {at}{id}"), report));
                    }
                }
                'X' => {
                    for (id, report) in &self.xpasses {
                        lines.push(with_reason(format!("XPASS {id}"), report));
                    }
                }
                's' => lines.extend(self.skipped_lines()),
                _ => {}
            }
        }
        if !lines.is_empty() {
            self.line(&sep('=', "short test summary info", width));
            for line in lines {
                self.line(&line);
            }
        }
    }
}

impl<W: Write> Reporter for Terminal<W> {
    fn report(&mut self, event: Event<'_>) {
        match event {
            Event::Started { hello, workers } => self.started(hello, workers),
            Event::Collected {
                total,
                deselected,
                problems,
            } => self.collected(total, deselected, problems),
            Event::TestStarted { .. } | Event::Planned { .. } | Event::WorkerFinished { .. } => {}
            Event::PluginReport { report } => self.plugin_reports.push(report.clone()),
            Event::TestFinished {
                id,
                worker,
                reports,
                finished,
                total,
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
            Event::Finished { summary } => {
                if !self.warnings.is_empty() {
                    let n = self.warnings.len();
                    self.tally.add("warnings", n);
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
            when: when.into(),
            outcome: outcome.into(),
            cat: cat.into(),
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
            skip: None,
            xfail: None,
            loc: None,
        }
    }

    fn render(verbosity: i32, color: bool) -> String {
        let options = TerminalOptions {
            verbosity,
            progress_bar: false,
            width: 80,
            color,
            report_chars: "fE".into(),
            durations: None,
            durations_min: 0.005,
            on_ci: false,
        };
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
        });
        terminal.report(Event::TestFinished {
            id: "t.py::test_b",
            worker: "gw1",
            reports: &failed,
            finished: 2,
            total: 3,
        });
        terminal.report(Event::TestFinished {
            id: "t.py::test_c",
            worker: "gw0",
            reports: &teardown,
            finished: 3,
            total: 3,
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
    fn report_chars_follow_pytest() {
        assert_eq!(resolve_report_chars("fE"), "fE");
        assert_eq!(resolve_report_chars("a"), "sxXEf");
        assert_eq!(resolve_report_chars("A"), "PpsxXEf");
        assert_eq!(resolve_report_chars("aN"), "");
        assert_eq!(resolve_report_chars("ss"), "s");
        let args: Vec<String> = ["-r", "xX", "--durations=5", "--durations-min", "0.5"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let options = TerminalOptions::detect(0).with_pytest_args(&args);
        assert_eq!(options.report_chars, "xX");
        assert_eq!(options.durations, Some(5));
        assert_eq!(options.durations_min, 0.5);
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
}
