//! `pacer run` and `pacer list`: resolve settings, run the pool, fall back
//! to a plain sequential pytest when parallel work cannot start.
//!
//! Around the pool, `run` starts the upstreams' proxies (`upstreams.rs`),
//! reruns tests that failed on HTTP 429 once, sequentially (`rerun.rs`),
//! and prints the proxies' statistics after pytest's final line.

use std::path::{Path, PathBuf};

use pacer_report::{Terminal, TerminalOptions};
use pacer_runner::pool::{self, exit, CategorySpec, RunConfig, RunEnd};
use pacer_runner::scheduler::{CategorySlots, Kind};
use pacer_runner::worker::Launch;
use pacer_settings::{ProcessEnv, Settings};

use crate::cli::{CommonArgs, ListArgs, PytestArgs, RunArgs};
use crate::durations;
use crate::rerun;
use crate::upstreams::{self, RunProxies};

/// Resolves settings as every command does: `-C` first, then all sources.
pub fn settings(common: &CommonArgs) -> Result<Settings, i32> {
    let start = match &common.directory {
        Some(dir) => match std::fs::canonicalize(dir) {
            Ok(dir) if dir.is_dir() => dir,
            _ => {
                eprintln!(
                    "error: -C {}: no such directory\n\nhint: pass an existing directory to -C",
                    dir.display()
                );
                return Err(exit::USAGE_ERROR);
            }
        },
        None => match std::env::current_dir() {
            Ok(dir) => dir,
            Err(e) => {
                eprintln!("error: cannot read the current directory: {e}");
                return Err(exit::USAGE_ERROR);
            }
        },
    };
    match Settings::resolve(&start, &common.overrides(), &ProcessEnv) {
        Ok(settings) => Ok(settings),
        Err(err) => {
            eprintln!("error: {err}");
            Err(err.exit_code())
        }
    }
}

fn start_dir(common: &CommonArgs) -> PathBuf {
    common
        .directory
        .as_ref()
        .and_then(|d| std::fs::canonicalize(d).ok())
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

pub fn run(args: RunArgs) -> i32 {
    let settings = match settings(&args.common) {
        Ok(s) => s,
        Err(code) => return code,
    };
    for note in settings.notes() {
        eprintln!("pacer: {note}");
    }
    let verbosity = args.verbose as i32 - args.quiet as i32;
    let mut extra = Vec::new();
    for _ in 0..args.verbose {
        extra.push("-v".to_string());
    }
    for _ in 0..args.quiet {
        extra.push("-q".to_string());
    }
    if args.no_capture {
        extra.push("-s".to_string());
    }
    let maxfail = if args.exitfirst {
        Some(1)
    } else {
        args.maxfail.filter(|n| *n > 0)
    };
    let mut prepared = match prepare(
        &settings,
        &args.common,
        &args.pytest,
        extra.clone(),
        maxfail,
        args.no_capture,
        false,
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(mode) = non_running_mode(&args.pytest.pytest_args) {
        // pytest's modes that list or explain instead of running tests need
        // no workers: plain pytest answers them exactly as the user expects.
        if settings.debug().value {
            eprintln!("pacer: `{mode}` runs no tests; handing it to pytest");
        }
        return sequential_pytest(
            &prepared.python,
            &prepared.cwd,
            &prepared.fallback_args,
            &[],
        );
    }

    // The proxies start before the first worker, so that module-level code
    // already sees `PACER_UPSTREAM_<NAME>` (it is in every worker's launch
    // environment), and stop after the last test, the rerun included.
    let categories = prepared.config.categories.clone();
    let limited_selected = categories.iter().any(|c| c.selected && c.rate_limited);
    let proxies = if upstreams::wanted(&settings, limited_selected) {
        match RunProxies::start(&settings) {
            Ok(proxies) => Some(proxies),
            Err(e) => {
                eprintln!(
                    "error: {e}\n\nhint: check [tool.pacer.upstreams.{}] and [tool.pacer.rate_limit] \
                     (or --upstream), or pass --no-rate-limit to run without the proxy",
                    e.upstream
                );
                return if e.usage {
                    exit::USAGE_ERROR
                } else {
                    exit::INTERNAL_ERROR
                };
            }
        }
    } else {
        None
    };
    let upstream_env = match &proxies {
        Some(p) => p.env(),
        None => upstreams::direct_env(&settings),
    };
    prepared
        .config
        .launch
        .env
        .extend(upstream_env.iter().cloned());

    let mut terminal = Terminal::new(std::io::stdout().lock(), TerminalOptions::detect(verbosity));
    let mut observed = rerun::Observed::default();
    let end = execute(
        prepared.config,
        &mut rerun::Observing {
            inner: &mut terminal,
            observed: &mut observed,
        },
    );
    drop(terminal);
    if let (RunEnd::Finished(summary), Some(cache)) = (&end, &prepared.cache_dir) {
        durations::save(cache, &summary.durations);
    }
    let code = match end {
        RunEnd::Finished(summary) => {
            let ids = if settings.fallback().value && summary.exit_code == exit::TESTS_FAILED {
                rerun::plan(
                    &summary,
                    &categories,
                    &observed,
                    settings.fallback_threshold().value,
                )
            } else {
                Vec::new()
            };
            if ids.is_empty() {
                summary.exit_code
            } else {
                let rootdir = observed
                    .rootdir
                    .as_deref()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| settings.project_root().to_path_buf());
                let rerun_args = RerunArgs {
                    args: &args,
                    extra,
                    ids: &ids,
                    rootdir: &rootdir,
                    upstream_env: &upstream_env,
                };
                match rerun_sequentially(&settings, rerun_args, verbosity) {
                    Ok(code) => rerun::exit_code(&summary, &ids, code),
                    Err(code) => code,
                }
            }
        }
        other => finish(
            other,
            &prepared.python,
            &prepared.cwd,
            &prepared.fallback_args,
            &upstream_env,
        ),
    };
    if let Some(proxies) = proxies {
        let reports = proxies.shutdown();
        let _ = upstreams::print_stats(&mut std::io::stdout().lock(), &reports);
    }
    code
}

/// What the sequential rerun of 429-failed tests needs from the first run.
struct RerunArgs<'a> {
    args: &'a RunArgs,
    extra: Vec<String>,
    ids: &'a [String],
    rootdir: &'a Path,
    upstream_env: &'a [(String, String)],
}

