//! `pacer measure`'s result: the versioned JSON document written under
//! `.pacer/perf/` (schema in docs/measure.md), and the figures derived
//! from the runs' reports.

use std::collections::BTreeMap;

use pacer_report::RunReport;
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "pacer-measure";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    pub schema: String,
    pub version: u32,
    pub pacer: String,
    pub python: Option<String>,
    pub pytest: Option<String>,
    pub cores: usize,
    /// Workers for cpu-bound tests in the parallel runs (`-n`).
    pub workers: usize,
    /// When the measure started, RFC 3339, UTC.
    pub timestamp: String,
    pub git_commit: Option<String>,
    pub project: String,
    /// Sequential runs only (`--baseline`).
    pub baseline: bool,
    pub repeat: usize,
    pub pytest_args: Vec<String>,
    pub categories: Vec<CategoryMeasure>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CategoryMeasure {
    pub name: String,
    pub kind: String,
    pub rate_limited: bool,
    /// The category's cap (`max_workers`).
    pub max_workers: usize,
    /// Workers its tests can use at once on this machine (the bound's divisor).
    pub slots: usize,
    pub tests: usize,
    pub sequential: ModeMeasure,
    pub parallel: Option<ModeMeasure>,
    /// Sequential wall / parallel wall (medians).
    pub speedup: Option<f64>,
    /// Seconds of its tests, summed: each test's shortest time over the sequential runs.
    pub work: f64,
    pub longest_test: Option<LongestTest>,
    /// The shortest parallel wall this machine allows: max of work / slots,
    /// the longest test, and requests / configured rate per upstream.
    pub bound: f64,
    /// Bound / parallel wall, in (0, 1] (above 1 when the runs were faster than their work suggests).
    pub efficiency: Option<f64>,
    pub upstreams: Vec<UpstreamRate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModeMeasure {
    /// The command that was timed (argv, the program first).
    pub command: Vec<String>,
    pub runs: Vec<RunTime>,
    /// Median of the runs' walls.
    pub wall: f64,
    /// (slowest - fastest) / median wall: the noise between repeats.
    pub spread: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunTime {
    /// Seconds from starting pacer to its exit.
    pub wall: f64,
    /// The run report's `elapsed`: from the first worker's start to the run's end.
    pub elapsed: f64,
    pub exit_code: Option<i32>,
    /// pytest's final line: status -> count.
    pub counts: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LongestTest {
    pub id: String,
    pub seconds: f64,
}

/// An upstream's pace in the (first) parallel run of a rate-limited category.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpstreamRate {
    pub name: String,
    pub requests: u64,
    /// Requests per second the upstream got, as the proxy measured it.
    pub achieved_rate: f64,
    pub configured_rate: f64,
}

pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

impl ModeMeasure {
    pub fn new(command: Vec<String>, runs: Vec<RunTime>) -> Self {
        let walls: Vec<f64> = runs.iter().map(|r| r.wall).collect();
        let wall = median(&walls);
        let fastest = walls.iter().copied().fold(f64::INFINITY, f64::min);
        let slowest = walls.iter().copied().fold(0.0, f64::max);
        let spread = if wall > 0.0 && walls.len() > 1 {
            (slowest - fastest) / wall
        } else {
            0.0
        };
        ModeMeasure {
            command,
            runs,
            wall,
            spread,
        }
    }
}

/// Each test's shortest time over the runs (end - start), by node id.
pub fn test_times(reports: &[RunReport]) -> BTreeMap<String, f64> {
    let mut times: BTreeMap<String, f64> = BTreeMap::new();
    for report in reports {
        for test in &report.tests {
            let t = (test.end - test.start).max(0.0);
            times
                .entry(test.id.clone())
                .and_modify(|old| *old = old.min(t))
                .or_insert(t);
        }
    }
    times
}

/// Work, the longest test, and the bound for `slots` workers.
pub fn bound(
    times: &BTreeMap<String, f64>,
    slots: usize,
    upstreams: &[UpstreamRate],
) -> (f64, Option<LongestTest>, f64) {
    let work: f64 = times.values().sum();
    let longest = times
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(id, s)| LongestTest {
            id: id.clone(),
            seconds: *s,
        });
    let mut bound = work / slots.max(1) as f64;
    if let Some(l) = &longest {
        bound = bound.max(l.seconds);
    }
    for u in upstreams {
        if u.configured_rate > 0.0 {
            bound = bound.max(u.requests as f64 / u.configured_rate);
        }
    }
    (work, longest, bound)
}

/// The upstreams' statistics a run report carries (`upstreams[].stats`).
pub fn upstream_rates(report: &RunReport) -> Vec<UpstreamRate> {
    report
        .upstreams
        .iter()
        .filter_map(|u| {
            let stats = u.get("stats")?;
            Some(UpstreamRate {
                name: stats.get("name")?.as_str()?.to_string(),
                requests: stats.get("requests")?.as_u64()?,
                achieved_rate: stats
                    .get("achieved_rate")
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0),
                configured_rate: stats
                    .get("configured_rate")
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0),
            })
        })
        .filter(|u| u.requests > 0)
        .collect()
}

/// RFC 3339 in UTC to the second, from the Unix epoch (no calendar crate
/// for one timestamp): Howard Hinnant's days-to-civil.
pub fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_045_939), "2026-11-30T13:38:59Z");
    }

    #[test]
    fn median_and_spread() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0]), 1.5);
        let run = |wall| RunTime {
            wall,
            elapsed: wall,
            exit_code: Some(0),
            counts: BTreeMap::new(),
        };
        let m = ModeMeasure::new(vec![], vec![run(1.0), run(1.2), run(0.8)]);
        assert_eq!(m.wall, 1.0);
        assert!((m.spread - 0.4).abs() < 1e-9);
        assert_eq!(ModeMeasure::new(vec![], vec![run(2.0)]).spread, 0.0);
    }

    #[test]
    fn the_bound_is_the_work_per_slot_the_longest_test_or_the_rate() {
        let times: BTreeMap<String, f64> =
            [("a".into(), 1.0), ("b".into(), 1.0), ("c".into(), 3.0)].into();
        let (work, longest, b) = bound(&times, 4, &[]);
        assert_eq!(work, 5.0);
        assert_eq!(longest.unwrap().id, "c");
        assert_eq!(b, 3.0);
        assert_eq!(bound(&times, 1, &[]).2, 5.0);
        let api = UpstreamRate {
            name: "api".into(),
            requests: 40,
            achieved_rate: 4.0,
            configured_rate: 5.0,
        };
        assert_eq!(bound(&times, 4, &[api]).2, 8.0);
    }
}
