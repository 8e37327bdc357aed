//! `pacer replay [REPORT.json] [TEST]`: the schedule a run recorded (by
//! default the last run's, `store/last_run.rs`), again.
//! Each recorded worker's tests run in their recorded order in one plain
//! pytest process of their own (`order/probe.rs`), all at once, as many
//! processes as the run had workers, with the run's pytest options and
//! pytest-randomly's seed; each process is told its worker's name
//! (`PYTEST_XDIST_WORKER`). With TEST, only the tests that ran before it on
//! its worker, then it, in one process. pacer's pool is not used: a
//! process per worker keeps each worker's order exactly, and nothing
//! between the workers was ordered anyway.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::cli::ReplayArgs;
use crate::error::Error;
use crate::order::probe::{Ended, Probed, Prober};
use crate::order::project::Project;
use crate::order::schedule::{Schedule, Sequence};
use pacer_types::exit;

pub fn replay(args: ReplayArgs) -> Result<i32, Error> {
    let project = Project::find(args.python.clone(), args.directory.clone())?;
    let (report, test) = match args.args.as_slice() {
        [] => (project.last_run()?, None),
        [word] if is_report(word) => (PathBuf::from(word), None),
        [test] => (project.last_run()?, Some(test.clone())),
        [report, test] => (PathBuf::from(report), Some(test.clone())),
        _ => unreachable!("clap takes at most two"),
    };
    let schedule = Schedule::read(&report)?;
    let recorded_failed = schedule.failed();
    let seed = match schedule.report.randomly_seed {
        Some(seed) => format!(", pytest-randomly seed {seed}"),
        None => String::new(),
    };
    let sequences: Vec<Sequence> = match &test {
        Some(test) => {
            let Some((worker, mut before)) = schedule.before(test) else {
                return Err(Error::Order {
                    message: format!("{test} is not a test of the run in {}", report.display()),
                    hint: "pass a node id as the report spells it (its `tests[].id`)".into(),
                });
            };
            println!(
                "pacer replay: {test} and the {} tests {worker} ran before it, in one process{seed}",
                before.len()
            );
            before.push(test.clone());
            vec![Sequence {
                worker: worker.to_string(),
                tests: before,
            }]
        }
        None => {
            println!(
                "pacer replay: {} tests on {} workers, each worker's in its recorded order{seed}",
                schedule.report.tests.len(),
                schedule.sequences.len()
            );
            schedule.sequences.clone()
        }
    };
    let count = sequences.len().to_string();
    let mut probers = Vec::new();
    for sequence in &sequences {
        let mut prober =
            Prober::for_report(project.python.clone(), &schedule.report, &project.root)?;
        prober.env = vec![
            ("PYTEST_XDIST_WORKER".into(), sequence.worker.clone()),
            ("PYTEST_XDIST_WORKER_COUNT".into(), count.clone()),
        ];
        // A worker's whole command is worth printing only when short.
        let shown = match sequence.tests.as_slice() {
            few if few.len() <= 20 => prober.command(few),
            [first, .., last] => format!("{first} ... {last}"),
            _ => String::new(),
        };
        println!(
            "  {}: {} tests: {shown}",
            sequence.worker,
            sequence.tests.len()
        );
        probers.push(prober);
    }
    let results: Vec<Result<Probed, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = sequences
            .iter()
            .zip(&probers)
            .map(|(sequence, prober)| scope.spawn(move || prober.run(&sequence.tests)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a replay thread panicked"))
            .collect()
    });
    let mut ended: HashMap<String, Ended> = HashMap::new();
    for result in results {
        ended.extend(result?.ended);
    }
    // What to say of: TEST, or every test that failed in the recording.
    let watched: Vec<String> = match &test {
        Some(test) => vec![test.clone()],
        None => recorded_failed.clone(),
    };
    let mut failed_now = 0;
    for test in &watched {
        let was = if recorded_failed.contains(test) {
            "failed"
        } else {
            "passed"
        };
        let now = ended.get(test).copied().unwrap_or(Ended::NotRun);
        let line = match now {
            Ended::Failed => {
                failed_now += 1;
                if was == "failed" {
                    "failed again"
                } else {
                    "failed (it passed in the recording)"
                }
            }
            Ended::Passed if was == "failed" => "passed this time (it failed in the recording)",
            Ended::Passed => "passed again",
            Ended::NotRun => "did not run (pytest could not collect it?)",
        };
        println!("{test}: {line}");
    }
    let others: Vec<&String> = ended
        .iter()
        .filter(|(id, e)| **e == Ended::Failed && !watched.contains(id))
        .map(|(id, _)| id)
        .collect();
    if test.is_none() {
        for id in &others {
            println!("{id}: failed (it passed in the recording)");
        }
    }
    let total_failed = ended.values().filter(|e| **e == Ended::Failed).count();
    println!(
        "pacer replay: {} of {} watched tests failed again; {total_failed} failed in all",
        failed_now,
        watched.len()
    );
    Ok(if total_failed > 0 {
        exit::TESTS_FAILED
    } else {
        exit::OK
    })
}

/// Whether `replay`'s one word names a report rather than a test.
fn is_report(word: &str) -> bool {
    word.ends_with(".json") || (!word.contains("::") && Path::new(word).is_file())
}
