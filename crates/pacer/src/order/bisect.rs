//! Bisecting one test's order dependence: which of the tests that ran
//! before it (on its worker) make it fail, by delta debugging over one
//! pytest process per probe; and, for a test that fails alone but passed
//! in some order, which earlier tests it needs (`setters`).

use std::time::Instant;

use serde::Serialize;

use super::ddmin::minimal;
use super::probe::{Ended, Prober};
use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Some earlier tests make it fail: `polluters`, and a command that fails.
    Polluted,
    /// It fails with nothing before it: not an order problem.
    FailsAlone,
    /// It passes after every test that ran before it, in one process:
    /// the failure needs running beside others, or it is flaky.
    PassesAnyway,
    /// The polluters found did not make it fail again: it is flaky.
    Flaky,
}

impl Verdict {
    /// `pacer bisect`'s exit code (docs/order-dependence.md): 0 when the
    /// failure is explained (a command that fails), 1 when it is not.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Polluted | Verdict::FailsAlone => pacer_types::exit::OK,
            Verdict::PassesAnyway | Verdict::Flaky => pacer_types::exit::TESTS_FAILED,
        }
    }
}

/// `pacer bisect --json`'s object (docs/order-dependence.md).
#[derive(Debug, Clone, Serialize)]
pub struct Bisected {
    pub test: String,
    pub verdict: Verdict,
    pub polluters: Vec<String>,
    /// The one-process pytest command that reproduces the failure (for
    /// `passes_anyway` and `flaky`, the one that was tried and passed).
    pub command: String,
    /// pytest processes run.
    pub runs: usize,
    /// Seconds.
    pub elapsed: f64,
    /// pytest ran the tests in another order than asked (a plugin's
    /// collection hook): the verdict may not hold for the recorded order.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reordered: bool,
}

/// Finds the smallest set of `before` (in order) after which `test` fails.
/// `seen_failing`: one pytest process already ran `before` then `test` and
/// it failed (an audit's reordered run), so that probe is not run again.
/// `known`: polluter sets found for other tests (an audit's), tried first
/// when all of a set ran before `test`: one polluter often has many victims.
pub fn bisect(
    prober: &Prober,
    before: &[String],
    test: &str,
    seen_failing: bool,
    known: &[Vec<String>],
) -> Result<Bisected, Error> {
    let started = Instant::now();
    let runs0 = prober.runs();
    let test_id = test.to_string();
    let with = |set: &[String]| -> Vec<String> {
        let mut ids = set.to_vec();
        ids.push(test_id.clone());
        ids
    };
    let done = |verdict, polluters: Vec<String>, command: String, reordered| Bisected {
        test: test_id.clone(),
        verdict,
        polluters,
        command,
        runs: prober.runs() - runs0,
        elapsed: started.elapsed().as_secs_f64(),
        reordered,
    };

    let alone = prober.run(std::slice::from_ref(&test_id))?;
    match alone.ended(test) {
        Ended::NotRun => return Err(not_run(prober, test, &alone)),
        Ended::Failed => {
            return Ok(done(
                Verdict::FailsAlone,
                Vec::new(),
                prober.command(std::slice::from_ref(&test_id)),
                false,
            ))
        }
        Ended::Passed => {}
    }
    let everything = with(before);
    let mut reordered = false;
    if before.is_empty() && !seen_failing {
        // Nothing ran before it: "all of them, then TEST" is TEST alone.
        return Ok(done(
            Verdict::PassesAnyway,
            Vec::new(),
            prober.command(&everything),
            false,
        ));
    }
    if !seen_failing {
        let full = prober.run(&everything)?;
        reordered = !same_order(&full.order, &everything);
        if reordered {
            eprintln!(
                "pacer: warning: pytest did not run the tests in the order given (a plugin's collection hook reorders them): the probes may not replay the recorded order"
            );
        }
        if full.ended(test) != Ended::Failed {
            return Ok(done(
                Verdict::PassesAnyway,
                Vec::new(),
                prober.command(&everything),
                reordered,
            ));
        }
    }
    // A known polluter set that makes TEST fail too narrows the search to
    // it (at most the last three sets are tried: a miss costs a probe).
    let mut pool = before.to_vec();
    for set in known.iter().rev().take(3) {
        if !set.iter().all(|p| before.contains(p)) {
            continue;
        }
        // In the order they ran before TEST.
        let ordered: Vec<String> = before.iter().filter(|t| set.contains(t)).cloned().collect();
        if prober.run(&with(&ordered))?.ended(test) == Ended::Failed {
            pool = ordered;
            break;
        }
    }
    let mut probe_error = None;
    // `pool` is known to make TEST fail; minimal keeps a 1-minimal part.
    let polluters = minimal(&pool, |set| {
        // Empty: TEST alone, which passed above.
        if probe_error.is_some() || set.is_empty() {
            return false;
        }
        match prober.run(&with(set)) {
            Ok(p) => p.ended(test) == Ended::Failed,
            Err(e) => {
                probe_error = Some(e);
                false
            }
        }
    });
    if let Some(e) = probe_error {
        return Err(e);
    }
    let ids = with(&polluters);
    let command = prober.command(&ids);
    // The proof: the very command printed, without our plugin, fails.
    let code = prober.run_plain(&ids)?;
    let verdict = if code == Some(pacer_types::exit::TESTS_FAILED) {
        Verdict::Polluted
    } else {
        Verdict::Flaky
    };
    Ok(done(verdict, polluters, command, reordered))
}

/// The smallest set of `before` (in order) after which `test`, which fails
/// alone, passes: what it relies on having run first. Empty when it fails
/// after all of them too.
pub fn setters(prober: &Prober, before: &[String], test: &str) -> Result<Vec<String>, Error> {
    let mut ids = before.to_vec();
    ids.push(test.to_string());
    if prober.run(&ids)?.ended(test) != Ended::Passed {
        return Ok(Vec::new());
    }
    let mut probe_error = None;
    let found = minimal(before, |set| {
        // Empty: TEST alone, which fails (the caller's verdict).
        if probe_error.is_some() || set.is_empty() {
            return false;
        }
        let mut ids = set.to_vec();
        ids.push(test.to_string());
        match prober.run(&ids) {
            Ok(p) => p.ended(test) == Ended::Passed,
            Err(e) => {
                probe_error = Some(e);
                false
            }
        }
    });
    match probe_error {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

/// pytest ran the asked ids in the asked order (ids it did not run, such
/// as deselected ones, aside).
fn same_order(ran: &[String], asked: &[String]) -> bool {
    let asked: Vec<&String> = asked.iter().filter(|id| ran.contains(id)).collect();
    let ran: Vec<&String> = ran.iter().filter(|id| asked.contains(id)).collect();
    ran == asked
}

fn not_run(prober: &Prober, test: &str, probed: &super::probe::Probed) -> Error {
    Error::Order {
        message: format!(
            "pytest did not run {test} (exit code {}); `{}` said:\n{}",
            probed
                .exit_code
                .map_or_else(|| "none".to_string(), |c| c.to_string()),
            prober.command(&[test.to_string()]),
            probed.tail
        ),
        hint: "check the node id (as the report spells it), and that the suite has not changed since the report was written".into(),
    }
}
