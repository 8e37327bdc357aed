//! `pacer measure`: each selected category timed sequentially and in
//! parallel, `--repeat K` times, by running pacer itself with
//! `--category NAME [--sequential] --json-report TMP` and reading the
//! reports. The result goes to `.pacer/perf/<timestamp>.json` and one
//! line of `.pacer/perf/history.jsonl`; `--compare` flags categories that
//! got slower than their repeats' noise (docs/measure.md).

mod child;
mod compare;
mod schema;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use pacer_report::RunReport;
use pacer_types::exit;
use serde_json::Value;

use crate::cli::MeasureArgs;
use crate::error::Error;
use schema::{CategoryMeasure, Measurement, ModeMeasure, RunTime};

/// A problem that ends the measure: printed as pacer prints errors, with
/// the exit code it ends with.
struct Failure {
    message: String,
    code: i32,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: exit::USAGE_ERROR,
        }
    }
    fn internal(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: exit::INTERNAL_ERROR,
        }
    }
}

pub fn measure(args: MeasureArgs) -> Result<i32, Error> {
    let settings = super::settings(&args.common)?;
    for note in settings.notes() {
        eprintln!("pacer: {note}");
    }
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
            Some(last_entry(&history)?.ok_or_else(|| {
                Failure::usage(format!(
                    "--compare: {} has no entry yet\n\nhint: run `pacer measure` once first, or pass --compare=FILE",
                    history.display()
                ))
            })?)
        }
        Some(path) => Some(read_measurement(Path::new(path))?),
    };
    let exe = std::env::current_exe()
        .map_err(|e| Failure::internal(format!("cannot find pacer's own binary: {e}")))?;
    let dir = super::start_dir(&args.common);
    let common = child::common_args(&args.common, &dir);
    let pytest_args = &args.pytest.pytest_args;
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);

    let listed = list_categories(&exe, &dir, &common, &args.common, pytest_args)?;
    if listed.is_empty() {
        eprintln!("pacer measure: no selected category has tests");
        return Ok(exit::NO_TESTS_COLLECTED);
    }
    let scratch = Scratch::new()?;
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
                let report_path = scratch.path(&listed.name, sequential, repeat);
                let argv = run_args(&common, &listed.name, sequential, pytest_args);
                let (time, report) = time_run(&exe, &dir, &argv, &report_path)?;
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
        git_commit: git_commit(&root),
        project: root.display().to_string(),
        baseline: args.baseline,
        repeat: args.repeat,
        pytest_args: pytest_args.clone(),
        categories,
    };
    let written = save(&perf_dir, &timestamp, &measurement, args.output.as_deref())?;

    let mut out = std::io::stdout().lock();
    print_table(&mut out, &measurement);
    for path in &written {
        let _ = writeln!(out, "wrote {}", path.display());
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
    print_changes(&mut out, &previous, &changes);
    Ok(if changes.iter().any(|c| c.regressed) {
        exit::TESTS_FAILED
    } else {
        exit::OK
    })
}

fn describe(code: Option<i32>) -> String {
    code.map_or_else(
        || "killed by a signal".to_string(),
        |c| format!("exit code {c}"),
    )
}

fn mode_name(sequential: bool) -> &'static str {
    if sequential {
        "sequential"
    } else {
        "parallel"
    }
}

/// A selected category with tests, as `pacer list --json` gives it.
struct Listed {
    name: String,
    kind: String,
    rate_limited: bool,
    exclusive: bool,
    max_workers: usize,
    tests: usize,
}

/// The selected categories that have tests, from `pacer list --json`
/// with the user's selection and pytest arguments.
fn list_categories(
    exe: &Path,
    dir: &Path,
    common: &[String],
    user: &crate::cli::CommonArgs,
    pytest_args: &[String],
) -> Result<Vec<Listed>, Failure> {
    let mut argv = vec!["list".to_string(), "--json".to_string()];
    argv.extend(common.iter().cloned());
    argv.extend(child::selection_args(user));
    let argv = child::with_pytest_args(argv, pytest_args);
    let output = Command::new(exe)
        .args(&argv)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Failure::internal(format!("cannot run `pacer list`: {e}")))?;
    let doc: Value = serde_json::from_slice(&output.stdout).map_err(|_| Failure {
        message: format!(
            "`pacer {}` failed ({}):\n{}",
            argv.join(" "),
            describe(output.status.code()),
            String::from_utf8_lossy(&output.stderr).trim_end()
        ),
        code: output
            .status
            .code()
            .filter(|&c| c != exit::OK)
            .unwrap_or(exit::INTERNAL_ERROR),
    })?;
    if let Some(errors) = doc["collection_errors"]
        .as_array()
        .filter(|e| !e.is_empty())
    {
        let ids: Vec<&str> = errors.iter().filter_map(|e| e["id"].as_str()).collect();
        return Err(Failure {
            message: format!(
                "the suite has collection errors ({}); measuring it would time the errors\n\nhint: run `pacer list` to see them",
                ids.join(", ")
            ),
            code: exit::INTERRUPTED,
        });
    }
    let categories = doc["categories"].as_array().cloned().unwrap_or_default();
    Ok(categories
        .iter()
        .filter(|c| c["selected"].as_bool() == Some(true) && c["count"].as_u64() > Some(0))
        .map(|c| Listed {
            name: c["name"].as_str().unwrap_or_default().to_string(),
            kind: c["kind"].as_str().unwrap_or("cpu").to_string(),
            rate_limited: c["rate_limited"].as_bool().unwrap_or(false),
            exclusive: c["exclusive"].as_bool().unwrap_or(false),
            max_workers: c["max_workers"].as_u64().unwrap_or(1) as usize,
            tests: c["count"].as_u64().unwrap_or(0) as usize,
        })
        .collect())
}

