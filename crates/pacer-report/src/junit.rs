//! The JUnit XML report (`--junitxml PATH`), written by pacer from the
//! runner's events, as pytest-xdist writes it in its controller.
//!
//! A pytest worker never writes the file (pacer's plugin makes each one an
//! xdist-style worker, which pytest's junitxml plugin skips); [`Junit`] is a
//! reporter that gathers every test's phase reports and collection problems
//! and writes one file on `Finished`. The pool emits `Finished` however the
//! run ends (all done, `-x`, Ctrl-C/SIGTERM, crashed or timed-out workers),
//! so the file is there whenever pytest's would be.
//!
//! The XML follows pytest's `junitxml` plugin (family `xunit2`, its default,
//! or `xunit1` with each test's `file` and `line`; `--junitprefix` before
//! every classname), so tools that read pytest's reports read pacer's:
//! - one `<testsuite name="pytest">` with pytest's `tests`, `failures`,
//!   `errors` and `skipped` counts (`tests` counts as pytest 9 does: a
//!   call failure followed by a teardown error is two `<testcase>` elements
//!   counted twice, a passing call with a teardown error one element
//!   counted once);
//! - `<testcase classname="tests.test_a.TestX" name="test_y[p]">` for the
//!   node id `tests/test_a.py::TestX::test_y[p]`;
//! - `<failure>` for a failed call, `<error>` for a failed setup or teardown
//!   (`failed on setup with "..."`), `<skipped type="pytest.skip">` and
//!   `<skipped type="pytest.xfail">`, collection errors as `<error
//!   message="collection failure">`.
//!
//! What pacer adds: a crashed or timed-out worker is an `<error>` whose
//! message says so (pytest-xdist also reports it as an error); each test
//! case has a `worker` and a `category` property; captured output of failed phases goes to
//! `<system-out>`/`<system-err>`. A passing test's time is its call's: a
//! worker does not send passing setups and teardowns.
//!
//! The file is written atomically (a temporary file in the same folder, then
//! a rename), so a reader never sees half a report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pacer_runner::events::{CollectProblem, PhaseReport, SkipLocation};
use pacer_runner::events::{Event, Reporter};
use pacer_types::{Outcome, Phase};
use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};

use crate::attempts::attempts;
use crate::longrepr::plain;
use crate::report_file::{self, FileError};
use crate::schema::{CollectionOutcome, PhaseRecord, RunReport};
use crate::stored::{Shared, StoredReports};

/// pytest's default `junit_suite_name`.
pub const DEFAULT_SUITE_NAME: &str = "pytest";

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    #[error("failed to create the folder {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is a directory", path.display())]
    IsDirectory { path: PathBuf },
    #[error("failed to write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to render the report: {0}")]
    Render(#[source] quick_junit::SerializeError),
}

/// Checks, before the run, that the report can be written at `path`:
/// creates its folder and a probe file there, then removes the probe.
/// An error here is a usage error, caught before any test runs.
pub fn check_writable(path: &Path) -> Result<(), JunitError> {
    report_file::check_writable(path).map_err(|e| junit_error(path, e))
}

