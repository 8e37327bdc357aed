//! A slim record's tests: what `pacer replay` and `pacer bisect` read of a
//! run (which worker ran which test, when, and how it ended), kept for the
//! last run's report (`.pytest_cache/v/pacer/last-run.json`) when no
//! report is asked for. A test is its id, its worker's number, its start
//! and end and its outcome: some 70 bytes and its id, where the full
//! record keeps hundreds of bytes and every failure's text. No category,
//! phase, message, output, attempts or calls.

use std::collections::BTreeMap;
use std::io::Write;

use pacer_runner::events::PhaseReport;
use pacer_types::Status;

use crate::attempts::attempts;
use crate::schema::{round_time, Lane, RunReport, TestReport};

struct SlimTest {
    id: Box<str>,
    /// Index in [`SlimTests::workers`].
    worker: u32,
    start: f64,
    end: f64,
    outcome: Status,
}

/// The tests of a slim record, in the order they ended; a test run again
/// (pacer's 429 rerun) is there twice, its last end standing.
#[derive(Default)]
pub(crate) struct SlimTests {
    tests: Vec<SlimTest>,
    /// The workers' names, each kept once.
    workers: Vec<Box<str>>,
}

impl SlimTests {
    pub(crate) fn reserve(&mut self, tests: usize) {
        self.tests.reserve_exact(tests);
    }

    pub(crate) fn finish(
        &mut self,
        id: &str,
        worker: &str,
        start: f64,
        end: f64,
        reports: &[PhaseReport],
    ) {
        let worker = match self.workers.iter().position(|w| **w == *worker) {
            Some(i) => i,
            None => {
                self.workers.push(worker.into());
                self.workers.len() - 1
            }
        };
        self.tests.push(SlimTest {
            id: id.into(),
            worker: worker as u32,
            start,
            end,
            outcome: outcome_of(reports),
        });
    }

    /// A late teardown of a test that ended: a failure in it makes a
    /// passed test's outcome, as in the full record. The test is looked
    /// for from the last one ended: its worker has moved on by one test.
    pub(crate) fn amend(&mut self, id: &str, reports: &[PhaseReport]) {
        if let Some(test) = self.tests.iter_mut().rev().find(|t| *t.id == *id) {
            if test.outcome == Status::Passed {
                test.outcome = outcome_of(reports);
            }
        }
    }

    /// Which tests stand (the last end of each id), in the order they
    /// started: indices, made when the report is written.
    fn standing(&self) -> Vec<u32> {
        let mut by_id: Vec<u32> = (0..self.tests.len() as u32).collect();
        by_id.sort_by(|a, b| {
            let (x, y) = (&self.tests[*a as usize], &self.tests[*b as usize]);
            x.id.cmp(&y.id).then(a.cmp(b))
        });
        let mut keep = vec![true; self.tests.len()];
        for pair in by_id.windows(2) {
            if self.tests[pair[0] as usize].id == self.tests[pair[1] as usize].id {
                keep[pair[0] as usize] = false;
            }
        }
        drop(by_id);
        let mut order: Vec<u32> = (0..self.tests.len() as u32)
            .filter(|i| keep[*i as usize])
            .collect();
        order.sort_by(|a, b| {
            let (x, y) = (&self.tests[*a as usize], &self.tests[*b as usize]);
            x.start.total_cmp(&y.start)
        });
        order
    }

    /// Writes `head` (a report without tests, lanes or categories) as a
    /// run report of these tests: its lanes, `counts` (tests by outcome,
    /// and `collection`'s problems) and `elapsed` made from them, each test
    /// serialised when its turn comes, so that no report of them all is
    /// ever in memory. The JSON is a [`RunReport`], its keys in serde's
    /// order.
    pub(crate) fn write(&self, mut head: RunReport, out: &mut dyn Write) -> std::io::Result<()> {
        let order = self.standing();
        head.elapsed = order
            .iter()
            .map(|i| self.tests[*i as usize].end)
            .fold(head.elapsed, f64::max);
        let mut lanes: BTreeMap<(usize, &str), Lane> = BTreeMap::new();
        for i in &order {
            let test = &self.tests[*i as usize];
            count(&mut head.counts, &test.outcome);
            let worker = &*self.workers[test.worker as usize];
            let lane = lanes
                .entry((worker_number(worker), worker))
                .or_insert_with(|| Lane {
                    worker: worker.to_string(),
                    group: None,
                    tests: 0,
                    busy: 0.0,
                    idle: 0.0,
                });
            lane.tests += 1;
            lane.busy += test.end - test.start;
        }
        let elapsed = head.elapsed;
        head.lanes = lanes
            .into_values()
            .map(|mut lane| {
                lane.idle = (elapsed - lane.busy).max(0.0);
                lane
            })
            .collect();
        head.round_times();

        let serde_json::Value::Object(fields) = serde_json::to_value(&head)? else {
            unreachable!("a report serialises as an object");
        };
        out.write_all(b"{")?;
        for (n, (key, value)) in fields.iter().enumerate() {
            if n > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, key)?;
            out.write_all(b":")?;
            if key != "tests" {
                serde_json::to_writer(&mut *out, value)?;
                continue;
            }
            out.write_all(b"[")?;
            for (n, i) in order.iter().enumerate() {
                if n > 0 {
                    out.write_all(b",")?;
                }
                let test = &self.tests[*i as usize];
                let report = TestReport {
                    id: test.id.to_string(),
                    worker: self.workers[test.worker as usize].to_string(),
                    start: round_time(test.start.max(0.0)),
                    end: round_time(test.end),
                    outcome: test.outcome.clone(),
                    ..TestReport::default()
                };
                serde_json::to_writer(&mut *out, &report)?;
            }
            out.write_all(b"]")?;
        }
        out.write_all(b"}\n")
    }
}

/// A test's outcome from its phase reports, as the full record decides it
/// (`refresh`): the first status of its last attempt that is not `passed`
/// (a call's `failed`, a teardown's `error`, the worker's `flaky` for a
/// pass after failed attempts), else `passed`.
pub(crate) fn outcome_of(reports: &[PhaseReport]) -> Status {
    let tries = attempts(reports);
    let last = tries.last().copied().unwrap_or(reports);
    last.iter()
        .filter_map(|r| r.cat.as_ref())
        .find(|c| **c != Status::Passed)
        .cloned()
        .unwrap_or(Status::Passed)
}

/// One more of `status` in `counts`.
pub(crate) fn count(counts: &mut BTreeMap<Status, usize>, status: &Status) {
    match counts.get_mut(status) {
        Some(n) => *n += 1,
        None => {
            counts.insert(status.clone(), 1);
        }
    }
}

/// `gw12` → 12, so that lanes sort as workers are numbered.
pub(crate) fn worker_number(worker: &str) -> usize {
    worker
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap_or(usize::MAX)
}
