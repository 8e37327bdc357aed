//! The record of a run behind `--json-report` and `--html-report`: every
//! test with its category, worker, start and end, outcome, phase durations
//! and reruns, gathered from the runner's events into one serde value
//! ([`RunReport`]) whose shape is the documented JSON schema
//! (`docs/reports.md`). The HTML page is drawn from the same value, so the
//! two reports cannot disagree.
//!
//! The runner's events carry no timestamps: [`RunRecord`] reads its clock
//! when an event arrives. Events are emitted by the pool's loop as workers
//! speak, so a bar's edges are when pacer heard of the test's start and end;
//! the clock is injectable so that tests feed synthetic events with known
//! times.

use std::collections::{BTreeMap, HashMap};
use std::time::{Instant, SystemTime};

use pacer_runner::events::PhaseReport;
use pacer_runner::events::{Event, Reporter};
use pacer_types::{Outcome, Phase, Status};
use serde::{Deserialize, Serialize};

use crate::calls::{charge, OutsideCalls, ProxyCall};
use crate::junit::plain;
use crate::stored::{Shared, StoredReports};

/// The schema's name and version; the version changes when a field changes
/// meaning or goes away (new fields may appear within a version).
pub const SCHEMA: &str = "pacer-run-report";
pub const SCHEMA_VERSION: u32 = 1;

/// The whole report, as written to `--json-report`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunReport {
    pub schema: String,
    pub version: u32,
    /// pacer's version.
    pub pacer: String,
    /// When the run started, RFC 3339 in UTC.
    pub started_at: Option<String>,
    pub python: Option<String>,
    pub pytest: Option<String>,
    pub rootdir: Option<String>,
    /// Workers the pool was sized for (`-n`).
    pub workers: usize,
    /// Seconds from the start of the run to its end (the reruns included).
    pub elapsed: f64,
    pub exit_code: Option<i32>,
    /// Why the run stopped handing out tests early (`-x`, crashed workers).
    pub stopped: Option<String>,
    /// Why the run was interrupted (Ctrl-C, collection errors).
    pub interrupted: Option<String>,
    /// pytest's final line: statuses counted as pytest counts them (per
    /// phase, so a test passed in its call and failed in its teardown is
    /// one `passed` and one `error`; a rerun attempt is a `rerun`), with the
    /// collection's errors and module-level skips.
    pub counts: BTreeMap<String, usize>,
    pub not_run: usize,
    pub deselected: usize,
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
    pub counts: BTreeMap<String, usize>,
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
    /// pytest's word for the test: `passed`, `failed`, `error`, `skipped`,
    /// `xfailed`, `xpassed`, or a plugin's own.
    pub outcome: String,
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
    pub when: String,
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
    pub outcome: String,
    /// The error's traceback, or the skip's reason.
    pub output: String,
}

/// The clock a record reads: seconds since the run started.
pub type Clock = Box<dyn FnMut() -> f64>;

/// What a test's report is made from, beside it (`RunRecord::states`).
struct Test {
    reports: StoredReports,
    /// Times pacer ran it again (the 429 rerun).
    pacer_reruns: usize,
}

/// The reporter that gathers the record.
pub struct RunRecord {
    clock: Clock,
    started_at: SystemTime,
    pacer: String,
    hello: Option<(String, String, String)>,
    workers: usize,
    categories: Vec<(String, bool, bool)>,
    category_of: HashMap<String, String>,
    started: HashMap<String, f64>,
    /// Every test's report, and beside it (same index) what it is made
    /// from: apart, so that the reports can be lent as they are.
    tests: Vec<TestReport>,
    states: Vec<Test>,
    by_id: HashMap<String, usize>,
    /// Phases' words, shared by the tests.
    shared: Shared,
    collection: Vec<CollectionProblem>,
    end: f64,
    exit_code: Option<i32>,
    stopped: Option<String>,
    interrupted: Option<String>,
    not_run: usize,
    deselected: usize,
    upstreams: Vec<serde_json::Value>,
    finished: bool,
    /// The instant `start`/`end` count from, to place the proxies' calls.
    origin: Instant,
    proxy_calls: Vec<ProxyCall>,
}

