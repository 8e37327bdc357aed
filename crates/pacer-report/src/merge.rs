//! `pacer report merge`: the JSON reports of one run's shards made into the
//! report of the whole run, from which the JUnit, JSON and HTML files and
//! the step summary are written as a run writes them.
//!
//! The shards are checked first: one run id, one shard count, each shard
//! once and none missing ([`MergeError`] names the file or the shard).
//! Then, in the shards' order:
//! - tests are concatenated, each as its shard reported it (outcome,
//!   attempts, output); their times move by their shard's start after the
//!   first shard's (`started_at`), so that the shards share one timeline;
//!   every shard collected the same selection and records each test's
//!   place in it, so the merged tests (and the JUnit file) follow pytest's
//!   order, as a whole run's do;
//! - workers are named for their shard (`s2-gw0`) and each shard's lanes
//!   form a group (`shard 2`), which the page draws together;
//! - counts, workers, tests not run and warnings are summed; deselected is
//!   what the whole run deselected (a shard's count less the other parts);
//!   the run's `elapsed` is from the first shard's start to the last
//!   shard's end (with shards started together, the longest shard's);
//! - the exit code is the worst shard's ([`worst_exit_code`]);
//! - an upstream's statistics are summed over the shards (requests,
//!   attempts, retries, 429s, waits), and its `achieved_rate` is the sum of
//!   the shards' achieved rates: the rate the upstream got while the shards
//!   ran at once, as they do in a CI matrix (shards that ran one after the
//!   other would overstate it); its admissions over time are added up on
//!   the shared timeline.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pacer_types::exit;
use serde_json::Value;

use crate::schema::{
    CategoryReport, Lane, OutsideCalls, RunReport, Shard, ShardRun, SCHEMA, SCHEMA_VERSION,
};

/// Why the shards' reports cannot be merged; each names the file or shard at fault.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("no report to merge")]
    Empty,
    #[error("{}: not a pacer run report (its schema is {schema:?})", path.display())]
    NotAReport { path: PathBuf, schema: String },
    #[error("{}: written by a newer pacer (report version {version}; this pacer reads up to {SCHEMA_VERSION})", path.display())]
    NewerVersion { path: PathBuf, version: u32 },
    #[error("{}: not the report of a shard (no `shard`); a run without --shard is merged only alone", path.display())]
    NoShard { path: PathBuf },
    #[error("{}: run id {} differs from {}'s {}", path.display(), describe(theirs), first.display(), describe(ours))]
    RunIds {
        path: PathBuf,
        theirs: Option<String>,
        first: PathBuf,
        ours: Option<String>,
    },
    #[error("{}: shard {shard} is of {} shards, but {} is shard {first_shard}", path.display(), shard.count, first.display())]
    ShardCounts {
        path: PathBuf,
        shard: Shard,
        first: PathBuf,
        first_shard: Shard,
    },
    #[error("{} and {} are both shard {shard}", first.display(), path.display())]
    Duplicate {
        path: PathBuf,
        first: PathBuf,
        shard: Shard,
    },
    #[error("{}", missing_phrase(missing))]
    Missing { missing: Vec<Shard> },
}

fn describe(run_id: &Option<String>) -> String {
    match run_id {
        Some(id) => format!("{id:?}"),
        None => "(none)".into(),
    }
}

fn missing_phrase(missing: &[Shard]) -> String {
    let names: Vec<String> = missing.iter().map(Shard::to_string).collect();
    match names.as_slice() {
        [one] => format!("shard {one} missing"),
        many => format!("shards {} missing", many.join(", ")),
    }
}

