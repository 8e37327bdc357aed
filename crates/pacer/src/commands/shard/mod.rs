//! `pacer shard plan N` and `pacer shard verify N`: the suite collected
//! once on the pool (as `pacer list` does, no test run, no proxy), then
//! cut into N parts exactly as each `--shard K/N` run cuts its own
//! (`pacer_runner::shard::keep`, with the same recorded durations).
//! `plan` prints each part's tests, files and predicted time; `verify`
//! computes every part independently, as N machines would, and checks
//! that each selected test is kept by exactly one of them.

use std::collections::HashMap;
use std::io::Write;

use pacer_runner::category::CategorySpec;
use pacer_runner::events::{Event, PlannedTest, Reporter};
use pacer_runner::pool::RunEnd;
use pacer_runner::shard::{self, Part};
use pacer_types::{exit, Outcome};
use serde_json::json;

use crate::cli::{ShardAction, ShardArgs, ShardPlanArgs};
use crate::error::Error;
use crate::session::fallback;
use crate::session::{self, Purpose};
use crate::store::durations;

pub fn shard(args: ShardArgs) -> Result<i32, Error> {
    let (args, check) = match args.action {
        ShardAction::Plan(args) => (args, false),
        ShardAction::Verify(args) => (args, true),
    };
    let selection = match collect(&args)? {
        Ok(selection) => selection,
        Err(code) => return Ok(code),
    };
    Ok(if check {
        verify(&selection, args.parts as usize)
    } else {
        plan(&selection, &args)
    })
}

/// What collection gave: the plan's tests with their categories, and the
/// durations a run would cut by.
struct Selection {
    tests: Vec<PlannedTest>,
    categories: Vec<CategorySpec>,
    durations: HashMap<String, f64>,
    /// Files that did not collect: their tests are in no part.
    errors: Vec<String>,
}

#[derive(Default)]
struct Collector {
    tests: Vec<PlannedTest>,
    categories: Vec<CategorySpec>,
    cache_dir: Option<String>,
    errors: Vec<String>,
}

impl Reporter for Collector {
    fn report(&mut self, event: Event<'_>) {
        match event {
            Event::Started { hello, .. } => self.cache_dir = hello.options.cache_dir.clone(),
            Event::Planned { tests, categories } => {
                self.tests = tests.to_vec();
                self.categories = categories.to_vec();
            }
            Event::Collected { problems, .. } => {
                self.errors = problems
                    .iter()
                    .filter(|p| p.outcome == Outcome::Failed)
                    .map(|p| p.id.clone())
                    .collect();
            }
            Event::Notice { message } => eprintln!("pacer: {message}"),
            Event::WaitWorkers { .. } => {}
            _ => {}
        }
    }
}

/// Collects the selection; `Err(code)` when the pool could not (plain
/// pytest's answer, e.g. `--help`, or a usage error).
fn collect(args: &ShardPlanArgs) -> Result<Result<Selection, i32>, Error> {
    let settings = session::settings(&args.common)?;
    let prepared = session::prepare(
        &settings,
        &args.common,
        args.pytest.pytest_args.clone(),
        Purpose::List,
    )?;
    let mut collector = Collector::default();
    match session::execute(prepared.config, &mut collector) {
        RunEnd::Finished(_) => {}
        other => {
            return fallback::finish(other, &prepared.python, &prepared.cwd, &[], &[]).map(Err)
        }
    }
    // The run reads them the same way (`session/tune.rs`).
    let durations = durations::load(
        &settings.durations_file().value,
        collector.cache_dir.as_deref().map(std::path::Path::new),
    );
    Ok(Ok(Selection {
        tests: collector.tests,
        categories: collector.categories,
        durations,
        errors: collector.errors,
    }))
}

fn plan(selection: &Selection, args: &ShardPlanArgs) -> i32 {
    let count = args.parts as usize;
    let (at, tests) = shard::selection(&selection.tests, &selection.categories);
    let split = shard::split(&tests, &selection.durations, count);
    let selected = at.len();
    let total: f64 = split.parts.iter().map(|p| p.seconds).sum();
    let mut out = std::io::stdout().lock();
    if args.json {
        let parts: Vec<_> = split
            .parts
            .iter()
            .enumerate()
            .map(|(p, stats)| {
                let ids: Vec<&str> = at
                    .iter()
                    .zip(&split.part_of)
                    .filter(|(_, part)| **part == p)
                    .map(|(i, _)| selection.tests[*i].id.as_str())
                    .collect();
                json!({
                    "part": format!("{}/{count}", p + 1),
                    "tests": stats.tests,
                    "files": stats.files,
                    "seconds": stats.seconds,
                    "ids": ids,
                })
            })
            .collect();
        let doc = json!({
            "parts": parts,
            "selected": selected,
            "seconds": total,
            "spread": split.spread(),
            "largest_unit": split.largest_unit,
            "unrecorded": split.unrecorded,
            "estimate": split.estimate,
            "collection_errors": selection.errors,
        });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
        return exit::OK;
    }
    let _ = writeln!(
        out,
        "{selected} selected tests, {total:.1} s predicted, in {count} part{}:",
        if count == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        out,
        "{:>7}  {:>6}  {:>5}  {:>10}",
        "part", "tests", "files", "predicted"
    );
    for (p, stats) in split.parts.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>7}  {:>6}  {:>5}  {:>8.1} s",
            format!("{}/{count}", p + 1),
            stats.tests,
            stats.files,
            stats.seconds
        );
    }
    let _ = writeln!(
        out,
        "spread: {:.1}% of the mean part (the heaviest file or piece: {:.1} s)",
        split.spread() * 100.0,
        split.largest_unit
    );
    if split.unrecorded > 0 {
        let _ = writeln!(
            out,
            "{} tests without a recorded duration, counted as {:.2} s each",
            split.unrecorded, split.estimate
        );
    }
    for id in &selection.errors {
        let _ = writeln!(out, "ERROR collecting {id}: its tests are in no part");
    }
    exit::OK
}

fn verify(selection: &Selection, count: usize) -> i32 {
    // Each part as its own machine computes it, from the same inputs.
    let mut holders: Vec<Vec<usize>> = vec![Vec::new(); selection.tests.len()];
    for index in 1..=count {
        let (kept, _) = shard::keep(
            &selection.tests,
            &selection.categories,
            &selection.durations,
            Part { index, count },
        );
        for (t, kept) in kept.into_iter().enumerate() {
            if kept {
                holders[t].push(index);
            }
        }
    }
    let mut problems = Vec::new();
    let mut selected = 0;
    for (test, parts) in selection.tests.iter().zip(&holders) {
        if test.selected {
            selected += 1;
        }
        match (test.selected, parts.as_slice()) {
            (true, [_]) | (false, []) => {}
            (true, []) => problems.push(format!("{}: in no part", test.id)),
            (true, many) => problems.push(format!("{}: in parts {many:?}", test.id)),
            (false, some) => {
                problems.push(format!("{}: not selected, yet in parts {some:?}", test.id))
            }
        }
    }
    let mut out = std::io::stdout().lock();
    for problem in &problems {
        let _ = writeln!(out, "{problem}");
    }
    if problems.is_empty() {
        let _ = writeln!(
            out,
            "ok: each of the {selected} selected tests is in exactly one of {count} part{}",
            if count == 1 { "" } else { "s" }
        );
        exit::OK
    } else {
        let _ = writeln!(
            out,
            "{} of {selected} selected tests are not in exactly one of {count} parts",
            problems.len()
        );
        exit::TESTS_FAILED
    }
}
