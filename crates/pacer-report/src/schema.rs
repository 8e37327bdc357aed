//! The run report's types: the JSON schema of `docs/reports.md`, as serde
//! writes it for `--json-report` (and into the `--html-report` page).
//!
//! Here a test's result becomes a JSON word. The record (`record.rs`)
//! gathers the runner's events into these types, keeping pytest's facts as
//! `pacer_types` values: a test's `outcome` and the `counts` are
//! [`Status`]es, an attempt's `when` a [`Phase`], `stopped` and
//! `interrupted` [`StopReason`]s, a collection problem's `outcome` a
//! [`CollectionOutcome`]. serde writes each as the word the schema names
//! (`"flaky"`, `"setup"`, `"stopping after 1 failures"`), only when the
//! file is written; readers in this crate (the GitHub annotations and
//! summary) match on the types, never on the words.

use std::collections::BTreeMap;

use pacer_runner::events::{CpuTime, PhaseReport, SkipLocation, Touched, WaitWorkers};
use pacer_types::{Outcome, Phase, Status, StopReason};
use serde::{Deserialize, Serialize};

/// The schema's name and version; the version changes when a field changes
/// meaning or goes away, or a word it writes changes (new fields may appear
/// within a version).
pub const SCHEMA: &str = "pacer-run-report";
pub const SCHEMA_VERSION: u32 = 1;