fn junit_error(path: &Path, error: FileError) -> JunitError {
    match error {
        FileError::IsDirectory => JunitError::IsDirectory {
            path: path.to_path_buf(),
        },
        FileError::CreateDir(dir, source) => JunitError::CreateDir { path: dir, source },
        FileError::Write(source) => JunitError::Write {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// pytest's `junit_family`: which attributes a `<testcase>` carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Family {
    /// `classname`, `name`, `file`, `line` (0-based, as pytest writes it),
    /// `time`; pytest's `legacy` is this one.
    Xunit1,
    /// `classname`, `name`, `time`: pytest's default.
    #[default]
    Xunit2,
}

impl Family {
    /// pytest's ini value (`xunit1`, `legacy`, `xunit2`); anything else is xunit2.
    pub fn from_ini(name: &str) -> Self {
        match name {
            "xunit1" | "legacy" => Family::Xunit1,
            _ => Family::Xunit2,
        }
    }
}

/// The reporter that writes the JUnit file.
pub struct Junit {
    path: PathBuf,
    suite_name: String,
    family: Family,
    /// pytest's `--junitprefix`, put before every classname.
    prefix: Option<String>,
    /// When the first run started: the suite's timestamp.
    started: Option<SystemTime>,
    /// Summed over runs (the 429 rerun reports into the same file).
    elapsed: Duration,
    /// Collection order of every planned test, so the file lists tests as
    /// pytest would rather than in the order workers finished them, and
    /// its category (for its `category` property), in one map: on 50,000
    /// tests every copy of every id is megabytes.
    /// Its keys are shared with `tests` and `by_id`.
    planned: HashMap<Arc<str>, (usize, Option<Arc<str>>)>,
    /// The categories' names, shared by their tests.
    category_names: Vec<Arc<str>>,
    tests: Vec<TestRecord>,
    by_id: HashMap<Arc<str>, usize>,
    /// Workers' names and phases' words, shared by the tests.
    shared: Shared,
    problems: Vec<CollectProblem>,
    /// The outcome of the last write, `None` before the first.
    written: Option<Result<(), JunitError>>,
}

/// Everything the workers said about one test.
struct TestRecord {
    id: Arc<str>,
    worker: Arc<str>,
    category: Option<Arc<str>>,
    reports: StoredReports,
}

impl Junit {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Junit {
            path: path.into(),
            suite_name: DEFAULT_SUITE_NAME.to_string(),
            family: Family::default(),
            prefix: None,
            started: None,
            elapsed: Duration::ZERO,
            planned: HashMap::new(),
            category_names: Vec::new(),
            tests: Vec::new(),
            by_id: HashMap::new(),
            shared: Shared::default(),
            problems: Vec::new(),
            written: None,
        }
    }

    /// pytest's `junit_suite_name`.
    pub fn with_suite_name(mut self, name: impl Into<String>) -> Self {
        self.suite_name = name.into();
        self
    }

    /// pytest's `junit_family`.
    pub fn with_family(mut self, family: Family) -> Self {
        self.family = family;
        self
    }

    /// pytest's `--junitprefix`.
    pub fn with_prefix(mut self, prefix: Option<String>) -> Self {
        self.prefix = prefix.filter(|p| !p.is_empty());
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The outcome of the last write; `None` when the run never finished
    /// (it failed to start, so pytest would not have written a file either).
    pub fn take_result(&mut self) -> Option<Result<(), JunitError>> {
        self.written.take()
    }

    /// The file a run would have written, from the run's JSON report (its
    /// tests' phase reports, their places in the collection): how
    /// `pacer report merge` writes the merged JUnit file. pytest's
    /// `junit_family`, `junit_suite_name` and `--junitprefix` are the ones
    /// given here (the report does not keep them).
    pub fn from_report(path: impl Into<PathBuf>, report: &RunReport) -> Self {
        let mut junit = Junit::new(path);
        junit.started = report
            .started_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(SystemTime::from);
        junit.elapsed = Duration::from_secs_f64(report.elapsed.max(0.0));
        for problem in &report.collection {
            let (outcome, skip) = match problem.outcome {
                CollectionOutcome::Error => (Outcome::Failed, None),
                CollectionOutcome::Skipped => (
                    Outcome::Skipped,
                    problem.location.as_ref().map(|(path, line)| {
                        SkipLocation(path.clone(), *line, problem.output.clone())
                    }),
                ),
            };
            junit.problems.push(CollectProblem {
                id: problem.id.clone(),
                outcome,
                longrepr: problem.output.clone(),
                skip,
            });
        }
        for test in &report.tests {
            let id: Arc<str> = test.id.as_str().into();
            let category = test.category.as_deref().map(|c| junit.shared.get(c));
            if let Some(place) = test.collected {
                junit.planned.insert(id.clone(), (place, category.clone()));
            }
            let reports: Vec<PhaseReport> = test
                .reports
                .iter()
                .map(PhaseRecord::to_phase_report)
                .collect();
            junit.by_id.insert(id.clone(), junit.tests.len());
            let worker = junit.shared.get(&test.worker);
            junit.tests.push(TestRecord {
                id,
                worker,
                category,
                reports: StoredReports::new(&reports, &mut junit.shared),
            });
        }
        junit
    }

    /// The report as it stands.
    pub fn to_report(&self) -> Report {
        let mut counts = Counts::default();
        // Sized once: on 50,000 tests a doubling vector wastes megabytes.
        let mut cases = Vec::with_capacity(self.problems.len() + self.tests.len());
        self.for_each_case(&mut counts, |case| cases.push(case));
        let mut report = self.frame(&counts);
        // Moved in, not copied case by case (`add_test_cases`): the
        // counters are pytest's, set by `frame`.
        report.test_suites[0].test_cases = cases;
        report
    }

    /// Every `<testcase>`, in the file's order, each handed to `each` as
    /// soon as it is made; `counts` gathers pytest's counters.
    fn for_each_case(&self, counts: &mut Counts, mut each: impl FnMut(TestCase)) {
        for problem in &self.problems {
            let mut case = collect_case(problem, counts);
            let file = problem.id.split("::").next().unwrap_or(&problem.id);
            self.style(&mut case, Some((file, None)));
            each(case);
        }
        let mut tests: Vec<&TestRecord> = self.tests.iter().collect();
        // Tests pytest never planned (none expected) go last, in finish order.
        tests.sort_by_key(|t| self.planned.get(&t.id).map_or(usize::MAX, |p| p.0));
        for test in tests {
            let reports = test.reports.to_vec();
            let location = reports
                .iter()
                .find_map(|r| r.loc.as_ref())
                .map(|(file, line)| (file.as_str(), *line));
            for mut case in test_cases(test, &reports, counts) {
                self.style(&mut case, location);
                each(case);
            }
        }
    }

    /// The report with its one suite and pytest's counters, no test case yet.
    fn frame(&self, counts: &Counts) -> Report {
        let mut suite = TestSuite::new(self.suite_name.as_str());
        // pytest's counters, not quick-junit's per-element ones: they differ
        // when one test yields two elements, and pytest says `skipped`.
        suite.tests = counts.tests();
        suite.failures = counts.failures;
        suite.errors = counts.errors;
        suite.disabled = 0;
        suite
            .extra
            .insert("skipped".into(), counts.skipped.to_string().into());
        suite.set_time(self.elapsed);
        if let Some(started) = self.started {
            suite.set_timestamp(chrono::DateTime::<chrono::Utc>::from(started).fixed_offset());
        }
        let mut report = Report::new("pytest tests");
        report.add_test_suite(suite);
        report
    }

    /// Writes the report as [`Report::serialize`] would, without holding
    /// it whole: on 50,000 tests quick-junit's `Report` is tens of
    /// megabytes. The counters head the file, so the cases are made once to
    /// count them, then again a batch at a time, each batch serialised in
    /// the report's frame and cut out of it.
    fn stream(&self, out: &mut dyn std::io::Write) -> Result<(), quick_junit::SerializeError> {
        let mut counts = Counts::default();
        self.for_each_case(&mut counts, drop);
        let mut batches = Batches {
            report: self.frame(&counts),
            out,
            buffer: Vec::new(),
            suffix: None,
            result: Ok(()),
        };
        self.for_each_case(&mut Counts::default(), |case| batches.push(case));
        batches.finish()
    }
    /// `--junitprefix` and the family's attributes, as pytest's
    /// `record_testreport` sets them.
    fn style(&self, case: &mut TestCase, location: Option<(&str, Option<i64>)>) {
        if let Some(prefix) = &self.prefix {
            let classname = match case.classname.as_deref() {
                Some(name) if !name.is_empty() => format!("{prefix}.{name}"),
                _ => prefix.clone(),
            };
            case.set_classname(classname);
        }
        if self.family == Family::Xunit1 {
            if let Some((file, line)) = location {
                case.extra.insert("file".into(), file.into());
                if let Some(line) = line {
                    case.extra.insert("line".into(), line.to_string().into());
                }
            }
        }
    }

    /// Writes the report: to a temporary file beside `path`, then renamed
    /// over it.
    pub fn write(&self) -> Result<(), JunitError> {
        let mut render_error = None;
        let written = report_file::write_with(&self.path, |out| {
            self.stream(out).map_err(|e| {
                let message = e.to_string();
                render_error = Some(e);
                std::io::Error::other(message)
            })
        });
        if let Some(e) = render_error {
            return Err(JunitError::Render(e));
        }
        written.map_err(|e| junit_error(&self.path, e))
    }

    fn record(&mut self, id: &str, worker: &str, reports: &[PhaseReport], amend: bool) {
        let worker = self.shared.get(worker);
        match self.by_id.get(id) {
            Some(&i) => {
                let test = &mut self.tests[i];
                if !amend {
                    // Run again (the sequential 429 rerun): the new result stands.
                    test.reports.clear();
                }
                test.worker = worker;
                test.reports.extend(reports, &mut self.shared);
            }
            None => {
                let (id, category) = match self.planned.get_key_value(id) {
                    Some((id, planned)) => (id.clone(), planned.1.clone()),
                    None => (id.into(), None),
                };
                self.by_id.insert(id.clone(), self.tests.len());
                self.tests.push(TestRecord {
                    id,
                    worker,
                    category,
                    reports: StoredReports::new(reports, &mut self.shared),
                });
            }
        }
    }
}

impl Reporter for Junit {
    fn report(&mut self, event: Event<'_>) {
        match event {
            Event::Started { .. } => {
                self.started.get_or_insert_with(SystemTime::now);
            }
            Event::Planned { tests, categories } => {
                // Sized once: on 50,000 tests a doubling vector wastes megabytes.
                self.tests.reserve(tests.len());
                for test in tests {
                    let category = categories.get(test.category).map(|c| {
                        match self.category_names.iter().find(|n| ***n == *c.name) {
                            Some(name) => name.clone(),
                            None => {
                                let name: Arc<str> = c.name.as_str().into();
                                self.category_names.push(name.clone());
                                name
                            }
                        }
                    });
                    let next = self.planned.len();
                    let entry = self
                        .planned
                        .entry(test.id.as_str().into())
                        .or_insert((next, None));
                    if category.is_some() {
                        entry.1 = category;
                    }
                }
            }
            Event::Collected { problems, .. } => {
                for problem in problems {
                    if !self.problems.iter().any(|p| p.id == problem.id) {
                        self.problems.push(problem.clone());
                    }
                }
            }
            Event::TestFinished {
                id,
                worker,
                reports,
                ..
            } => self.record(id, worker, reports, false),
            Event::TestAmended {
                id,
                worker,
                reports,
            } => self.record(id, worker, reports, true),
            Event::Finished { summary } => {
                self.elapsed += summary.elapsed;
                self.written = Some(self.write());
            }
            Event::TestStarted { .. }
            | Event::TestTouched { .. }
            | Event::Output { .. }
            | Event::Warning { .. }
            | Event::Notice { .. }
            | Event::WaitWorkers { .. }
            | Event::LastFailed { .. }
            | Event::WorkerFinished { .. }
            | Event::PluginReport { .. } => {}
        }
    }
}

/// Test cases on their way to the file, a batch at a time (see
/// [`Junit::stream`]).
struct Batches<'a> {
    /// The report's frame, its suite holding the batch being serialised.
    report: Report,
    out: &'a mut dyn std::io::Write,
    buffer: Vec<u8>,
    /// What follows the last case (`</testsuite>`, `</testsuites>`), once
    /// a batch was written; `None` before, the frame's head not yet written either.
    suffix: Option<Vec<u8>>,
    result: Result<(), quick_junit::SerializeError>,
}

/// Test cases serialised at once: big enough that the frame's cost is
/// nothing, small enough that the batch is no burden.
const BATCH: usize = 256;

impl Batches<'_> {
    fn push(&mut self, case: TestCase) {
        let cases = &mut self.report.test_suites[0].test_cases;
        cases.push(case);
        if cases.len() >= BATCH && self.result.is_ok() {
            self.result = self.flush();
        }
    }

    /// Serialises the batch in the frame and writes its cases: the frame's
    /// text before them the first time, and keeps the text after them.
    /// Text and attributes are escaped, so `<testcase` starts the first
    /// case and the last `</testsuite>` ends the suite.
    fn flush(&mut self) -> Result<(), quick_junit::SerializeError> {
        self.buffer.clear();
        self.report.serialize(&mut self.buffer)?;
        self.report.test_suites[0].test_cases.clear();
        let text = &self.buffer[..];
        let line_start = |at: usize| {
            text[..at]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1)
        };
        let first = find(text, b"<testcase").map(line_start);
        let end = rfind(text, b"</testsuite>").map(line_start);
        let (Some(first), Some(end)) = (first, end) else {
            return Err(std::io::Error::other("unexpected JUnit frame").into());
        };
        if self.suffix.is_none() {
            self.out.write_all(&text[..first])?;
        }
        self.out.write_all(&text[first..end])?;
        self.suffix = Some(text[end..].to_vec());
        Ok(())
    }

    fn finish(mut self) -> Result<(), quick_junit::SerializeError> {
        std::mem::replace(&mut self.result, Ok(()))?;
        if !self.report.test_suites[0].test_cases.is_empty() {
            self.flush()?;
        }
        match &self.suffix {
            Some(suffix) => self.out.write_all(suffix)?,
            // Not a case in the file: the frame is the whole report.
            None => self.report.serialize(&mut *self.out)?,
        }
        Ok(())
    }
}

