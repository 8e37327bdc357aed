//! `pacer measure --compare`: which categories got slower than the noise
//! their repeats showed (rule in docs/measure.md).

use super::schema::Measurement;

/// The least change that counts as slower, whatever the repeats' spread.
pub const MIN_THRESHOLD: f64 = 0.10;

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub category: String,
    /// `sequential` or `parallel`.
    pub mode: &'static str,
    pub before: f64,
    pub after: f64,
    /// The relative change that would have counted as slower.
    pub threshold: f64,
    pub regressed: bool,
}

impl Change {
    pub fn ratio(&self) -> f64 {
        if self.before > 0.0 {
            self.after / self.before - 1.0
        } else {
            0.0
        }
    }
}

/// Every category and mode measured both times, before against after.
pub fn compare(before: &Measurement, after: &Measurement) -> Vec<Change> {
    let mut changes = Vec::new();
    for new in &after.categories {
        let Some(old) = before.categories.iter().find(|c| c.name == new.name) else {
            continue;
        };
        let modes = [
            ("parallel", old.parallel.as_ref(), new.parallel.as_ref()),
            ("sequential", Some(&old.sequential), Some(&new.sequential)),
        ];
        for (mode, o, n) in modes {
            let (Some(o), Some(n)) = (o, n) else {
                continue;
            };
            if o.wall <= 0.0 {
                continue;
            }
            let threshold = o.spread.max(n.spread).max(MIN_THRESHOLD);
            changes.push(Change {
                category: new.name.clone(),
                mode,
                before: o.wall,
                after: n.wall,
                threshold,
                regressed: n.wall > o.wall * (1.0 + threshold),
            });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::measure::schema::{CategoryMeasure, ModeMeasure, RunTime};

    fn mode(walls: &[f64]) -> ModeMeasure {
        let runs = walls
            .iter()
            .map(|&wall| RunTime {
                wall,
                elapsed: wall,
                exit_code: Some(0),
                counts: Default::default(),
            })
            .collect();
        ModeMeasure::new(vec![], runs)
    }

    fn measured(name: &str, seq: &[f64], par: &[f64]) -> Measurement {
        Measurement {
            schema: "pacer-measure".into(),
            version: 1,
            pacer: "0".into(),
            python: None,
            pytest: None,
            cores: 2,
            workers: 2,
            timestamp: String::new(),
            git_commit: None,
            project: String::new(),
            baseline: false,
            repeat: seq.len(),
            pytest_args: vec![],
            categories: vec![CategoryMeasure {
                name: name.into(),
                kind: "cpu".into(),
                rate_limited: false,
                max_workers: 2,
                slots: 2,
                tests: 1,
                sequential: mode(seq),
                parallel: Some(mode(par)),
                speedup: None,
                work: 0.0,
                longest_test: None,
                bound: 0.0,
                efficiency: None,
                upstreams: vec![],
            }],
        }
    }

    #[test]
    fn slower_than_ten_percent_is_a_regression_when_the_repeats_agree() {
        let before = measured("unit", &[2.0, 2.0], &[1.0, 1.0]);
        let after = measured("unit", &[2.1, 2.1], &[1.2, 1.2]);
        let changes = compare(&before, &after);
        let par = changes.iter().find(|c| c.mode == "parallel").unwrap();
        assert!(par.regressed, "{par:?}");
        let seq = changes.iter().find(|c| c.mode == "sequential").unwrap();
        assert!(!seq.regressed, "{seq:?}");
    }

    #[test]
    fn noisy_repeats_raise_the_threshold() {
        // The repeats before spread by 40%: 20% slower is noise.
        let before = measured("unit", &[2.0], &[0.8, 1.0, 1.2]);
        let after = measured("unit", &[2.0], &[1.2, 1.2, 1.2]);
        let par = compare(&before, &after)
            .into_iter()
            .find(|c| c.mode == "parallel")
            .unwrap();
        assert!(!par.regressed && (par.threshold - 0.4).abs() < 1e-9);
    }

    #[test]
    fn categories_measured_once_only_are_not_compared() {
        let before = measured("unit", &[1.0], &[1.0]);
        let after = measured("live", &[9.0], &[9.0]);
        assert!(compare(&before, &after).is_empty());
    }
}