/// The whole report, as written to `--json-report`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunReport {
    pub schema: String,
    pub version: u32,
    /// pacer's version.
    pub pacer: String,
    /// The run this report is a part of, as CI names it (`PACER_RUN_ID`):
    /// `pacer report merge` merges only the shards of one run.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Which shard of the run this report is (`--shard K/N`); `null` for an
    /// unsharded run and for a merged report.
    #[serde(default)]
    pub shard: Option<Shard>,
    /// In a merged report, each shard's own run, in the shards' order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardRun>,
    /// When the run started, RFC 3339 in UTC.
    pub started_at: Option<String>,
    pub python: Option<String>,
    pub pytest: Option<String>,
    pub rootdir: Option<String>,
    /// Where pytest was started (node ids are relative to `rootdir`).
    #[serde(default)]
    pub invocation_dir: Option<String>,
    /// The arguments pacer handed pytest (paths, node ids, options), as
    /// typed: `pacer replay` and `pacer bisect` keep the options.
    #[serde(default)]
    pub pytest_args: Vec<String>,
    /// The paths and node ids pytest found among them (`file_or_dir`):
    /// what a replay leaves out, as it names its tests itself.
    #[serde(default)]
    pub pytest_paths: Vec<String>,
    /// pytest-randomly's seed, shared by every worker; `null` without it.
    #[serde(default)]
    pub randomly_seed: Option<u64>,
    /// Workers the pool was sized for (`-n`).
    pub workers: usize,
    /// With `workers = "auto"`, the workers beyond the cores for tests that
    /// wait (`cores`, `extra`, `waiting`, `why`); absent when there were none.
    /// The workers past the first `cores` (`gw<cores>`...) are those extras.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_workers: Option<WaitWorkers>,
    /// Seconds from the start of the run to its end (the reruns included).
    pub elapsed: f64,
    pub exit_code: Option<i32>,
    /// Why the run stopped handing out tests early (`-x`, crashed workers),
    /// written as the line pytest prints (`stopping after 1 failures`).
    pub stopped: Option<StopReason>,
    /// Why the run was interrupted (Ctrl-C, collection errors), as `stopped`.
    pub interrupted: Option<StopReason>,
    /// pytest's final line: statuses counted as pytest counts them (per
    /// phase, so a test passed in its call and failed in its teardown is
    /// one `passed` and one `error`; a rerun attempt is a `rerun`), with the
    /// collection's errors and module-level skips. Keyed by status, written
    /// as their words in the words' order.
    pub counts: BTreeMap<Status, usize>,
    pub not_run: usize,
    pub deselected: usize,
    /// Warnings pytest's final line counts.
    #[serde(default)]
    pub warnings: usize,
    pub categories: Vec<CategoryReport>,
    /// One lane per worker that ran a test, in the workers' order.
    pub lanes: Vec<Lane>,
    /// Every test that ran, in the order they started.
    pub tests: Vec<TestReport>,
    /// Files that failed to collect (`error`) or skipped themselves at
    /// module level (`skipped`): pytest counts them, but they are no test.
    pub collection: Vec<CollectionProblem>,
    /// Per upstream API, the proxy's statistics, as the proxy hands them
    /// back after the run; empty when no proxy ran.
    pub upstreams: Vec<serde_json::Value>,
    /// Per upstream, the calls made outside any test (imports, session
    /// ends) or that could not be told apart; empty when every call was a test's.
    #[serde(default)]
    pub calls_outside_tests: Vec<OutsideCalls>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CategoryReport {
    pub name: String,
    pub rate_limited: bool,
    pub selected: bool,
    /// How many of its tests ran.
    pub tests: usize,
    /// Its tests per `outcome`.
    pub counts: BTreeMap<Status, usize>,
    /// Seconds its tests took, summed.
    pub work: f64,
    /// Seconds from its first test's start to its last test's end.
    pub wall: f64,
    /// Workers that ran its tests.
    pub workers: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Lane {
    pub worker: String,
    /// The group its lane is drawn in: in a merged report, its shard's
    /// (`shard 2`); absent in one run's report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub tests: usize,
    /// Seconds it spent in tests.
    pub busy: f64,
    /// Seconds of the run it spent without a test.
    pub idle: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TestReport {
    /// pytest's node id.
    pub id: String,
    pub category: Option<String>,
    pub worker: String,
    /// Seconds since the run started.
    pub start: f64,
    pub end: f64,
    /// The test's status, written as its word: `passed`, `failed`, `error`,
    /// `skipped`, `xfailed`, `xpassed`, `flaky`, or a plugin's own. The
    /// record decides it (`record.rs`, `refresh`): the first status of the
    /// last attempt's phases that is not `passed`.
    pub outcome: Status,
    /// Seconds per phase that reported (a passing setup or teardown may be
    /// absent), of the last attempt.
    pub phases: Phases,
    /// Attempts before the last: pytest-rerunfailures' reruns inside the
    /// worker (or pacer's own `--reruns`), plus pacer's rerun of tests that
    /// failed on HTTP 429.
    pub reruns: usize,
    /// Passed after failed attempts (its `outcome` is then `flaky`).
    #[serde(default)]
    pub flaky: bool,
    /// The failed attempts the worker retried, in order (the last,
    /// counted attempt is the test's own `outcome`, `phases`, `message`).
    #[serde(default)]
    pub attempts: Vec<AttemptReport>,
    /// The failure's message, for a failed test.
    pub message: Option<String>,
    /// The failure's traceback and captured output, for a failed test.
    pub output: Option<String>,
    /// Calls it made through the proxies (`calls.rs` says how they are told apart).
    #[serde(default)]
    pub calls: usize,
    /// Seconds those calls waited in the limiter, every attempt summed.
    #[serde(default)]
    pub limiter_wait: f64,
    /// Retries the proxy made of those calls after a 429.
    #[serde(default)]
    pub retries_429: usize,
    /// `[from, to]` (seconds since the run started) of each wait in the limiter.
    #[serde(default)]
    pub waits: Vec<[f64; 2]>,
    /// When each retry after a 429 was decided (seconds since the run started).
    #[serde(default)]
    pub retry_marks: Vec<f64>,
    /// Its worker's seconds over the whole test (setup, call, teardown):
    /// `wall`, `cpu` (the worker's and the children it waited for) and
    /// `queued` (ready to run, waiting for a core; Linux). Absent when the
    /// worker did not measure (a crash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuTime>,
    /// Its place in the run's collection (0 for the first test pytest
    /// collected): the JUnit file lists tests in that order.
    #[serde(default)]
    pub collected: Option<usize>,
    /// What the worker said of each phase that reported, every attempt's
    /// in order: the facts the JUnit file is written from, so that
    /// `pacer report merge` writes the JUnit file a run would have.
    #[serde(default)]
    pub reports: Vec<PhaseRecord>,
    /// What it left behind (environment variables, files, ports, the
    /// project's module globals), when the run traced it
    /// (`--trace-touched`); absent otherwise, and when it touched nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touched: Option<TouchedReport>,
}

/// What a test left behind (docs/reports.md, "What a test touched"): the
/// worker's record, and the requests pacer's proxies charged to it. Each
/// list sorted; an empty one is left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TouchedReport {
    /// The worker's record: `env`, `files`, `ports`, `globals`.
    #[serde(flatten)]
    pub traced: Touched,
    /// `METHOD /path` of each distinct request it sent through a proxy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api: Vec<String>,
}

impl TouchedReport {
    pub fn of(touched: &Touched) -> Self {
        TouchedReport {
            traced: touched.clone(),
            api: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.traced.is_empty() && self.api.is_empty()
    }
}

/// One phase's report as a worker sent it, as much of it as the reports
/// are written from (not the terminal's words).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PhaseRecord {
    pub when: Phase,
    pub outcome: Outcome,
    /// pytest's status category; absent when the phase does not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cat: Option<Status>,
    /// Seconds.
    pub dur: f64,
    /// What it says beyond its outcome and time; a passing phase says
    /// nothing more, and on 50,000 tests a few words each are megabytes,
    /// so the rest is boxed, and written beside the fields above.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Box<PhaseDetail>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PhaseDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longrepr: Option<String>,
    /// Captured output: `[title, text]` per section.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<(String, String)>,
    /// A skip's `[path, line, reason]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<(String, Option<i64>, String)>,
    /// An xfail's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xfail: Option<String>,
    /// pytest's `report.location` (path, 0-based line), when the run wrote
    /// a JUnit file of family xunit1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loc: Option<(String, Option<i64>)>,
}

impl PhaseRecord {
    pub fn of(report: &PhaseReport) -> Self {
        let detail = PhaseDetail {
            msg: report.msg.clone(),
            longrepr: report.longrepr.clone(),
            sections: report.sections.clone(),
            skip: report
                .skip
                .as_ref()
                .map(|s| (s.0.clone(), s.1, s.2.clone())),
            xfail: report.xfail.clone(),
            loc: report.loc.clone(),
        };
        PhaseRecord {
            when: report.when,
            outcome: report.outcome,
            cat: report.cat.clone(),
            dur: report.dur,
            detail: (detail != PhaseDetail::default()).then(|| Box::new(detail)),
        }
    }

    /// The worker's report again, as far as it was kept.
    pub fn to_phase_report(&self) -> PhaseReport {
        let detail = self.detail.as_deref().cloned().unwrap_or_default();
        PhaseReport {
            when: self.when,
            outcome: self.outcome,
            cat: self.cat.clone(),
            dur: self.dur,
            msg: detail.msg,
            longrepr: detail.longrepr,
            sections: detail.sections,
            skip: detail
                .skip
                .map(|(path, line, reason)| SkipLocation(path, line, reason)),
            xfail: detail.xfail,
            loc: detail.loc,
            ..Default::default()
        }
    }
}

/// Which shard of a run a report is: the `index`th (from 1) of `count`.
pub use pacer_types::Shard;

/// One shard's own run, in a merged report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardRun {
    pub shard: Shard,
    pub started_at: Option<String>,
    /// Its start, seconds after the first shard's: its tests' times are
    /// moved by as much, so that the shards share one timeline.
    pub offset: f64,
    pub elapsed: f64,
    pub workers: usize,
    pub exit_code: Option<i32>,
}

