//! `pacer run` (the default command), in the order a run happens. Each step
//! is a function in a module of its own, called once from [`run`]; none
//! calls back here.
//!
//! 1. `resolve.rs`: settings from every source, and GitHub Actions' output;
//!    the run's identity for its reports (run id, shard) is in the settings.
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
//! 9. `store::last_run`: the run's report kept in pytest's cache folder,
//!    for `pacer bisect TEST` and `pacer replay` (docs/order-dependence.md).

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

use crate::cli::RunArgs;
use crate::error::Error;
use crate::session::{self, fallback, Purpose};
use pacer_runner::pool::RunEnd;

pub fn run(args: RunArgs) -> Result<i32, Error> {
    if args.watch {
        return crate::commands::watch::watch(args);
    }
    // 1. Settings.
    let resolved = resolve::resolve(&args)?;
    let settings = &resolved.settings;
    let since = crate::changes::since(settings, &args.common);
    if args.dry_run && since.is_none() {
        return Err(Error::DryRunWithoutChanged);
    }

    // 2. The session; pytest's modes that run no test go to plain pytest.
    let mut prepared = session::prepare(
        settings,
        &args.common,
        args.pytest.pytest_args.clone(),
        Purpose::Run,
    )?;
    if let (Some(shard), Some(mode)) = (
        settings.shard().value,
        fallback::non_running_mode(&prepared.pytest_args),
    ) {
        // Plain pytest would list or explain every part, not this one.
        return Err(Error::ShardWithoutPool {
            shard: shard.to_string(),
            reason: format!(
                "`{mode}` is plain pytest's; `pacer shard plan N --json` lists each part"
            ),
            usage: true,
        });
    }
    if let Some(result) = fallback::non_running(settings, &prepared) {
        return result;
    }
    let categories = prepared.config.categories.clone();

    // `--changed`: the files the change can affect; the pool deselects the rest.
    let prepared_changed = since.is_some();
    if let Some(since) = since {
        let selection =
            crate::changes::select(settings, &since).map_err(|source| Error::Changed { source })?;
        prepared.config.changed = Some(selection.filter());
        if args.dry_run {
            prepared.config.list_only = true;
            let mut dry = crate::changes::dry_run::DryRun::default();
            let end = session::execute(prepared.config, &mut dry);
            return match dry.finish(&end, &selection, &mut std::io::stdout().lock()) {
                Some(code) => Ok(code),
                None => fallback::finish(end, &prepared.python, &prepared.cwd, &[], &[]),
            };
        }
    }

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

    // A part cannot go to plain pytest: it would run every machine's part.
    if let Some(shard) = settings.shard().value {
        let handed = match &end {
            RunEnd::Fallback { reason } => Some((reason, false)),
            RunEnd::Delegate { reason } => Some((reason, true)),
            _ => None,
        };
        if let Some((reason, usage)) = handed {
            return Err(Error::ShardWithoutPool {
                shard: shard.to_string(),
                reason: reason.clone(),
                usage,
            });
        }
    }

    if prepared_changed && matches!(end, RunEnd::Fallback { .. }) {
        eprintln!("pacer: --changed: plain pytest runs the whole selection, not only what the change touches");
    }

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
    let code = reports::finish(&mut reporters.reports, proxies, code);

    // 9. The run's report kept for `pacer bisect TEST` / `pacer replay`.
    let cache_dir = reporters.observed.options.as_ref();
    let cache_dir = cache_dir.and_then(|o| o.cache_dir.as_deref());
    crate::store::last_run::keep(&mut reporters.reports.record, cache_dir);
    Ok(code)
}