/// A child's options: the user's, then the category and the mode.
fn run_args(
    common: &[String],
    category: &str,
    sequential: bool,
    pytest_args: &[String],
) -> Vec<String> {
    let mut argv = common.to_vec();
    argv.push(format!("--category={category}"));
    if sequential {
        argv.push("--sequential".into());
    }
    child::with_pytest_args(argv, pytest_args)
}

/// Runs one child pacer with `--json-report`, timing it from spawn to exit.
fn time_run(
    exe: &Path,
    dir: &Path,
    argv: &[String],
    report_path: &Path,
) -> Result<(RunTime, RunReport), Failure> {
    let _ = std::fs::remove_file(report_path);
    let mut full = vec![format!("--json-report={}", report_path.display())];
    full.extend(argv.iter().cloned());
    let start = Instant::now();
    let output = Command::new(exe)
        .args(&full)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Failure::internal(format!("cannot run pacer: {e}")))?;
    let wall = start.elapsed().as_secs_f64();
    let code = output.status.code();
    let report: RunReport = match std::fs::read_to_string(report_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
    {
        Some(report) => report,
        None => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stdout = String::from_utf8_lossy(&output.stdout);
            let tail: Vec<&str> = stdout.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(Failure {
                message: format!(
                    "`pacer {}` ended ({}) without a run report, so it cannot be timed:\n{}\n{}",
                    argv.join(" "),
                    describe(code),
                    tail.join("\n"),
                    stderr.trim_end()
                ),
                code: code
                    .filter(|&c| c != exit::OK && c != exit::TESTS_FAILED)
                    .unwrap_or(exit::INTERNAL_ERROR),
            });
        }
    };
    let time = RunTime {
        wall,
        elapsed: report.elapsed,
        exit_code: code,
        counts: report.counts.clone(),
    };
    Ok((time, report))
}

/// One category's figures from its timed runs.
fn category_measure(
    listed: &Listed,
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
        command.extend(run_args(common, &listed.name, is_seq, pytest_args));
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

/// A folder for the children's reports, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self, Failure> {
        let dir = std::env::temp_dir().join(format!("pacer-measure-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| {
            Failure::internal(format!(
                "cannot create {}: {e}\n\nhint: set TMPDIR to a writable folder",
                dir.display()
            ))
        })?;
        Ok(Scratch(dir))
    }
    fn path(&self, category: &str, sequential: bool, repeat: usize) -> PathBuf {
        let safe: String = category
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        self.0
            .join(format!("{safe}-{}-{repeat}.json", mode_name(sequential)))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn git_commit(root: &Path) -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// Writes `<timestamp>.json`, the history line and `--output`; returns the
/// files written besides the history.
fn save(
    perf_dir: &Path,
    timestamp: &str,
    measurement: &Measurement,
    output: Option<&Path>,
) -> Result<Vec<PathBuf>, Failure> {
    let cannot = |path: &Path, e: std::io::Error| {
        Failure::internal(format!(
            "cannot write {}: {e}\n\nhint: make the folder writable",
            path.display()
        ))
    };
    std::fs::create_dir_all(perf_dir).map_err(|e| cannot(perf_dir, e))?;
    let pretty = serde_json::to_string_pretty(measurement).unwrap_or_default() + "\n";
    // `:` is not allowed in Windows file names, and two measures in one
    // second must not overwrite each other.
    let stem = timestamp.replace(':', "-");
    let mut file = perf_dir.join(format!("{stem}.json"));
    let mut n = 1;
    while file.exists() {
        n += 1;
        file = perf_dir.join(format!("{stem}-{n}.json"));
    }
    std::fs::write(&file, &pretty).map_err(|e| cannot(&file, e))?;
    let history = perf_dir.join("history.jsonl");
    let line = serde_json::to_string(measurement).unwrap_or_default() + "\n";
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&history)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| cannot(&history, e))?;
    let mut written = vec![file];
    if let Some(path) = output {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| cannot(parent, e))?;
        }
        std::fs::write(path, &pretty).map_err(|e| cannot(path, e))?;
        written.push(path.to_path_buf());
    }
    Ok(written)
}