impl RunRecord {
    /// A record whose clock starts now.
    pub fn new(pacer_version: &str) -> Self {
        let t0 = Instant::now();
        let mut record =
            Self::with_clock(pacer_version, Box::new(move || t0.elapsed().as_secs_f64()));
        record.origin = t0;
        record
    }

    pub fn with_clock(pacer_version: &str, clock: Clock) -> Self {
        RunRecord {
            clock,
            started_at: SystemTime::now(),
            pacer: pacer_version.to_string(),
            hello: None,
            workers: 0,
            categories: Vec::new(),
            category_of: HashMap::new(),
            started: HashMap::new(),
            tests: Vec::new(),
            states: Vec::new(),
            by_id: HashMap::new(),
            shared: Shared::default(),
            collection: Vec::new(),
            end: 0.0,
            exit_code: None,
            stopped: None,
            interrupted: None,
            not_run: 0,
            deselected: 0,
            upstreams: Vec::new(),
            finished: false,
            origin: Instant::now(),
            proxy_calls: Vec::new(),
        }
    }

    /// The instant the record's times count from (for [`RunRecord::new`],
    /// the clock's own start, give or take the microsecond between them).
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// The proxies' calls, their times counted from [`RunRecord::origin`]:
    /// each test is charged its own (`calls.rs`).
    pub fn set_proxy_calls(&mut self, calls: Vec<ProxyCall>) {
        self.proxy_calls = calls;
    }

    /// Whether a run ended (`Finished` was seen): a run that never started
    /// writes no report, as pytest writes no JUnit file then.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// How many tests passed after failed attempts, as the run stands.
    pub fn flaky_tests(&self) -> usize {
        self.tests.iter().filter(|t| t.flaky).count()
    }

    /// The run's exit code as pacer ends with it (after the 429 rerun).
    pub fn set_exit_code(&mut self, code: i32) {
        self.exit_code = Some(code);
    }

    /// The proxies' statistics, known after they stop.
    pub fn set_upstreams(&mut self, upstreams: Vec<serde_json::Value>) {
        self.upstreams = upstreams;
    }

    fn finish_test(&mut self, id: &str, worker: &str, reports: &[PhaseReport], amend: bool) {
        let now = (self.clock)();
        // Taken, not copied: only a test's first end needs it, and on 50,000
        // tests the map's ids are megabytes.
        let category = self.category_of.remove(id);
        match self.by_id.get(id).copied() {
            Some(i) if amend => {
                // A late teardown (a module's fixture, torn down when the
                // worker moved on): its time is in `phases`, but the bar
                // keeps its end, since the worker has run other tests since.
                let test = &mut self.states[i];
                test.reports.extend(reports, &mut self.shared);
                let all = test.reports.to_vec();
                refresh(&mut self.tests[i], test, &all);
            }
            Some(i) => {
                // Run again (pacer's 429 rerun): the new attempt stands.
                let start = self.started.remove(id).unwrap_or(now - spent(reports));
                let test = &mut self.states[i];
                test.pacer_reruns += test_attempts(&test.reports.to_vec());
                test.reports = StoredReports::new(reports, &mut self.shared);
                let report = &mut self.tests[i];
                report.worker = worker.to_string();
                report.start = start.max(0.0);
                report.end = now;
                refresh(report, test, reports);
            }
            None => {
                let start = self.started.remove(id).unwrap_or(now - spent(reports));
                let mut report = TestReport {
                    id: id.to_string(),
                    category,
                    worker: worker.to_string(),
                    start: start.max(0.0),
                    end: now,
                    outcome: String::new(),
                    phases: Phases::default(),
                    reruns: 0,
                    flaky: false,
                    attempts: Vec::new(),
                    message: None,
                    output: None,
                    calls: 0,
                    limiter_wait: 0.0,
                    retries_429: 0,
                    waits: Vec::new(),
                    retry_marks: Vec::new(),
                };
                let test = Test {
                    reports: StoredReports::new(reports, &mut self.shared),
                    pacer_reruns: 0,
                };
                refresh(&mut report, &test, reports);
                self.by_id.insert(id.to_string(), self.tests.len());
                self.tests.push(report);
                self.states.push(test);
            }
        }
    }

    /// The report as it stands.
    pub fn to_report(&self) -> RunReport {
        let mut tests = self.tests.clone();
        tests.sort_by(|a, b| a.start.total_cmp(&b.start));
        self.report_of(tests)
    }

