//! What the runner tells its reporters.
//!
//! The runner never prints: it emits these events, in order, to a
//! [`Reporter`]; the terminal display, and later the JUnit/JSON/HTML writers,
//! are reporters.
//!
//! The events carry pytest's own facts in pacer's types: a test's phases and
//! collection problems (`phase.rs`), a worker's session (`session.rs`). The
//! wire (`protocol.rs`) reads them in this shape; reporters never name it.

use std::time::Duration;

use pacer_types::StopReason;

use crate::category::CategorySpec;

mod phase;
mod session;
mod touched;

pub use phase::{CollectProblem, PhaseReport, SkipLocation};
pub use session::{Bye, Hello, JunitOptions, PytestOptions, PytestTerminal};
pub use touched::Touched;

/// A collected test and its category (an index into the run's categories).
#[derive(Debug, Clone)]
pub struct PlannedTest {
    pub id: String,
    pub category: usize,
    /// False when the category flags leave it out.
    pub selected: bool,
}

/// Which of a worker's standard streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// `Copy`, so that a fan-out reporter can hand the same event to several.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// The first worker answered; its facts stand for all.
    Started {
        hello: &'a Hello,
        workers: usize,
    },
    /// Every collected test and the category it landed in, before any runs.
    Planned {
        tests: &'a [PlannedTest],
        categories: &'a [CategorySpec],
    },
    /// `--lf`/`--ff` were applied over the whole suite (just before `Collected`).
    LastFailed {
        run: LastFailedRun,
    },
    /// Every worker finished collecting; `total` tests will be scheduled.
    Collected {
        total: usize,
        deselected: usize,
        problems: &'a [CollectProblem],
    },
    TestStarted {
        id: &'a str,
        worker: &'a str,
    },
    TestFinished {
        id: &'a str,
        worker: &'a str,
        reports: &'a [PhaseReport],
        finished: usize,
        total: usize,
        /// The worker's wall and CPU seconds over the test, when it said.
        cpu: Option<CpuTime>,
    },
    /// What a test that just finished left behind (sent after its
    /// `TestFinished`, only when the worker traced it and it touched something).
    TestTouched {
        id: &'a str,
        touched: &'a Touched,
    },
    /// Extra reports for a test that already finished (late teardown).
    TestAmended {
        id: &'a str,
        worker: &'a str,
        reports: &'a [PhaseReport],
    },
    /// With `workers = "auto"`, the pool grew beyond the cores for tests
    /// that wait (issue 21): said once, before discovery.
    WaitWorkers {
        wait: &'a WaitWorkers,
    },
    /// A line a worker printed outside pytest's capture (live with `-s`).
    Output {
        worker: &'a str,
        stream: Stream,
        line: &'a str,
    },
    Warning {
        id: &'a str,
        message: &'a str,
    },
    /// Something the user should know, in one line ("replacing crashed worker gw1").
    Notice {
        message: &'a str,
    },
    /// A worker ended its session cleanly; what it hands the controller
    /// side of xdist-aware plugins (pytest-cov's data file).
    WorkerFinished {
        worker: &'a str,
        bye: &'a Bye,
    },
    /// What a plugin's controller side prints, known once the workers ended
    /// and sent before `Finished` (pytest-cov's combined report).
    PluginReport {
        report: &'a PluginReport,
    },
    Finished {
        summary: &'a Summary,
    },
}

/// Output of a plugin's controller side, placed where pytest prints it.
#[derive(Debug, Clone, Default)]
pub struct PluginReport {
    /// Written right after the tests' progress, before the summary sections
    /// (pytest-cov writes its `--cov-fail-under` error at the end of the
    /// test loop).
    pub after_tests: String,
    /// The heading of the section (`tests coverage`), framed with `=`.
    pub title: String,
    /// The section itself, printed among the plugins' terminal summaries:
    /// after failures, warnings and passes, before the short test summary.
    pub text: String,
}