/// The last entry of a history file, if it has one.
fn last_entry(history: &Path) -> Result<Option<Measurement>, Failure> {
    let text = match std::fs::read_to_string(history) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::usage(format!(
                "--compare: {}: {e}",
                history.display()
            )))
        }
    };
    let Some((index, line)) = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .last()
    else {
        return Ok(None);
    };
    parse_measurement(line, &format!("{}:{}", history.display(), index + 1)).map(Some)
}

/// `--compare=FILE`: a measure's JSON, or a history file (its last entry).
fn read_measurement(path: &Path) -> Result<Measurement, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(format!(
            "--compare={}: {e}\n\nhint: pass a file `pacer measure` wrote (.pacer/perf/*.json or history.jsonl)",
            path.display()
        ))
    })?;
    if path.extension().is_some_and(|e| e == "jsonl") {
        return last_entry(path)?.ok_or_else(|| {
            Failure::usage(format!("--compare={}: no entry in it", path.display()))
        });
    }
    parse_measurement(&text, &path.display().to_string())
}

fn parse_measurement(text: &str, origin: &str) -> Result<Measurement, Failure> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Failure::usage(format!("--compare: {origin}: not JSON: {e}")))?;
    if value["schema"] != schema::SCHEMA || value["version"] != schema::VERSION {
        return Err(Failure::usage(format!(
            "--compare: {origin}: not a `{}` version {} document\n\nhint: pass a file `pacer measure` wrote",
            schema::SCHEMA,
            schema::VERSION
        )));
    }
    serde_json::from_value(value).map_err(|e| Failure::usage(format!("--compare: {origin}: {e}")))
}

fn secs(s: f64) -> String {
    format!("{s:.2} s")
}

fn print_table(out: &mut dyn Write, m: &Measurement) {
    let _ = writeln!(
        out,
        "pacer measure: {} worker(s), {} core(s), {} repeat(s){}",
        m.workers,
        m.cores,
        m.repeat,
        if m.baseline { ", sequential only" } else { "" }
    );
    let width = m
        .categories
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0)
        .max("category".len());
    let _ = writeln!(
        out,
        "{:<width$}  {:>5}  {:>10}  {:>10}  {:>7}  {:>9}  {:>10}",
        "category", "tests", "sequential", "parallel", "speedup", "bound", "efficiency"
    );
    for c in &m.categories {
        let dash = || "-".to_string();
        let _ = writeln!(
            out,
            "{:<width$}  {:>5}  {:>10}  {:>10}  {:>7}  {:>9}  {:>10}",
            c.name,
            c.tests,
            secs(c.sequential.wall),
            c.parallel.as_ref().map_or_else(dash, |p| secs(p.wall)),
            c.speedup.map_or_else(dash, |s| format!("{s:.2}x")),
            secs(c.bound),
            c.efficiency
                .map_or_else(dash, |e| format!("{:.0}%", e * 100.0)),
        );
        for u in &c.upstreams {
            let _ = writeln!(
                out,
                "  {}: {} requests, {:.2} req/s achieved of {:.2} configured",
                u.name, u.requests, u.achieved_rate, u.configured_rate
            );
        }
    }
}

fn print_changes(out: &mut dyn Write, previous: &Measurement, changes: &[compare::Change]) {
    let _ = writeln!(
        out,
        "compared with the measure of {}{}:",
        previous.timestamp,
        previous
            .git_commit
            .as_deref()
            .map(|c| format!(" (commit {})", &c[..c.len().min(12)]))
            .unwrap_or_default()
    );
    if changes.is_empty() {
        let _ = writeln!(out, "  no category was measured both times");
    }
    for c in changes {
        let _ = writeln!(
            out,
            "  {} {}: {} -> {} ({:+.0}%, noise {:.0}%){}",
            c.category,
            c.mode,
            secs(c.before),
            secs(c.after),
            c.ratio() * 100.0,
            c.threshold * 100.0,
            if c.regressed { "  SLOWER" } else { "" }
        );
    }
    let slower = changes.iter().filter(|c| c.regressed).count();
    if slower > 0 {
        let _ = writeln!(out, "{slower} regression(s) beyond the noise");
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> crate::cli::MeasureArgs {
        let argv = crate::argv::split(args.iter().map(Into::into).collect());
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