    /// Lends `write` the report as it stands, as [`RunRecord::to_report`]
    /// gives it, its tests moved in rather than copied (on 50,000 tests a
    /// copy, and a sort's scratch, are tens of megabytes), then takes them
    /// back as they were.
    pub fn with_report<T>(&mut self, write: impl FnOnce(&RunReport) -> T) -> T {
        // In the order they started (a stable sort, as `to_report`'s),
        // sorted in place.
        let mut order: Vec<usize> = (0..self.tests.len()).collect();
        order.sort_by(|a, b| self.tests[*a].start.total_cmp(&self.tests[*b].start));
        let mut tests = std::mem::take(&mut self.tests);
        permute(&mut tests, &order);
        // What the report changes in a test (its times rounded, its proxy
        // calls charged), to be put back.
        let raw: Vec<(f64, f64, Phases)> =
            tests.iter().map(|t| (t.start, t.end, t.phases)).collect();
        let raw_attempts: Vec<(usize, Vec<f64>)> = tests
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.attempts.is_empty())
            .map(|(i, t)| (i, t.attempts.iter().map(|a| a.duration).collect()))
            .collect();
        let report = self.report_of(tests);
        let written = write(&report);
        let mut tests = report.tests;
        for (test, (start, end, phases)) in tests.iter_mut().zip(raw) {
            (test.start, test.end, test.phases) = (start, end, phases);
            // Charged anew at each report, from nothing (`finish_test`).
            test.calls = 0;
            test.limiter_wait = 0.0;
            test.retries_429 = 0;
            test.waits = Vec::new();
            test.retry_marks = Vec::new();
        }
        for (i, durations) in raw_attempts {
            for (a, duration) in tests[i].attempts.iter_mut().zip(durations) {
                a.duration = duration;
            }
        }
        let mut back = vec![0; order.len()];
        for (i, was) in order.into_iter().enumerate() {
            back[was] = i;
        }
        permute(&mut tests, &back);
        self.tests = tests;
        written
    }

    /// The report of `tests`, in the order they started.
    fn report_of(&self, mut tests: Vec<TestReport>) -> RunReport {
        let calls_outside_tests = charge(&mut tests, &self.proxy_calls);
        // pytest's final line counts phases' statuses, not tests: a test
        // whose call passed and whose teardown failed is `passed` and `error`.
        let mut counts = BTreeMap::new();
        for t in &self.states {
            for status in t.reports.cats() {
                *counts.entry(status.as_str().to_string()).or_insert(0) += 1;
            }
        }
        for problem in &self.collection {
            *counts.entry(problem.outcome.clone()).or_insert(0) += 1;
        }
        let elapsed = tests.iter().map(|t| t.end).fold(self.end, f64::max);

        let mut lanes: BTreeMap<(usize, String), Lane> = BTreeMap::new();
        for t in &tests {
            let lane = lanes
                .entry((worker_number(&t.worker), t.worker.clone()))
                .or_insert_with(|| Lane {
                    worker: t.worker.clone(),
                    tests: 0,
                    busy: 0.0,
                    idle: 0.0,
                });
            lane.tests += 1;
            lane.busy += t.end - t.start;
        }
        let lanes = lanes
            .into_values()
            .map(|mut lane| {
                lane.idle = (elapsed - lane.busy).max(0.0);
                lane
            })
            .collect();

        let categories = self
            .categories
            .iter()
            .map(|(name, rate_limited, selected)| {
                let mine: Vec<&TestReport> = tests
                    .iter()
                    .filter(|t| t.category.as_deref() == Some(name))
                    .collect();
                let mut counts = BTreeMap::new();
                let mut workers: Vec<&str> = Vec::new();
                for t in &mine {
                    *counts.entry(t.outcome.clone()).or_insert(0) += 1;
                    if !workers.contains(&t.worker.as_str()) {
                        workers.push(&t.worker);
                    }
                }
                let first = mine.iter().map(|t| t.start).fold(f64::INFINITY, f64::min);
                let last = mine.iter().map(|t| t.end).fold(0.0, f64::max);
                CategoryReport {
                    name: name.clone(),
                    rate_limited: *rate_limited,
                    selected: *selected,
                    tests: mine.len(),
                    counts,
                    work: mine.iter().fold(0.0, |sum, t| sum + (t.end - t.start)),
                    wall: if mine.is_empty() { 0.0 } else { last - first },
                    workers: workers.len(),
                }
            })
            .collect();

        let (python, pytest, rootdir) = match &self.hello {
            Some((python, pytest, rootdir)) => (
                Some(python.clone()),
                Some(pytest.clone()),
                Some(rootdir.clone()),
            ),
            None => (None, None, None),
        };
        let mut report = RunReport {
            schema: SCHEMA.to_string(),
            version: SCHEMA_VERSION,
            pacer: self.pacer.clone(),
            started_at: Some(rfc3339(self.started_at)),
            python,
            pytest,
            rootdir,
            workers: self.workers,
            elapsed,
            exit_code: self.exit_code,
            stopped: self.stopped.clone(),
            interrupted: self.interrupted.clone(),
            counts,
            not_run: self.not_run,
            deselected: self.deselected,
            categories,
            lanes,
            tests,
            collection: self.collection.clone(),
            upstreams: self.upstreams.clone(),
            calls_outside_tests,
        };
        report.round_times();
        report
    }
}

