//! `pacer try`'s comparison, pure: each side's runs (node id → what it
//! did) folded into the tests whose outcome differs and the tests whose
//! outcome varied within a side (flaky, not a difference).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// The word for a test a run did not run (absent from it).
pub const NOT_RUN: &str = "not run";

/// What one run said of one test.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// pacer's JSON word: `passed`, `failed`, `error`, `skipped`, ...
    pub outcome: String,
    /// The failure's message (its first lines are shown), if it failed.
    pub message: Option<String>,
}

/// One run of one side: node id → what it said.
pub type Run = BTreeMap<String, Seen>;

/// A test both sides ran alike within themselves, but not alike each other.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Difference {
    pub id: String,
    pub pytest: String,
    pub pacer: String,
    pub pytest_message: Option<String>,
    pub pacer_message: Option<String>,
}

/// A test whose outcome varied between the runs of one side (or both):
/// each side's outcomes, in run order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Flaky {
    pub id: String,
    pub pytest: Vec<String>,
    pub pacer: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Comparison {
    /// Tests either side ran.
    pub tests: usize,
    pub differences: Vec<Difference>,
    pub flaky: Vec<Flaky>,
    /// Tests only plain pytest ran, left out of the comparison because
    /// pacer's category flags deselected them (`ignored_pytest_only`).
    pub outside_categories: usize,
}

/// pacer's `flaky` is a pass after failed attempts: pytest with
/// pytest-rerunfailures calls the same test `passed`.
fn normalized(outcome: &str) -> &str {
    match outcome {
        "flaky" => "passed",
        other => other,
    }
}

/// Compares plain pytest's runs with pacer's. With `ignore_pytest_only`
/// (pacer ran a subset through its category flags), a test no pacer run
/// ran is left out instead of a difference.
pub fn compare(pytest: &[Run], pacer: &[Run], ignore_pytest_only: bool) -> Comparison {
    let ids: BTreeSet<&String> = pytest.iter().chain(pacer).flat_map(|r| r.keys()).collect();
    let mut comparison = Comparison::default();
    for id in ids {
        let in_pacer = pacer.iter().any(|r| r.contains_key(id));
        if ignore_pytest_only && !in_pacer {
            comparison.outside_categories += 1;
            continue;
        }
        comparison.tests += 1;
        let words = |runs: &[Run]| -> Vec<String> {
            runs.iter()
                .map(|r| {
                    r.get(id)
                        .map_or(NOT_RUN, |s| normalized(&s.outcome))
                        .to_string()
                })
                .collect()
        };
        let first_message = |runs: &[Run]| -> Option<String> {
            runs.iter()
                .filter_map(|r| r.get(id).and_then(|s| s.message.clone()))
                .next()
        };
        let (ours, theirs) = (words(pytest), words(pacer));
        let varies = |w: &[String]| w.iter().collect::<BTreeSet<_>>().len() > 1;
        if varies(&ours) || varies(&theirs) {
            comparison.flaky.push(Flaky {
                id: id.clone(),
                pytest: ours,
                pacer: theirs,
            });
        } else if ours.first() != theirs.first() {
            comparison.differences.push(Difference {
                id: id.clone(),
                pytest: ours.first().cloned().unwrap_or_default(),
                pacer: theirs.first().cloned().unwrap_or_default(),
                pytest_message: first_message(pytest),
                pacer_message: first_message(pacer),
            });
        }
    }
    comparison
}

/// The median of `values` (0 for none).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(entries: &[(&str, &str)]) -> Run {
        entries
            .iter()
            .map(|(id, outcome)| {
                (
                    id.to_string(),
                    Seen {
                        outcome: outcome.to_string(),
                        message: (*outcome == "failed").then(|| format!("{id} broke")),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn the_same_outcomes_are_no_difference_and_flaky_counts_as_passed() {
        let pytest = [run(&[("a", "passed"), ("b", "skipped"), ("c", "passed")])];
        let pacer = [run(&[("a", "passed"), ("b", "skipped"), ("c", "flaky")])];
        let c = compare(&pytest, &pacer, false);
        assert_eq!(c.tests, 3);
        assert!(c.differences.is_empty() && c.flaky.is_empty(), "{c:?}");
    }

    #[test]
    fn a_different_outcome_names_both_and_the_failure() {
        let pytest = [run(&[("a", "passed"), ("b", "passed")])];
        let pacer = [run(&[("a", "passed"), ("b", "failed")])];
        let c = compare(&pytest, &pacer, false);
        assert_eq!(
            c.differences,
            vec![Difference {
                id: "b".into(),
                pytest: "passed".into(),
                pacer: "failed".into(),
                pytest_message: None,
                pacer_message: Some("b broke".into()),
            }]
        );
    }

    #[test]
    fn a_test_one_side_never_ran_differs_unless_categories_left_it_out() {
        let pytest = [run(&[("a", "passed"), ("b", "passed")])];
        let pacer = [run(&[("a", "passed")])];
        let c = compare(&pytest, &pacer, false);
        assert_eq!(c.differences[0].pacer, NOT_RUN);
        let c = compare(&pytest, &pacer, true);
        assert!(c.differences.is_empty());
        assert_eq!((c.tests, c.outside_categories), (1, 1));
    }

    #[test]
    fn an_outcome_that_varies_within_a_side_is_flaky_not_a_difference() {
        let pytest = [run(&[("a", "passed")]), run(&[("a", "passed")])];
        let pacer = [run(&[("a", "failed")]), run(&[("a", "passed")])];
        let c = compare(&pytest, &pacer, false);
        assert!(c.differences.is_empty());
        assert_eq!(c.flaky[0].pacer, vec!["failed", "passed"]);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