fn find(text: &[u8], what: &[u8]) -> Option<usize> {
    text.windows(what.len()).position(|w| w == what)
}

fn rfind(text: &[u8], what: &[u8]) -> Option<usize> {
    text.windows(what.len()).rposition(|w| w == what)
}

/// pytest's counters (`LogXML.stats`), which give the suite's attributes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    passed: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    /// Tests whose failed call and failed teardown are two elements.
    doubles: usize,
}

impl Counts {
    fn tests(&self) -> usize {
        (self.passed + self.failures + self.errors + self.skipped).saturating_sub(self.doubles)
    }
}

/// pytest's `(classname, name)` for a node id (`mangle_test_address`):
/// `tests/test_a.py::TestX::test_y[p]` → `("tests.test_a.TestX", "test_y[p]")`.
/// Parameters are set aside first, so a `::` or `/` inside them stays put.
pub fn names(node_id: &str) -> (String, String) {
    let (path, params) = match node_id.find('[') {
        Some(i) => node_id.split_at(i),
        None => (node_id, ""),
    };
    let mut parts: Vec<String> = path.split("::").map(str::to_string).collect();
    let file = parts[0].replace('/', ".");
    parts[0] = file.strip_suffix(".py").unwrap_or(&file).to_string();
    let name = parts.pop().unwrap_or_default() + params;
    (parts.join("."), name)
}