impl Reporter for RunRecord {
    fn report(&mut self, event: Event<'_>) {
        match event {
            Event::Started { hello, workers } => {
                self.workers = self.workers.max(workers);
                self.hello.get_or_insert_with(|| {
                    (
                        hello.python.clone(),
                        hello.pytest.clone(),
                        hello.rootdir.clone(),
                    )
                });
            }
            Event::Planned { tests, categories } => {
                for c in categories {
                    if !self.categories.iter().any(|(name, ..)| *name == c.name) {
                        self.categories
                            .push((c.name.clone(), c.rate_limited, c.selected));
                    }
                }
                // Sized once: on 50,000 tests a doubling vector wastes megabytes.
                self.tests.reserve(tests.len());
                self.states.reserve(tests.len());
                for t in tests {
                    if let Some(c) = categories.get(t.category) {
                        self.category_of.insert(t.id.clone(), c.name.clone());
                    }
                }
            }
            Event::Collected { problems, .. } => {
                for p in problems {
                    if self.collection.iter().any(|e| e.id == p.id) {
                        continue;
                    }
                    let (outcome, output) = match (&p.skip, p.outcome) {
                        (Some(skip), Outcome::Skipped) => ("skipped", skip.2.clone()),
                        (None, Outcome::Skipped) => ("skipped", plain(&p.longrepr)),
                        _ => ("error", plain(&p.longrepr)),
                    };
                    self.collection.push(CollectionProblem {
                        id: p.id.clone(),
                        outcome: outcome.to_string(),
                        output,
                    });
                }
            }
            Event::TestStarted { id, .. } => {
                let now = (self.clock)();
                self.started.insert(id.to_string(), now);
            }
            Event::TestFinished {
                id,
                worker,
                reports,
                ..
            } => self.finish_test(id, worker, reports, false),
            Event::TestAmended {
                id,
                worker,
                reports,
            } => self.finish_test(id, worker, reports, true),
            Event::Finished { summary } => {
                self.end = (self.clock)();
                // Emptied as tests ended, but still sized for all of them.
                self.category_of.shrink_to_fit();
                // The first run's selection stands: the 429 rerun runs a
                // few of its tests again and deselects nothing of its own.
                if !self.finished {
                    self.deselected = summary.deselected;
                    self.not_run = summary.not_run;
                    self.stopped = summary.stopped.as_ref().map(ToString::to_string);
                    self.interrupted = summary.interrupted.as_ref().map(ToString::to_string);
                }
                // The binary sets the final code after a rerun (`set_exit_code`).
                self.exit_code = Some(summary.exit_code);
                self.finished = true;
            }
            Event::LastFailed { .. }
            | Event::Output { .. }
            | Event::Warning { .. }
            | Event::Notice { .. }
            | Event::WorkerFinished { .. }
            | Event::PluginReport { .. } => {}
        }
    }
}

impl RunReport {
    /// Times to the microsecond: finer is noise, and `3.0999999999999996`
    /// helps no reader.
    fn round_times(&mut self) {
        let round = |x: &mut f64| *x = (*x * 1e6).round() / 1e6 + 0.0;
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
        }
        for o in &mut self.calls_outside_tests {
            round(&mut o.limiter_wait);
        }
    }
}