/// The exit code of a run made of runs that ended with `codes`: the most
/// serious, pacer's own failure first, then a usage error, an interrupted
/// run, failed tests, nothing collected, success. A code outside pytest's
/// table (a plugin's) ranks with pacer's own failures.
pub fn worst_exit_code(codes: impl IntoIterator<Item = i32>) -> Option<i32> {
    let rank = |code: i32| match code {
        exit::OK => 0,
        exit::NO_TESTS_COLLECTED => 1,
        exit::TESTS_FAILED => 2,
        exit::INTERRUPTED => 3,
        exit::USAGE_ERROR => 4,
        exit::INTERNAL_ERROR => 5,
        _ => 6,
    };
    codes.into_iter().max_by_key(|c| (rank(*c), *c))
}

/// Checks the shards' reports against each other; gives them back in the
/// shards' order.
fn check(mut reports: Vec<(PathBuf, RunReport)>) -> Result<Vec<(PathBuf, RunReport)>, MergeError> {
    for (path, report) in &reports {
        if report.schema != SCHEMA {
            return Err(MergeError::NotAReport {
                path: path.clone(),
                schema: report.schema.clone(),
            });
        }
        if report.version > SCHEMA_VERSION {
            return Err(MergeError::NewerVersion {
                path: path.clone(),
                version: report.version,
            });
        }
    }
    let Some((first, first_report)) = reports.first() else {
        return Err(MergeError::Empty);
    };
    if reports.len() == 1 && first_report.shard.is_none() {
        return Ok(reports);
    }
    let (first, run_id) = (first.clone(), first_report.run_id.clone());
    let mut count: Option<(PathBuf, Shard)> = None;
    let mut seen: BTreeMap<u32, PathBuf> = BTreeMap::new();
    for (path, report) in &reports {
        let Some(shard) = report.shard else {
            return Err(MergeError::NoShard { path: path.clone() });
        };
        if report.run_id != run_id {
            return Err(MergeError::RunIds {
                path: path.clone(),
                theirs: report.run_id.clone(),
                first,
                ours: run_id,
            });
        }
        match &count {
            Some((first, first_shard)) if first_shard.count != shard.count => {
                return Err(MergeError::ShardCounts {
                    path: path.clone(),
                    shard,
                    first: first.clone(),
                    first_shard: *first_shard,
                })
            }
            Some(_) => {}
            None => count = Some((path.clone(), shard)),
        }
        if let Some(other) = seen.insert(shard.index, path.clone()) {
            return Err(MergeError::Duplicate {
                path: path.clone(),
                first: other,
                shard,
            });
        }
    }
    let count = count.map_or(0, |(_, s)| s.count);
    let missing: Vec<Shard> = (1..=count)
        .filter(|i| !seen.contains_key(i))
        .map(|index| Shard { index, count })
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing });
    }
    reports.sort_by_key(|(_, r)| r.shard.map_or(0, |s| s.index));
    Ok(reports)
}

/// Seconds since the Unix epoch of an RFC 3339 time.
fn epoch(time: Option<&str>) -> Option<f64> {
    let time = chrono::DateTime::parse_from_rfc3339(time?).ok()?;
    Some(time.timestamp_millis() as f64 / 1000.0)
}

