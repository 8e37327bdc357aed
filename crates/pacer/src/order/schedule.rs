//! What a run's JSON report says of its schedule: which tests each worker
//! ran, in which order, and how each ended; read by `replay`, `bisect` and
//! `audit`.

use std::path::Path;

use pacer_report::RunReport;
use pacer_types::Status;

use crate::error::Error;

/// One worker's tests, in the order it started them.
#[derive(Debug, Clone)]
pub struct Sequence {
    pub worker: String,
    pub tests: Vec<String>,
}

/// A recorded run, as the order commands read it.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub report: RunReport,
    pub sequences: Vec<Sequence>,
}

impl Schedule {
    pub fn read(path: &Path) -> Result<Schedule, Error> {
        let hint = || {
            "pass the JSON report of a pacer run (`pacer --json-report PATH`), or none after a run (its report is kept in .pytest_cache/v/pacer/last-run.json)".to_string()
        };
        let text = std::fs::read_to_string(path).map_err(|e| Error::Order {
            message: format!("cannot read {}: {e}", path.display()),
            hint: hint(),
        })?;
        let report: RunReport = serde_json::from_str(&text).map_err(|e| Error::Order {
            message: format!("{} is not a pacer JSON report: {e}", path.display()),
            hint: hint(),
        })?;
        Ok(Schedule::of(report))
    }

    pub fn of(report: RunReport) -> Schedule {
        let mut sequences: Vec<Sequence> = report
            .lanes
            .iter()
            .map(|lane| Sequence {
                worker: lane.worker.clone(),
                tests: Vec::new(),
            })
            .collect();
        let mut tests: Vec<_> = report.tests.iter().collect();
        // The report lists tests in the order they started; sorted again
        // (stably) so that a hand-edited or merged report reads the same.
        tests.sort_by(|a, b| a.start.total_cmp(&b.start));
        for test in tests {
            match sequences.iter_mut().find(|s| s.worker == test.worker) {
                Some(s) => s.tests.push(test.id.clone()),
                None => sequences.push(Sequence {
                    worker: test.worker.clone(),
                    tests: vec![test.id.clone()],
                }),
            }
        }
        sequences.retain(|s| !s.tests.is_empty());
        Schedule { report, sequences }
    }

    /// The worker that ran `test` and the tests it ran before it.
    pub fn before(&self, test: &str) -> Option<(&str, Vec<String>)> {
        self.sequences.iter().find_map(|s| {
            let at = s.tests.iter().position(|t| t == test)?;
            Some((s.worker.as_str(), s.tests[..at].to_vec()))
        })
    }

    /// The tests that failed (or errored) in the recording, in start order.
    pub fn failed(&self) -> Vec<String> {
        let mut tests: Vec<_> = self.report.tests.iter().collect();
        tests.sort_by(|a, b| a.start.total_cmp(&b.start));
        tests
            .into_iter()
            .filter(|t| is_failure(&t.outcome))
            .map(|t| t.id.clone())
            .collect()
    }

    /// Whether the recording says `test` failed.
    pub fn failed_in_recording(&self, test: &str) -> bool {
        self.report
            .tests
            .iter()
            .any(|t| t.id == test && is_failure(&t.outcome))
    }

    /// Node ids in the report that look like `test` (for the error's hint).
    pub fn like(&self, test: &str) -> Vec<String> {
        let tail = test.rsplit("::").next().unwrap_or(test);
        self.report
            .tests
            .iter()
            .filter(|t| t.id.contains(tail))
            .map(|t| t.id.clone())
            .take(3)
            .collect()
    }
}

pub fn is_failure(status: &Status) -> bool {
    matches!(status, Status::Failed | Status::Error)
}