/// Seconds the phases of `reports` took.
fn spent(reports: &[PhaseReport]) -> f64 {
    reports.iter().map(|r| r.dur).sum()
}

/// How many times a test ran in these reports: once, plus once per attempt
/// a rerun threw away.
fn test_attempts(reports: &[PhaseReport]) -> usize {
    attempts(reports).len().max(1)
}

/// A test's reports cut into attempts (pytest-rerunfailures', or pacer's
/// own reruns): a phase that does not come after the one before starts the
/// next attempt (passing setups and teardowns are not sent, so a retried
/// call is followed by the next call), and so does a call after a retried
/// setup. Each attempt but the last holds a `rerun` report.
pub fn attempts(reports: &[PhaseReport]) -> Vec<&[PhaseReport]> {
    let order = |p: Phase| match p {
        Phase::Setup => 0,
        Phase::Call => 1,
        Phase::Teardown => 2,
    };
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..reports.len() {
        let retried = reports[start..i]
            .iter()
            .any(|r| r.outcome == Outcome::Rerun);
        let previous = &reports[i - 1];
        let after_failed_setup =
            previous.when == Phase::Setup && previous.outcome == Outcome::Rerun;
        if retried && (after_failed_setup || order(reports[i].when) <= order(previous.when)) {
            out.push(&reports[start..i]);
            start = i;
        }
    }
    if start < reports.len() {
        out.push(&reports[start..]);
    }
    out
}

