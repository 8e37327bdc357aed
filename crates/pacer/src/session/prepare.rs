//! From settings and the command line to the pool's [`RunConfig`]: the
//! interpreter, the worker plugin, the categories, pytest's arguments, and
//! the `tune` that finishes the job once pytest has parsed its options.
//! Also [`execute`], which runs a prepared pool on its own runtime.

use std::path::{Path, PathBuf};

use pacer_report::TerminalOptions;
use pacer_runner::category::CategorySpec;
use pacer_runner::pool::{self, RunConfig, RunEnd};
use pacer_runner::scheduler::{CategorySlots, Kind};
use pacer_runner::worker::Launch;
use pacer_runner::RunError;
use pacer_settings::Settings;

use super::start_dir;
use super::tune;
use crate::cli::CommonArgs;
use crate::error::Error;

/// Why the pool runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Run,
    /// `pacer list`: collect and report the plan only.
    List,
    /// The sequential rerun of tests that failed on HTTP 429.
    Rerun,
}

pub struct Prepared {
    pub config: RunConfig,
    pub python: PathBuf,
    pub cwd: PathBuf,
    /// Everything pytest is given: the settings' `pytest_args`, then the
    /// command line's, in order. The sequential fallback gets exactly these.
    pub pytest_args: Vec<String>,
    /// pytest's `junit_suite_name`, from `-o junit_suite_name=NAME`.
    pub junit_suite_name: Option<String>,
}

pub fn prepare(
    settings: &Settings,
    common: &CommonArgs,
    command_line: Vec<String>,
    purpose: Purpose,
) -> Result<Prepared, Error> {
    let cwd = start_dir(common);
    let workers = settings.worker_count();
    let python = python_path(settings)?;

    let mut pytest_args: Vec<String> = settings.pytest_args().value.clone();
    pytest_args.extend(command_line);
    let junit_suite_name = ini_override(&pytest_args, "junit_suite_name");

    let plugin_dir = pacer_runner::plugin::install(&pacer_runner::plugin::default_cache_root())
        .or_else(|_| pacer_runner::plugin::install(&std::env::temp_dir().join("pacer-cache")))
        .map_err(|source| Error::Plugin { source })?;

    let all = settings.categories();
    let ordered: Vec<&pacer_settings::Category> = all
        .ordered()
        .iter()
        .chain(std::iter::once(all.default_category()))
        .collect();
    let mut categories = Vec::new();
    for category in ordered.iter().copied() {
        let selected = settings.is_selected(&category.name);
        let mut env = settings.category_env(category);
        // Every category's tests get their count: the worker keeps what the
        // last category set in its environment.
        let reruns = settings.reruns();
        env.push((
            "PACER_RERUNS".into(),
            reruns.for_category(&category.name).to_string(),
        ));
        env.push((
            "PACER_RERUNS_DELAY".into(),
            reruns.delay.value.as_secs_f64().to_string(),
        ));
        categories.push(CategorySpec {
            name: category.name.clone(),
            slots: CategorySlots {
                cap: category.max_workers.max(1),
                kind: match category.kind {
                    pacer_settings::Kind::Cpu => Kind::Cpu,
                    pacer_settings::Kind::Io => Kind::Io,
                },
                exclusive: category.exclusive,
            },
            rate_limited: category.rate_limited,
            selected,
            env,
            implicit: category.builtin
                && category.name != "default"
                && settings.config_file().is_none(),
        });
    }
    let names: Vec<String> = ordered.iter().map(|c| c.name.clone()).collect();
    let resolved = settings.clone();
    let classify = Box::new(move |id: &str, markers: &[String]| {
        let name = &resolved.categorize(id, markers).name;
        names
            .iter()
            .position(|n| n == name)
            .unwrap_or(names.len() - 1)
    });
    let rerun = purpose == Purpose::Rerun;
    let tune = tune::tuner(tune::Inputs {
        workers,
        workers_set_by_pacer: settings.sequential().value
            || !matches!(settings.workers().source, pacer_settings::Source::Default),
        cores: settings.cores(),
        dist: common.dist.clone(),
        maxprocesses: common.maxprocesses,
        durations_file: settings.durations_file().value.clone(),
        shard: settings.shard().value.is_some() && purpose == Purpose::Run,
        fixed: rerun,
        // `pacer list` runs no test: nothing to wait through.
        auto: purpose == Purpose::Run
            && !settings.sequential().value
            && settings.workers().value == pacer_settings::Workers::Auto,
        max_wait_workers: settings.max_wait_workers().value as usize,
        cpu_categories: ordered
            .iter()
            .enumerate()
            .filter(|(_, c)| c.kind == pacer_settings::Kind::Cpu)
            .map(|(index, c)| super::wait_pool::CpuCategory {
                index,
                name: c.name.clone(),
                cap: (!matches!(
                    c.sources.max_workers,
                    pacer_settings::Source::Derived { .. }
                ))
                .then_some(c.max_workers),
            })
            .collect(),
        io_categories: io_category_names(settings),
    });
    let mut env: Vec<(String, String)> = settings
        .worker_env()
        .iter()
        .map(|v| (v.name.clone(), v.value.clone()))
        .collect();
    // The worker plugin reads this variable alone (`touched.py`): set from
    // the flag or the file too, and always as `1`, the one value it takes.
    if settings.trace_touched().value {
        env.push(("PACER_TRACE_TOUCHED".into(), "1".into()));
    }
    // Workers render tracebacks into a pipe; on a terminal they should fit
    // and colour them as pytest would there (an explicit `--color` still wins).
    let terminal = TerminalOptions::detect(0);
    if terminal.tty {
        env.push(("COLUMNS".into(), terminal.width.to_string()));
        if terminal.color && std::env::var_os("PY_COLORS").is_none() {
            env.push(("PY_COLORS".into(), "1".into()));
        }
    }
    let config = RunConfig {
        launch: Launch {
            python: python.clone(),
            cwd: cwd.clone(),
            args: pytest_args.clone(),
            env,
        },
        plugin_dir,
        workers: if rerun { 1 } else { workers },
        fresh_workers: settings.fresh_workers().value as usize,
        categories,
        classify,
        // The rest is decided from pytest's options, by `tune`.
        maxfail: None,
        live_output: false,
        max_worker_restart: settings.max_worker_restart().value as usize,
        continue_on_collection_errors: false,
        durations: Default::default(),
        last_failed: None,
        debug: settings.debug().value,
        list_only: purpose == Purpose::List,
        // `pacer shard plan` cuts every part itself; the 429 rerun runs
        // what failed in this part.
        shard: match purpose {
            Purpose::Run => settings.shard().value.map(|s| pacer_runner::shard::Part {
                index: s.index as usize,
                count: s.count as usize,
            }),
            Purpose::List | Purpose::Rerun => None,
        },
        // `run` sets it from `--changed`, once the change is known.
        changed: None,
        timeout: settings.timeout().value,
        collect_timeout: settings.collect_timeout().value,
        exit_grace: settings.exit_grace().value,
        prewarm_zygote: settings.fork().value
            && (io_tests_likely(settings)
                || (purpose == Purpose::Run && waiting_recorded(settings))),
        fork: settings.fork().value,
        collection: settings.collection().value,
        tune: Some(tune),
        dist: pacer_runner::plan::Dist::default(),
        worker_env: None,
        worker_pid: None,
    };
    Ok(Prepared {
        config,
        python,
        cwd,
        pytest_args,
        junit_suite_name,
    })
}

