//! `pacer audit`: the suite run sequentially and on the pool (through
//! `pacer run`, with `PACER_TRACE_TOUCHED=1`), then in other file orders
//! (reversed, and with `--shuffle=K` K seeded shuffles, one pytest process
//! each); the tests whose outcome changes between them are bisected
//! (`order/bisect.rs`) and each gets a line of the fix list: the polluter,
//! the shared resource when the report's `touched` record shows one, the
//! one-line fix (`fixes.rs`). docs/order-dependence.md.

mod fixes;
mod runs;

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

use crate::cli::AuditArgs;
use crate::error::Error;
use crate::order::bisect::{self, Verdict};
use crate::order::probe::Prober;
use crate::session;
use fixes::{Resource, Touched};
use pacer_types::exit;
use runs::AuditRun;

/// One order-dependent test, and what to do about it.
#[derive(Debug, Serialize)]
struct Finding {
    test: String,
    /// `polluted` (earlier tests make it fail), `needs_earlier` (it passes
    /// only after some test), `concurrent` (it fails only beside others),
    /// `flaky` (it fails and passes in the same order).
    kind: &'static str,
    /// The runs it failed in, and those it passed in.
    failed_in: Vec<String>,
    passed_in: Vec<String>,
    /// The polluters, the tests it needs first, or those beside it.
    culprits: Vec<String>,
    resources: Vec<Resource>,
    fix: String,
    /// A one-process pytest command that fails (checked), when there is one.
    command: Option<String>,
    /// pytest processes its bisection ran, and its seconds.
    runs: usize,
    elapsed: f64,
}

#[derive(Debug, Serialize)]
struct RunSummary {
    name: String,
    elapsed: f64,
    tests: usize,
    failed: usize,
}

#[derive(Debug, Serialize)]
struct Audit {
    seed: u64,
    runs: Vec<RunSummary>,
    findings: Vec<Finding>,
    elapsed: f64,
}

pub fn audit(args: AuditArgs) -> Result<i32, Error> {
    let started = Instant::now();
    let settings = session::settings(&args.common)?;
    let python = settings.python().value.clone();
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let passthrough = runs::passthrough(&raw);
    let scratch =
        crate::scratch::Scratch::new("audit").map_err(|source| Error::Plugin { source })?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let say = |line: String| eprintln!("pacer audit: {line}");

    let mut all: Vec<AuditRun> = Vec::new();
    for (name, sequential) in [("sequential", true), ("parallel", false)] {
        let run = runs::through_pacer(name, &passthrough, sequential, scratch.dir())?;
        say(format!(
            "{name} run: {} tests, {} failed, {:.1}s",
            run.failed.len(),
            run.failed.values().filter(|f| **f).count(),
            run.elapsed
        ));
        all.push(run);
    }
    let sequential = all[0].schedule.clone().expect("a pacer run has a report");
    let order: Vec<String> = sequential
        .sequences
        .iter()
        .flat_map(|s| s.tests.iter().cloned())
        .collect();
    let prober = Prober::for_report(python.clone(), &sequential.report, settings.project_root())?;
    let rounds = 1 + args.shuffle.unwrap_or(0);
    for round in 0..rounds {
        let name = if round == 0 {
            "reversed".to_string()
        } else {
            format!("shuffled {round}")
        };
        let run = runs::in_order(&name, &prober, &runs::file_order(&order, seed, round))?;
        say(format!(
            "{name} file order{}: {} failed, {:.1}s",
            if round == 0 {
                String::new()
            } else {
                format!(" (seed {seed})")
            },
            run.failed.values().filter(|f| **f).count(),
            run.elapsed
        ));
        all.push(run);
    }

    // What each pacer run saw each test touch.
    let mut touched: HashMap<String, Touched> = HashMap::new();
    for run in &all {
        for (id, t) in &run.touched {
            fixes::add(touched.entry(id.clone()).or_default(), t);
        }
    }

    let mut findings = Vec::new();
    // Polluter sets found so far, tried first for the next tests.
    let mut known: Vec<Vec<String>> = Vec::new();
    for test in &order {
        let failed_in: Vec<&AuditRun> = all
            .iter()
            .filter(|r| r.failed.get(test) == Some(&true))
            .collect();
        let passed_in: Vec<&AuditRun> = all
            .iter()
            .filter(|r| r.failed.get(test) == Some(&false))
            .collect();
        if failed_in.is_empty() || passed_in.is_empty() {
            continue;
        }
        // Bisect in a run that ran in one process first: its order is one
        // process's; the pool's run last.
        let failing = failed_in
            .iter()
            .find(|r| r.name != "parallel")
            .unwrap_or(&failed_in[0]);
        say(format!(
            "{test} failed in the {} run; bisecting...",
            failing.name
        ));
        let before = failing.before.get(test).cloned().unwrap_or_default();
        // A reordered run was one pytest process: its failure after `before`
        // is already seen. The pool's run was not (other workers ran beside).
        let seen = failing.schedule.is_none();
        let found = bisect::bisect(&prober, &before, test, seen, &known)?;
        if found.verdict == Verdict::Polluted && !known.contains(&found.polluters) {
            known.push(found.polluters.clone());
        }
        let names = |rs: &[&AuditRun]| rs.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        let mut finding = Finding {
            test: test.clone(),
            kind: "flaky",
            failed_in: names(&failed_in),
            passed_in: names(&passed_in),
            culprits: Vec::new(),
            resources: Vec::new(),
            fix: String::new(),
            command: None,
            runs: found.runs,
            elapsed: found.elapsed,
        };
        match found.verdict {
            Verdict::Polluted => {
                finding.kind = "polluted";
                // The sequential run's record first: one process, the same
                // order every time, so the same resources (a pool's worker
                // may also be charged its session fixtures' first setup).
                let mut resources = Vec::new();
                for p in &found.polluters {
                    let record = all[0].touched.get(p).or_else(|| touched.get(p));
                    if let Some(t) = record {
                        resources.extend(fixes::resources(t));
                    }
                }
                let first = found.polluters.first().cloned().unwrap_or_default();
                finding.fix = fixes::for_polluter(&first, test, resources.first());
                finding.culprits = found.polluters.clone();
                finding.resources = resources;
                finding.command = Some(found.command.clone());
            }
            Verdict::FailsAlone => {
                finding.kind = "needs_earlier";
                let passing = passed_in[0];
                let before = passing.before.get(test).cloned().unwrap_or_default();
                let t0 = Instant::now();
                let runs0 = prober.runs();
                let setters = bisect::setters(&prober, &before, test)?;
                finding.runs += prober.runs() - runs0;
                finding.elapsed += t0.elapsed().as_secs_f64();
                for s in &setters {
                    let record = all[0].touched.get(s).or_else(|| touched.get(s));
                    if let Some(t) = record {
                        finding.resources.extend(fixes::resources(t));
                    }
                }
                finding.fix = fixes::for_dependent(test, &setters);
                finding.culprits = setters;
                finding.command = Some(found.command.clone());
            }
            Verdict::PassesAnyway if failing.name == "parallel" => {
                finding.kind = "concurrent";
                let beside = beside(failing, test);
                let mine = touched.get(test).map(fixes::resources).unwrap_or_default();
                let shared = beside
                    .iter()
                    .filter_map(|b| touched.get(b))
                    .flat_map(fixes::resources)
                    .find(|r| mine.contains(r));
                finding.fix = fixes::for_concurrent(test, &beside, shared.as_ref());
                finding.resources = shared.into_iter().collect();
                finding.culprits = beside;
            }
            Verdict::PassesAnyway | Verdict::Flaky => {
                finding.fix = format!(
                    "{test} failed and passed in the same order: flaky, not order-dependent (find its own randomness or timing)"
                );
            }
        }
        findings.push(finding);
    }

    let audit = Audit {
        seed,
        runs: all
            .iter()
            .map(|r| RunSummary {
                name: r.name.clone(),
                elapsed: r.elapsed,
                tests: r.failed.len(),
                failed: r.failed.values().filter(|f| **f).count(),
            })
            .collect(),
        elapsed: started.elapsed().as_secs_f64(),
        findings,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&audit).expect("the audit serializes")
        );
    } else {
        print!("{}", describe(&audit));
    }
    Ok(if audit.findings.is_empty() {
        exit::OK
    } else {
        exit::TESTS_FAILED
    })
}

