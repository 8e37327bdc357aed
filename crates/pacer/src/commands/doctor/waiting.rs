//! The tests that wait most, and what they wait on (issue 21): from each
//! test's wall and CPU seconds and the kinds its sampled stacks showed
//! (`pacer_doctor.py`: `sleep`, `socket`, `subprocess`, `lock`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::analysis::TestTime;

/// A test whose wall time is mostly not CPU.
#[derive(Debug, Clone, Serialize)]
pub struct Waiting {
    pub id: String,
    pub category: String,
    pub wall: f64,
    pub cpu: f64,
    /// Wall minus CPU and the time queued for a core.
    pub waiting: f64,
    /// The kind most of its classified samples showed, when any did.
    pub on: Option<String>,
    /// Samples taken while it ran, and per kind those that showed it.
    pub samples: u64,
    pub waits: BTreeMap<String, u64>,
}

/// Tests whose CPU is under half their wall time and that waited at least
/// this long are named.
const MIN_WAIT: f64 = 0.01;

fn waited(t: &TestTime) -> f64 {
    t.wall - t.cpu - t.queued
}

/// The `top` tests that waited longest, longest first.
pub fn tests_that_wait(
    tests: &[TestTime],
    categorize: &dyn Fn(&str, &[String]) -> String,
    top: usize,
) -> Vec<Waiting> {
    let mut waiting: Vec<Waiting> = tests
        .iter()
        .filter(|t| waited(t) >= MIN_WAIT && t.cpu + t.queued < t.wall / 2.0)
        .map(|t| Waiting {
            id: t.id.clone(),
            category: categorize(&t.id, &t.markers),
            wall: t.wall,
            cpu: t.cpu,
            waiting: waited(t),
            on: t
                .waits
                .iter()
                .max_by_key(|(kind, n)| (**n, std::cmp::Reverse((*kind).clone())))
                .map(|(kind, _)| kind.clone()),
            samples: t.samples,
            waits: t.waits.clone(),
        })
        .collect();
    waiting.sort_by(|a, b| b.waiting.total_cmp(&a.waiting));
    waiting.truncate(top);
    waiting
}

/// How one is printed: `0.245 s of 0.250 s  id  [category]  sleep (24 of 25 samples)`.
pub fn line(w: &Waiting) -> String {
    let on = match &w.on {
        Some(kind) => format!(
            "{kind} ({} of {} samples)",
            w.waits.get(kind).copied().unwrap_or(0),
            w.samples
        ),
        None => format!("not told by its stack ({} samples)", w.samples),
    };
    format!(
        "{:>7.3} s of {:.3} s  {}  [{}]  {on}",
        w.waiting, w.wall, w.id, w.category
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(id: &str, wall: f64, cpu: f64, waits: &[(&str, u64)]) -> TestTime {
        TestTime {
            id: id.into(),
            markers: vec![],
            phases: [("call".to_string(), wall)].into(),
            outcome: "passed".into(),
            wall,
            cpu,
            queued: 0.0,
            samples: 20,
            waits: waits.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        }
    }

    #[test]
    fn the_longest_waits_are_named_with_what_the_stacks_showed() {
        let tests = vec![
            test("t.py::computes", 1.0, 0.95, &[]),
            test("t.py::sleeps", 0.2, 0.001, &[("sleep", 19)]),
            test("t.py::reads", 0.5, 0.01, &[("socket", 15), ("lock", 3)]),
        ];
        let w = tests_that_wait(&tests, &|_, _| "default".into(), 5);
        let ids: Vec<&str> = w.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["t.py::reads", "t.py::sleeps"]);
        assert_eq!(w[0].on.as_deref(), Some("socket"));
        assert!(
            line(&w[1]).contains("sleep (19 of 20 samples)"),
            "{}",
            line(&w[1])
        );
    }
}
