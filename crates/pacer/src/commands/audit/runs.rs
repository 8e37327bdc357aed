//! The runs an audit compares: the suite through pacer itself (this very
//! binary, `pacer run`), sequentially and on the pool, each writing its
//! JSON report with `PACER_TRACE_TOUCHED=1` in the workers' environment;
//! and shuffled file orders, each one plain pytest process (a probe).

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::error::Error;
use crate::order::probe::{Ended, Prober};
use crate::order::schedule::{is_failure, Schedule};

use super::fixes::Touched;

/// One way the suite ran, and what it says of each test.
pub struct AuditRun {
    /// `sequential`, `parallel`, `reversed`, `shuffled 1`...
    pub name: String,
    pub elapsed: f64,
    /// Each test: failed or not.
    pub failed: HashMap<String, bool>,
    /// Per test, the tests that ran before it in the same process.
    pub before: HashMap<String, Vec<String>>,
    /// The report, for the pool's runs (who ran beside whom).
    pub schedule: Option<Schedule>,
    /// Each test's `touched` record, for the pool's runs.
    pub touched: HashMap<String, Touched>,
}

/// `pacer run ARGS --json-report OUT` (with `--sequential` or not).
pub fn through_pacer(
    name: &str,
    passthrough: &[OsString],
    sequential: bool,
    scratch: &Path,
) -> Result<AuditRun, Error> {
    let report = scratch.join(format!("{name}.json"));
    let exe = std::env::current_exe().map_err(|source| Error::CurrentDir { source })?;
    let started = Instant::now();
    let mut command = Command::new(&exe);
    // `--no-github`: under GitHub Actions, the audit's runs are not the
    // job's run; they write no step summary or annotations.
    command
        .arg("run")
        .arg("--no-github")
        .arg("--json-report")
        .arg(&report);
    if sequential {
        command.arg("--sequential");
    }
    let output = command
        .args(passthrough)
        .env("PACER_TRACE_TOUCHED", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::SequentialPytest {
            python: exe.clone(),
            source,
        })?;
    let elapsed = started.elapsed().as_secs_f64();
    let code = output.status.code();
    if !matches!(code, Some(0 | 1)) || !report.is_file() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let lines: Vec<&str> = text.lines().collect();
        return Err(Error::Order {
            message: format!(
                "the {name} run did not finish (exit code {}):\n{}",
                code.map_or_else(|| "none".into(), |c| c.to_string()),
                lines[lines.len().saturating_sub(15)..].join("\n")
            ),
            hint: "make `pacer` (and `pacer --sequential`) run the suite first".into(),
        });
    }
    let schedule = Schedule::read(&report)?;
    let mut failed = HashMap::new();
    for t in &schedule.report.tests {
        failed.insert(t.id.clone(), is_failure(&t.outcome));
    }
    let mut before = HashMap::new();
    for s in &schedule.sequences {
        for (i, id) in s.tests.iter().enumerate() {
            before.insert(id.clone(), s.tests[..i].to_vec());
        }
    }
    // `touched` is read from the file as it is (docs/reports.md), beside
    // the report's typed schema.
    let mut touched = HashMap::new();
    let raw: serde_json::Value = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    for t in raw["tests"].as_array().into_iter().flatten() {
        if let (Some(id), Some(record)) = (t["id"].as_str(), t.get("touched")) {
            if let Ok(record) = serde_json::from_value::<Touched>(record.clone()) {
                touched.insert(id.to_string(), record);
            }
        }
    }
    Ok(AuditRun {
        name: name.to_string(),
        elapsed,
        failed,
        before,
        schedule: Some(schedule),
        touched,
    })
}

/// The tests of `order` in one pytest process, in that order.
pub fn in_order(name: &str, prober: &Prober, order: &[String]) -> Result<AuditRun, Error> {
    let started = Instant::now();
    let probed = prober.run(order)?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut failed = HashMap::new();
    let mut before = HashMap::new();
    for (i, id) in probed.order.iter().enumerate() {
        failed.insert(id.clone(), probed.ended(id) == Ended::Failed);
        before.insert(id.clone(), probed.order[..i].to_vec());
    }
    Ok(AuditRun {
        name: name.to_string(),
        elapsed,
        failed,
        before,
        schedule: None,
        touched: HashMap::new(),
    })
}

/// The tests grouped by file in their order, the files in a new order:
/// reversed for `round` 0 (every pair of files meets the other way round),
/// then shuffled by a generator seeded with `seed` and the round.
pub fn file_order(tests: &[String], seed: u64, round: usize) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    let mut by_file: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in tests {
        let file = id.split("::").next().unwrap_or(id).to_string();
        if !by_file.contains_key(&file) {
            files.push(file.clone());
        }
        by_file.entry(file).or_default().push(id.clone());
    }
    if round == 0 {
        files.reverse();
    } else {
        // splitmix64: small, seeded, the same on every machine.
        let mut state = seed ^ (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        for i in (1..files.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            files.swap(i, j);
        }
    }
    files
        .into_iter()
        .flat_map(|f| by_file.remove(&f).unwrap_or_default())
        .collect()
}

/// The arguments after `audit` on pacer's command line, without audit's
/// own (`--shuffle[=K]`, `--seed N`, `--json`): `pacer run` takes the rest.
pub fn passthrough(args: &[OsString]) -> Vec<OsString> {
    let start = args
        .iter()
        .position(|a| a == "audit")
        .map_or(args.len(), |i| i + 1);
    let mut out = Vec::new();
    let mut rest = args[start..].iter();
    while let Some(arg) = rest.next() {
        let text = arg.to_string_lossy();
        if text == "--" {
            out.push(arg.clone());
            out.extend(rest.cloned());
            break;
        }
        if text == "--json"
            || text == "--shuffle"
            || text.starts_with("--shuffle=")
            || text.starts_with("--seed=")
        {
            continue;
        }
        if text == "--seed" {
            rest.next();
            continue;
        }
        out.push(arg.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_first_order_is_the_files_reversed_with_each_files_tests_kept() {
        let tests = ids(&["a.py::1", "a.py::2", "b.py::1", "c.py::1"]);
        assert_eq!(
            file_order(&tests, 7, 0),
            ids(&["c.py::1", "b.py::1", "a.py::1", "a.py::2"])
        );
        let shuffled = file_order(&tests, 7, 1);
        assert_eq!(shuffled, file_order(&tests, 7, 1));
        assert_eq!(shuffled.len(), 4);
        let a = shuffled.iter().position(|t| t == "a.py::1").unwrap();
        assert_eq!(shuffled[a + 1], "a.py::2");
    }

    #[test]
    fn audits_own_flags_do_not_reach_pacer_run() {
        let args: Vec<OsString> = [
            "pacer",
            "audit",
            "-n",
            "2",
            "--shuffle=2",
            "--seed",
            "5",
            "--json",
            "--",
            "-k",
            "x",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(
            passthrough(&args),
            ["-n", "2", "--", "-k", "x"].map(OsString::from).to_vec()
        );
    }
}