/// The report of the whole run, from its shards' reports (each with the
/// file it came from, for the errors).
pub fn merge(reports: Vec<(PathBuf, RunReport)>) -> Result<RunReport, MergeError> {
    let mut shards = check(reports)?;
    if shards.len() == 1 && shards[0].1.shard.is_none() {
        return Ok(shards.remove(0).1);
    }
    let starts: Vec<Option<f64>> = shards
        .iter()
        .map(|(_, r)| epoch(r.started_at.as_deref()))
        .collect();
    let t0 = starts
        .iter()
        .flatten()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let first = &shards[0].1;
    let mut merged = RunReport {
        schema: SCHEMA.to_string(),
        version: SCHEMA_VERSION,
        pacer: first.pacer.clone(),
        run_id: first.run_id.clone(),
        shard: None,
        shards: Vec::new(),
        started_at: None,
        python: first.python.clone(),
        pytest: first.pytest.clone(),
        rootdir: first.rootdir.clone(),
        invocation_dir: first.invocation_dir.clone(),
        pytest_args: first.pytest_args.clone(),
        pytest_paths: first.pytest_paths.clone(),
        randomly_seed: first.randomly_seed,
        workers: 0,
        wait_workers: None,
        elapsed: 0.0,
        exit_code: worst_exit_code(shards.iter().filter_map(|(_, r)| r.exit_code)),
        stopped: None,
        interrupted: None,
        counts: BTreeMap::new(),
        not_run: 0,
        deselected: 0,
        warnings: 0,
        categories: Vec::new(),
        lanes: Vec::new(),
        tests: Vec::new(),
        collection: Vec::new(),
        upstreams: Vec::new(),
        calls_outside_tests: Vec::new(),
    };
    // Every shard collected the same selection and cut its own part, so
    // each counts the other parts' tests as deselected: what the whole run
    // deselected is one shard's count less the others' tests.
    let mut others_selected = Vec::new();
    let mut upstreams: Vec<Value> = Vec::new();
    for ((_, report), start) in shards.into_iter().zip(starts) {
        let shard = report.shard.expect("checked: every report is a shard's");
        let offset = match start {
            Some(s) if t0.is_finite() => s - t0,
            _ => 0.0,
        };
        if start.is_some() && start == Some(t0) && merged.started_at.is_none() {
            merged.started_at = report.started_at.clone();
        }
        merged.shards.push(ShardRun {
            shard,
            started_at: report.started_at.clone(),
            offset,
            elapsed: report.elapsed,
            workers: report.workers,
            exit_code: report.exit_code,
        });
        merged.workers += report.workers;
        merged.elapsed = merged.elapsed.max(offset + report.elapsed);
        merged.stopped = merged.stopped.take().or(report.stopped);
        merged.interrupted = merged.interrupted.take().or(report.interrupted);
        for (status, n) in report.counts {
            *merged.counts.entry(status).or_default() += n;
        }
        merged.not_run += report.not_run;
        others_selected.push((report.deselected, report.tests.len() + report.not_run));
        merged.warnings += report.warnings;
        let rename = |worker: &str| format!("s{}-{worker}", shard.index);
        let group = format!("shard {}", shard.index);
        merged
            .lanes
            .extend(report.lanes.into_iter().map(|lane| Lane {
                worker: rename(&lane.worker),
                group: Some(group.clone()),
                ..lane
            }));
        for mut test in report.tests {
            test.worker = rename(&test.worker);
            test.start += offset;
            test.end += offset;
            test.waits.iter_mut().flatten().for_each(|t| *t += offset);
            test.retry_marks.iter_mut().for_each(|t| *t += offset);
            merged.tests.push(test);
        }
        for category in report.categories {
            add_category(&mut merged.categories, category);
        }
        for problem in report.collection {
            // Each shard may collect every file: a file's problem is one,
            // and counted once in the run's final line.
            if merged.collection.iter().any(|p| p.id == problem.id) {
                if let Some(n) = merged.counts.get_mut(&problem.outcome.status()) {
                    *n = n.saturating_sub(1);
                }
            } else {
                merged.collection.push(problem);
            }
        }
        for outside in report.calls_outside_tests {
            add_outside(&mut merged.calls_outside_tests, outside);
        }
        for upstream in report.upstreams {
            add_upstream(&mut upstreams, upstream, offset);
        }
    }
    let in_parts: usize = others_selected.iter().map(|(_, n)| n).sum();
    merged.deselected = others_selected
        .iter()
        .map(|(deselected, mine)| (deselected + mine).saturating_sub(in_parts))
        .min()
        .unwrap_or(0);
    // The shards' places in the one collection they share: the merged
    // report lists its tests in pytest's order, as the whole run's does.
    merged
        .tests
        .sort_by_key(|t| (t.collected.is_none(), t.collected));
    for lane in &mut merged.lanes {
        lane.idle = (merged.elapsed - lane.busy).max(0.0);
    }
    for category in &mut merged.categories {
        let mine = merged
            .tests
            .iter()
            .filter(|t| t.category.as_deref() == Some(&category.name));
        let (first, last) = mine.fold((f64::INFINITY, 0.0f64), |(a, b), t| {
            (a.min(t.start), b.max(t.end))
        });
        category.wall = if first.is_finite() { last - first } else { 0.0 };
    }
    for upstream in &mut upstreams {
        settle_upstream(upstream);
    }
    merged.upstreams = upstreams;
    merged.round_times();
    Ok(merged)
}