/// The facts pytest's last-failed plugin words its status from
/// (`LFPlugin.pytest_collection_modifyitems`), as pacer applied them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastFailedRun {
    /// Entries in the `lastfailed` cache (pytest's `len(self.lastfailed)`).
    pub known: usize,
    /// How many collected tests are among them.
    pub collected_failures: usize,
    /// `--lf` (true) or `--ff` (false).
    pub only: bool,
    /// Files left out because none of their tests failed last time (pytest
    /// does not even collect them).
    pub skipped_files: usize,
    /// `--lfnf none` (`--last-failed-no-failures=none`): with nothing known
    /// to have failed, run nothing.
    pub none_if_no_failures: bool,
}

/// A test's whole protocol (setup, call, teardown) as its worker measured
/// it: seconds of wall clock, seconds of CPU of the worker process and the
/// children it waited for (a test that runs a busy subprocess computes, it
/// does not wait), and seconds its main thread was ready to run but waited
/// for a core (Linux; 0 elsewhere), which a loaded machine adds to a
/// computing test's wall time.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct CpuTime {
    pub wall: f64,
    pub cpu: f64,
    #[serde(default)]
    pub queued: f64,
}

impl CpuTime {
    /// Seconds that wanted a core: computing, or queued for one.
    pub fn busy(&self) -> f64 {
        self.cpu + self.queued
    }

    /// The part of the wall time that wanted a core, in 0..=1.
    pub fn share(&self) -> f64 {
        if self.wall <= 0.0 {
            1.0
        } else {
            (self.busy() / self.wall).clamp(0.0, 1.0)
        }
    }
}

/// Workers beyond the cores for tests that wait, and why (issue 21). The
/// first `cores` workers (`gw0`...) are the cores'; the others are extra.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct WaitWorkers {
    pub cores: usize,
    pub extra: usize,
    /// The part of the suite's recorded wall time spent waiting, in 0..=1.
    pub waiting: f64,
    /// Why `extra` is what it is, in words.
    pub why: String,
    /// A first run's pool, grown as its tests reported their CPU (nothing
    /// recorded before it), not sized at the start.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub grown: bool,
}

impl WaitWorkers {
    /// The one line pacer says at the start (after `pacer: `), or, for a
    /// first run that grew, before pytest's summary.
    pub fn line(&self) -> String {
        if self.grown {
            return format!(
                "grew to {} workers + {} for tests that wait, as they ran ({:.0}% of their time was waiting)",
                self.cores,
                self.extra,
                self.waiting * 100.0
            );
        }
        format!(
            "{} workers + {} for tests that wait ({:.0}% of the suite's time is waiting)",
            self.cores,
            self.extra,
            self.waiting * 100.0
        )
    }
}

/// The end of a run.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub elapsed: Duration,
    /// From [`pacer_types::exit`].
    pub exit_code: i32,
    /// Why the run stopped handing out tests early (`-x`, crashed workers).
    pub stopped: Option<StopReason>,
    /// Set when the run was interrupted (Ctrl-C, collection errors).
    pub interrupted: Option<StopReason>,
    pub not_run: usize,
    pub deselected: usize,
    /// Seconds per finished test, for the durations store.
    pub durations: Vec<(String, f64)>,
    /// Wall and CPU seconds per finished test whose worker measured them,
    /// with its category's name, for the next run's pool size (issue 21):
    /// `(id, category, time)`.
    pub cpu_times: Vec<(String, String, CpuTime)>,
    /// Tests with a failed phase, for decisions after the run (the 429 rerun).
    pub failed: Vec<FailedTest>,
}

#[derive(Debug, Clone)]
pub struct FailedTest {
    pub id: String,
    /// Index into the run's categories.
    pub category: usize,
    /// The failure as text (message and traceback), to search for causes.
    pub text: String,
}

/// Receives the runner's events.
pub trait Reporter {
    fn report(&mut self, event: Event<'_>);
}

impl<F: FnMut(Event<'_>)> Reporter for F {
    fn report(&mut self, event: Event<'_>) {
        self(event)
    }
}
