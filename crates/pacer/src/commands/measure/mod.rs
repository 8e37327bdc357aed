//! `pacer measure`: each selected category timed sequentially and in
//! parallel, `--repeat K` times, by running pacer itself with
//! `--category NAME [--sequential] --json-report TMP` and reading the
//! reports. The result goes to `.pacer/perf/<timestamp>.json` and one
//! line of `.pacer/perf/history.jsonl`; `--compare` flags categories that
//! got slower than their repeats' noise (docs/measure.md).
//!
//! `crate::child` builds the children's command lines and times them,
//! `runs` lists the categories and records each run, `schema` is the
//! document and its figures, `history` its files, `compare` the
//! regression rule, `table` what is printed.

mod compare;
mod history;
mod runs;
mod schema;
mod table;

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use pacer_report::RunReport;
use pacer_types::exit;

use crate::child::args as child;
pub(super) use crate::child::Failure;
use crate::cli::MeasureArgs;
use crate::error::Error;
use crate::session;
use schema::{CategoryMeasure, Measurement, ModeMeasure, RunTime};

pub fn measure(args: MeasureArgs) -> Result<i32, Error> {
    let settings = session::settings_noted(&args.common)?;
    match measure_with(&args, &settings) {
        Ok(code) => Ok(code),
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            Ok(failure.code)
        }
    }
}

fn measure_with(args: &MeasureArgs, settings: &pacer_settings::Settings) -> Result<i32, Failure> {
    if args.repeat == 0 {
        return Err(Failure::usage(
            "--repeat 0: nothing would be measured\n\nhint: pass --repeat 1 or more",
        ));
    }
    let root = settings.project_root().to_path_buf();
    let perf_dir = root.join(".pacer/perf");
    // Read before anything is written: the entry to compare with is the
    // one before this measure.
    let previous = match &args.compare {
        None => None,
        Some(path) if path.is_empty() => {
            let history = perf_dir.join("history.jsonl");
            Some(history::last_entry(&history)?.ok_or_else(|| {
                Failure::usage(format!(
                    "--compare: {} has no entry yet\n\nhint: run `pacer measure` once first, or pass --compare=FILE",
                    history.display()
                ))
            })?)
        }
        Some(path) => Some(history::read_measurement(Path::new(path))?),
    };
    let exe = std::env::current_exe()
        .map_err(|e| Failure::internal(format!("cannot find pacer's own binary: {e}")))?;
    let dir = session::start_dir(&args.common);
    let common = child::common_args(&args.common, &dir);
    let pytest_args = &args.pytest.pytest_args;
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);

    let listed = runs::list_categories(&exe, &dir, &common, &args.common, pytest_args)?;
    if listed.is_empty() {
        eprintln!("pacer measure: no selected category has tests");
        return Ok(exit::NO_TESTS_COLLECTED);
    }
    let scratch = crate::child::timed::scratch("measure")?;
    let mut categories = Vec::new();
    let mut versions = (None, None);
    let mut failed_runs = 0;
    // `-n` as the parallel runs used it (pytest's `--maxprocesses` or
    // `--dist` may lower it), else as settings have it.
    let mut parallel_workers = None;
    for listed in &listed {
        let modes: &[bool] = if args.baseline {
            &[true]
        } else {
            &[true, false]
        };
        let mut timed: Vec<(bool, Vec<RunTime>, Vec<RunReport>)> =
            modes.iter().map(|&s| (s, Vec::new(), Vec::new())).collect();
        for repeat in 0..args.repeat {
            // Alternating the order spreads a warm cache or a busy
            // neighbour over both modes instead of favouring one.
            let mut order: Vec<usize> = (0..timed.len()).collect();
            if repeat % 2 == 1 {
                order.reverse();
            }
            for index in order {
                let sequential = timed[index].0;
                let report_path =
                    scratch.path(&runs::report_name(&listed.name, sequential, repeat));
                let argv = child::run_args(&common, &listed.name, sequential, pytest_args);
                let (time, report) = runs::time_run(&exe, &dir, &argv, &report_path)?;
                eprintln!(
                    "pacer measure: {} {} {}/{}: {:.2} s (exit {})",
                    listed.name,
                    mode_name(sequential),
                    repeat + 1,
                    args.repeat,
                    time.wall,
                    time.exit_code
                        .map_or_else(|| "signal".to_string(), |c| c.to_string()),
                );
                if !matches!(time.exit_code, Some(exit::OK)) {
                    failed_runs += 1;
                }
                if !sequential && report.workers > 0 {
                    parallel_workers = Some(report.workers);
                }
                if versions.0.is_none() {
                    versions = (report.python.clone(), report.pytest.clone());
                }
                timed[index].1.push(time);
                timed[index].2.push(report);
            }
        }
        categories.push(category_measure(
            listed,
            parallel_workers.unwrap_or(settings.worker_count()).max(1),
            &common,
            pytest_args,
            timed,
        ));
    }

    let timestamp = schema::rfc3339(started);
    let measurement = Measurement {
        schema: schema::SCHEMA.into(),
        version: schema::VERSION,
        pacer: env!("CARGO_PKG_VERSION").into(),
        python: versions.0,
        pytest: versions.1,
        cores: settings.cores(),
        workers: parallel_workers.unwrap_or(settings.worker_count()).max(1),
        timestamp: timestamp.clone(),
        git_commit: runs::git_commit(&root),
        project: root.display().to_string(),
        baseline: args.baseline,
        repeat: args.repeat,
        pytest_args: pytest_args.clone(),
        categories,
    };
    let written = history::save(&perf_dir, &timestamp, &measurement, args.output.as_deref())?;

    let mut out = std::io::stdout().lock();
    table::print_table(&mut out, &measurement);
    for path in &written {
        let _ = writeln!(out, "wrote {}", path.display());
    }
    if written.iter().any(|p| p.starts_with(&perf_dir)) && !gitignored(&root, &perf_dir) {
        let _ = writeln!(
            out,
            "note: {} is this machine's history; add `.pacer/` to .gitignore",
            perf_dir.display()
        );
    }
    if failed_runs > 0 {
        let _ = writeln!(
            out,
            "note: {failed_runs} run(s) did not pass (their outcome counts are in the JSON); their times may not compare"
        );
    }
    let Some(previous) = previous else {
        return Ok(exit::OK);
    };
    let changes = compare::compare(&previous, &measurement);
    table::print_changes(&mut out, &previous, &changes);
    Ok(if changes.iter().any(|c| c.regressed) {
        exit::TESTS_FAILED
    } else {
        exit::OK
    })
}

