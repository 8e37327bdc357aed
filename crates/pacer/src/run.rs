//! `pacer run` and `pacer list`: resolve settings, run the pool, fall back
//! to a plain sequential pytest when parallel work cannot start.
//!
//! Around the pool, `run` starts the upstreams' proxies (`upstreams.rs`),
//! reruns tests that failed on HTTP 429 once, sequentially (`rerun.rs`),
//! and prints the proxies' statistics after pytest's final line. With
//! `--junitxml` (the flag, or pytest's own option in the pytest arguments,
//! which workers never see), a JUnit reporter sits beside the terminal.

use std::path::{Path, PathBuf};

use pacer_report::junit::Family;
use pacer_report::{Junit, Tee, Terminal, TerminalOptions};
use pacer_runner::events::{Event, Reporter};
use pacer_runner::pool::{self, exit, CategorySpec, RunConfig, RunEnd};
use pacer_runner::protocol::PytestOptions;
use pacer_runner::scheduler::{CategorySlots, Kind};
use pacer_runner::worker::Launch;
use pacer_settings::{ProcessEnv, Settings};

use crate::cli::{CommonArgs, ListArgs, RunArgs};
use crate::coverage;
use crate::durations;
use crate::lastfailed;
use crate::rerun;
use crate::tune;
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
    let mut prepared = match prepare(
        &settings,
        &args.common,
        args.pytest.pytest_args.clone(),
        Purpose::Run,
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(mode) = non_running_mode(&prepared.pytest_args) {
        // pytest's modes that list or explain instead of running tests need
        // no workers: plain pytest answers them exactly as the user expects.
        if settings.debug().value {
            eprintln!("pacer: `{mode}` runs no tests; handing it to pytest");
        }
        return sequential_pytest(&prepared.python, &prepared.cwd, &prepared.pytest_args, &[]);
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

    // pytest's `--junitxml` (from the command line, `addopts` or
    // PYTEST_ADDOPTS) is known once pytest has parsed it: the report is
    // set up then, and written by pacer from every worker's results.
    let mut junit = JunitOnDemand::new(prepared.junit_suite_name.clone());
    let mut terminal = Terminal::new(std::io::stdout().lock(), TerminalOptions::detect(0));
    let mut observed = rerun::Observed::default();
    // JUnit first: the file exists when the terminal names it (pytest's
    // `generated xml file` line, before the short summary).
    let mut reporters = Tee::new().with(&mut junit).with(&mut terminal);
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
    let options = observed.options.clone().unwrap_or_default();
    let cache_dir = options.cache_dir.as_ref().map(PathBuf::from);
    if let (RunEnd::Finished(summary), Some(cache)) = (&end, &cache_dir) {
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
                    options: &options,
                    ids: &ids,
                    rootdir: &rootdir,
                    upstream_env: &upstream_env,
                    junit: junit.junit.as_mut(),
                };
                match rerun_sequentially(&settings, rerun_args) {
                    Ok(code) => rerun::exit_code(&summary, &ids, code),
                    Err(code) => code,
                }
            }
        }
        other => finish(
            other,
            &prepared.python,
            &prepared.cwd,
            &prepared.pytest_args,
            &upstream_env,
        ),
    };
    // The report was written on the pool's `Finished` (again after a
    // rerun); a run that never finished has none, as pytest would not.
    let code = match junit.junit.as_mut().map(|j| (j.take_result(), j.path())) {
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

const JUNIT_HINT: &str = "pass pytest's --junitxml a file path in a writable folder";

/// The JUnit reporter, made when pytest says where the report goes (its
/// folder was checked by `tune` before any test ran), styled as pytest's
/// own settings say (`junit_family`, `--junitprefix`, `junit_suite_name`).
struct JunitOnDemand {
    junit: Option<Junit>,
    /// `-o junit_suite_name=NAME` on the command line.
    suite_name: Option<String>,
}

impl JunitOnDemand {
    fn new(suite_name: Option<String>) -> Self {
        JunitOnDemand {
            junit: None,
            suite_name,
        }
    }
}

impl Reporter for JunitOnDemand {
    fn report(&mut self, event: Event<'_>) {
        if let Event::Started { hello, .. } = &event {
            if let (None, Some(path)) = (&self.junit, &hello.options.xmlpath) {
                let mut junit = Junit::new(PathBuf::from(path));
                let mut suite = self.suite_name.clone();
                if let Some(options) = &hello.junit {
                    junit = junit
                        .with_family(Family::from_ini(&options.family))
                        .with_prefix(options.prefix.clone());
                    suite = suite.or_else(|| Some(options.suite_name.clone()));
                }
                let suite = suite
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| pacer_report::junit::DEFAULT_SUITE_NAME.into());
                self.junit = Some(junit.with_suite_name(suite));
            }
        }
        if let Some(junit) = self.junit.as_mut() {
            junit.report(event);
        }
    }
}