fn add_category(categories: &mut Vec<CategoryReport>, category: CategoryReport) {
    match categories.iter_mut().find(|c| c.name == category.name) {
        None => categories.push(category),
        Some(c) => {
            c.rate_limited |= category.rate_limited;
            c.selected |= category.selected;
            c.tests += category.tests;
            for (status, n) in category.counts {
                *c.counts.entry(status).or_default() += n;
            }
            c.work += category.work;
            c.workers += category.workers;
        }
    }
}

fn add_outside(all: &mut Vec<OutsideCalls>, outside: OutsideCalls) {
    match all.iter_mut().find(|o| o.upstream == outside.upstream) {
        None => all.push(outside),
        Some(o) => {
            o.calls += outside.calls;
            o.limiter_wait += outside.limiter_wait;
            o.retries_429 += outside.retries_429;
        }
    }
}

/// The statistics that add up over shards; the rest are the first shard's
/// (the configured rate, the quota) or worked out again ([`settle_upstream`]).
const SUMMED: [&str; 18] = [
    "requests",
    "admitted",
    "retried",
    "seen_429",
    "seen_503",
    "completed",
    "final_failures",
    "upstream_errors",
    "timeouts",
    "out_of_budget",
    "not_replayable",
    "time_queued",
    "time_in_backoff",
    "time_in_backoff_wall",
    "rate_decreases",
    "achieved_rate",
    "pauses",
    // Summed here to be divided by `completed` in `settle_upstream`.
    "success_rate",
];

fn name_of(upstream: &Value) -> Option<&str> {
    upstream
        .get("stats")
        .and_then(|s| s.get("name"))
        .and_then(Value::as_str)
}

