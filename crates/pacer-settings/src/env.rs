//! The environment variables pacer reads, declared once.
//!
//! [`ENV_VARS`] is the single table: each variable's `PACER_*` name, the
//! `PYTEST_*` name of the original system it twins (if any), the setting it
//! feeds and what it means. Lookups, `pacer config` and the README's table
//! ([`env_table_markdown`]) all come from it.
//!
//! When both twins are set, the `PACER_*` name wins: it is pacer's own
//! namespace and the more deliberate choice, while `PYTEST_*` names are often
//! inherited from an old CI setup.
//!
//! Environments are read through the [`Env`] trait, so tests inject a map
//! instead of touching the process environment.

use std::collections::{BTreeMap, HashMap};

/// A read-only view of environment variables.
pub trait Env {
    /// The value of `name`, if set (and valid UTF-8).
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<F> Env for F
where
    F: Fn(&str) -> Option<String>,
{
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for [(&str, &str)] {
    fn var(&self, name: &str) -> Option<String> {
        self.iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn var(&self, name: &str) -> Option<String> {
        self.as_slice().var(name)
    }
}

/// Whether pacer reads a variable or sets it for the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Read when resolving settings.
    Read,
    /// Set by pacer in each worker's environment.
    SetForWorkers,
}

/// One environment variable.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    /// pacer's own name.
    pub pacer: &'static str,
    /// The original system's `PYTEST_*` name, also honoured.
    pub pytest: Option<&'static str>,
    /// The setting it feeds, as spelt in `[tool.pacer]`.
    pub setting: &'static str,
    /// What it means and which values it takes.
    pub meaning: &'static str,
    pub direction: Direction,
}

impl EnvVar {
    /// The names to look up, in precedence order (`PACER_*` first).
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.pacer).chain(self.pytest)
    }
}

macro_rules! read {
    ($pacer:literal, $pytest:expr, $setting:literal, $meaning:literal) => {
        EnvVar {
            pacer: $pacer,
            pytest: $pytest,
            setting: $setting,
            meaning: $meaning,
            direction: Direction::Read,
        }
    };
}