/// Reruns `ids` once on one worker through the same proxies, announcing it
/// in one line; returns the rerun's exit code.
fn rerun_sequentially(settings: &Settings, r: RerunArgs<'_>, verbosity: i32) -> Result<i32, i32> {
    let n = r.ids.len();
    println!(
        "pacer: {n} test{} failed on HTTP 429; rerunning {} once, sequentially (--no-fallback turns this off)",
        if n == 1 { "" } else { "s" },
        if n == 1 { "it" } else { "them" },
    );
    let mut pytest = r.args.pytest.clone();
    pytest.paths = rerun::as_paths(r.ids, r.rootdir);
    let mut prepared = prepare(
        settings,
        &r.args.common,
        &pytest,
        r.extra,
        None,
        r.args.no_capture,
        false,
    )?;
    // One worker for every category: io categories would otherwise still
    // start workers up to their caps.
    prepared.config.workers = 1;
    prepared.config.durations = Default::default();
    for category in &mut prepared.config.categories {
        category.slots.cap = 1;
        category.slots.kind = Kind::Cpu;
    }
    prepared
        .config
        .launch
        .env
        .extend(r.upstream_env.iter().cloned());
    let mut terminal = Terminal::new(std::io::stdout().lock(), TerminalOptions::detect(verbosity));
    let end = execute(prepared.config, &mut terminal);
    drop(terminal);
    match end {
        RunEnd::Finished(summary) => Ok(summary.exit_code),
        other => Err(finish(
            other,
            &prepared.python,
            &prepared.cwd,
            &prepared.fallback_args,
            r.upstream_env,
        )),
    }
}