/// The `<testcase>` elements for one test, following pytest's
/// `pytest_runtest_logreport` phase by phase.
fn test_cases(test: &TestRecord, reports: &[PhaseReport], counts: &mut Counts) -> Vec<TestCase> {
    let (classname, name) = names(&test.id);
    let open = || {
        let mut case = TestCase::new(name.as_str(), TestCaseStatus::success());
        case.set_classname(classname.as_str());
        case.add_property(Property::new("worker", &*test.worker));
        if let Some(category) = &test.category {
            case.add_property(Property::new("category", &**category));
        }
        Building {
            case,
            dur: 0.0,
            out: String::new(),
            err: String::new(),
        }
    };
    let mut cases = vec![open()];
    let mut call_failed = false;
    let mut call_passed = false;
    // Attempts a rerun threw away become nextest's records in the counted
    // attempt's element: `<flakyFailure>` when it passed in the end,
    // `<rerunFailure>` when it failed again.
    let tries = attempts(reports);
    let (last, before) = match tries.split_last() {
        Some((last, before)) => (*last, before),
        None => (reports, &[][..]),
    };
    // pytest-rerunfailures' reports hold the output of every attempt so
    // far; each record keeps only what its own attempt added.
    let mut seen: &[(String, String)] = &[];
    let mut reruns = Vec::new();
    for attempt in before {
        reruns.push(rerun_record(attempt, seen));
        if let Some(last) = attempt.iter().rev().find(|r| !r.sections.is_empty()) {
            seen = &last.sections;
        }
    }
    for report in last {
        let current = cases.last().expect("one case at least");
        let adds_element = report.outcome != Outcome::Passed;
        if report.outcome == Outcome::Failed && report.when == Phase::Teardown && call_failed {
            // pytest closes the failed call's testcase and opens another for
            // the teardown error: two elements, two in `tests`.
            cases.push(open());
        } else if report.outcome == Outcome::Failed && report.when == Phase::Teardown && call_passed
        {
            // A passing call and a teardown error are one element, and
            // pytest counts the test once (#3850): its pass and its error
            // are both in its counters.
            counts.doubles += 1;
        } else if adds_element && !matches!(current.case.status, TestCaseStatus::Success { .. }) {
            // quick-junit holds one result per element where pytest would
            // put two in one (a setup error, then a teardown error): another
            // element, which pytest's counters already count twice.
            cases.push(open());
        }
        let current = cases.last_mut().expect("one case at least");
        current.dur += report.dur;
        match report.outcome {
            Outcome::Passed if report.when == Phase::Call => {
                counts.passed += 1;
                call_passed = true;
            }
            Outcome::Failed => {
                let message = report.msg.clone().unwrap_or_default();
                // As pytest's `str(report.longrepr)`: stripped (the terminal keeps
                // the blank line and indentation that open a long traceback).
                let longrepr = plain(report.longrepr.as_deref().unwrap_or_default());
                current.case.status = if worker_lost(report) {
                    counts.errors += 1;
                    non_success(NonSuccessKind::Error, message, longrepr)
                } else if report.when == Phase::Call {
                    if report.xfail.is_some() {
                        counts.skipped += 1;
                        let mut status = TestCaseStatus::skipped();
                        status.set_message("xfail-marked test passes unexpectedly");
                        status
                    } else {
                        counts.failures += 1;
                        call_failed = true;
                        non_success(NonSuccessKind::Failure, message, longrepr)
                    }
                } else {
                    counts.errors += 1;
                    let when = if report.when == Phase::Teardown {
                        Phase::Teardown
                    } else {
                        Phase::Setup
                    };
                    non_success(
                        NonSuccessKind::Error,
                        format!("failed on {when} with \"{message}\""),
                        longrepr,
                    )
                };
                current.add_sections(&report.sections);
            }
            Outcome::Skipped => {
                counts.skipped += 1;
                current.case.status = skipped(report);
            }
            Outcome::Passed | Outcome::Rerun | Outcome::Other => {}
        }
    }
    if !reruns.is_empty() {
        match &mut cases[0].case.status {
            TestCaseStatus::Success { flaky_runs } => flaky_runs.extend(reruns),
            TestCaseStatus::NonSuccess {
                reruns: records, ..
            } => records.extend(reruns),
            TestCaseStatus::Skipped { .. } => {}
        }
    }
    cases.into_iter().map(Building::finish).collect()
}