pub const WORKERS: EnvVar = read!(
    "PACER_WORKERS",
    Some("PYTEST_WORKERS"),
    "workers",
    "number of workers: a positive integer or `auto` (the cores)"
);
pub const DISABLE_PARALLEL: EnvVar = read!(
    "PACER_DISABLE_PARALLEL",
    Some("PYTEST_DISABLE_PARALLEL"),
    "sequential",
    "run everything in one worker: true/1/yes or false/0/no"
);
pub const DEBUG: EnvVar = read!(
    "PACER_DEBUG",
    Some("PYTEST_DEBUG"),
    "debug",
    "debug logging of scheduling decisions: true/1/yes or false/0/no"
);
pub const TRACE_TOUCHED: EnvVar = read!(
    "PACER_TRACE_TOUCHED",
    None,
    "trace_touched",
    "record what each test leaves behind (environment variables, files, ports, module globals) in the JSON report: true/1/yes or false/0/no"
);
pub const PYTHON: EnvVar = read!(
    "PACER_PYTHON",
    None,
    "python",
    "Python interpreter that runs pytest"
);
pub const MAX_WORKER_RESTART: EnvVar = read!(
    "PACER_MAX_WORKER_RESTART",
    None,
    "max_worker_restart",
    "how many crashed workers are replaced before the run stops"
);
pub const MAX_WAIT_WORKERS: EnvVar = read!(
    "PACER_MAX_WAIT_WORKERS",
    None,
    "max_wait_workers",
    "with workers = auto, at most this many workers beyond the cores for tests that wait: a number, 0 for none"
);
pub const FORK: EnvVar = read!(
    "PACER_FORK",
    None,
    "fork",
    "fork workers beyond the cores from a ready-made zygote (Linux): true/1/yes or false/0/no"
);
pub const FRESH_WORKERS: EnvVar = read!(
    "PACER_FRESH_WORKERS",
    None,
    "fresh_workers",
    "at most this many workers start as new interpreters, the others are forked (with fork): a number, at least 1"
);
pub const COLLECTION: EnvVar = read!(
    "PACER_COLLECTION",
    None,
    "collection",
    "how workers collect: `auto`, `whole` (pytest's whole collection, forked into every worker) or `split` (each worker its share of the files)"
);
pub const FALLBACK: EnvVar = read!(
    "PACER_FALLBACK",
    None,
    "fallback",
    "rerun tests that failed on 429 once, sequentially: true/false"
);
pub const FALLBACK_THRESHOLD: EnvVar = read!(
    "PACER_FALLBACK_THRESHOLD",
    None,
    "fallback_threshold",
    "how many 429-failed tests trigger the rerun: a count (`3`) or a fraction (`0.2`, `20%`)"
);
pub const DURATIONS_FILE: EnvVar = read!(
    "PACER_DURATIONS_FILE",
    None,
    "durations_file",
    "recorded test durations (pytest-split's JSON format), relative to the project root"
);
pub const TIMEOUT: EnvVar = read!(
    "PACER_TIMEOUT",
    None,
    "timeout",
    "per-test timeout in seconds; 0 or `none` disables it"
);
pub const COLLECT_TIMEOUT: EnvVar = read!(
    "PACER_COLLECT_TIMEOUT",
    None,
    "collect_timeout",
    "deadline in seconds for importing and collecting one test file; 0 or `none`: the timeout if set, else 60"
);
pub const EXIT_GRACE: EnvVar = read!(
    "PACER_EXIT_GRACE",
    None,
    "exit_grace",
    "seconds a worker that left a thread running may take to exit after its last test before its stacks are dumped and it is killed (six times as long without one)"
);
pub const RERUNS: EnvVar = read!(
    "PACER_RERUNS",
    None,
    "reruns",
    "rerun a failing test up to N times (pytest-rerunfailures' `--reruns`); also set for each category's tests"
);
pub const RERUNS_DELAY: EnvVar = read!(
    "PACER_RERUNS_DELAY",
    None,
    "reruns_delay",
    "seconds to wait before each rerun"
);
pub const FLAKY_RESULT: EnvVar = read!(
    "PACER_FLAKY_RESULT",
    None,
    "flaky_result",
    "what a test that passed after failing means for the run: `pass` or `fail`"
);
pub const RATE_LIMITED: EnvVar = read!(
    "PACER_RATE_LIMITED",
    Some("PYTEST_RATE_LIMITED"),
    "rate_limit.enabled",
    "pace rate-limited categories through the proxy: true/1/yes or false/0/no"
);
pub const RATE: EnvVar = read!(
    "PACER_RATE",
    None,
    "rate_limit.rate",
    "requests per second allowed to each upstream, or a quota per window (`2400/min`)"
);
pub const BURST: EnvVar = read!(
    "PACER_BURST",
    None,
    "rate_limit.burst",
    "requests that may go at once above the rate"
);
pub const MAX_CONCURRENT: EnvVar = read!(
    "PACER_MAX_CONCURRENT_REQUESTS",
    Some("PYTEST_MAX_CONCURRENT_REQUESTS"),
    "rate_limit.max_concurrent",
    "requests in flight to one upstream at most"
);
pub const MIN_DELAY: EnvVar = read!(
    "PACER_RATE_LIMIT_DELAY",
    Some("PYTEST_RATE_LIMIT_DELAY"),
    "rate_limit.min_delay",
    "minimum seconds between two request starts (0: none)"
);
pub const MAX_RETRIES: EnvVar = read!(
    "PACER_MAX_RETRIES",
    Some("PYTEST_MAX_RETRIES"),
    "rate_limit.max_retries",
    "retries of a request answered 429/503"
);
pub const BASE_BACKOFF: EnvVar = read!(
    "PACER_BASE_BACKOFF",
    Some("PYTEST_BASE_BACKOFF"),
    "rate_limit.base_backoff",
    "first backoff ceiling in seconds (doubles each retry)"
);
pub const MAX_BACKOFF: EnvVar = read!(
    "PACER_MAX_BACKOFF",
    Some("PYTEST_MAX_BACKOFF"),
    "rate_limit.max_backoff",
    "largest backoff in seconds"
);
pub const ADAPTIVE: EnvVar = read!(
    "PACER_ADAPTIVE",
    None,
    "rate_limit.adaptive",
    "lower the rate on 429 and climb back on success: true/false"
);
pub const RETRY_STATUSES: EnvVar = read!(
    "PACER_RETRY_STATUSES",
    None,
    "rate_limit.retry_statuses",
    "comma-separated HTTP statuses that are retried, e.g. `429,503`"
);
pub const SHARD: EnvVar = read!(
    "PACER_SHARD",
    None,
    "shard",
    "run part K of N of the selected tests, as `K/N` (from 1: `1/3`, `2/3`, `3/3`); parts are balanced by recorded durations, the same on every machine"
);
pub const CHANGED: EnvVar = read!(
    "PACER_CHANGED",
    None,
    "changed",
    "run only the tests a change since this git REF can affect (`HEAD`: the working tree's changes); see docs/changed.md"
);
pub const CHANGED_ALWAYS: EnvVar = read!(
    "PACER_CHANGED_ALWAYS",
    None,
    "changed_always",
    "comma-separated globs of files whose change selects every test under `--changed`, e.g. `data/**,*.json`"
);
pub const RUN_ID: EnvVar = read!(
    "PACER_RUN_ID",
    None,
    "run_id",
    "the id the jobs of one CI run share (in the JSON report, and naming a shared limiter's keys); default: the CI's own, below"
);
pub const GITHUB_RUN_ID: EnvVar = read!(
    "GITHUB_RUN_ID",
    None,
    "run_id",
    "GitHub Actions' run: `run_id` defaults to `GITHUB_RUN_ID-GITHUB_RUN_ATTEMPT`"
);
pub const GITHUB_RUN_ATTEMPT: EnvVar = read!(
    "GITHUB_RUN_ATTEMPT",
    None,
    "run_id",
    "GitHub Actions' attempt of the run, the second half of the default `run_id`"
);
pub const CI_PIPELINE_ID: EnvVar = read!(
    "CI_PIPELINE_ID",
    None,
    "run_id",
    "GitLab's pipeline: the default `run_id` when not on GitHub Actions"
);
pub const BUILDKITE_BUILD_ID: EnvVar = read!(
    "BUILDKITE_BUILD_ID",
    None,
    "run_id",
    "Buildkite's build: the default `run_id` when not on GitHub Actions or GitLab"
);
pub const LIMITER_BACKEND: EnvVar = read!(
    "PACER_LIMITER_BACKEND",
    None,
    "rate_limit.backend",
    "where the limit lives: `memory`, or `redis://[user:password@]host:6379/0` (`rediss://` for TLS) shared by every pacer using it"
);
pub const LIMITER_FALLBACK: EnvVar = read!(
    "PACER_LIMITER_FALLBACK",
    None,
    "rate_limit.fallback",
    "when the backend is unreachable at start: `fail` (exit 4) or `memory` (go on alone at rate / shards)"
);
pub const VIRTUAL_ENV: EnvVar = read!(
    "VIRTUAL_ENV",
    None,
    "python",
    "an active virtualenv: its interpreter is used when `python` is not set"
);

