//! The command line: clap definitions only. Settings are resolved elsewhere.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "pacer",
    version,
    about = "Run a pytest suite in parallel, and pace its calls to rate-limited APIs",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the suite (the default command).
    Run(RunArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Files, directories or node ids to run, as pytest takes them.
    pub paths: Vec<String>,

    /// Worker processes for cpu-bound tests: a number or `auto` (the cores) [env: PACER_WORKERS, PYTEST_WORKERS].
    #[arg(short = 'n', long = "workers", value_name = "N|auto")]
    pub workers: Option<String>,

    /// Run on one worker, in order [env: PACER_DISABLE_PARALLEL, PYTEST_DISABLE_PARALLEL].
    #[arg(long)]
    pub sequential: bool,

    /// The Python interpreter (default: $VIRTUAL_ENV, then .venv/ in the project, then python3).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,

    /// Only run tests matching the expression (pytest's -k).
    #[arg(short = 'k', value_name = "EXPRESSION")]
    pub keyword: Option<String>,

    /// Only run tests matching the marker expression (pytest's -m).
    #[arg(short = 'm', value_name = "MARKEXPR")]
    pub markexpr: Option<String>,

    /// Stop after the first failure: no new test starts, running ones finish.
    #[arg(short = 'x', long = "exitfirst")]
    pub exitfirst: bool,

    /// Stop after N failures.
    #[arg(long, value_name = "N")]
    pub maxfail: Option<usize>,

    /// Less output (repeatable).
    #[arg(short = 'q', long = "quiet", action = clap::ArgAction::Count)]
    pub quiet: u8,

    /// More output: one line per test (repeatable).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Do not capture output: stream each test's output live, prefixed with its worker.
    #[arg(short = 's')]
    pub no_capture: bool,

    /// Replace at most N crashed workers (default: 4 × workers).
    #[arg(long, value_name = "N")]
    pub max_worker_restart: Option<usize>,

    /// Run as if started in DIR.
    #[arg(short = 'C', value_name = "DIR")]
    pub directory: Option<PathBuf>,

    /// Log scheduling decisions [env: PACER_DEBUG, PYTEST_DEBUG].
    #[arg(long)]
    pub debug: bool,

    /// Arguments after `--` go to pytest unchanged.
    #[arg(last = true, value_name = "PYTEST_ARGS")]
    pub pytest_args: Vec<String>,
}