/// A failure's text as the reports keep it: the traceback, then the
/// captured output of every phase, as pytest's sections show it.
fn failure_text(failing: &[&PhaseReport], phases: &[PhaseReport]) -> String {
    let mut text = String::new();
    for r in failing {
        if let Some(longrepr) = &r.longrepr {
            text.push_str(&plain(longrepr));
            text.push('\n');
        }
    }
    for (title, body) in phases.iter().flat_map(|r| &r.sections) {
        text.push_str(&format!("----- {title} -----\n{body}"));
        if !body.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

/// Recomputes a test's outcome, phases, reruns and failure text from its
/// phase reports (all it has, as `test.reports` holds them).
fn refresh(report: &mut TestReport, test: &Test, reports: &[PhaseReport]) {
    let tries = attempts(reports);
    let (last, before) = match tries.split_last() {
        Some((last, before)) => (*last, before),
        None => (reports, &[][..]),
    };
    let mut phases = Phases::default();
    for r in last {
        phases.add(r.when, r.dur);
    }
    let outcome = last
        .iter()
        .filter_map(|r| r.cat.as_ref())
        .find(|c| **c != Status::Passed)
        .map(|c| c.as_str().to_string())
        .unwrap_or_else(|| "passed".to_string());
    let failing: Vec<&PhaseReport> = last.iter().filter(|r| r.outcome.is_failed()).collect();
    let message = failing.iter().find_map(|r| r.msg.clone());
    let output = (!failing.is_empty()).then(|| failure_text(&failing, last));
    report.attempts = before
        .iter()
        .enumerate()
        .map(|(i, attempt)| {
            let failed: Vec<&PhaseReport> = attempt
                .iter()
                .filter(|r| r.outcome == Outcome::Rerun || r.outcome.is_failed())
                .collect();
            AttemptReport {
                attempt: i + 1,
                when: failed
                    .first()
                    .map_or("call", |r| r.when.as_str())
                    .to_string(),
                duration: spent(attempt),
                message: failed.iter().find_map(|r| r.msg.clone()),
                output: Some(failure_text(&failed, attempt)).filter(|t| !t.is_empty()),
            }
        })
        .collect();
    report.flaky = last.iter().any(|r| r.cat == Some(Status::Flaky));
    report.outcome = outcome;
    report.phases = phases;
    report.reruns = before.len() + test.pacer_reruns;
    report.message = message;
    report.output = output;
}

/// Puts `items[order[i]]` at `i`, in place (`order` is a permutation).
fn permute<T>(items: &mut [T], order: &[usize]) {
    let mut order = order.to_vec();
    const DONE: usize = usize::MAX;
    for i in 0..items.len() {
        // Each cycle of the permutation, its first item carried along by swaps.
        let mut j = i;
        while order[j] != DONE {
            let k = order[j];
            order[j] = DONE;
            if k == i {
                break;
            }
            items.swap(j, k);
            j = k;
        }
    }
}

/// `gw12` → 12, so that lanes sort as workers are numbered.
fn worker_number(worker: &str) -> usize {
    worker
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap_or(usize::MAX)
}

fn rfc3339(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(when: Phase, outcome: Outcome) -> PhaseReport {
        PhaseReport {
            when,
            outcome,
            ..Default::default()
        }
    }

    #[test]
    fn the_lent_report_is_the_report_and_the_record_is_left_as_it_was() {
        use std::cell::Cell;
        use std::rc::Rc;
        let now = Rc::new(Cell::new(0.0));
        let clock = now.clone();
        let mut record = RunRecord::with_clock("0", Box::new(move || clock.get()));
        let rerun = PhaseReport {
            cat: Some(Status::Other("rerun".into())),
            dur: 0.1234567,
            msg: Some("first".into()),
            ..report(Phase::Call, Outcome::Rerun)
        };
        let passed = PhaseReport {
            cat: Some(Status::Flaky),
            dur: 0.3333333333,
            ..report(Phase::Call, Outcome::Passed)
        };
        let workers = ["gw1", "gw0", "gw2"];
        for (i, worker) in workers.into_iter().enumerate() {
            let id = format!("t.py::test_{i}");
            record.report(Event::TestStarted { id: &id, worker });
            now.set(now.get() + 0.3333333333);
        }
        // Finished in the reverse order of their starts.
        for (i, worker) in workers.into_iter().enumerate().rev() {
            let id = format!("t.py::test_{i}");
            now.set(now.get() + 0.7777777777);
            record.report(Event::TestFinished {
                id: &id,
                worker,
                reports: &[rerun.clone(), passed.clone()],
                finished: i + 1,
                total: 3,
            });
        }
        record.set_proxy_calls(vec![ProxyCall {
            upstream: "api".into(),
            worker: Some("gw0".into()),
            arrival: 1.0,
            done: 1.2,
            queued: 0.1111111111,
            waits: vec![(1.0, 1.1111111111)],
            retries_429: vec![1.05],
            count: 1,
        }]);
        let expected = record.to_report();
        let ids: Vec<&str> = expected.tests.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["t.py::test_0", "t.py::test_1", "t.py::test_2"]);
        assert_eq!(expected.tests[1].calls, 1, "the call is charged");
        assert_eq!(record.with_report(|r| r.clone()), expected);
        assert_eq!(record.with_report(|r| r.clone()), expected, "lent again");
        assert_eq!(record.to_report(), expected, "the record is as it was");
    }

    #[test]
    fn permute_puts_each_item_where_the_order_says() {
        let order = [3, 0, 4, 1, 2, 6, 5, 7];
        let mut items: Vec<char> = "abcdefgh".chars().collect();
        permute(&mut items, &order);
        assert_eq!(items.iter().collect::<String>(), "daebcgfh");
    }

    #[test]
    fn reports_cut_into_attempts_where_a_retried_phase_starts_again() {
        use Outcome::{Failed, Passed, Rerun};
        use Phase::{Call, Setup, Teardown};
        let sizes = |reports: &[PhaseReport]| -> Vec<usize> {
            attempts(reports).iter().map(|a| a.len()).collect()
        };
        // Call retried twice, then passed.
        let calls = [
            report(Call, Rerun),
            report(Call, Rerun),
            report(Call, Passed),
        ];
        assert_eq!(sizes(&calls), [1, 1, 1]);
        // A retried setup, then the call that passed.
        assert_eq!(sizes(&[report(Setup, Rerun), report(Call, Passed)]), [1, 1]);
        // A retried call with its teardown, then a failed call and teardown.
        let both = [
            report(Call, Rerun),
            report(Teardown, Rerun),
            report(Call, Failed),
            report(Teardown, Failed),
        ];
        assert_eq!(sizes(&both), [2, 2]);
        // No rerun: one attempt, however many phases.
        assert_eq!(
            sizes(&[report(Call, Failed), report(Teardown, Failed)]),
            [2]
        );
        assert!(attempts(&[]).is_empty());
    }
}
