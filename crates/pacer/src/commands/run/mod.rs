//! `pacer run` (the default command), in the order a run happens. Each step
//! is a function in a module of its own, called once from [`run`]; none
//! calls back here.
//!
//! 1. `resolve.rs`: settings from every source, and GitHub Actions' output;
//!    the run's identity for its reports (run id, shard: [`identity`]).
//! 2. `session::prepare` (shared with `list` and `doctor`): interpreter,
//!    plugin, categories, pytest's arguments; pytest's modes that run no
//!    test go to plain pytest whole (`session::fallback`).
//! 3. `proxies.rs`: the upstreams' proxies, before the first worker.
//! 4. `pool.rs`: the pool, its events through `observe.rs` and pytest-cov's
//!    controller (`coverage.rs`) to the JUnit (`junit_on_demand.rs`),
//!    JSON/HTML (`reports.rs`) and terminal reporters.
//! 5. `stores.rs`: durations and `lastfailed` kept for the next run.
//! 6. `rerun.rs`: the 429 rerun, or plain pytest when the pool did not
//!    finish.
//! 7. `exit_code.rs`: a missing JUnit file or a FLAKY test under
//!    `--flaky-result fail` fails a passing run.
//! 8. `reports.rs`: the proxies stopped, their calls charged to the tests
//!    (`proxy_calls.rs`) and their statistics printed
//!    (`upstream_stats.rs`), the JSON/HTML reports written with the code,
//!    GitHub's annotations last.

mod coverage;
mod exit_code;
mod junit_on_demand;
mod observe;
mod pool;
mod proxies;
mod proxy_calls;
mod reports;
mod rerun;
mod resolve;
mod stores;
mod upstream_stats;

use pacer_report::schema::Shard;

use crate::cli::RunArgs;
use crate::error::Error;
use crate::session::{self, fallback, Purpose};
use reports::Identity;

pub fn run(args: RunArgs) -> Result<i32, Error> {
    // 1. Settings.
    let mut resolved = resolve::resolve(&args)?;
    resolved.identity = identity(|name| std::env::var(name).ok())?;
    let settings = &resolved.settings;

    // 2. The session; pytest's modes that run no test go to plain pytest.
    let mut prepared = session::prepare(
        settings,
        &args.common,
        args.pytest.pytest_args.clone(),
        Purpose::Run,
    )?;
    if let Some(result) = fallback::non_running(settings, &prepared) {
        return result;
    }
    let categories = prepared.config.categories.clone();

    // 3. The proxies, before the first worker.
    let proxies = proxies::start(settings, &mut prepared.config)?;

    // 4. The pool, its events to the reporters.
    let (end, mut reporters) = pool::run(
        &args,
        &resolved,
        prepared.config,
        &prepared.python,
        prepared.junit_suite_name,
    )?;

    // 5. What the run taught, for the next one.
    stores::save(&end, &reporters.observed, settings, &args);

    // 6. The 429 rerun, or plain pytest when the pool did not finish.
    let code = rerun::rerun_or_fall_back(
        end,
        &mut reporters,
        rerun::FirstRun {
            args: &args,
            settings,
            categories: &categories,
            python: &prepared.python,
            cwd: &prepared.cwd,
            pytest_args: &prepared.pytest_args,
            upstream_env: &proxies.env,
        },
    );

    // 7. The exit code: the JUnit file and `--flaky-result`.
    let code = exit_code::settle(code, &mut reporters.junit, &reporters.reports, settings);

    // 8. The proxies stopped, their statistics, the reports, the annotations.
    Ok(reports::finish(&mut reporters.reports, proxies, code))
}

/// The run's identity for its reports, from `PACER_RUN_ID` and
/// `PACER_SHARD` (`K/N`).
///
/// FOR THE LEAD, after merging the `--shard K/N` and `run_id` settings
/// (issue 19): replace this function's body with those settings' values
/// (`settings.run_shape()`'s shard and run id), and delete the two
/// variables read here; nothing else reads them.
fn identity(env: impl Fn(&str) -> Option<String>) -> Result<Identity, Error> {
    let run_id = env("PACER_RUN_ID").filter(|id| !id.trim().is_empty());
    let shard = match env("PACER_SHARD").filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(text) => Some(text.parse::<Shard>().map_err(|why| Error::Identity {
            message: format!(
                "PACER_SHARD: {why}\n\nhint: set PACER_SHARD to K/N, e.g. 2/3 for the second of three shards"
            ),
        })?),
    };
    Ok(Identity { run_id, shard })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_comes_from_its_variables_and_a_bad_shard_names_its_own() {
        fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            move |name| {
                pairs
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
            }
        }
        assert_eq!(identity(env(&[])).unwrap(), Identity::default());
        let both = identity(env(&[("PACER_RUN_ID", "42"), ("PACER_SHARD", "2/3")])).unwrap();
        assert_eq!(both.run_id.as_deref(), Some("42"));
        assert_eq!(both.shard, Some(Shard { index: 2, count: 3 }));
        for bad in ["4/3", "0/3", "two/3", "3"] {
            let err = identity(env(&[("PACER_SHARD", bad)]))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("PACER_SHARD: "), "{err}");
        }
    }
}
