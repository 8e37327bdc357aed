//! `pacer try`: does my suite give the same results under pacer, and how
//! much faster? The selection runs with plain `python -m pytest` (the same
//! interpreter and arguments, sequential, each test's outcome read through
//! `crate::child::plain`'s plugin) and with pacer (a normal run of the same
//! options, read from its `--json-report`), `--repeat K` times each,
//! alternating which goes first; then every test's outcome is compared
//! (`compare`), and the verdict printed (`verdict`, docs/try.md). Exit 0
//! when the outcomes agree, 1 when a test differs.

mod compare;
mod verdict;

use std::io::Write;

use pacer_report::RunReport;
use pacer_types::exit;

use crate::child::{self, args as child_args, plain, timed, Failure};
use crate::cli::TryArgs;
use crate::error::Error;
use crate::session::{self, Purpose};
use compare::{Run, Seen};
use verdict::{Durations, Side, Verdict, Warm};

pub fn try_run(args: TryArgs) -> Result<i32, Error> {
    let settings = session::settings_noted(&args.common)?;
    let prepared = session::prepare(
        &settings,
        &args.common,
        args.pytest.pytest_args.clone(),
        Purpose::Run,
    )?;
    match try_with(&args, &settings, &prepared) {
        Ok(code) => Ok(code),
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            Ok(failure.code)
        }
    }
}

fn try_with(
    args: &TryArgs,
    settings: &pacer_settings::Settings,
    prepared: &session::Prepared,
) -> Result<i32, Failure> {
    if args.repeat == 0 {
        return Err(Failure::usage(
            "--repeat 0: nothing would be compared\n\nhint: pass --repeat 1 or more",
        ));
    }
    let pytest_args = &args.pytest.pytest_args;
    if let Some(mode) = session::fallback::non_running_mode(pytest_args) {
        return Err(Failure::usage(format!(
            "`{mode}` runs no tests, so there is nothing to compare\n\nhint: run `pacer {mode}` or `pytest {mode}` instead"
        )));
    }
    let exe = std::env::current_exe()
        .map_err(|e| Failure::internal(format!("cannot find pacer's own binary: {e}")))?;
    let dir = session::start_dir(&args.common);
    let selection = child_args::selection_args(&args.common);
    let mut pacer_argv = child_args::common_args(&args.common, &dir);
    pacer_argv.extend(selection.iter().cloned());
    if args.common.sequential {
        pacer_argv.push("--sequential".into());
    }
    let pacer_argv = child_args::with_pytest_args(pacer_argv, pytest_args);
    let plain_env: Vec<(String, String)> = settings
        .worker_env()
        .iter()
        .map(|v| (v.name.clone(), v.value.clone()))
        .collect();
    // What pacer knew before its first run; pytest's cache folder is taken
    // at its default place, the project's `.pytest_cache`.
    let known = crate::store::durations::load(
        &settings.durations_file().value,
        Some(&settings.project_root().join(".pytest_cache")),
    );

    let scratch = timed::scratch("try")?;
    let mut pytest_runs: Vec<Run> = Vec::new();
    let mut pacer_runs: Vec<Run> = Vec::new();
    let mut pytest_side = side(plain_command(&prepared.python, &prepared.pytest_args));
    let mut pacer_side = side(
        std::iter::once("pacer".to_string())
            .chain(pacer_argv.iter().cloned())
            .collect(),
    );
    let mut durations = None;
    for repeat in 0..args.repeat {
        // Alternating who goes first spreads a warm disk cache or a busy
        // neighbour over both sides instead of favouring one.
        let pacer_first = repeat % 2 == 1;
        for pacer_turn in [pacer_first, !pacer_first] {
            if pacer_turn {
                let path = scratch.path(&format!("pacer-{repeat}.json"));
                let run = timed::time_run(&exe, &dir, &pacer_argv, &path, &[])?;
                progress("pacer", repeat, args.repeat, run.wall, run.exit_code);
                let seen = pacer_seen(&run.report);
                if let (Some(keep), None) = (&args.pacer_report, &durations) {
                    keep_report(&path, keep)?;
                }
                durations.get_or_insert_with(|| Durations {
                    recorded: run
                        .report
                        .tests
                        .iter()
                        .filter(|t| known.contains_key(&t.id))
                        .count(),
                    tests: run.report.tests.len(),
                    recorded_after: 0,
                });
                pacer_side.workers = Some(run.report.workers);
                record(&mut pacer_side, run.wall, run.exit_code);
                pacer_runs.push(seen);
            } else {
                let run = plain::run(
                    &prepared.python,
                    &prepared.cwd,
                    &prepared.pytest_args,
                    &plain_env,
                    &scratch,
                    &format!("pytest-{repeat}.jsonl"),
                )?;
                progress("plain pytest", repeat, args.repeat, run.wall, run.exit_code);
                record(&mut pytest_side, run.wall, run.exit_code);
                pytest_runs.push(
                    run.outcomes
                        .into_values()
                        .map(|o| {
                            (
                                o.id,
                                Seen {
                                    outcome: o.outcome,
                                    message: o.message,
                                    worker: None,
                                    position: Some(o.position),
                                },
                            )
                        })
                        .collect(),
                );
            }
        }
    }
    let warm = if args.warm {
        let path = scratch.path("pacer-warm.json");
        let run = timed::time_run(&exe, &dir, &pacer_argv, &path, &[])?;
        eprintln!(
            "pacer try: pacer, warm: {:.2} s ({})",
            run.wall,
            child::describe(run.exit_code)
        );
        Some(Warm {
            wall: run.wall,
            speedup: ratio(compare::median(&pytest_side.walls), run.wall),
            exit_code: run.exit_code,
        })
    } else {
        None
    };

    if let Some(d) = durations.as_mut() {
        let now = crate::store::durations::load(
            &settings.durations_file().value,
            Some(&settings.project_root().join(".pytest_cache")),
        );
        let ids = pacer_runs.first().map(|r| r.keys().collect::<Vec<_>>());
        d.recorded_after = ids
            .unwrap_or_default()
            .into_iter()
            .filter(|id| now.contains_key(*id))
            .count();
    }
    let ignore_pytest_only = !selection.is_empty() && !args.common.all;
    let comparison = compare::compare(&pytest_runs, &pacer_runs, ignore_pytest_only);
    pytest_side.wall = compare::median(&pytest_side.walls);
    pacer_side.wall = compare::median(&pacer_side.walls);
    let verdict = Verdict {
        schema: verdict::SCHEMA,
        version: verdict::VERSION,
        verdict: if comparison.differences.is_empty() {
            "same"
        } else {
            "different"
        },
        repeat: args.repeat,
        speedup: ratio(pytest_side.wall, pacer_side.wall),
        comparison,
        pytest: pytest_side,
        pacer: pacer_side,
        durations: durations.unwrap_or(Durations {
            recorded: 0,
            tests: 0,
            recorded_after: 0,
        }),
        warm,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&verdict).unwrap_or_default()
        );
    } else {
        verdict::print(&mut out, &verdict);
    }
    Ok(if verdict.comparison.tests == 0 {
        eprintln!("pacer try: neither plain pytest nor pacer ran a test");
        exit::NO_TESTS_COLLECTED
    } else if verdict.same() {
        exit::OK
    } else {
        exit::TESTS_FAILED
    })
}

