//! `pacer run`: resolve what to run, run it, fall back when parallel fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pacer_report::{Terminal, TerminalOptions};
use pacer_runner::pool::{self, exit, CategorySpec, RunConfig, RunEnd};
use pacer_runner::scheduler::{CategorySlots, Kind};
use pacer_runner::worker::Launch;

use crate::cli::RunArgs;

/// An error the user can fix: printed as `error:` with a `hint:`, exit code 4.
pub struct UsageError {
    pub message: String,
    pub hint: Option<String>,
}

impl UsageError {
    fn print(&self) {
        eprintln!("error: {}", self.message);
        if let Some(hint) = &self.hint {
            eprintln!("\nhint: {hint}");
        }
    }
}

fn env(name: &str) -> Option<(String, String)> {
    let twin = name.replacen("PYTEST_", "PACER_", 1);
    for key in [twin.as_str(), name] {
        if let Ok(value) = std::env::var(key) {
            if !value.is_empty() {
                return Some((key.to_string(), value));
            }
        }
    }
    None
}

fn truthy(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

fn parse_workers(value: &str, source: &str) -> Result<usize, UsageError> {
    if value == "auto" {
        return Ok(cores());
    }
    match value.parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n as usize),
        _ => Err(UsageError {
            message: format!("{source} = `{value}` is not a number of workers"),
            hint: Some(format!("set {source} to a whole number of at least 1, or `auto` for the number of cores")),
        }),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// The nearest ancestor holding pytest configuration, else `start`.
fn project_root(start: &Path) -> PathBuf {
    for dir in start.ancestors() {
        if ["pyproject.toml", "pytest.ini", "setup.cfg", "tox.ini", "pacer.toml"].iter().any(|f| dir.join(f).is_file()) {
            return dir.to_path_buf();
        }
    }
    start.to_path_buf()
}

pub fn run(args: RunArgs) -> i32 {
    match prepare(&args) {
        Ok(prepared) => execute(prepared),
        Err(err) => {
            err.print();
            exit::USAGE_ERROR
        }
    }
}

struct Prepared {
    config: RunConfig,
    verbosity: i32,
    fallback_args: Vec<String>,
}

fn prepare(args: &RunArgs) -> Result<Prepared, UsageError> {
    let cwd = match &args.directory {
        Some(dir) => std::fs::canonicalize(dir).map_err(|e| UsageError {
            message: format!("-C {}: {e}", dir.display()),
            hint: Some("pass an existing directory".into()),
        })?,
        None => std::env::current_dir().map_err(|e| UsageError { message: format!("cannot read the current directory: {e}"), hint: None })?,
    };
    let root = project_root(&cwd);
    let mut workers = match (&args.workers, env("PYTEST_WORKERS")) {
        (Some(value), _) => parse_workers(value, "--workers")?,
        (None, Some((name, value))) => parse_workers(&value, &name)?,
        (None, None) => cores(),
    };
    let sequential = args.sequential || env("PYTEST_DISABLE_PARALLEL").is_some_and(|(_, v)| truthy(&v));
    if sequential {
        workers = 1;
    }
    let virtual_env = std::env::var("VIRTUAL_ENV").ok();
    let interpreter = pacer_runner::python::find_interpreter(args.python.as_deref(), virtual_env.as_deref(), &root)
        .map_err(|e| UsageError { message: e.to_string(), hint: Some("pass --python PATH to an interpreter that has pytest".into()) })?;

    let verbosity = args.verbose as i32 - args.quiet as i32;
    let mut pytest_args: Vec<String> = Vec::new();
    if let Some(k) = &args.keyword {
        pytest_args.extend(["-k".into(), k.clone()]);
    }
    if let Some(m) = &args.markexpr {
        pytest_args.extend(["-m".into(), m.clone()]);
    }
    for _ in 0..args.verbose {
        pytest_args.push("-v".into());
    }
    for _ in 0..args.quiet {
        pytest_args.push("-q".into());
    }
    if args.no_capture {
        pytest_args.push("-s".into());
    }
    pytest_args.extend(args.pytest_args.iter().cloned());
    pytest_args.extend(args.paths.iter().cloned());
    let maxfail = if args.exitfirst { Some(1) } else { args.maxfail.filter(|n| *n > 0) };
    let mut fallback_args = pytest_args.clone();
    if let Some(n) = maxfail {
        fallback_args.push(format!("--maxfail={n}"));
    }
    let continue_on_collection_errors = args.pytest_args.iter().any(|a| a == "--continue-on-collection-errors");

    let plugin_dir = pacer_runner::plugin::install(&pacer_runner::plugin::default_cache_root())
        .or_else(|_| pacer_runner::plugin::install(&std::env::temp_dir().join("pacer-cache")))
        .map_err(|e| UsageError { message: format!("failed to write the worker plugin: {e}"), hint: Some("set XDG_CACHE_HOME to a writable folder".into()) })?;

    let categories = vec![CategorySpec {
        name: "default".into(),
        slots: CategorySlots { cap: workers, kind: Kind::Cpu },
        rate_limited: false,
    }];
    let config = RunConfig {
        launch: Launch { python: interpreter.path, cwd, args: pytest_args, env: Vec::new() },
        plugin_dir,
        workers,
        categories,
        classify: Box::new(|_, _| 0),
        maxfail,
        live_output: args.no_capture,
        max_worker_restart: args.max_worker_restart.unwrap_or(4 * workers),
        continue_on_collection_errors,
        durations: HashMap::new(),
        debug: args.debug || env("PYTEST_DEBUG").is_some_and(|(_, v)| truthy(&v)),
    };
    Ok(Prepared { config, verbosity, fallback_args })
}

fn execute(prepared: Prepared) -> i32 {
    let Prepared { config, verbosity, fallback_args } = prepared;
    let python = config.launch.python.clone();
    let cwd = config.launch.cwd.clone();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return exit::INTERNAL_ERROR;
        }
    };
    let stdout = std::io::stdout();
    let mut terminal = Terminal::new(stdout.lock(), TerminalOptions::detect(verbosity));
    let end = runtime.block_on(pool::run(config, &mut terminal));
    drop(terminal);
    match end {
        RunEnd::Finished(summary) => summary.exit_code,
        RunEnd::Failed { code, message } => {
            if code == exit::USAGE_ERROR && message.starts_with("ERROR:") || message.contains("error:") {
                eprintln!("{message}");
            } else {
                eprintln!("error: {message}");
            }
            code
        }
        RunEnd::Fallback { reason } => {
            eprintln!("pacer: falling back to a sequential run: {reason}");
            sequential_pytest(&python, &cwd, &fallback_args)
        }
    }
}

/// Plain `python -m pytest`, for when parallel workers cannot do the job.
fn sequential_pytest(python: &Path, cwd: &Path, args: &[String]) -> i32 {
    match std::process::Command::new(python).args(["-m", "pytest"]).args(args).current_dir(cwd).status() {
        Ok(status) => status.code().unwrap_or(exit::INTERRUPTED),
        Err(e) => {
            eprintln!("error: failed to run `{} -m pytest`: {e}", python.display());
            exit::INTERNAL_ERROR
        }
    }
}
