//! `pacer run` and `pacer list`: resolve settings, run the pool, fall back
//! to a plain sequential pytest when parallel work cannot start.
//!
//! Around the pool, `run` starts the upstreams' proxies (`upstreams.rs`),
//! reruns tests that failed on HTTP 429 once, sequentially (`rerun.rs`),
//! and prints the proxies' statistics after pytest's final line. With
//! `--junitxml` (the flag, or pytest's own option in the pytest arguments,
//! which workers never see), a JUnit reporter sits beside the terminal.

use std::path::{Path, PathBuf};

use pacer_report::{Junit, Tee, Terminal, TerminalOptions};
use pacer_runner::pool::{self, exit, CategorySpec, RunConfig, RunEnd};

use crate::{coverage, junit_options};
use pacer_runner::scheduler::{CategorySlots, Kind};
use pacer_runner::worker::Launch;
use pacer_settings::{ProcessEnv, Settings};

use crate::cli::{CommonArgs, ListArgs, PytestArgs, RunArgs};
use crate::durations;
use crate::lastfailed;
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
    // The flag wins over `-- --junitxml`, which wins over pytest_args, as a
    // later option wins in pytest.
    let junit_path = match &args.junitxml {
        Some(path) => Some(std::path::absolute(path).unwrap_or_else(|_| path.clone())),
        None => prepared.junitxml.clone(),
    };
    if let Some(path) = &junit_path {
        // The sequential fallback is plain pytest: it writes the report itself.
        prepared
            .fallback_args
            .push(format!("--junitxml={}", path.display()));
    }
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

    let mut junit = match junit_path {
        Some(path) => {
            if let Err(e) = pacer_report::junit::check_writable(&path) {
                eprintln!("error: --junitxml: {e}\n\nhint: {JUNIT_HINT}");
                return exit::USAGE_ERROR;
            }
            let suite = prepared
                .junit_suite_name
                .clone()
                .unwrap_or_else(|| pacer_report::junit::DEFAULT_SUITE_NAME.to_string());
            Some(Junit::new(path).with_suite_name(suite))
        }
        None => None,
    };

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

    let mut terminal = Terminal::new(
        std::io::stdout().lock(),
        TerminalOptions::detect(verbosity).with_pytest_args(&prepared.config.launch.args),
    );
    let mut observed = rerun::Observed::default();
    // pytest's --junitxml from addopts / PYTEST_ADDOPTS, its family and prefix.
    let mut junit_from_hello = junit_options::FromHello::new(&mut junit);
    let mut reporters = Tee::new().with(&mut terminal).with(&mut junit_from_hello);
    // pytest-cov's controller side (combined report, --cov-fail-under).
    let cov_step = coverage::step(
        &prepared.python,
        &prepared.config.plugin_dir,
        &prepared.config.launch.cwd,
        &prepared.config.launch.env,
    );
    let mut cov = coverage::CovController::new(cov_step, &mut reporters);
    let end = execute(
        prepared.config,
        &mut rerun::Observing {
            inner: &mut cov,
            observed: &mut observed,
        },
    );
    let end = cov.amend(end);
    drop(reporters);
    drop(terminal);
    if let (RunEnd::Finished(summary), Some(cache)) = (&end, &prepared.cache_dir) {
        durations::save(cache, &summary.durations);
        let failed: Vec<String> = summary.failed.iter().map(|f| f.id.clone()).collect();
        lastfailed::update(cache, &summary.durations, &failed);
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
                    junit: junit.as_mut(),
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
    // The report was written on the pool's `Finished` (again after a
    // rerun); a run that never finished has none, as pytest would not.
    let code = match junit.as_mut().map(|j| (j.take_result(), j.path())) {
        Some((Some(Ok(())), path)) => {
            if verbosity >= 0 {
                println!("pacer: generated xml file: {}", path.display());
            }
            code
        }
        Some((Some(Err(e)), _)) => {
            eprintln!("error: --junitxml: {e}\n\nhint: {JUNIT_HINT}");
            // A run whose report is missing must not pass in CI.
            if code == exit::OK {
                exit::INTERNAL_ERROR
            } else {
                code
            }
        }
        _ => code,
    };
    if let Some(proxies) = proxies {
        let reports = proxies.shutdown();
        let _ = upstreams::print_stats(&mut std::io::stdout().lock(), &reports);
    }
    code
}

const JUNIT_HINT: &str =
    "pass --junitxml (or pytest's --junitxml after `--`) a file path in a writable folder";