/// Copies the first pacer run's report where `--pacer-report` asked.
fn keep_report(from: &std::path::Path, to: &std::path::Path) -> Result<(), Failure> {
    if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::copy(from, to).map(|_| ()).map_err(|e| {
        Failure::usage(format!(
            "--pacer-report {}: cannot write it: {e}\n\nhint: pass a path in a writable folder",
            to.display()
        ))
    })
}

fn side(command: Vec<String>) -> Side {
    Side {
        command,
        walls: Vec::new(),
        wall: 0.0,
        exit_codes: Vec::new(),
        workers: None,
    }
}

fn record(side: &mut Side, wall: f64, code: Option<i32>) {
    side.walls.push(wall);
    side.exit_codes.push(code);
}

fn ratio(before: f64, after: f64) -> Option<f64> {
    (after > 0.0).then(|| before / after)
}

fn plain_command(python: &std::path::Path, pytest_args: &[String]) -> Vec<String> {
    let mut command = vec![python.display().to_string(), "-m".into(), "pytest".into()];
    command.extend(pytest_args.iter().cloned());
    command
}

fn progress(who: &str, repeat: usize, of: usize, wall: f64, code: Option<i32>) {
    eprintln!(
        "pacer try: {who} {}/{of}: {wall:.2} s ({})",
        repeat + 1,
        child::describe(code)
    );
}

/// What pacer's report says of each test and of each file that did not
/// collect, in the words plain pytest's side uses.
fn pacer_seen(report: &RunReport) -> Run {
    let mut run = Run::new();
    // The report lists tests in the order they started: a test's place on
    // its worker is how many of that worker's came before it.
    let mut per_worker: std::collections::HashMap<&str, usize> = Default::default();
    for test in &report.tests {
        let message = test.message.clone().or_else(|| test.output.clone());
        let place = per_worker.entry(test.worker.as_str()).or_default();
        *place += 1;
        run.insert(
            test.id.clone(),
            Seen {
                outcome: test.outcome.to_string(),
                message,
                worker: Some(test.worker.clone()),
                position: Some(*place),
            },
        );
    }
    for problem in &report.collection {
        let outcome = serde_json::to_value(problem.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "error".into());
        run.insert(
            problem.id.clone(),
            Seen {
                outcome,
                message: Some(problem.output.clone()),
                worker: None,
                position: None,
            },
        );
    }
    run
}
