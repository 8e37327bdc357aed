//! `pacer bisect [REPORT.json] TEST`: the smallest set of the tests that
//! ran before TEST on its worker that, run before it in one pytest
//! process, make it fail (delta debugging, `order/bisect.rs`); printed with
//! the plain pytest command that reproduces it, which is run once more,
//! as printed, to prove it fails. Exit codes in docs/order-dependence.md.

use std::path::PathBuf;

use crate::cli::BisectArgs;
use crate::error::Error;
use crate::order::bisect::{self, Bisected, Verdict};
use crate::order::probe::Prober;
use crate::order::project::Project;
use crate::order::schedule::Schedule;

pub fn bisect(args: BisectArgs) -> Result<i32, Error> {
    let project = Project::find(args.python.clone(), args.directory.clone())?;
    let (report, test) = match args.args.as_slice() {
        [report, test] => (PathBuf::from(report), test.clone()),
        [test] => (project.last_run()?, test.clone()),
        _ => unreachable!("clap takes one or two"),
    };
    let schedule = Schedule::read(&report)?;
    let Some((worker, before)) = schedule.before(&test) else {
        let like = schedule.like(&test);
        return Err(Error::Order {
            message: format!("{test} is not a test of the run in {}", report.display()),
            hint: if like.is_empty() {
                "pass a node id as the report spells it (its `tests[].id`)".into()
            } else {
                format!("did you mean {}?", like.join(", "))
            },
        });
    };
    let prober = Prober::for_report(project.python.clone(), &schedule.report, &project.root)?;
    if !schedule.failed_in_recording(&test) {
        eprintln!("pacer bisect: note: {test} did not fail in that run");
    }
    if !args.json {
        eprintln!(
            "pacer bisect: {test} ran on {worker} after {} tests; bisecting them (one pytest process per probe)...",
            before.len()
        );
    }
    let found = bisect::bisect(&prober, &before, &test, false, &[])?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&found).expect("the bisection serializes")
        );
    } else {
        print!("{}", describe(&found, before.len()));
    }
    Ok(found.verdict.exit_code())
}

/// The verdict in words, with the command to run.
pub fn describe(found: &Bisected, before: usize) -> String {
    let mut out = String::new();
    let test = &found.test;
    match found.verdict {
        Verdict::Polluted => {
            out.push_str(&format!(
                "{test} fails after {} of the {before} tests before it:\n",
                found.polluters.len()
            ));
            for p in &found.polluters {
                out.push_str(&format!("  polluter: {p}\n"));
            }
            out.push_str(&format!(
                "reproduce (fails, checked):\n  {}\n",
                found.command
            ));
        }
        Verdict::FailsAlone => out.push_str(&format!(
            "{test} fails alone: not an order problem\n  {}\n",
            found.command
        )),
        Verdict::PassesAnyway => out.push_str(&format!(
            "{test} passes after the {before} tests that ran before it, in one process: it failed beside tests running at the same time on other workers, or it is flaky (try `pacer replay` of the whole run)\n  tried: {}\n",
            found.command
        )),
        Verdict::Flaky => out.push_str(&format!(
            "{test} is flaky: it failed after its polluters while bisecting, but not when checked again\n  tried: {}\n",
            found.command
        )),
    }
    out.push_str(&format!(
        "({} pytest runs, {:.1}s)\n",
        found.runs, found.elapsed
    ));
    out
}