/// Seconds per phase (`setup` / `call` / `teardown`); a phase that did not
/// report is absent from the JSON. A struct, not a map: on 50,000 tests a
/// map per test is tens of megabytes.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Phases {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown: Option<f64>,
}

impl Phases {
    fn slot(&mut self, phase: Phase) -> &mut Option<f64> {
        match phase {
            Phase::Setup => &mut self.setup,
            Phase::Call => &mut self.call,
            Phase::Teardown => &mut self.teardown,
        }
    }

    /// Adds `secs` to `phase`.
    pub fn add(&mut self, phase: Phase, secs: f64) {
        *self.slot(phase).get_or_insert(0.0) += secs;
    }

    /// Seconds of `phase`, if it reported.
    pub fn get(&self, phase: Phase) -> Option<f64> {
        match phase {
            Phase::Setup => self.setup,
            Phase::Call => self.call,
            Phase::Teardown => self.teardown,
        }
    }

    fn for_each(&mut self, f: impl Fn(&mut f64)) {
        for secs in [&mut self.call, &mut self.setup, &mut self.teardown]
            .into_iter()
            .flatten()
        {
            f(secs);
        }
    }
}

/// One failed attempt of a test that ran again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttemptReport {
    /// 1 for the first attempt.
    pub attempt: usize,
    /// The phase that failed: `setup`, `call` or `teardown`.
    pub when: Phase,
    /// Seconds its phases took.
    pub duration: f64,
    pub message: Option<String>,
    /// Its traceback and captured output.
    pub output: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CollectionProblem {
    pub id: String,
    /// `error` or `skipped`.
    pub outcome: CollectionOutcome,
    /// The error's traceback, or the skip's reason.
    pub output: String,
    /// Where a module skipped itself (path, line), for the JUnit file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<(String, Option<i64>)>,
}