/// One failed attempt as nextest records it: its failure's message, type
/// and traceback, and the attempt's own captured output.
fn rerun_record(attempt: &[PhaseReport], seen: &[(String, String)]) -> TestRerun {
    let failed = attempt
        .iter()
        .find(|r| r.outcome == Outcome::Rerun || r.outcome.is_failed());
    let kind = match failed {
        Some(r) if r.when != Phase::Call => NonSuccessKind::Error,
        _ => NonSuccessKind::Failure,
    };
    let mut record = TestRerun::new(kind);
    record.set_time(Duration::from_secs_f64(
        attempt.iter().map(|r| r.dur).sum::<f64>().max(0.0),
    ));
    if let Some(report) = failed {
        let message = report.msg.clone().unwrap_or_default();
        record.set_type(failure_type(&message));
        record.set_message(message);
        let text = plain(report.longrepr.as_deref().unwrap_or_default());
        if !text.is_empty() {
            record.set_stack_trace(text);
        }
    }
    let mut output = Building {
        case: TestCase::new("", TestCaseStatus::success()),
        dur: 0.0,
        out: String::new(),
        err: String::new(),
    };
    for report in attempt {
        let own = report
            .sections
            .strip_prefix(seen)
            .filter(|_| !seen.is_empty())
            .unwrap_or(&report.sections);
        output.add_sections(own);
    }
    if !output.out.is_empty() {
        record.set_system_out(output.out);
    }
    if !output.err.is_empty() {
        record.set_system_err(output.err);
    }
    record
}

