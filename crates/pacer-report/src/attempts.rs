//! A test's phase reports cut into its attempts: pytest-rerunfailures'
//! reruns, or pacer's own. The terminal (FLAKY lines), the JUnit file
//! (`<flakyFailure>`, `<rerunFailure>`) and the run record (`attempts`,
//! `reruns`) all read a test's attempts so.

use pacer_runner::events::PhaseReport;
use pacer_types::{Outcome, Phase};

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