/// Every environment variable pacer reads or sets, in documentation order.
pub const ENV_VARS: &[EnvVar] = &[
    WORKERS,
    DISABLE_PARALLEL,
    DEBUG,
    TRACE_TOUCHED,
    PYTHON,
    VIRTUAL_ENV,
    MAX_WORKER_RESTART,
    MAX_WAIT_WORKERS,
    FORK,
    FRESH_WORKERS,
    COLLECTION,
    FALLBACK,
    FALLBACK_THRESHOLD,
    DURATIONS_FILE,
    TIMEOUT,
    COLLECT_TIMEOUT,
    EXIT_GRACE,
    RERUNS,
    RERUNS_DELAY,
    FLAKY_RESULT,
    RATE_LIMITED,
    RATE,
    BURST,
    MAX_CONCURRENT,
    MIN_DELAY,
    MAX_RETRIES,
    BASE_BACKOFF,
    MAX_BACKOFF,
    ADAPTIVE,
    RETRY_STATUSES,
    SHARD,
    RUN_ID,
    CHANGED,
    CHANGED_ALWAYS,
    GITHUB_RUN_ID,
    GITHUB_RUN_ATTEMPT,
    CI_PIPELINE_ID,
    BUILDKITE_BUILD_ID,
    LIMITER_BACKEND,
    LIMITER_FALLBACK,
    EnvVar {
        pacer: "PACER_UPSTREAM_<NAME>",
        pytest: None,
        setting: "upstreams.NAME",
        meaning: "the proxy's URL for upstream NAME (upper-cased, any character but a letter or digit as `_`), for workers of rate-limited categories",
        direction: Direction::SetForWorkers,
    },
    EnvVar {
        pacer: "PACER_UPSTREAMS",
        pytest: None,
        setting: "upstreams",
        meaning: "each upstream's name and the variable its URL is in, as JSON (`{\"my-api\": \"PACER_UPSTREAM_MY_API\"}`); the `pacer_upstream` fixture reads it",
        direction: Direction::SetForWorkers,
    },
    EnvVar {
        pacer: "PACER_UPSTREAM_<NAME>_MAX_WAIT",
        pytest: None,
        setting: "upstreams.NAME.max_wait",
        meaning: "the longest the proxy takes to answer (seconds); `pacer_requests`/`pacer_httpx` read just past it",
        direction: Direction::SetForWorkers,
    },
    EnvVar {
        pacer: "PACER_CURRENT_CATEGORY",
        pytest: Some("PYTEST_CURRENT_CATEGORY"),
        setting: "categories",
        meaning: "the category of the tests a worker runs",
        direction: Direction::SetForWorkers,
    },
    EnvVar {
        pacer: "PACER_RATE_LIMITED",
        pytest: Some("PYTEST_RATE_LIMITED"),
        setting: "categories.NAME.rate_limited",
        meaning: "`1` in workers of a rate-limited category, `0` otherwise",
        direction: Direction::SetForWorkers,
    },
];