/// The exception's type as pytest's crash message names it
/// (`ValueError: bad`); a bare `assert` is an `AssertionError`.
fn failure_type(message: &str) -> String {
    let head = message.split(": ").next().unwrap_or_default();
    let is_name = !head.is_empty()
        && head != message
        && head
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.');
    if is_name {
        head.to_string()
    } else if message.starts_with("assert") {
        "AssertionError".to_string()
    } else {
        "failure".to_string()
    }
}

/// A `<testcase>` and what it gathers until it is done.
struct Building {
    case: TestCase,
    dur: f64,
    out: String,
    err: String,
}

impl Building {
    /// Captured output, as pytest lays it out with `junit_logging=all`: each
    /// section under its title, stdout and log lines to `<system-out>`,
    /// stderr to `<system-err>`.
    fn add_sections(&mut self, sections: &[(String, String)]) {
        for (title, content) in sections {
            let target = if title.contains("stderr") {
                &mut self.err
            } else {
                &mut self.out
            };
            target.push_str(&format!("{:-^80}\n{content}", format!(" {title} ")));
            if !content.ends_with('\n') {
                target.push('\n');
            }
        }
    }

    fn finish(mut self) -> TestCase {
        self.case
            .set_time(Duration::from_secs_f64(self.dur.max(0.0)));
        if !self.out.is_empty() {
            self.case.set_system_out(self.out);
        }
        if !self.err.is_empty() {
            self.case.set_system_err(self.err);
        }
        self.case
    }
}

fn non_success(kind: NonSuccessKind, message: String, longrepr: String) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status.set_message(message);
    if !longrepr.is_empty() {
        status.set_description(longrepr);
    }
    status
}

/// pytest's `append_skipped`: an xfail is skipped with type `pytest.xfail`
/// and its reason; a skip has type `pytest.skip`, the reason, and
/// `path:line: reason` as text.
fn skipped(report: &PhaseReport) -> TestCaseStatus {
    let mut status = TestCaseStatus::skipped();
    if let Some(reason) = &report.xfail {
        status.set_type("pytest.xfail");
        status.set_message(reason.strip_prefix("reason: ").unwrap_or(reason));
    } else {
        status.set_type("pytest.skip");
        if let Some(skip) = &report.skip {
            let reason = skip.2.strip_prefix("Skipped: ").unwrap_or(&skip.2);
            status.set_message(reason);
            let line = skip.1.map(|l| l.to_string()).unwrap_or_default();
            status.set_description(format!("{}:{line}: {reason}", skip.0));
        }
    }
    status
}