/// The last `-o NAME=VALUE` / `--override-ini NAME=VALUE` for `name`.
fn ini_override(args: &[String], name: &str) -> Option<String> {
    let mut found = None;
    let mut previous: Option<&str> = None;
    for arg in args {
        let value = match previous {
            Some("-o" | "--override-ini") => Some(arg.as_str()),
            _ => arg
                .strip_prefix("--override-ini=")
                .or_else(|| arg.strip_prefix("-o").filter(|v| !v.is_empty())),
        };
        if let Some(v) = value.and_then(|v| v.strip_prefix(name)?.strip_prefix('=')) {
            found = Some(v.to_string());
        }
        previous = Some(arg);
    }
    found
}

/// Whether a selected `io` category has a path selector that exists in the
/// project: then extra workers will be wanted, and the zygote that forks
/// them is worth starting with the first workers.
fn io_tests_likely(settings: &Settings) -> bool {
    let root = settings.project_root();
    settings.categories().ordered().iter().any(|c| {
        c.kind == pacer_settings::Kind::Io
            && settings.is_selected(&c.name)
            && c.paths.iter().any(|p| root.join(p).exists())
    })
}

/// Whether the record in the project's `.pytest_cache` (pytest's default
/// cache folder) will grow an `auto` pool for tests that wait: then the
/// zygote that forks the extra workers starts with the first workers, as
/// for io categories, and the extra workers are there when the plan is.
fn waiting_recorded(settings: &Settings) -> bool {
    if settings.workers().value != pacer_settings::Workers::Auto || settings.sequential().value {
        return false;
    }
    let cache = settings.project_root().join(".pytest_cache");
    let records = crate::store::cpu_times::load(&cache);
    super::wait_pool::plan(
        settings.cores(),
        settings.max_wait_workers().value as usize,
        &records,
        &io_category_names(settings),
        &[],
    )
    .is_some_and(|p| p.wait.extra > 0)
}

/// The `io` categories' names: their tests are left out of the suite's
/// share (their caps give them workers of their own).
pub fn io_category_names(settings: &Settings) -> Vec<String> {
    let all = settings.categories();
    all.ordered()
        .iter()
        .chain(std::iter::once(all.default_category()))
        .filter(|c| c.kind == pacer_settings::Kind::Io)
        .map(|c| c.name.clone())
        .collect()
}

fn python_path(settings: &Settings) -> Result<PathBuf, Error> {
    let python = settings.python();
    let path = python.value.clone();
    let found = if path.components().count() > 1 {
        executable(&path)
    } else {
        on_path(&path)
    };
    if !found {
        return Err(Error::NoInterpreter {
            path,
            origin: python.source.to_string(),
        });
    }
    Ok(path)
}

/// Whether a bare program name is found on `$PATH`, as a spawn would find it.
fn on_path(name: &Path) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| executable(&dir.join(name))))
}

/// A file that may be run (`/etc/passwd` may not: a usage error, not a
/// failed spawn).
fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs a prepared pool to its end on a runtime of its own.
pub fn execute(config: RunConfig, reporter: &mut dyn pacer_runner::events::Reporter) -> RunEnd {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(source) => return RunEnd::Failed(RunError::Runtime { source }),
    };
    runtime.block_on(pool::run(config, reporter))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_suite_name_comes_from_the_last_ini_override() {
        let args = strings(&[
            "-o",
            "junit_suite_name=first",
            "--override-ini=junit_suite_name=second",
            "-ojunit_family=xunit1",
        ]);
        assert_eq!(
            ini_override(&args, "junit_suite_name").as_deref(),
            Some("second")
        );
        assert_eq!(
            ini_override(&args, "junit_family").as_deref(),
            Some("xunit1")
        );
        assert_eq!(ini_override(&args, "junit_logging"), None);
    }
}