/// The first set name of `var` (`PACER_*` before `PYTEST_*`) and its value.
#[cfg(test)]
fn lookup(env: &dyn Env, var: &EnvVar) -> Option<(&'static str, String)> {
    var.names()
        .find_map(|name| env.var(name).map(|value| (name, value)))
}

/// The environment variables as a Markdown table, for the README.
pub fn env_table_markdown() -> String {
    let mut out =
        String::from("| variable | also read as | setting | meaning |\n|---|---|---|---|\n");
    for var in ENV_VARS.iter().filter(|v| v.direction == Direction::Read) {
        out.push_str(&row(var));
    }
    out.push_str("\nSet by pacer for each worker:\n\n| variable | also set as | setting | meaning |\n|---|---|---|---|\n");
    for var in ENV_VARS
        .iter()
        .filter(|v| v.direction == Direction::SetForWorkers)
    {
        out.push_str(&row(var));
    }
    out
}

fn row(var: &EnvVar) -> String {
    let twin = var.pytest.map(|t| format!("`{t}`")).unwrap_or_default();
    format!(
        "| `{}` | {twin} | `{}` | {} |\n",
        var.pacer, var.setting, var.meaning
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_original_name_is_declared() {
        for name in [
            "PYTEST_DISABLE_PARALLEL",
            "PYTEST_WORKERS",
            "PYTEST_RATE_LIMITED",
            "PYTEST_MAX_CONCURRENT_REQUESTS",
            "PYTEST_RATE_LIMIT_DELAY",
            "PYTEST_MAX_RETRIES",
            "PYTEST_BASE_BACKOFF",
            "PYTEST_MAX_BACKOFF",
            "PYTEST_DEBUG",
        ] {
            let var = ENV_VARS
                .iter()
                .find(|v| v.pytest == Some(name) && v.direction == Direction::Read)
                .unwrap_or_else(|| panic!("{name} is not declared"));
            assert_eq!(var.pacer, name.replacen("PYTEST_", "PACER_", 1));
        }
    }

    #[test]
    fn pacer_name_wins_over_pytest_name() {
        let env = [("PYTEST_WORKERS", "2"), ("PACER_WORKERS", "3")];
        assert_eq!(lookup(&env, &WORKERS), Some(("PACER_WORKERS", "3".into())));
        let env = [("PYTEST_WORKERS", "2")];
        assert_eq!(lookup(&env, &WORKERS), Some(("PYTEST_WORKERS", "2".into())));
    }

    #[test]
    fn closures_are_environments() {
        let env = |name: &str| (name == "X").then(|| "1".to_string());
        assert_eq!(Env::var(&env, "X"), Some("1".into()));
        assert_eq!(Env::var(&env, "Y"), None);
    }

    #[test]
    fn markdown_table_lists_every_variable() {
        let md = env_table_markdown();
        for var in ENV_VARS {
            assert!(md.contains(var.pacer), "{} missing", var.pacer);
            if let Some(t) = var.pytest {
                assert!(md.contains(t));
            }
        }
        assert!(md.starts_with("| variable |"));
    }
}
