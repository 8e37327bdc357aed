//! The record of a run behind `--json-report` and `--html-report`: every
//! test with its category, worker, start and end, outcome, phase durations
//! and reruns, gathered from the runner's events into one serde value
//! ([`RunReport`], its types in `schema.rs`) whose shape is the documented
//! JSON schema (`docs/reports.md`). The HTML page is drawn from the same
//! value, so the two reports cannot disagree. A test's outcome is decided
//! here (`refresh`) as a [`Status`]; it becomes a word only when serde
//! writes the file.
//!
//! The runner's events carry no timestamps: [`RunRecord`] reads its clock
//! when an event arrives. Events are emitted by the pool's loop as workers
//! speak, so a bar's edges are when pacer heard of the test's start and end;
//! the clock is injectable so that tests feed synthetic events with known
//! times.

use std::collections::{BTreeMap, HashMap};
use std::time::{Instant, SystemTime};

use pacer_runner::events::{CpuTime, PhaseReport, WaitWorkers};
use pacer_runner::events::{Event, Reporter};
use pacer_types::{Outcome, Phase, Status, StopReason};

use crate::attempts::attempts;
use crate::calls::{charge, charge_requests, ProxyCall};
use crate::longrepr::plain;
use crate::schema::{
    AttemptReport, CategoryReport, CollectionOutcome, CollectionProblem, Lane, PhaseRecord, Phases,
    RunReport, Shard, TestReport, TouchedReport, SCHEMA, SCHEMA_VERSION,
};
use crate::slim::{count, outcome_of, worker_number, SlimTests};
use crate::stored::{Shared, StoredReports};

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
    /// The first worker's invocation folder and pytest-randomly seed.
    invocation_dir: Option<String>,
    randomly_seed: Option<u64>,
    pytest_args: Vec<String>,
    pytest_paths: Vec<String>,
    workers: usize,
    wait_workers: Option<WaitWorkers>,
    categories: Vec<(String, bool, bool)>,
    /// Each planned test's category and place in the collection, until it
    /// ends (its report keeps them then).
    planned: HashMap<String, (Option<String>, usize)>,
    planned_count: usize,
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
    stopped: Option<StopReason>,
    interrupted: Option<StopReason>,
    not_run: usize,
    deselected: usize,
    upstreams: Vec<serde_json::Value>,
    warnings: usize,
    run_id: Option<String>,
    shard: Option<Shard>,
    finished: bool,
    /// The instant `start`/`end` count from, to place the proxies' calls.
    origin: Instant,
    proxy_calls: Vec<ProxyCall>,
    /// The run traces what tests touch: their requests go into `touched.api`.
    trace_requests: bool,
    /// A slim record ([`RunRecord::set_slim`]) keeps its tests here, and
    /// nothing in `tests`, `states` or `planned`.
    slim: Option<SlimTests>,
    /// A slim record of a run whose pytest cache is off keeps no test.
    slim_off: bool,
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
            invocation_dir: None,
            randomly_seed: None,
            pytest_args: Vec::new(),
            pytest_paths: Vec::new(),
            workers: 0,
            wait_workers: None,
            categories: Vec::new(),
            planned: HashMap::new(),
            planned_count: 0,
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
            warnings: 0,
            run_id: None,
            shard: None,
            finished: false,
            origin: Instant::now(),
            proxy_calls: Vec::new(),
            trace_requests: false,
            slim: None,
            slim_off: false,
        }
    }

    /// Makes this a slim record (or a full one again), before its first event: it keeps of each
    /// test only what `pacer replay` and `pacer bisect` read (its id,
    /// worker, start, end and outcome; `slim.rs`), and nothing when the
    /// run's pytest cache is off (`-p no:cacheprovider`), where the last
    /// run's report is not kept. Its JSON ([`RunRecord::write_json`]) is a
    /// run report with those tests, their lanes, no categories, `counts` of
    /// tests by outcome, and no failure's text; [`RunRecord::to_report`]
    /// and [`RunRecord::with_report`] give a report of no test.
    pub fn set_slim(&mut self, slim: bool) {
        self.slim = slim.then(SlimTests::default);
    }

    pub fn is_slim(&self) -> bool {
        self.slim.is_some()
    }

    /// Writes the report as `--json-report` does; a slim record's, its tests
    /// serialised one at a time.
    pub fn write_json(&mut self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let Some(slim) = &self.slim else {
            return self.with_report(|report| crate::json::write(report, out));
        };
        let mut head = self.report_of(Vec::new());
        // What a slim record does not keep: no test's category or calls.
        head.categories = Vec::new();
        head.calls_outside_tests = Vec::new();
        slim.write(head, out)
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

    /// The run traces what each test touches (`--trace-touched`): the
    /// requests its calls sent go into its `touched.api`.
    pub fn trace_requests(&mut self) {
        self.trace_requests = true;
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

    /// Which run, and which shard of it, this is: what `pacer report merge`
    /// checks the shards by.
    pub fn set_identity(&mut self, run_id: Option<String>, shard: Option<Shard>) {
        self.run_id = run_id;
        self.shard = shard;
    }

    /// The arguments the run handed pytest, for `pacer replay`.
    pub fn set_pytest_args(&mut self, args: Vec<String>) {
        self.pytest_args = args;
    }

    /// The proxies' statistics, known after they stop.
    pub fn set_upstreams(&mut self, upstreams: Vec<serde_json::Value>) {
        self.upstreams = upstreams;
    }

    fn finish_test(
        &mut self,
        id: &str,
        worker: &str,
        reports: &[PhaseReport],
        cpu: Option<CpuTime>,
        amend: bool,
    ) {
        let now = (self.clock)();
        if let Some(slim) = &mut self.slim {
            if self.slim_off {
                return;
            }
            if amend {
                slim.amend(id, reports);
            } else {
                let start = self.started.remove(id).unwrap_or(now - spent(reports));
                slim.finish(id, worker, start.max(0.0), now, reports);
            }
            return;
        }
        // Taken, not copied: only a test's first end needs it, and on 50,000
        // tests the map's ids are megabytes.
        let (category, collected) = match self.planned.remove(id) {
            Some((category, index)) => (category, Some(index)),
            None => (None, None),
        };
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
                report.cpu = cpu;
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
                    outcome: Status::Passed,
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
                    cpu,
                    collected,
                    reports: Vec::new(),
                    touched: None,
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
        let raw_touched: Option<Vec<Option<TouchedReport>>> = self
            .trace_requests
            .then(|| tests.iter().map(|t| t.touched.clone()).collect());
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
            test.reports = Vec::new();
        }
        if let Some(raw) = raw_touched {
            for (test, touched) in tests.iter_mut().zip(raw) {
                test.touched = touched;
            }
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
        if self.trace_requests {
            charge_requests(&mut tests, &self.proxy_calls);
        }
        // Made anew at each report, from what the record keeps compact.
        for t in &mut tests {
            if let Some(&i) = self.by_id.get(&t.id) {
                t.reports = self.states[i]
                    .reports
                    .to_vec()
                    .iter()
                    .map(PhaseRecord::of)
                    .collect();
            }
        }
        // pytest's final line counts phases' statuses, not tests: a test
        // whose call passed and whose teardown failed is `passed` and `error`.
        let mut counts: BTreeMap<Status, usize> = BTreeMap::new();
        for t in &self.states {
            for status in t.reports.cats() {
                count(&mut counts, status);
            }
        }
        for problem in &self.collection {
            count(&mut counts, &problem.outcome.status());
        }
        let elapsed = tests.iter().map(|t| t.end).fold(self.end, f64::max);

        let mut lanes: BTreeMap<(usize, String), Lane> = BTreeMap::new();
        for t in &tests {
            let lane = lanes
                .entry((worker_number(&t.worker), t.worker.clone()))
                .or_insert_with(|| Lane {
                    worker: t.worker.clone(),
                    group: None,
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
                    count(&mut counts, &t.outcome);
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
            run_id: self.run_id.clone(),
            shard: self.shard,
            shards: Vec::new(),
            started_at: Some(rfc3339(self.started_at)),
            python,
            pytest,
            rootdir,
            invocation_dir: self.invocation_dir.clone(),
            pytest_args: self.pytest_args.clone(),
            pytest_paths: self.pytest_paths.clone(),
            randomly_seed: self.randomly_seed,
            workers: self.workers,
            wait_workers: self.wait_workers.clone(),
            elapsed,
            exit_code: self.exit_code,
            stopped: self.stopped.clone(),
            interrupted: self.interrupted.clone(),
            counts,
            not_run: self.not_run,
            deselected: self.deselected,
            warnings: self.warnings,
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
                if self.hello.is_none() {
                    self.slim_off = hello.options.cache_dir.is_none();
                    self.invocation_dir = hello.invocation_dir.clone();
                    self.randomly_seed = hello.randomly_seed;
                    self.pytest_paths = hello.options.file_or_dir.clone();
                }
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
                if let Some(slim) = &mut self.slim {
                    if !self.slim_off {
                        slim.reserve(tests.len());
                    }
                    return;
                }
                self.tests.reserve(tests.len());
                self.states.reserve(tests.len());
                for t in tests {
                    let category = categories.get(t.category).map(|c| c.name.clone());
                    if self.by_id.contains_key(&t.id) {
                        continue;
                    }
                    let next = self.planned_count;
                    let entry = self
                        .planned
                        .entry(t.id.clone())
                        .or_insert_with(|| (None, next));
                    if entry.1 == next {
                        self.planned_count += 1;
                    }
                    if category.is_some() {
                        entry.0 = category;
                    }
                }
            }
            Event::Collected { problems, .. } => {
                for p in problems {
                    if self.collection.iter().any(|e| e.id == p.id) {
                        continue;
                    }
                    let outcome = match p.outcome {
                        Outcome::Skipped => CollectionOutcome::Skipped,
                        // pytest says `failed`; whatever else a file's
                        // problem says, it made no tests: an error.
                        Outcome::Failed | Outcome::Passed | Outcome::Rerun | Outcome::Other => {
                            CollectionOutcome::Error
                        }
                    };
                    let output = match (outcome, &p.skip) {
                        (CollectionOutcome::Skipped, Some(skip)) => skip.2.clone(),
                        (CollectionOutcome::Skipped, None) | (CollectionOutcome::Error, _) => {
                            plain(&p.longrepr)
                        }
                    };
                    self.collection.push(CollectionProblem {
                        id: p.id.clone(),
                        outcome,
                        output,
                        location: p.skip.as_ref().map(|s| (s.0.clone(), s.1)),
                    });
                }
            }
            Event::TestStarted { id, .. } if !(self.slim.is_some() && self.slim_off) => {
                let now = (self.clock)();
                self.started.insert(id.to_string(), now);
            }
            Event::TestFinished {
                id,
                worker,
                reports,
                cpu,
                ..
            } => self.finish_test(id, worker, reports, cpu, false),
            Event::TestAmended {
                id,
                worker,
                reports,
            } => self.finish_test(id, worker, reports, None, true),
            Event::TestTouched { id, touched } => {
                if let Some(&i) = self.by_id.get(id) {
                    self.tests[i].touched = Some(TouchedReport::of(touched));
                }
            }
            Event::WaitWorkers { wait } => {
                // A first run's pool grew during the run: it ends larger.
                self.workers = self.workers.max(wait.cores + wait.extra);
                self.wait_workers = Some(wait.clone());
            }
            Event::Finished { summary } => {
                self.end = (self.clock)();
                // Emptied as tests ended, but still sized for all of them.
                self.planned.shrink_to_fit();
                // The first run's selection stands: the 429 rerun runs a
                // few of its tests again and deselects nothing of its own.
                if !self.finished {
                    self.deselected = summary.deselected;
                    self.not_run = summary.not_run;
                    self.stopped = summary.stopped.clone();
                    self.interrupted = summary.interrupted.clone();
                }
                // The binary sets the final code after a rerun (`set_exit_code`).
                self.exit_code = Some(summary.exit_code);
                self.finished = true;
            }
            Event::Warning { .. } => self.warnings += 1,
            Event::TestStarted { .. }
            | Event::LastFailed { .. }
            | Event::Output { .. }
            | Event::Notice { .. }
            | Event::WorkerFinished { .. }
            | Event::PluginReport { .. } => {}
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
    let outcome = outcome_of(reports);
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
                when: failed.first().map_or(Phase::Call, |r| r.when),
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
                cpu: None,
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
            request: Some("GET /users".into()),
        }]);
        // Traced: the request goes to `touched.api`, charged anew each time too.
        record.trace_requests();
        let expected = record.to_report();
        let ids: Vec<&str> = expected.tests.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["t.py::test_0", "t.py::test_1", "t.py::test_2"]);
        assert_eq!(expected.tests[1].calls, 1, "the call is charged");
        let api = expected.tests[1].touched.as_ref().map(|t| t.api.clone());
        assert_eq!(api, Some(vec!["GET /users".to_string()]));
        assert_eq!(record.with_report(|r| r.clone()), expected);
        assert_eq!(record.with_report(|r| r.clone()), expected, "lent again");
        assert_eq!(record.to_report(), expected, "the record is as it was");
    }

    fn hello(cache_dir: Option<&str>) -> pacer_runner::events::Hello {
        serde_json::from_value(serde_json::json!({
            "protocol": 1, "worker": "gw0", "pid": 1, "python": "3.11",
            "platform": "linux", "pytest": "9.2.0", "pluggy": "1",
            "rootdir": "/suite", "configfile": null, "plugins": [],
            "invocation_dir": "/suite",
            "options": {"cache_dir": cache_dir, "file_or_dir": ["tests"]},
        }))
        .unwrap()
    }

    /// A slim record's run, fed as the pool feeds it: three tests on two
    /// workers, one failed, one run again (the 429 rerun), one whose late
    /// teardown failed.
    fn slim_run(cache_dir: Option<&str>) -> RunReport {
        use std::cell::Cell;
        use std::rc::Rc;
        let now = Rc::new(Cell::new(0.0));
        let clock = now.clone();
        let mut record = RunRecord::with_clock("0", Box::new(move || clock.get()));
        record.set_slim(true);
        record.set_pytest_args(vec!["tests".into(), "-q".into()]);
        let hello = hello(cache_dir);
        record.report(Event::Started {
            hello: &hello,
            workers: 2,
        });
        let failed = PhaseReport {
            cat: Some(Status::Failed),
            longrepr: Some("Traceback: boom".into()),
            msg: Some("boom".into()),
            ..report(Phase::Call, Outcome::Failed)
        };
        let passed = PhaseReport {
            cat: Some(Status::Passed),
            ..report(Phase::Call, Outcome::Passed)
        };
        let torn = PhaseReport {
            cat: Some(Status::Error),
            longrepr: Some("teardown".into()),
            ..report(Phase::Teardown, Outcome::Failed)
        };
        let run = |record: &mut RunRecord, id: &str, worker: &str, reports: &[PhaseReport]| {
            record.report(Event::TestStarted { id, worker });
            now.set(now.get() + 1.0);
            record.report(Event::TestFinished {
                id,
                worker,
                reports,
                finished: 1,
                total: 3,
                cpu: None,
            });
        };
        run(&mut record, "t.py::a", "gw1", std::slice::from_ref(&passed));
        run(&mut record, "t.py::b", "gw0", std::slice::from_ref(&failed));
        run(&mut record, "t.py::c", "gw1", &[failed]);
        record.report(Event::TestAmended {
            id: "t.py::a",
            worker: "gw1",
            reports: &[torn],
        });
        // The 429 rerun: c again, passing, on gw0.
        run(&mut record, "t.py::c", "gw0", &[passed]);
        let mut out = Vec::new();
        record.write_json(&mut out).unwrap();
        assert!(
            record.to_report().tests.is_empty(),
            "a slim record has no full tests"
        );
        serde_json::from_slice(&out).expect("a slim record writes a run report")
    }

    #[test]
    fn a_slim_record_writes_each_tests_worker_start_and_outcome_and_no_failure_text() {
        let report = slim_run(Some("/suite/.pytest_cache"));
        let tests: Vec<(&str, &str, f64, &str)> = report
            .tests
            .iter()
            .map(|t| {
                (
                    t.id.as_str(),
                    t.worker.as_str(),
                    t.start,
                    t.outcome.as_str(),
                )
            })
            .collect();
        assert_eq!(
            tests,
            [
                ("t.py::a", "gw1", 0.0, "error"),
                ("t.py::b", "gw0", 1.0, "failed"),
                ("t.py::c", "gw0", 3.0, "passed"),
            ]
        );
        assert!(report
            .tests
            .iter()
            .all(|t| t.output.is_none() && t.message.is_none()));
        let lanes: Vec<(&str, usize)> = report
            .lanes
            .iter()
            .map(|l| (l.worker.as_str(), l.tests))
            .collect();
        assert_eq!(lanes, [("gw0", 2), ("gw1", 1)]);
        assert_eq!(report.pytest_args, ["tests", "-q"]);
        assert_eq!(report.pytest_paths, ["tests"]);
        assert_eq!(report.rootdir.as_deref(), Some("/suite"));
        assert_eq!(report.workers, 2);
        assert_eq!(report.elapsed, 4.0);
        let counts: Vec<(&str, usize)> = report
            .counts
            .iter()
            .map(|(s, n)| (s.as_str(), *n))
            .collect();
        assert_eq!(counts, [("error", 1), ("failed", 1), ("passed", 1)]);
    }

    #[test]
    fn a_slim_record_keeps_no_test_when_pytests_cache_is_off() {
        let report = slim_run(None);
        assert!(report.tests.is_empty() && report.lanes.is_empty());
    }

    #[test]
    fn permute_puts_each_item_where_the_order_says() {
        let order = [3, 0, 4, 1, 2, 6, 5, 7];
        let mut items: Vec<char> = "abcdefgh".chars().collect();
        permute(&mut items, &order);
        assert_eq!(items.iter().collect::<String>(), "daebcgfh");
    }
}
