//! What shapes the terminal's output: pytest's own reporting options, as
//! pytest's parser resolved them, and facts about the terminal itself.
//!
//! One value, filled once by the caller (and completed from the first
//! worker's `hello`, whose pytest parsed the options with the project's
//! plugins and ini loaded); the terminal reads nothing else.

use std::path::PathBuf;

use pacer_runner::events::{PytestOptions, PytestTerminal};

/// pytest's `--tb` styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TbStyle {
    #[default]
    Auto,
    Long,
    Short,
    /// One `path:line: message` line per failure, without headings.
    Line,
    Native,
    /// No ERRORS, FAILURES or PASSES sections at all.
    No,
}

impl TbStyle {
    /// pytest's spelling; anything unknown reads as `auto`, pytest's default.
    pub fn parse(name: &str) -> Self {
        match name {
            "long" => TbStyle::Long,
            "short" => TbStyle::Short,
            "line" => TbStyle::Line,
            "native" => TbStyle::Native,
            "no" => TbStyle::No,
            _ => TbStyle::Auto,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TerminalOptions {
    /// pytest's verbosity: -1 for `-q`, -2 for `-qq`, 1 for `-v`.
    pub verbosity: i32,
    /// stdout is a terminal (pytest then rewrites its "collecting" line in place).
    pub tty: bool,
    /// Draw a progress bar (stderr is a terminal).
    pub progress_bar: bool,
    pub width: usize,
    /// Colour outcome words and the final line, as pytest does on a terminal.
    pub color: bool,
    /// pytest's `getreportopt`: the `-r` characters resolved, with `w`
    /// (the warnings summary) unless `--disable-warnings` (`wfE` by default).
    pub report_chars: String,
    /// pytest's `--tb`.
    pub tbstyle: TbStyle,
    /// pytest's `--show-capture`: `all`, `no`, `stdout`, `stderr` or `log`.
    pub show_capture: String,
    /// pytest's `--no-header`: the session line only, no platform or plugin lines.
    pub no_header: bool,
    /// pytest's `--no-summary`: no ERRORS, FAILURES, warnings or short summary.
    pub no_summary: bool,
    /// The header's lines after the platform line, as pytest prints them
    /// (`pytest_report_header`: rootdir, configfile, testpaths, plugins and
    /// the project's own). Empty: the first worker's are used.
    pub report_header_lines: Vec<String>,
    /// pytest's `--junitxml`: the `generated xml file` line names it. The
    /// file is written before the terminal's summary.
    pub junitxml: Option<PathBuf>,
    /// pacer's own reports (`--json-report`, `--html-report`), named after
    /// pytest's JUnit line as `generated json report: PATH`.
    pub generated_reports: Vec<(&'static str, PathBuf)>,
    /// What pytest's `--lf`/`--ff` say after the collected line
    /// (`rerun previous 1 failure`); see [`crate::lastfailed::note`].
    pub last_failed_note: Option<String>,
    /// pytest's `--durations=N` (0: all) and `--durations-min`.
    pub durations: Option<usize>,
    pub durations_min: f64,
    /// pytest's `running_on_ci()` (`CI` or `BUILD_NUMBER` set): the short
    /// summary then shows whole messages instead of fitting them to the width.
    pub on_ci: bool,
    /// GitHub Actions (`crate::github`): log groups around long sections,
    /// and periodic progress lines instead of pytest's progress characters.
    pub github: bool,
}

impl Default for TerminalOptions {
    fn default() -> Self {
        TerminalOptions {
            verbosity: 0,
            tty: false,
            progress_bar: false,
            width: 80,
            color: false,
            report_chars: "wfE".into(),
            tbstyle: TbStyle::Auto,
            show_capture: "all".into(),
            no_header: false,
            no_summary: false,
            report_header_lines: Vec::new(),
            junitxml: None,
            generated_reports: Vec::new(),
            last_failed_note: None,
            durations: None,
            durations_min: 0.005,
            on_ci: false,
            github: false,
        }
    }
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
            tty,
            progress_bar: tty && std::env::var_os("CI").is_none(),
            width,
            color,
            on_ci: ["CI", "BUILD_NUMBER"].iter().any(|v| env(v)),
            ..TerminalOptions::default()
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
        if !chars.contains('w') {
            chars.insert(0, 'w');
        }
        self.report_chars = chars;
        self
    }

    /// Takes what pytest's own parser made of its options in a worker: it
    /// knows `addopts`, plugins' options and every spelling.
    pub fn with_pytest(mut self, pytest: &PytestTerminal) -> Self {
        self.verbosity = pytest.verbose;
        if let Some(chars) = &pytest.reportchars {
            self.report_chars = chars.clone();
        }
        self.tbstyle = TbStyle::parse(&pytest.tbstyle);
        if !pytest.showcapture.is_empty() {
            self.show_capture = pytest.showcapture.clone();
        }
        self.no_header = pytest.no_header;
        self.no_summary = pytest.no_summary;
        match pytest.color.as_str() {
            "yes" => self.color = true,
            "no" => self.color = false,
            _ => {}
        }
        self
    }

    /// What the controller takes from pytest's options besides the
    /// terminal's own: `--durations`, and the JUnit path for its line.
    pub fn apply(&mut self, options: &PytestOptions) {
        self.durations = options
            .durations
            .and_then(|n| usize::try_from(n.max(0)).ok());
        if let Some(min) = options.durations_min {
            self.durations_min = min;
        }
        if self.junitxml.is_none() {
            self.junitxml = options.xmlpath.as_ref().map(PathBuf::from);
        }
    }

    pub(crate) fn wants(&self, report_char: char) -> bool {
        self.report_chars.contains(report_char)
    }

    /// Whether pytest's `--show-capture` shows a section with this title.
    pub(crate) fn shows_section(&self, title: &str) -> bool {
        match self.show_capture.as_str() {
            "no" => false,
            "all" => true,
            which => title.contains(which),
        }
    }
}

/// pytest's `getreportopt`: `a` is everything but passes, `A` everything,
/// `N` nothing; other characters add themselves once.
pub(crate) fn resolve_report_chars(given: &str) -> String {
    let mut out = String::new();
    for c in given.chars() {
        let c = match c {
            'F' => 'f',
            'S' => 's',
            c => c,
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_chars_follow_pytest() {
        assert_eq!(resolve_report_chars("fE"), "fE");
        assert_eq!(resolve_report_chars("a"), "sxXEf");
        assert_eq!(resolve_report_chars("A"), "PpsxXEf");
        assert_eq!(resolve_report_chars("aN"), "");
        assert_eq!(resolve_report_chars("ss"), "s");
        assert_eq!(resolve_report_chars("FS"), "fs");
        let args: Vec<String> = ["-r", "xX", "--durations=5", "--durations-min", "0.5"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let options = TerminalOptions::detect(0).with_pytest_args(&args);
        assert_eq!(options.report_chars, "wxX");
        assert_eq!(options.durations, Some(5));
        assert_eq!(options.durations_min, 0.5);
    }

    #[test]
    fn pytests_parsed_options_win() {
        let pytest = PytestTerminal {
            verbose: -1,
            reportchars: Some("fEP".into()),
            tbstyle: "line".into(),
            showcapture: "stdout".into(),
            no_header: true,
            no_summary: false,
            color: "yes".into(),
        };
        let options = TerminalOptions::default().with_pytest(&pytest);
        assert_eq!(options.verbosity, -1);
        assert!(options.wants('P') && !options.wants('w'));
        assert_eq!(options.tbstyle, TbStyle::Line);
        assert!(options.shows_section("Captured stdout call"));
        assert!(!options.shows_section("Captured log call"));
        assert!(options.no_header);
        assert!(options.color);
    }
}