/// What the sequential rerun of 429-failed tests needs from the first run.
struct RerunArgs<'a> {
    args: &'a RunArgs,
    /// pytest's options as the first run's workers parsed them.
    options: &'a PytestOptions,
    ids: &'a [String],
    rootdir: &'a Path,
    upstream_env: &'a [(String, String)],
    /// The first run's JUnit reporter: the rerun's results replace the
    /// first ones, and the file is written again.
    junit: Option<&'a mut Junit>,
}

/// Reruns `ids` once on one worker through the same proxies, announcing it
/// in one line; returns the rerun's exit code.
fn rerun_sequentially(settings: &Settings, r: RerunArgs<'_>) -> Result<i32, i32> {
    let n = r.ids.len();
    println!(
        "pacer: {n} test{} failed on HTTP 429; rerunning {} once, sequentially (--no-fallback turns this off)",
        if n == 1 { "" } else { "s" },
        if n == 1 { "it" } else { "them" },
    );
    // The same options, with the first run's paths replaced by the ids.
    let mut pytest_args = without_positionals(&r.args.pytest.pytest_args, &r.options.file_or_dir);
    pytest_args.extend(rerun::as_paths(r.ids, r.rootdir));
    let mut prepared = prepare(settings, &r.args.common, pytest_args, Purpose::Rerun)?;
    // One worker for every category: io categories would otherwise still
    // start workers up to their caps.
    for category in &mut prepared.config.categories {
        category.slots.cap = 1;
        category.slots.kind = Kind::Cpu;
    }
    prepared
        .config
        .launch
        .env
        .extend(r.upstream_env.iter().cloned());
    let mut terminal = Terminal::new(std::io::stdout().lock(), TerminalOptions::detect(0));
    let end = execute(
        prepared.config,
        &mut Tee::new()
            .with_some(r.junit.map(|j| j as _))
            .with(&mut terminal),
    );
    drop(terminal);
    match end {
        RunEnd::Finished(summary) => Ok(summary.exit_code),
        other => Err(finish(
            other,
            &prepared.python,
            &prepared.cwd,
            &prepared.pytest_args,
            r.upstream_env,
        )),
    }
}

/// `args` without the positional arguments pytest found in them (its
/// `file_or_dir`), each removed once, from the end.
fn without_positionals(args: &[String], positionals: &[String]) -> Vec<String> {
    let mut args = args.to_vec();
    for p in positionals {
        if let Some(i) = args.iter().rposition(|a| a == p) {
            args.remove(i);
        }
    }
    args
}