/// The tests another worker ran while `test` ran, in the pool's run.
fn beside(run: &AuditRun, test: &str) -> Vec<String> {
    let Some(schedule) = &run.schedule else {
        return Vec::new();
    };
    let tests = &schedule.report.tests;
    let Some(me) = tests.iter().find(|t| t.id == test) else {
        return Vec::new();
    };
    tests
        .iter()
        .filter(|t| t.worker != me.worker && t.start < me.end && me.start < t.end)
        .map(|t| t.id.clone())
        .collect()
}

fn describe(audit: &Audit) -> String {
    let mut out = String::new();
    let runs: Vec<String> = audit
        .runs
        .iter()
        .map(|r| format!("{} {:.1}s", r.name, r.elapsed))
        .collect();
    out.push_str(&format!(
        "runs: {} (shuffle seed {})\n",
        runs.join(", "),
        audit.seed
    ));
    if audit.findings.is_empty() {
        out.push_str("no order-dependent test: every test ended the same in every run\n");
    } else {
        out.push_str(&format!(
            "{} order-dependent tests:\n",
            audit.findings.len()
        ));
    }
    for f in &audit.findings {
        let what = match f.kind {
            "polluted" => format!("fails after {}", f.culprits.join(", ")),
            "needs_earlier" if f.culprits.is_empty() => {
                "fails alone, passed in some orders".to_string()
            }
            "needs_earlier" => format!("passes only after {}", f.culprits.join(", ")),
            "concurrent" => "fails only beside other tests".to_string(),
            _ => "flaky".to_string(),
        };
        out.push_str(&format!(
            "\n{}\n  {what} (failed in: {}; passed in: {})\n",
            f.test,
            f.failed_in.join(", "),
            f.passed_in.join(", ")
        ));
        for r in &f.resources {
            out.push_str(&format!("  shared: {}\n", r.shown()));
        }
        out.push_str(&format!("  fix: {}\n", f.fix));
        if let Some(command) = &f.command {
            out.push_str(&format!("  reproduce: {command}\n"));
        }
    }
    out.push_str(&format!("\naudit took {:.1}s\n", audit.elapsed));
    out
}