/// What became of a file pytest could not make tests of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectionOutcome {
    /// It failed to import or collect.
    Error,
    /// It skipped itself (`pytest.skip(allow_module_level=True)`).
    Skipped,
}

impl CollectionOutcome {
    /// The status pytest's final line counts it under.
    pub fn status(self) -> Status {
        match self {
            CollectionOutcome::Error => Status::Error,
            CollectionOutcome::Skipped => Status::Skipped,
        }
    }
}

/// Calls of one upstream that no test made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutsideCalls {
    pub upstream: String,
    pub calls: u64,
    /// Seconds they waited in the limiter.
    pub limiter_wait: f64,
    pub retries_429: u64,
}

/// A time to the microsecond, as the reports write times.
pub(crate) fn round_time(x: f64) -> f64 {
    (x * 1e6).round() / 1e6 + 0.0
}

impl RunReport {
    /// Times to the microsecond: finer is noise, and `3.0999999999999996`
    /// helps no reader.
    pub(crate) fn round_times(&mut self) {
        let round = |x: &mut f64| *x = round_time(*x);
        round(&mut self.elapsed);
        for c in &mut self.categories {
            round(&mut c.work);
            round(&mut c.wall);
        }
        for lane in &mut self.lanes {
            round(&mut lane.busy);
            round(&mut lane.idle);
        }
        for t in &mut self.tests {
            round(&mut t.start);
            round(&mut t.end);
            t.phases.for_each(round);
            for a in &mut t.attempts {
                round(&mut a.duration);
            }
            round(&mut t.limiter_wait);
            t.waits.iter_mut().flatten().for_each(round);
            t.retry_marks.iter_mut().for_each(round);
            for r in &mut t.reports {
                round(&mut r.dur);
            }
        }
        for o in &mut self.calls_outside_tests {
            round(&mut o.limiter_wait);
        }
        for s in &mut self.shards {
            round(&mut s.offset);
            round(&mut s.elapsed);
        }
    }
}
