//! A test's phase reports as the JUnit and JSON reports keep them until the
//! run ends. A [`PhaseReport`] is some 400 bytes of mostly empty options;
//! on 50,000 passing tests a copy of each is tens of megabytes per report
//! (issue 11). A phase that said no more than its outcome and time (all a
//! passing test sends) is kept in a few bytes, its word shared; any other
//! is kept whole. [`StoredReports::to_vec`] gives the reports back as they
//! came, so what is written from them does not change.

use std::sync::Arc;

use pacer_runner::events::PhaseReport;
use pacer_types::{Outcome, Phase, Status};

/// One test's phase reports, in the order they came.
#[derive(Debug, Default)]
pub(crate) struct StoredReports(Vec<Stored>);

#[derive(Debug)]
enum Stored {
    Plain {
        when: Phase,
        outcome: Outcome,
        cat: Option<Status>,
        word: Arc<str>,
        dur: f64,
    },
    Full(Box<PhaseReport>),
}

/// Strings many tests repeat (verbose words such as `PASSED`, worker
/// names), kept once and shared.
#[derive(Debug, Default)]
pub(crate) struct Shared(Vec<Arc<str>>);

/// A plugin could send a word per test: past this many, strings are no
/// longer looked up, only kept.
const MAX_SHARED: usize = 64;

impl Shared {
    pub(crate) fn get(&mut self, word: &str) -> Arc<str> {
        if let Some(known) = self.0.iter().find(|w| ***w == *word) {
            return known.clone();
        }
        let word: Arc<str> = word.into();
        if self.0.len() < MAX_SHARED {
            self.0.push(word.clone());
        }
        word
    }
}

impl StoredReports {
    pub(crate) fn new(reports: &[PhaseReport], shared: &mut Shared) -> Self {
        let mut stored = StoredReports(Vec::with_capacity(reports.len()));
        stored.extend(reports, shared);
        stored
    }

    pub(crate) fn extend(&mut self, reports: &[PhaseReport], shared: &mut Shared) {
        self.0.reserve_exact(reports.len());
        self.0.extend(reports.iter().map(|r| store(r, shared)));
    }

    pub(crate) fn clear(&mut self) {
        self.0 = Vec::new();
    }

    /// The reports as they came.
    pub(crate) fn to_vec(&self) -> Vec<PhaseReport> {
        self.0
            .iter()
            .map(|stored| match stored {
                Stored::Plain {
                    when,
                    outcome,
                    cat,
                    word,
                    dur,
                } => PhaseReport {
                    when: *when,
                    outcome: *outcome,
                    cat: cat.clone(),
                    word: word.to_string(),
                    dur: *dur,
                    ..Default::default()
                },
                Stored::Full(report) => (**report).clone(),
            })
            .collect()
    }

    /// Each phase's status category, in order.
    pub(crate) fn cats(&self) -> impl Iterator<Item = &Status> {
        self.0.iter().filter_map(|stored| match stored {
            Stored::Plain { cat, .. } => cat.as_ref(),
            Stored::Full(report) => report.cat.as_ref(),
        })
    }
}

fn store(report: &PhaseReport, shared: &mut Shared) -> Stored {
    // Every field named: a field added to `PhaseReport` must be decided
    // here, or a plain report would lose it.
    match report {
        PhaseReport {
            when,
            outcome,
            cat,
            word,
            dur,
            longrepr: None,
            sections,
            head: None,
            msg: None,
            skip: None,
            xfail: None,
            crash: None,
            live_log: None,
            loc: None,
            at: None,
        } if sections.is_empty() => Stored::Plain {
            when: *when,
            outcome: *outcome,
            cat: cat.clone(),
            word: shared.get(word),
            dur: *dur,
        },
        _ => Stored::Full(Box::new(report.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pacer_runner::events::SkipLocation;

    fn debug(reports: &[PhaseReport]) -> Vec<String> {
        reports.iter().map(|r| format!("{r:?}")).collect()
    }

    #[test]
    fn reports_come_back_as_they_went_in_and_plain_ones_share_their_word() {
        let plain = PhaseReport {
            when: Phase::Call,
            outcome: Outcome::Passed,
            cat: Some(Status::Passed),
            word: "PASSED".into(),
            dur: 0.125,
            ..Default::default()
        };
        let failed = PhaseReport {
            when: Phase::Teardown,
            outcome: Outcome::Failed,
            cat: Some(Status::Error),
            word: "ERROR".into(),
            longrepr: Some("boom".into()),
            sections: vec![("Captured stdout teardown".into(), "out\n".into())],
            msg: Some("boom".into()),
            ..Default::default()
        };
        let skipped = PhaseReport {
            when: Phase::Setup,
            outcome: Outcome::Skipped,
            cat: Some(Status::Skipped),
            skip: Some(SkipLocation("t.py".into(), Some(2), "no".into())),
            ..Default::default()
        };
        let mut shared = Shared::default();
        let mut stored = StoredReports::new(&[plain.clone(), failed.clone()], &mut shared);
        stored.extend(&[skipped.clone(), plain.clone()], &mut shared);
        let all = [plain.clone(), failed, skipped, plain];
        assert_eq!(debug(&stored.to_vec()), debug(&all));
        assert!(matches!(stored.0[0], Stored::Plain { .. }));
        assert!(matches!(stored.0[1], Stored::Full(_)));
        assert!(matches!(stored.0[2], Stored::Full(_)));
        match (&stored.0[0], &stored.0[3]) {
            (Stored::Plain { word: a, .. }, Stored::Plain { word: b, .. }) => {
                assert!(Arc::ptr_eq(a, b))
            }
            _ => panic!("plain reports are kept plain"),
        }
        let cats: Vec<&str> = stored.cats().map(Status::as_str).collect();
        assert_eq!(cats, ["passed", "error", "skipped", "passed"]);
        stored.clear();
        assert!(stored.to_vec().is_empty());
    }
}