pub(super) fn mode_name(sequential: bool) -> &'static str {
    if sequential {
        "sequential"
    } else {
        "parallel"
    }
}

/// One category's figures from its timed runs.
fn category_measure(
    listed: &runs::Listed,
    workers: usize,
    common: &[String],
    pytest_args: &[String],
    timed: Vec<(bool, Vec<RunTime>, Vec<RunReport>)>,
) -> CategoryMeasure {
    let slots = if listed.exclusive {
        1
    } else if listed.kind == "io" {
        listed.max_workers
    } else {
        listed.max_workers.min(workers)
    }
    .max(1);
    let mut sequential = None;
    let mut parallel = None;
    let mut seq_reports = Vec::new();
    let mut upstreams = Vec::new();
    for (is_seq, runs, reports) in timed {
        let mut command = vec!["pacer".to_string()];
        command.extend(child::run_args(common, &listed.name, is_seq, pytest_args));
        let mode = ModeMeasure::new(command, runs);
        if is_seq {
            sequential = Some(mode);
            seq_reports = reports;
        } else {
            if let Some(first) = reports.first() {
                upstreams = schema::upstream_rates(first);
            }
            parallel = Some(mode);
        }
    }
    let sequential = sequential.unwrap_or_else(|| ModeMeasure::new(vec![], vec![]));
    let times = schema::test_times(&seq_reports);
    let (work, longest_test, bound) = schema::bound(&times, slots, &upstreams);
    let speedup = parallel
        .as_ref()
        .filter(|p| p.wall > 0.0)
        .map(|p| sequential.wall / p.wall);
    let efficiency = parallel
        .as_ref()
        .filter(|p| p.wall > 0.0)
        .map(|p| bound / p.wall);
    CategoryMeasure {
        name: listed.name.clone(),
        kind: listed.kind.clone(),
        rate_limited: listed.rate_limited,
        max_workers: listed.max_workers,
        slots,
        tests: listed.tests,
        sequential,
        parallel,
        speedup,
        work,
        longest_test,
        bound,
        efficiency,
        upstreams,
    }
}

/// Whether git ignores `path` in the repository at `root` (no repository,
/// no git: nothing to say).
fn gitignored(root: &std::path::Path, path: &std::path::Path) -> bool {
    if !root.join(".git").exists() {
        return true;
    }
    std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["check-ignore", "-q"])
        .arg(path)
        .status()
        .map(|s| s.success())
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> crate::cli::MeasureArgs {
        let argv = crate::session::argv::split(args.iter().map(Into::into).collect());
        match Cli::try_parse_from(argv).unwrap().command {
            Some(Command::Measure(m)) => m,
            other => panic!("not measure: {other:?}"),
        }
    }

    #[test]
    fn compare_takes_a_file_only_when_attached_so_pytest_args_can_follow() {
        let m = parse(&["pacer", "measure", "--compare", "tests/unit", "-k", "fast"]);
        assert_eq!(m.compare.as_deref(), Some(""));
        assert_eq!(m.pytest.pytest_args, vec!["tests/unit", "-k", "fast"]);
        let m = parse(&[
            "pacer",
            "measure",
            "--unit",
            "--compare=old.json",
            "--repeat",
            "2",
        ]);
        assert_eq!(m.compare.as_deref(), Some("old.json"));
        assert!(m.common.unit && m.repeat == 2 && m.pytest.pytest_args.is_empty());
        assert_eq!(parse(&["pacer", "measure"]).compare, None);
    }
}
