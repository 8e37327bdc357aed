//! `pacer try`'s verdict: the document `--json` prints (schema in
//! docs/try.md) and the text printed otherwise.

use std::io::Write;

use serde::Serialize;

use super::compare::Comparison;

pub const SCHEMA: &str = "pacer-try";
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Verdict {
    pub schema: &'static str,
    pub version: u32,
    /// `same` or `different`.
    pub verdict: &'static str,
    pub repeat: usize,
    #[serde(flatten)]
    pub comparison: Comparison,
    pub pytest: Side,
    pub pacer: Side,
    /// Plain pytest's median wall / pacer's.
    pub speedup: Option<f64>,
    pub durations: Durations,
    /// A pacer run after the compared ones, with the durations they recorded (`--warm`).
    pub warm: Option<Warm>,
}

#[derive(Debug, Serialize)]
pub struct Side {
    /// The command run (argv, the program first).
    pub command: Vec<String>,
    /// Each run's seconds from spawn to exit.
    pub walls: Vec<f64>,
    /// Their median.
    pub wall: f64,
    pub exit_codes: Vec<Option<i32>>,
    /// Workers for cpu-bound tests (pacer only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
}

/// What pacer knew of the tests' durations before its first run.
#[derive(Debug, Serialize)]
pub struct Durations {
    /// Tests of pacer's first run with a recorded duration before it.
    pub recorded: usize,
    /// Tests pacer's first run ran.
    pub tests: usize,
    /// Of those, how many have a recorded duration after the runs (0 when
    /// pytest's cache is off, `-p no:cacheprovider`).
    pub recorded_after: usize,
}

#[derive(Debug, Serialize)]
pub struct Warm {
    pub wall: f64,
    /// Plain pytest's median wall / this run's.
    pub speedup: Option<f64>,
    pub exit_code: Option<i32>,
}

impl Verdict {
    pub fn same(&self) -> bool {
        self.comparison.differences.is_empty()
    }
}

/// How many lines of a failure's message are shown.
const MESSAGE_LINES: usize = 6;

fn secs(s: f64) -> String {
    format!("{s:.2} s")
}

fn message_lines(out: &mut dyn Write, message: &Option<String>) {
    let Some(message) = message else { return };
    let lines: Vec<&str> = message.lines().collect();
    for line in lines.iter().take(MESSAGE_LINES) {
        let _ = writeln!(out, "        {line}");
    }
    if lines.len() > MESSAGE_LINES {
        let _ = writeln!(out, "        ({} more lines)", lines.len() - MESSAGE_LINES);
    }
}

pub fn print(out: &mut dyn Write, v: &Verdict) {
    let c = &v.comparison;
    if v.same() {
        let _ = writeln!(
            out,
            "same results: {} test(s), each with the same outcome under plain pytest and pacer{}",
            c.tests,
            if v.repeat > 1 {
                format!(" in {} runs each", v.repeat)
            } else {
                String::new()
            }
        );
    } else {
        let _ = writeln!(
            out,
            "DIFFERENT RESULTS: {} of {} test(s) differ between plain pytest and pacer",
            c.differences.len(),
            c.tests
        );
        for d in &c.differences {
            let _ = writeln!(out, "  {}", d.id);
            let _ = writeln!(out, "    plain pytest: {}", d.pytest);
            message_lines(out, &d.pytest_message);
            let _ = writeln!(out, "    pacer:        {}", d.pacer);
            message_lines(out, &d.pacer_message);
        }
    }
    if !c.flaky.is_empty() {
        let _ = writeln!(
            out,
            "flaky: {} test(s) changed outcome from one run to the next of the same side (not counted as differences):",
            c.flaky.len()
        );
        for f in &c.flaky {
            let _ = writeln!(
                out,
                "  {}: plain pytest {}; pacer {}",
                f.id,
                f.pytest.join(", "),
                f.pacer.join(", ")
            );
        }
    }
    if c.outside_categories > 0 {
        let _ = writeln!(
            out,
            "not compared: {} test(s) plain pytest ran that pacer's category flags left out",
            c.outside_categories
        );
    }
    let runs = |n: usize| {
        if n > 1 {
            format!("  (median of {n} runs)")
        } else {
            String::new()
        }
    };
    let _ = writeln!(
        out,
        "plain pytest: {:>9}{}",
        secs(v.pytest.wall),
        runs(v.pytest.walls.len())
    );
    let _ = writeln!(
        out,
        "pacer:        {:>9}  {}{}",
        secs(v.pacer.wall),
        match v.speedup {
            Some(s) => format!("speed-up {s:.2}x"),
            None => String::new(),
        },
        match v.pacer.workers {
            Some(n) => format!(", {n} worker(s)"),
            None => String::new(),
        }
    );
    if let Some(w) = &v.warm {
        let _ = writeln!(
            out,
            "pacer, warm:  {:>9}  {}(a second run, with the durations the first recorded)",
            secs(w.wall),
            match w.speedup {
                Some(s) => format!("speed-up {s:.2}x "),
                None => String::new(),
            }
        );
    }
    let d = &v.durations;
    if d.tests > 0 && d.recorded_after == 0 {
        let _ = writeln!(
            out,
            "durations: none recorded, before or after (pytest's cache is off?), so pacer hands out files in collection order; with durations it starts the longest first"
        );
    } else if d.tests > 0 && d.recorded == 0 {
        let _ = writeln!(
            out,
            "durations: none were recorded for these tests, so pacer handed out files in collection order; it recorded them now, and the next run starts the longest first{}",
            if v.warm.is_none() {
                " (`pacer try --warm` times such a run)"
            } else {
                ""
            }
        );
    } else if d.tests > 0 {
        let _ = writeln!(
            out,
            "durations: recorded for {} of {} test(s) before this run; pacer started the longest first",
            d.recorded, d.tests
        );
    }
}