pub fn list(args: ListArgs) -> i32 {
    let settings = match settings(&args.common) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let prepared = match prepare(
        &settings,
        &args.common,
        &args.pytest,
        Vec::new(),
        None,
        false,
        true,
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut listing = crate::list::Listing::new(&settings, args.json);
    let end = execute(prepared.config, &mut listing);
    match end {
        RunEnd::Finished(summary) => {
            listing.print(&mut std::io::stdout().lock());
            summary.exit_code
        }
        other => finish(other, &prepared.python, &prepared.cwd, &[], &[]),
    }
}

struct Prepared {
    config: RunConfig,
    python: PathBuf,
    cwd: PathBuf,
    fallback_args: Vec<String>,
    /// Where recorded durations live; `None` with `-p no:cacheprovider`.
    cache_dir: Option<PathBuf>,
}

fn prepare(
    settings: &Settings,
    common: &CommonArgs,
    pytest: &PytestArgs,
    extra: Vec<String>,
    maxfail: Option<usize>,
    live_output: bool,
    list_only: bool,
) -> Result<Prepared, i32> {
    let cwd = start_dir(common);
    let workers = settings.worker_count().max(1);
    let python = python_path(settings)?;

    let mut pytest_args: Vec<String> = Vec::new();
    if let Some(k) = &pytest.keyword {
        pytest_args.extend(["-k".into(), k.clone()]);
    }
    if let Some(m) = &pytest.markexpr {
        pytest_args.extend(["-m".into(), m.clone()]);
    }
    pytest_args.extend(extra);
    pytest_args.extend(settings.pytest_args().value.iter().cloned());
    pytest_args.extend(pytest.pytest_args.iter().cloned());
    pytest_args.extend(pytest.paths.iter().cloned());
    let mut fallback_args = pytest_args.clone();
    if let Some(n) = maxfail {
        fallback_args.push(format!("--maxfail={n}"));
    }
    let continue_on_collection_errors = pytest
        .pytest_args
        .iter()
        .any(|a| a == "--continue-on-collection-errors");

    let plugin_dir = pacer_runner::plugin::install(&pacer_runner::plugin::default_cache_root())
        .or_else(|_| pacer_runner::plugin::install(&std::env::temp_dir().join("pacer-cache")))
        .map_err(|e| {
            eprintln!("error: failed to write the worker plugin: {e}\n\nhint: set XDG_CACHE_HOME to a writable folder");
            exit::INTERNAL_ERROR
        })?;

    let all = settings.categories();
    let ordered: Vec<&pacer_settings::Category> = all
        .ordered()
        .iter()
        .chain(std::iter::once(all.default_category()))
        .collect();
    let mut categories = Vec::new();
    for category in ordered.iter().copied() {
        let selected = settings.is_selected(&category.name);
        let env = settings.category_env(category);
        categories.push(CategorySpec {
            name: category.name.clone(),
            slots: CategorySlots {
                cap: category.max_workers.max(1),
                kind: match category.kind {
                    pacer_settings::Kind::Cpu => Kind::Cpu,
                    pacer_settings::Kind::Io => Kind::Io,
                },
            },
            rate_limited: category.rate_limited,
            selected,
            env,
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
    // One worker runs in pytest's order, as `--sequential` promises; more
    // workers start the heaviest tests first.
    let cache_dir = durations::cache_dir(settings.project_root(), &pytest_args);
    let durations = match &cache_dir {
        Some(cache) if workers > 1 => durations::load(&settings.durations_file().value, cache),
        _ => Default::default(),
    };
    let config = RunConfig {
        launch: Launch {
            python: python.clone(),
            cwd: cwd.clone(),
            args: pytest_args,
            env: settings
                .worker_env()
                .iter()
                .map(|v| (v.name.clone(), v.value.clone()))
                .collect(),
        },
        plugin_dir,
        workers,
        categories,
        classify,
        maxfail,
        live_output,
        max_worker_restart: settings.max_worker_restart().value as usize,
        continue_on_collection_errors,
        durations,
        debug: settings.debug().value,
        list_only,
        timeout: settings.timeout().value,
        prewarm_zygote: io_tests_likely(settings),
    };
    Ok(Prepared {
        config,
        python,
        cwd,
        fallback_args,
        cache_dir,
    })
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

fn python_path(settings: &Settings) -> Result<PathBuf, i32> {
    let python = settings.python();
    let path = python.value.clone();
    if path.components().count() > 1 && !path.exists() {
        eprintln!(
            "error: the Python interpreter `{}` (from {}) does not exist\n\nhint: pass --python PATH to an interpreter that has pytest",
            path.display(),
            python.source
        );
        return Err(exit::USAGE_ERROR);
    }
    Ok(path)
}

fn execute(config: RunConfig, reporter: &mut dyn pacer_runner::events::Reporter) -> RunEnd {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return RunEnd::Failed {
                code: exit::INTERNAL_ERROR,
                message: format!("failed to start the async runtime: {e}"),
            }
        }
    };
    runtime.block_on(pool::run(config, reporter))
}

fn finish(
    end: RunEnd,
    python: &Path,
    cwd: &Path,
    fallback_args: &[String],
    env: &[(String, String)],
) -> i32 {
    match end {
        RunEnd::Finished(summary) => summary.exit_code,
        RunEnd::Failed { code, message } => {
            if message.starts_with("ERROR:")
                || message.starts_with("error:")
                || message.contains("\nerror:")
                || message.contains("ERROR:")
            {
                eprintln!("{message}");
            } else {
                eprintln!("error: {message}");
            }
            code
        }
        RunEnd::Fallback { reason } => {
            eprintln!("pacer: falling back to a sequential run: {reason}");
            sequential_pytest(python, cwd, fallback_args, env)
        }
    }
}

/// The first pytest option that makes it list or explain rather than run.
fn non_running_mode(pytest_args: &[String]) -> Option<&str> {
    const MODES: [&str; 8] = [
        "--co",
        "--collect-only",
        "--fixtures",
        "--fixtures-per-test",
        "--markers",
        "--help",
        "-h",
        "--version",
    ];
    pytest_args
        .iter()
        .map(String::as_str)
        .find(|a| MODES.contains(a))
}

/// Plain `python -m pytest`, for when parallel workers cannot do the job.
fn sequential_pytest(python: &Path, cwd: &Path, args: &[String], env: &[(String, String)]) -> i32 {
    match std::process::Command::new(python)
        .args(["-m", "pytest"])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .status()
    {
        Ok(status) => status.code().unwrap_or(exit::INTERRUPTED),
        Err(e) => {
            eprintln!("error: failed to run `{} -m pytest`: {e}", python.display());
            exit::INTERNAL_ERROR
        }
    }
}