/// Adds one shard's statistics of an upstream to the merged ones.
fn add_upstream(all: &mut Vec<Value>, mut upstream: Value, offset: f64) {
    // The success rate, weighted by the requests it is of.
    if let Some(stats) = upstream.get_mut("stats").and_then(Value::as_object_mut) {
        let completed = stats
            .get("completed")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let rate = stats
            .get("success_rate")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        stats.insert("success_rate".into(), (rate * completed).into());
    }
    if let Some(series) = upstream.get_mut("series").and_then(Value::as_object_mut) {
        let start = series.get("start").and_then(Value::as_f64).unwrap_or(0.0);
        series.insert("start".into(), (start + offset).into());
    }
    let name = name_of(&upstream).map(str::to_owned);
    let Some(merged) = all.iter_mut().find(|u| name_of(u) == name.as_deref()) else {
        all.push(upstream);
        return;
    };
    if let (Some(into), Some(from)) = (
        merged.get_mut("stats").and_then(Value::as_object_mut),
        upstream.get("stats").and_then(Value::as_object),
    ) {
        for key in SUMMED {
            let sum = match (into.get(key), from.get(key)) {
                (Some(Value::Number(a)), Some(Value::Number(b))) => {
                    match (a.as_u64(), b.as_u64()) {
                        (Some(a), Some(b)) => Value::from(a + b),
                        _ => Value::from(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
                    }
                }
                (None, Some(b)) => b.clone(),
                (a, _) => a.cloned().unwrap_or(Value::Null),
            };
            into.insert(key.into(), sum);
        }
        if let (Some(Value::Array(held)), Some(Value::Array(more))) =
            (into.get_mut("held_back"), from.get("held_back"))
        {
            for entry in more {
                let (Some(constraint), Some(secs)) =
                    (entry.get(0), entry.get(1).and_then(Value::as_f64))
                else {
                    continue;
                };
                match held.iter_mut().find(|e| e.get(0) == Some(constraint)) {
                    Some(e) => {
                        let was = e.get(1).and_then(Value::as_f64).unwrap_or(0.0);
                        e[1] = (was + secs).into();
                    }
                    None => held.push(entry.clone()),
                }
            }
        }
        if let (Some(Value::Array(notices)), Some(Value::Array(more))) =
            (into.get_mut("notices"), from.get("notices"))
        {
            for notice in more {
                if !notices.contains(notice) {
                    notices.push(notice.clone());
                }
            }
        }
    }
    let series = upstream.get("series").cloned();
    match (merged.get_mut("series"), series) {
        (Some(into), Some(from)) => add_series(into, &from),
        (None, Some(from)) => {
            if let Some(object) = merged.as_object_mut() {
                object.insert("series".into(), from);
            }
        }
        _ => {}
    }
}

/// Adds one shard's admissions over time to the merged ones, bucket by
/// bucket on the shared timeline (each bucket to the merged bucket its
/// start falls in); the lowest limit of a bucket stands.
fn add_series(into: &mut Value, from: &Value) {
    let number = |v: &Value, key: &str| v.get(key).and_then(Value::as_f64);
    let (Some(start), Some(step), Some(from_start), Some(from_step)) = (
        number(into, "start"),
        number(into, "step"),
        number(from, "start"),
        number(from, "step"),
    ) else {
        return;
    };
    if step <= 0.0 || from_step <= 0.0 {
        return;
    }
    let new_start = start.min(from_start);
    // Buckets of `into` move right when `from` starts earlier.
    let shift = ((start - new_start) / step).round() as usize;
    let arrays = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut admitted = arrays(into, "admitted");
    let mut seen_429 = arrays(into, "seen_429");
    let mut limit = arrays(into, "limit");
    for column in [&mut admitted, &mut seen_429] {
        column.splice(0..0, std::iter::repeat_n(Value::from(0u64), shift));
    }
    limit.splice(0..0, std::iter::repeat_n(Value::Null, shift));
    let from_admitted = arrays(from, "admitted");
    let from_429 = arrays(from, "seen_429");
    let from_limit = arrays(from, "limit");
    for i in 0..from_admitted.len().max(from_429.len()) {
        let at = from_start + i as f64 * from_step;
        let j = ((at - new_start) / step).floor().max(0.0) as usize;
        for column in [&mut admitted, &mut seen_429] {
            if column.len() <= j {
                column.resize(j + 1, Value::from(0u64));
            }
        }
        if limit.len() <= j {
            limit.resize(j + 1, Value::Null);
        }
        let add = |column: &mut Vec<Value>, from: &[Value]| {
            let n = from.get(i).and_then(Value::as_u64).unwrap_or(0);
            column[j] = (column[j].as_u64().unwrap_or(0) + n).into();
        };
        add(&mut admitted, &from_admitted);
        add(&mut seen_429, &from_429);
        if let Some(l) = from_limit.get(i).and_then(Value::as_f64) {
            let lower = limit[j].as_f64().map_or(l, |was| was.min(l));
            limit[j] = lower.into();
        }
    }
    let len = admitted.len().max(seen_429.len()).max(limit.len());
    admitted.resize(len, Value::from(0u64));
    seen_429.resize(len, Value::from(0u64));
    limit.resize(len, Value::Null);
    if let Some(object) = into.as_object_mut() {
        object.insert("start".into(), new_start.into());
        object.insert("admitted".into(), admitted.into());
        object.insert("seen_429".into(), seen_429.into());
        object.insert("limit".into(), limit.into());
    }
}

/// Works out again what is a ratio of summed counts.
fn settle_upstream(upstream: &mut Value) {
    let Some(stats) = upstream.get_mut("stats").and_then(Value::as_object_mut) else {
        return;
    };
    let get = |key: &str| stats.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    let (retried, admitted, completed) = (get("retried"), get("admitted"), get("completed"));
    let attempts = admitted.max(retried);
    let ratio = |part: f64, whole: f64| {
        if whole == 0.0 {
            0.0
        } else {
            (part / whole).clamp(0.0, 1.0)
        }
    };
    let success = ratio(get("success_rate"), completed);
    stats.insert("retry_rate".into(), ratio(retried, attempts).into());
    stats.insert("success_rate".into(), success.into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RunRecord;
    use crate::schema::TestReport;
    use pacer_types::Status;

    /// A shard's report whose tests sit in the shared collection round
    /// robin: shard 1 of 2 holds places 0, 2, 4..., shard 2 places 1, 3...
    fn shard(index: u32, count: u32, run_id: &str, tests: &[(&str, Status)]) -> RunReport {
        let mut report = RunRecord::with_clock("0", Box::new(|| 0.0)).to_report();
        report.run_id = Some(run_id.into());
        report.shard = Some(Shard { index, count });
        report.started_at = Some(format!("2026-01-01T00:00:0{index}.000Z"));
        report.workers = 2;
        report.elapsed = 10.0;
        report.exit_code = Some(if tests.iter().any(|t| t.1 == Status::Failed) {
            1
        } else {
            0
        });
        for (i, (id, status)) in tests.iter().enumerate() {
            *report.counts.entry(status.clone()).or_default() += 1;
            report.tests.push(TestReport {
                id: id.to_string(),
                worker: format!("gw{}", i % 2),
                start: i as f64,
                end: i as f64 + 1.0,
                outcome: status.clone(),
                collected: Some(i * count as usize + index as usize - 1),
                ..Default::default()
            });
        }
        report
    }

    fn at(index: usize, report: RunReport) -> (PathBuf, RunReport) {
        (PathBuf::from(format!("shard-{index}/report.json")), report)
    }

    #[test]
    fn shards_merge_in_pytest_order_on_one_timeline() {
        let merged = merge(vec![
            at(2, shard(2, 2, "r", &[("b.py::t", Status::Failed)])),
            at(
                1,
                shard(
                    1,
                    2,
                    "r",
                    &[("a.py::t", Status::Passed), ("a.py::u", Status::Passed)],
                ),
            ),
        ])
        .unwrap();
        let ids: Vec<(&str, &str, Option<usize>, f64)> = merged
            .tests
            .iter()
            .map(|t| (t.id.as_str(), t.worker.as_str(), t.collected, t.start))
            .collect();
        assert_eq!(
            ids,
            [
                ("a.py::t", "s1-gw0", Some(0), 0.0),
                ("b.py::t", "s2-gw0", Some(1), 1.0),
                ("a.py::u", "s1-gw1", Some(2), 1.0),
            ]
        );
        assert_eq!(merged.counts[&Status::Passed], 2);
        assert_eq!(merged.counts[&Status::Failed], 1);
        assert_eq!(merged.exit_code, Some(1));
        assert_eq!(merged.workers, 4);
        // Shard 2 started a second later and ran 10 s.
        assert_eq!(merged.elapsed, 11.0);
        assert_eq!(merged.run_id.as_deref(), Some("r"));
        assert_eq!(merged.shard, None);
        assert_eq!(
            merged.started_at.as_deref(),
            Some("2026-01-01T00:00:01.000Z")
        );
        assert_eq!(merged.shards.len(), 2);
    }

    #[test]
    fn refusals_name_the_file_or_the_shard() {
        let err = merge(vec![
            at(1, shard(1, 3, "r", &[])),
            at(3, shard(3, 3, "r", &[])),
        ])
        .unwrap_err();
        assert_eq!(err.to_string(), "shard 2/3 missing");
        let err = merge(vec![
            at(1, shard(1, 2, "r", &[])),
            at(2, shard(2, 2, "s", &[])),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "shard-2/report.json: run id \"s\" differs from shard-1/report.json's \"r\""
        );
        let err = merge(vec![
            at(1, shard(1, 2, "r", &[])),
            at(2, shard(1, 2, "r", &[])),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "shard-1/report.json and shard-2/report.json are both shard 1/2"
        );
        let err = merge(vec![
            at(1, shard(1, 2, "r", &[])),
            at(2, shard(2, 3, "r", &[])),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("shard 2/3 is of 3 shards"),
            "{err}"
        );
        let mut whole = shard(1, 1, "r", &[]);
        whole.shard = None;
        let err = merge(vec![at(1, shard(1, 2, "r", &[])), at(2, whole.clone())]).unwrap_err();
        assert!(matches!(err, MergeError::NoShard { .. }), "{err}");
        assert_eq!(merge(vec![at(1, whole.clone())]).unwrap(), whole);
        assert_eq!(merge(vec![]).unwrap_err(), MergeError::Empty);
        let mut newer = shard(1, 1, "r", &[]);
        newer.version = SCHEMA_VERSION + 1;
        let err = merge(vec![at(1, newer)]).unwrap_err();
        assert!(
            err.to_string().contains("written by a newer pacer"),
            "{err}"
        );
        let mut other = shard(1, 1, "r", &[]);
        other.schema = "something-else".into();
        let err = merge(vec![at(1, other)]).unwrap_err();
        assert!(err.to_string().contains("not a pacer run report"), "{err}");
    }

    #[test]
    fn the_worst_exit_code_wins() {
        assert_eq!(worst_exit_code([0, 1, 0]), Some(1));
        assert_eq!(worst_exit_code([5, 0]), Some(5));
        assert_eq!(worst_exit_code([1, 2]), Some(2));
        assert_eq!(worst_exit_code([1, 4, 2]), Some(4));
        assert_eq!(worst_exit_code([3, 4]), Some(3));
        assert_eq!(worst_exit_code([]), None);
    }

    #[test]
    fn upstream_statistics_are_summed_and_their_series_share_the_timeline() {
        let upstream = |requests: u64, achieved: f64, start: f64, admitted: &[u64]| {
            serde_json::json!({
                "upstream_url": "http://api", "proxy_url": "http://127.0.0.1:1", "env_var": "X",
                "stats": {"name": "api", "requests": requests, "admitted": requests, "retried": 1,
                          "seen_429": 1, "completed": requests, "success_rate": 1.0,
                          "achieved_rate": achieved, "configured_rate": 5.0,
                          "held_back": [["rate", 1.5]], "notices": []},
                "series": {"start": start, "step": 1.0, "admitted": admitted,
                           "seen_429": vec![0; admitted.len()], "limit": vec![Some(5.0); admitted.len()]},
            })
        };
        let mut one = shard(1, 2, "r", &[]);
        one.upstreams = vec![upstream(10, 4.0, 0.0, &[5, 5])];
        let mut two = shard(2, 2, "r", &[]);
        two.upstreams = vec![upstream(6, 3.0, 0.0, &[6])];
        let merged = merge(vec![at(1, one), at(2, two)]).unwrap();
        assert_eq!(merged.upstreams.len(), 1);
        let stats = &merged.upstreams[0]["stats"];
        assert_eq!(stats["requests"], 16);
        assert_eq!(stats["retried"], 2);
        assert_eq!(stats["seen_429"], 2);
        assert_eq!(stats["achieved_rate"], 7.0);
        assert_eq!(stats["configured_rate"], 5.0);
        assert_eq!(stats["success_rate"], 1.0);
        assert_eq!(stats["held_back"][0][1], 3.0);
        // Shard 2 started 1 s after shard 1: its first bucket is the second.
        let series = &merged.upstreams[0]["series"];
        assert_eq!(series["admitted"], serde_json::json!([5, 11]));
    }
}