/// pytest's collection report: an error or a skip for the collector's node
/// id (`tests/test_x.py` → classname `""`, name `tests.test_x`).
fn collect_case(problem: &CollectProblem, counts: &mut Counts) -> TestCase {
    let (classname, name) = names(&problem.id);
    let status = if problem.outcome == Outcome::Skipped {
        counts.skipped += 1;
        let mut status = TestCaseStatus::skipped();
        status.set_message("collection skipped");
        let text = match &problem.skip {
            Some(skip) => {
                let line = skip.1.map(|l| l.to_string()).unwrap_or("None".into());
                format!("('{}', {line}, '{}')", skip.0, skip.2)
            }
            None => problem.longrepr.clone(),
        };
        status.set_description(text);
        status
    } else {
        counts.errors += 1;
        non_success(
            NonSuccessKind::Error,
            "collection failure".into(),
            plain(&problem.longrepr),
        )
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(classname);
    case.set_time(Duration::ZERO);
    case
}

/// Whether the report stands for a worker pacer lost while it ran the test
/// (a crash or `--timeout`), rather than a failure pytest reported. The pool
/// words these messages (`pool/lifecycle.rs`); it sends no other marker.
fn worker_lost(report: &PhaseReport) -> bool {
    report
        .msg
        .as_deref()
        .is_some_and(|m| m.starts_with("worker crashed (") || m.ends_with("(--timeout)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pacer_runner::events::SkipLocation;
    use pacer_runner::events::Summary;

    fn phase(when: &str, outcome: &str) -> PhaseReport {
        PhaseReport {
            when: when.parse().unwrap(),
            outcome: outcome.parse().unwrap(),
            cat: pacer_types::Status::parse(outcome),
            word: outcome.to_uppercase(),
            dur: 0.25,
            longrepr: None,
            sections: Vec::new(),
            head: None,
            msg: None,
            ..Default::default()
        }
    }

    fn failed(when: &str, msg: &str) -> PhaseReport {
        PhaseReport {
            longrepr: Some(format!("Traceback...\nE   {msg}")),
            msg: Some(msg.into()),
            ..phase(when, "failed")
        }
    }

    fn xml_of(events: &[(&str, Vec<PhaseReport>)]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/out.xml");
        let mut junit = Junit::new(&path);
        for (id, reports) in events {
            junit.report(Event::TestFinished {
                id,
                worker: "gw1",
                reports,
                finished: 0,
                total: 0,
                cpu: None,
            });
        }
        junit.report(Event::Finished {
            summary: &Summary::default(),
        });
        junit.take_result().unwrap().unwrap();
        std::fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn names_follow_pytests_mangle_test_address() {
        assert_eq!(
            names("tests/test_a.py::TestX::test_y[p]"),
            ("tests.test_a.TestX".into(), "test_y[p]".into())
        );
        assert_eq!(
            names("test_a.py::test_y[a::b/c.py]"),
            ("test_a".into(), "test_y[a::b/c.py]".into())
        );
        assert_eq!(names("tests/test_x.py"), ("".into(), "tests.test_x".into()));
    }

    #[test]
    fn xunit1_names_file_and_line_and_the_prefix_leads_the_classname() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.xml");
        let mut junit = Junit::new(&path)
            .with_family(Family::from_ini("legacy"))
            .with_prefix(Some("pre".into()));
        let call = PhaseReport {
            loc: Some(("tests/t.py".into(), Some(4))),
            ..phase("call", "passed")
        };
        junit.report(Event::TestFinished {
            id: "tests/t.py::TestA::test_b",
            worker: "gw0",
            reports: &[call],
            finished: 1,
            total: 1,
            cpu: None,
        });
        let xml = junit.to_report().to_string().unwrap();
        assert!(xml.contains(r#"classname="pre.tests.t.TestA""#), "{xml}");
        assert!(xml.contains(r#"file="tests/t.py""#), "{xml}");
        assert!(xml.contains(r#"line="4""#), "{xml}");
        let plain = Junit::new(&path).to_report().to_string().unwrap();
        assert!(!plain.contains("file="), "{plain}");
    }

    #[test]
    fn outcomes_map_to_pytests_elements_and_counts() {
        let mut strict_xpass = failed("call", "[XPASS(strict)] reason");
        strict_xpass.xfail = None;
        let xfailed = PhaseReport {
            xfail: Some("reason: flaky".into()),
            ..phase("call", "skipped")
        };
        let skip = PhaseReport {
            skip: Some(SkipLocation(
                "tests/t.py".into(),
                Some(3),
                "Skipped: not here".into(),
            )),
            ..phase("setup", "skipped")
        };
        let xml = xml_of(&[
            ("t.py::test_pass", vec![phase("call", "passed")]),
            ("t.py::test_fail", vec![failed("call", "assert 1 == 2")]),
            (
                "t.py::test_setup",
                vec![failed("setup", "RuntimeError: boom")],
            ),
            (
                "t.py::test_both",
                vec![failed("call", "assert 0"), failed("teardown", "oops")],
            ),
            ("t.py::test_xfail", vec![xfailed]),
            ("t.py::test_skip", vec![skip]),
        ]);
        // pytest 9 counts the failed call and its teardown error as two
        // (two elements); a passing call with one would count once.
        assert!(
            xml.contains(
                r#"<testsuite name="pytest" tests="7" disabled="0" errors="2" failures="2""#
            ),
            "{xml}"
        );
        assert!(xml.contains(r#"skipped="2""#), "{xml}");
        assert!(
            xml.contains(r#"<testcase name="test_pass" classname="t""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<failure message="assert 1 == 2">"#),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<error message="failed on setup with &quot;RuntimeError: boom&quot;">"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<error message="failed on teardown with &quot;oops&quot;">"#),
            "{xml}"
        );
        assert_eq!(xml.matches(r#"name="test_both""#).count(), 2, "{xml}");
        assert!(
            xml.contains(r#"<skipped message="flaky" type="pytest.xfail"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<skipped message="not here" type="pytest.skip">tests/t.py:3: not here</skipped>"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<property name="worker" value="gw1"/>"#),
            "{xml}"
        );
    }

    #[test]
    fn a_crashed_worker_is_an_error_with_the_crash_and_its_output() {
        let mut crash = failed("call", "worker crashed (exit code 1)");
        crash.sections = vec![(
            "Captured stdout (until the crash)".into(),
            "about to crash\n".into(),
        )];
        let xml = xml_of(&[("t.py::test_exit", vec![crash])]);
        assert!(
            xml.contains(r#"<error message="worker crashed (exit code 1)">"#),
            "{xml}"
        );
        assert!(xml.contains("<system-out>"), "{xml}");
        assert!(xml.contains("about to crash"), "{xml}");
    }

    #[test]
    fn a_rerun_replaces_the_first_result_and_an_amendment_adds_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.xml");
        let mut junit = Junit::new(&path);
        let first = [failed("call", "HTTP 429")];
        let again = [phase("call", "passed")];
        let late = [failed("teardown", "late")];
        for (reports, amend) in [(&first[..], false), (&again[..], false), (&late[..], true)] {
            junit.record("t.py::test_api", "gw0", reports, amend);
        }
        let xml = junit.to_report().to_string().unwrap();
        assert!(!xml.contains("HTTP 429"), "{xml}");
        assert!(
            xml.contains("failed on teardown with &quot;late&quot;"),
            "{xml}"
        );
    }

    #[test]
    fn failed_attempts_become_nextests_flaky_and_rerun_records() {
        let rerun = |msg: &str, out: &str| PhaseReport {
            outcome: Outcome::Rerun,
            cat: pacer_types::Status::parse("rerun"),
            sections: vec![("Captured stdout call".into(), out.into())],
            ..failed("call", msg)
        };
        let mut flaky_pass = phase("call", "passed");
        flaky_pass.cat = Some(pacer_types::Status::Flaky);
        let xml = xml_of(&[
            (
                "t.py::test_flaky",
                vec![rerun("ValueError: first", "try 1\n"), flaky_pass],
            ),
            (
                "t.py::test_broken",
                vec![
                    rerun("assert 0", "one\n"),
                    rerun("assert 0", "two\n"),
                    failed("call", "assert 0"),
                ],
            ),
        ]);
        assert!(
            xml.contains(
                r#"<flakyFailure time="0.250" message="ValueError: first" type="ValueError">"#
            ),
            "{xml}"
        );
        assert!(xml.contains("try 1"), "{xml}");
        assert_eq!(xml.matches("<rerunFailure").count(), 2, "{xml}");
        assert!(xml.contains(r#"type="AssertionError""#), "{xml}");
        assert!(
            xml.contains(r#"tests="2" disabled="0" errors="0" failures="1""#),
            "{xml}"
        );
        assert_eq!(failure_type("assert x"), "AssertionError");
        assert_eq!(failure_type("Failed: no"), "Failed");
        assert_eq!(failure_type("worker crashed (signal 11)"), "failure");
    }

    #[test]
    fn the_file_written_a_batch_at_a_time_is_the_report_serialised_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.xml");
        let mut junit = Junit::new(&path).with_family(Family::Xunit1);
        let empty = junit.to_report().to_string().unwrap();
        junit.report(Event::Finished {
            summary: &Summary::default(),
        });
        junit.take_result().unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), empty);

        junit.report(Event::Collected {
            problems: &[CollectProblem {
                id: "t_bad.py".into(),
                outcome: Outcome::Failed,
                longrepr: "E   SyntaxError".into(),
                skip: None,
            }],
            total: 0,
            deselected: 0,
        });
        // Text that looks like the frame's tags, and more than a batch of cases.
        let mut tricky = failed("call", "<testcase> </testsuite>");
        tricky.sections = vec![("Captured stdout call".into(), "</testsuite>\n".into())];
        for i in 0..(2 * BATCH + 7) {
            let reports = if i % 100 == 3 {
                vec![tricky.clone(), failed("teardown", "late")]
            } else {
                vec![phase("call", "passed")]
            };
            junit.record(&format!("t.py::test_{i}"), "gw1", &reports, false);
        }
        let whole = junit.to_report().to_string().unwrap();
        junit.report(Event::Finished {
            summary: &Summary::default(),
        });
        junit.take_result().unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        assert_eq!(whole.matches("<testcase ").count(), 2 * BATCH + 7 + 6 + 1);
    }

    #[test]
    fn an_unwritable_path_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let err = check_writable(&file.join("out.xml")).unwrap_err();
        assert!(matches!(err, JunitError::CreateDir { .. }), "{err}");
        assert!(err.to_string().contains(&file.display().to_string()));
        let err = check_writable(dir.path()).unwrap_err();
        assert!(matches!(err, JunitError::IsDirectory { .. }), "{err}");
        check_writable(&dir.path().join("a/b/out.xml")).unwrap();
        assert!(!dir.path().join("a/b/out.xml").exists());
    }
}