/// What the sequential rerun of 429-failed tests needs from the first run.
struct RerunArgs<'a> {
    args: &'a RunArgs,
    extra: Vec<String>,
    ids: &'a [String],
    rootdir: &'a Path,
    upstream_env: &'a [(String, String)],
    /// The first run's JUnit reporter: the rerun's results replace the
    /// first ones, and the file is written again.
    junit: Option<&'a mut Junit>,
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
    let mut terminal = Terminal::new(
        std::io::stdout().lock(),
        TerminalOptions::detect(verbosity).with_pytest_args(&prepared.config.launch.args),
    );
    let end = execute(
        prepared.config,
        &mut Tee::new()
            .with(&mut terminal)
            .with_some(r.junit.map(|j| j as _)),
    );
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
    /// pytest's `--junitxml` taken out of the pytest arguments, absolute.
    junitxml: Option<PathBuf>,
    /// pytest's `junit_suite_name`, from `-o junit_suite_name=NAME`.
    junit_suite_name: Option<String>,
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
    // pacer writes the JUnit report from every worker's results; a worker
    // given `--junitxml` would at best do nothing with it.
    let junitxml = take_junitxml(&mut pytest_args).map(|path| pytest_path(&path, &cwd));
    let junit_suite_name = ini_override(&pytest_args, "junit_suite_name");
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
    // --lf / --ff are applied by pacer over the whole suite; a worker, which
    // collects only its share of the files, would apply them to that share.
    let last_failed = match &cache_dir {
        Some(cache) => lastfailed::take_options(&mut pytest_args).map(|mode| mode.with_ids(cache)),
        None => None,
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
        last_failed,
        debug: settings.debug().value,
        list_only,
        timeout: settings.timeout().value,
        prewarm_zygote: settings.fork().value && io_tests_likely(settings),
        fork: settings.fork().value,
    };
    Ok(Prepared {
        config,
        python,
        cwd,
        fallback_args,
        cache_dir,
        junitxml,
        junit_suite_name,
    })
}

/// Removes pytest's `--junitxml PATH` / `--junitxml=PATH` (and the
/// `--junit-xml` spelling) from `args`, returning the last PATH given.
fn take_junitxml(args: &mut Vec<String>) -> Option<String> {
    const NAMES: [&str; 2] = ["--junitxml", "--junit-xml"];
    let mut path = None;
    let mut kept = Vec::with_capacity(args.len());
    let mut rest = std::mem::take(args).into_iter();
    while let Some(arg) = rest.next() {
        if NAMES.contains(&arg.as_str()) {
            match rest.next() {
                Some(value) => path = Some(value),
                // No value: leave it for pytest to refuse.
                None => kept.push(arg),
            }
        } else if let Some(value) = NAMES
            .iter()
            .find_map(|n| arg.strip_prefix(n).and_then(|v| v.strip_prefix('=')))
        {
            path = Some(value.to_string());
        } else {
            kept.push(arg);
        }
    }
    *args = kept;
    path
}

/// A path option as pytest reads it: `~` expanded, relative to where it runs.
fn pytest_path(path: &str, cwd: &Path) -> PathBuf {
    let expanded = match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    };
    cwd.join(expanded)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn junitxml_is_taken_out_of_the_pytest_args_in_every_spelling_and_the_last_wins() {
        let mut args = strings(&[
            "--junitxml=a.xml",
            "-p",
            "no:randomly",
            "--junit-xml",
            "b.xml",
            "--junitxml",
            "c.xml",
            "--junitxmlfoo=x",
            "tests",
        ]);
        assert_eq!(take_junitxml(&mut args).as_deref(), Some("c.xml"));
        assert_eq!(
            args,
            strings(&["-p", "no:randomly", "--junitxmlfoo=x", "tests"])
        );

        let mut args = strings(&["--junitxml"]);
        assert_eq!(
            take_junitxml(&mut args),
            None,
            "no value: pytest's to refuse"
        );
        assert_eq!(args, strings(&["--junitxml"]));
    }

    #[test]
    fn a_relative_junitxml_is_relative_to_where_pytest_runs() {
        let cwd = Path::new("/project");
        assert_eq!(
            pytest_path("out/r.xml", cwd),
            Path::new("/project/out/r.xml")
        );
        assert_eq!(pytest_path("/abs/r.xml", cwd), Path::new("/abs/r.xml"));
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