pub fn list(args: ListArgs) -> i32 {
    let settings = match settings(&args.common) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let prepared = match prepare(
        &settings,
        &args.common,
        args.pytest.pytest_args.clone(),
        Purpose::List,
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

/// Why the pool runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Run,
    /// `pacer list`: collect and report the plan only.
    List,
    /// The sequential rerun of tests that failed on HTTP 429.
    Rerun,
}

struct Prepared {
    config: RunConfig,
    python: PathBuf,
    cwd: PathBuf,
    /// Everything pytest is given: the settings' `pytest_args`, then the
    /// command line's, in order. The sequential fallback gets exactly these.
    pytest_args: Vec<String>,
    /// pytest's `junit_suite_name`, from `-o junit_suite_name=NAME`.
    junit_suite_name: Option<String>,
}

fn prepare(
    settings: &Settings,
    common: &CommonArgs,
    command_line: Vec<String>,
    purpose: Purpose,
) -> Result<Prepared, i32> {
    let cwd = start_dir(common);
    let workers = settings.worker_count().max(1);
    let python = python_path(settings)?;

    let mut pytest_args: Vec<String> = settings.pytest_args().value.clone();
    pytest_args.extend(command_line);
    let junit_suite_name = ini_override(&pytest_args, "junit_suite_name");

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
                exclusive: category.exclusive,
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
    let rerun = purpose == Purpose::Rerun;
    let tune = tune::tuner(tune::Inputs {
        workers,
        workers_set_by_pacer: settings.sequential().value
            || !matches!(settings.workers().source, pacer_settings::Source::Default),
        cores: settings.cores(),
        dist: common.dist.clone(),
        maxprocesses: common.maxprocesses,
        durations_file: settings.durations_file().value.clone(),
        fixed: rerun,
    });
    let mut env: Vec<(String, String)> = settings
        .worker_env()
        .iter()
        .map(|v| (v.name.clone(), v.value.clone()))
        .collect();
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
        timeout: settings.timeout().value,
        prewarm_zygote: settings.fork().value && io_tests_likely(settings),
        fork: settings.fork().value,
        tune: Some(tune),
        dist: pacer_runner::plan::Dist::default(),
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

fn python_path(settings: &Settings) -> Result<PathBuf, i32> {
    let python = settings.python();
    let path = python.value.clone();
    let found = if path.components().count() > 1 {
        path.exists()
    } else {
        on_path(&path)
    };
    if !found {
        eprintln!(
            "error: the Python interpreter `{}` (from {}) does not exist\n\nhint: pass --python PATH to an interpreter that has pytest",
            path.display(),
            python.source
        );
        return Err(exit::USAGE_ERROR);
    }
    Ok(path)
}

/// Whether a bare program name is found on `$PATH`, as a spawn would find it.
fn on_path(name: &Path) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            std::fs::metadata(dir.join(name)).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
    })
}

/// Before falling back to plain pytest: can this interpreter run pytest at
/// all? If not, the fallback would fail the same way, or pass with no test
/// (`/bin/true`); the user needs the interpreter named instead.
fn probe_interpreter(python: &Path, cwd: &Path) -> Result<(), String> {
    const MARK: &str = "pacer-probe-ok";
    let output = std::process::Command::new(python)
        .args(["-c", &format!("import pytest; print('{MARK}')")])
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&output.stdout).contains(MARK) {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("it printed nothing");
    Err(match output.status.code() {
        Some(code) => format!("exit code {code}: {}", last.trim()),
        None => format!("killed by a signal: {}", last.trim()),
    })
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
        RunEnd::Delegate { reason } => {
            eprintln!("pacer: {reason}");
            sequential_pytest(python, cwd, fallback_args, env)
        }
        RunEnd::Fallback { reason } => {
            if let Err(why) = probe_interpreter(python, cwd) {
                eprintln!(
                    "error: `{} -c 'import pytest'` failed ({why})\n\nhint: pass --python PATH (or set PACER_PYTHON) to an interpreter that has pytest installed",
                    python.display()
                );
                return exit::USAGE_ERROR;
            }
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
    fn the_rerun_drops_the_first_runs_paths_but_keeps_options() {
        let args = strings(&["-p", "no:randomly", "tests", "-k", "tests", "tests/b.py"]);
        assert_eq!(
            without_positionals(&args, &strings(&["tests", "tests/b.py"])),
            strings(&["-p", "no:randomly", "tests", "-k"])
        );
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
