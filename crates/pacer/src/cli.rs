//! The command line: clap definitions only. Settings are resolved in
//! `pacer-settings`; these structs only carry what the user typed.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use pacer_settings::{CliOverrides, RateLimitOverrides};

/// The help heading of every rate-limiting flag, in `pacer run` and
/// `pacer proxy` alike. (clap's `next_help_heading` on [`RateArgs`] would
/// also give it to every flag declared after them without a heading.)
const RATE_LIMITING: &str = "Rate limiting";

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
    /// Collect the suite and print its tests grouped by category.
    List(ListArgs),
    /// Print every effective setting, its value and where it came from.
    Config(ConfigArgs),
    /// Run the rate-limiting proxy alone, printing its address and live statistics.
    Proxy(ProxyArgs),
    /// Read the suite and write a commented pacer section for it (shows the diff, asks first).
    Init(InitArgs),
    /// Time the selected categories sequentially and in parallel; keep a history in .pacer/perf/.
    Measure(MeasureArgs),
    /// Explain where the suite's time goes: imports, collection, fixtures, longest tests, advice.
    Doctor(DoctorArgs),
    /// Work with the JSON reports of runs: `pacer report merge` makes a sharded run's one.
    Report(ReportArgs),
    /// CI shards: `plan N` prints each part's tests and predicted time, `verify N` checks (offline) that the parts cover the selection once.
    Shard(ShardArgs),
    /// Rerun the schedule a JSON report (or the last run) recorded: each worker's tests in their order, the same seed; with TEST, what ran before it on its worker, then it.
    Replay(ReplayArgs),
    /// Find the tests that, run before TEST on its worker, make it fail (delta debugging); print them and a one-process pytest command that fails.
    Bisect(BisectArgs),
    /// Run the suite sequentially, in parallel (and shuffled); find the tests whose outcome depends on order, bisect each, print a fix list.
    Audit(AuditArgs),
    /// Run the selection with plain pytest and with pacer; compare every test's outcome and both walls (exit 1 when they differ).
    Try(TryArgs),
}

/// Options shared by every command that reads the project's settings.
#[derive(Debug, Args, Clone, Default)]
pub struct CommonArgs {
    /// Worker processes for cpu-bound tests: a number or `auto` (the cores) [env: PACER_WORKERS, PYTEST_WORKERS].
    #[arg(
        short = 'n',
        long = "workers",
        visible_alias = "numprocesses",
        value_name = "N|auto",
        allow_hyphen_values = true
    )]
    pub workers: Option<String>,

    /// pytest-xdist's distribution mode: `load`/`worksteal` (pacer's default
    /// scheduling), `loadfile`, `loadscope`, `loadgroup`, `no` (sequential).
    /// Also read from pytest's own `--dist` (e.g. in `addopts`).
    #[arg(long, value_name = "MODE")]
    pub dist: Option<String>,

    /// Never more workers than N (pytest-xdist's `--maxprocesses`).
    #[arg(long, value_name = "N")]
    pub maxprocesses: Option<usize>,

    /// Run on one worker [env: PACER_DISABLE_PARALLEL, PYTEST_DISABLE_PARALLEL].
    #[arg(long)]
    pub sequential: bool,

    /// The Python interpreter (default: $VIRTUAL_ENV, then .venv/ in the project, then python3).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,

    /// Run every category (the default).
    #[arg(long, help_heading = "Categories")]
    pub all: bool,
    /// Run the `unit` category.
    #[arg(long, help_heading = "Categories")]
    pub unit: bool,
    /// Run the `models` category.
    #[arg(long, help_heading = "Categories")]
    pub models: bool,
    /// Run the `integration` category.
    #[arg(long, help_heading = "Categories")]
    pub integration: bool,
    /// Run the `end-to-end` category.
    #[arg(long = "end-to-end", help_heading = "Categories")]
    pub end_to_end: bool,
    /// Run the `live` category.
    #[arg(long, help_heading = "Categories")]
    pub live: bool,
    /// Run the category NAME (repeatable; any category, built-in or the project's).
    #[arg(long = "category", value_name = "NAME", help_heading = "Categories")]
    pub categories: Vec<String>,

    /// Replace at most N crashed workers (default: 4 × workers).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_worker_restart: Option<String>,

    /// With `--workers auto`: at most N workers beyond the cores for tests
    /// that wait (default: from the cores and the memory; 0: none).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_wait_workers: Option<String>,

    /// Add a live API (or override its URL), as NAME=URL; repeatable.
    #[arg(
        long = "upstream",
        value_name = "NAME=URL",
        help_heading = RATE_LIMITING
    )]
    pub upstreams: Vec<String>,
    /// Run rate-limited categories without the proxy.
    #[arg(long, help_heading = RATE_LIMITING)]
    pub no_rate_limit: bool,
    #[command(flatten)]
    pub limits: RateArgs,
    /// Never rerun tests that failed on 429 sequentially.
    #[arg(long, help_heading = RATE_LIMITING)]
    pub no_fallback: bool,
    /// How many 429-failed tests trigger the sequential rerun: a count, a fraction or N%.
    #[arg(long, value_name = "N|F|P%", help_heading = RATE_LIMITING)]
    pub fallback_threshold: Option<String>,

    /// Recorded durations (pytest-split's `.test_durations` format).
    #[arg(long, value_name = "PATH")]
    pub durations_file: Option<PathBuf>,

    /// Fail a test that runs longer than SECONDS and replace its worker (0: none) [env: PACER_TIMEOUT].
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    pub timeout: Option<String>,

    /// Deadline for importing and collecting test files; a hung file is a collection error (default: the --timeout, else 60) [env: PACER_COLLECT_TIMEOUT].
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    pub collect_timeout: Option<String>,

    /// Seconds a worker may take to exit after its last test before its stacks are dumped and it is killed [env: PACER_EXIT_GRACE].
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    pub exit_grace: Option<String>,

    /// What a FLAKY test (failed, then passed on a rerun) means: `pass` (default) or `fail` (exit 1) [env: PACER_FLAKY_RESULT].
    #[arg(long, value_name = "pass|fail")]
    pub flaky_result: Option<String>,

    /// Act as if started in DIR.
    #[arg(short = 'C', value_name = "DIR")]
    pub directory: Option<PathBuf>,

    /// Log scheduling decisions [env: PACER_DEBUG, PYTEST_DEBUG].
    #[arg(long)]
    pub debug: bool,

    /// Spawn every worker as a new interpreter instead of forking extra ones from a zygote [env: PACER_FORK].
    #[arg(long)]
    pub no_fork: bool,

    /// Record what each test leaves behind (environment variables, files, ports, module globals) as `touched` in the JSON report [env: PACER_TRACE_TOUCHED].
    #[arg(long)]
    pub trace_touched: bool,

    /// How workers collect: `whole` (pytest's whole collection, forked into every worker), `split` (each worker its share of the files) or `auto` [env: PACER_COLLECTION].
    #[arg(long, value_name = "MODE")]
    pub collection: Option<String>,

    /// Run part K of N of the selected tests (K from 1), balanced by recorded durations: every machine computes the same parts [env: PACER_SHARD].
    #[arg(
        long,
        value_name = "K/N",
        allow_hyphen_values = true,
        conflicts_with_all = ["splits", "group"],
        help_heading = "CI"
    )]
    pub shard: Option<String>,
    /// pytest-split's spelling of --shard: the number of parts (with --group).
    #[arg(
        long,
        value_name = "N",
        allow_hyphen_values = true,
        requires = "group",
        help_heading = "CI"
    )]
    pub splits: Option<String>,
    /// pytest-split's spelling of --shard: the part to run, from 1 (with --splits).
    #[arg(
        long,
        value_name = "K",
        allow_hyphen_values = true,
        requires = "splits",
        help_heading = "CI"
    )]
    pub group: Option<String>,
    /// The id the jobs of one CI run share (default: GITHUB_RUN_ID-GITHUB_RUN_ATTEMPT, else CI_PIPELINE_ID, else BUILDKITE_BUILD_ID) [env: PACER_RUN_ID].
    #[arg(long, value_name = "ID", help_heading = "CI")]
    pub run_id: Option<String>,

    /// Only the tests a change since the git REF can affect (default: the working tree's changes against HEAD): changed test files and tests importing a changed module; `--changed=REF` when REF could be read as a path [env: PACER_CHANGED].
    #[arg(
        long,
        value_name = "REF",
        num_args = 0..=1,
        default_missing_value = "",
        help_heading = "Changes"
    )]
    pub changed: Option<String>,
    /// Under --changed, a glob of files whose change selects every test; repeatable [env: PACER_CHANGED_ALWAYS].
    #[arg(long, value_name = "GLOB", help_heading = "Changes")]
    pub changed_always: Vec<String>,
    /// The files `--watch` saw change (its reruns' selection instead of git's).
    #[arg(long = "changed-file", value_name = "PATH", hide = true)]
    pub changed_files: Vec<PathBuf>,
}

impl CommonArgs {
    pub fn overrides(&self) -> CliOverrides {
        CliOverrides {
            workers: self.workers.clone(),
            sequential: self.sequential,
            python: self.python.clone(),
            debug: self.debug,
            no_fork: self.no_fork,
            trace_touched: self.trace_touched,
            collection: self.collection.clone(),
            all: self.all,
            unit: self.unit,
            models: self.models,
            integration: self.integration,
            end_to_end: self.end_to_end,
            live: self.live,
            categories: self.categories.clone(),
            max_worker_restart: self.max_worker_restart.clone(),
            max_wait_workers: self.max_wait_workers.clone(),
            upstreams: self.upstreams.clone(),
            rate_limit: self.limits.overrides(self.no_rate_limit),
            no_fallback: self.no_fallback,
            fallback_threshold: self.fallback_threshold.clone(),
            durations_file: self.durations_file.clone(),
            timeout: self.timeout.clone(),
            collect_timeout: self.collect_timeout.clone(),
            exit_grace: self.exit_grace.clone(),
            flaky_result: self.flaky_result.clone(),
            shard: self.shard.clone(),
            splits: self.splits.clone().zip(self.group.clone()),
            run_id: self.run_id.clone(),
            changed: self.changed.clone(),
            changed_always: self.changed_always.clone(),
        }
    }
}

/// How each upstream is paced: shared by `pacer run` and `pacer proxy`.
#[derive(Debug, Args, Clone, Default)]
pub struct RateArgs {
    /// Requests per second, per upstream.
    #[arg(
        long,
        value_name = "R",
        allow_hyphen_values = true,
        help_heading = RATE_LIMITING
    )]
    pub rate: Option<String>,
    /// Requests that may go at once before the rate applies.
    #[arg(
        long,
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = RATE_LIMITING
    )]
    pub burst: Option<String>,
    /// Requests in flight at most [env: PYTEST_MAX_CONCURRENT_REQUESTS].
    #[arg(
        long,
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = RATE_LIMITING
    )]
    pub max_concurrent: Option<String>,
    /// Seconds between request starts at least [env: PYTEST_RATE_LIMIT_DELAY].
    #[arg(
        long,
        value_name = "SECONDS",
        allow_hyphen_values = true,
        help_heading = RATE_LIMITING
    )]
    pub min_delay: Option<String>,
    /// Retries of a 429/503 [env: PYTEST_MAX_RETRIES].
    #[arg(
        long,
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = RATE_LIMITING
    )]
    pub max_retries: Option<String>,
    /// First backoff, seconds [env: PYTEST_BASE_BACKOFF].
    #[arg(
        long,
        value_name = "SECONDS",
        allow_hyphen_values = true,
        help_heading = RATE_LIMITING
    )]
    pub base_backoff: Option<String>,
    /// Longest backoff, seconds [env: PYTEST_MAX_BACKOFF].
    #[arg(
        long,
        value_name = "SECONDS",
        allow_hyphen_values = true,
        help_heading = RATE_LIMITING
    )]
    pub max_backoff: Option<String>,
    /// Lower the rate on 429s and climb back on success.
    #[arg(long, overrides_with = "no_adaptive", help_heading = RATE_LIMITING)]
    pub adaptive: bool,
    /// Keep the configured rate whatever the API answers.
    #[arg(long, help_heading = RATE_LIMITING)]
    pub no_adaptive: bool,
    /// Where the limit lives: memory, or redis://[user:pass@]host:6379/0
    /// shared by every pacer using it [env: PACER_LIMITER_BACKEND].
    #[arg(long, value_name = "URL", help_heading = RATE_LIMITING)]
    pub limiter_backend: Option<String>,
    /// When the backend is unreachable at start: fail (exit 4) or memory
    /// (go on alone at rate / shards) [env: PACER_LIMITER_FALLBACK].
    #[arg(long, value_name = "fail|memory", help_heading = RATE_LIMITING)]
    pub limiter_fallback: Option<String>,
}

impl RateArgs {
    pub fn overrides(&self, disable: bool) -> RateLimitOverrides {
        RateLimitOverrides {
            disable,
            rate: self.rate.clone(),
            burst: self.burst.clone(),
            max_concurrent: self.max_concurrent.clone(),
            min_delay: self.min_delay.clone(),
            max_retries: self.max_retries.clone(),
            base_backoff: self.base_backoff.clone(),
            max_backoff: self.max_backoff.clone(),
            adaptive: match (self.adaptive, self.no_adaptive) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            backend: self.limiter_backend.clone(),
            fallback: self.limiter_fallback.clone(),
        }
    }
}

/// `pacer proxy`: the rate-limiting proxy alone, outside a test run.
#[derive(Debug, Args, Clone)]
pub struct ProxyArgs {
    /// The live API to proxy, as NAME=URL; repeatable (one proxy each, on consecutive ports).
    #[arg(long = "upstream", value_name = "NAME=URL")]
    pub upstreams: Vec<String>,
    /// Port of the first proxy (default: an ephemeral port each).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Address to listen on; loopback unless --allow-non-loopback.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Allow --bind outside loopback: anyone who reaches the port spends your rate budget.
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// Act as if started in DIR (its `[tool.pacer]` upstreams and limits apply).
    #[arg(short = 'C', value_name = "DIR")]
    pub directory: Option<PathBuf>,
    #[command(flatten)]
    pub limits: RateArgs,
}

/// Everything pacer does not own: pytest's options, their values, paths
/// and node ids, in the order given (`session/argv.rs` moves them after `--`).
#[derive(Debug, Args, Clone, Default)]
pub struct PytestArgs {
    /// Any pytest argument: paths, node ids, `-k`, `-x`, `-v`, `--tb=short`,
    /// `-p no:randomly`, a plugin's options. pytest's parser reads them.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PYTEST_ARGS"
    )]
    pub pytest_args: Vec<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Write the run's report as JSON: every test with its category, worker,
    /// start and end, outcome, phase durations and reruns, and the proxies'
    /// statistics; its `schema` field numbers the format's version.
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub json_report: Option<PathBuf>,
    /// Write the run's report as one self-contained HTML page: a timeline
    /// with a lane per worker, the slowest tests, the categories, the
    /// upstreams and the failures.
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub html_report: Option<PathBuf>,
    /// Under GitHub Actions (GITHUB_ACTIONS=true), write no step summary,
    /// annotations, log groups or progress lines [env: PACER_GITHUB=0].
    #[arg(long, help_heading = "Reports")]
    pub no_github: bool,
    /// Merge this run's test durations into the durations file
    /// (pytest-split's `.test_durations`); done anyway when it exists.
    #[arg(long, help_heading = "Reports", overrides_with = "no_store_durations")]
    pub store_durations: bool,
    /// Leave the durations file as it is, even when it exists.
    #[arg(long, help_heading = "Reports", overrides_with = "store_durations")]
    pub no_store_durations: bool,
    /// With --changed: list the tests it selects, each file with the reason (the changed module and the import chain), and run nothing.
    #[arg(long, help_heading = "Changes")]
    pub dry_run: bool,
    /// Watch the project's files; on each save rerun the tests the change touches, then the last failed (Ctrl-C ends it).
    #[arg(long, help_heading = "Changes", conflicts_with = "dry_run")]
    pub watch: bool,
    #[command(flatten)]
    pub pytest: PytestArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ListArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub pytest: PytestArgs,
    /// Print JSON for machines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: ReportCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge the JSON reports of a run's shards (`--json-report` of each
    /// `--shard K/N` run) into the run's JUnit, JSON and HTML reports and
    /// GitHub step summary; exit with the worst shard's exit code.
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The folder the merged reports are written to (made if missing):
    /// report.json, junit.xml, report.html, summary.md.
    #[arg(value_name = "OUT_DIR")]
    pub out_dir: PathBuf,
    /// Each shard's JSON report, one per shard of the run.
    #[arg(value_name = "REPORT.json", required = true)]
    pub reports: Vec<PathBuf>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print JSON for machines.
    #[arg(long)]
    pub json: bool,
    /// Print every setting pacer knows with its default, what it means and
    /// the flag and environment variable that override it, as a commented
    /// `pacer.toml`.
    #[arg(long, conflicts_with = "json")]
    pub defaults: bool,
}

/// `pacer init`: a pacer section for the project, from its suite.
#[derive(Debug, Args, Clone, Default)]
pub struct InitArgs {
    /// Write without asking (the diff is still printed).
    #[arg(long)]
    pub write: bool,
    /// Act as if started in DIR.
    #[arg(short = 'C', value_name = "DIR")]
    pub directory: Option<PathBuf>,
}

/// `pacer measure`: each selected category timed sequentially and in
/// parallel, written to `.pacer/perf/`.
#[derive(Debug, Args, Clone, Default)]
pub struct MeasureArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Time each category and mode K times (the order alternates between repeats).
    #[arg(long, value_name = "K", default_value_t = 3, help_heading = "Measure")]
    pub repeat: usize,
    /// Time sequential runs only, as the original `measure_test_performance.py` did.
    #[arg(long, help_heading = "Measure")]
    pub baseline: bool,
    /// Compare with the previous entry of `.pacer/perf/history.jsonl` (or
    /// `--compare=FILE`); exit code 1 when a category got slower than its noise.
    #[arg(
        long,
        value_name = "FILE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "",
        help_heading = "Measure"
    )]
    pub compare: Option<String>,
    /// Write the result here too (besides `.pacer/perf/<timestamp>.json`).
    #[arg(long, value_name = "PATH", help_heading = "Measure")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub pytest: PytestArgs,
}

/// `pacer try`: the selection run with plain pytest and with pacer, test
/// by test.
#[derive(Debug, Args, Clone, Default)]
pub struct TryArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Run each side K times; a test whose outcome varies within a side is flaky, not a difference.
    #[arg(long, value_name = "K", default_value_t = 1, help_heading = "Try")]
    pub repeat: usize,
    /// Then run pacer once more, with the durations the first run recorded, and print its wall.
    #[arg(long, help_heading = "Try")]
    pub warm: bool,
    /// Print the verdict as JSON for machines.
    #[arg(long, help_heading = "Try")]
    pub json: bool,
    /// Keep the first pacer run's JSON report (`--json-report`) at PATH: which worker ran each test, after which.
    #[arg(long, value_name = "PATH", help_heading = "Try")]
    pub pacer_report: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub pytest: PytestArgs,
}

/// `pacer shard plan|verify N`: the parts `--shard K/N` would run.
#[derive(Debug, Args, Clone)]
pub struct ShardArgs {
    #[command(subcommand)]
    pub action: ShardAction,
}

#[derive(Debug, Subcommand, Clone)]
pub enum ShardAction {
    /// Collect once and print each of N parts: its tests, files and predicted seconds, and the spread.
    Plan(ShardPlanArgs),
    /// Collect once and check that every selected test lands in exactly one of N parts (exit 0, else 1); runs no test.
    Verify(ShardPlanArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct ShardPlanArgs {
    /// How many parts (N in `--shard K/N`).
    #[arg(value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub parts: u32,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print JSON for machines, with each part's node ids.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub pytest: PytestArgs,
}

/// `pacer replay [REPORT.json] [TEST]` (docs/order-dependence.md).
#[derive(Debug, Args, Clone, Default)]
pub struct ReplayArgs {
    /// The run's JSON report (`--json-report`; without it, the last run's,
    /// kept in `.pytest_cache/v/pacer/last-run.json`), then TEST: replay
    /// only what ran before TEST on its worker, then TEST, in one process.
    /// One word is the report when it ends in `.json` or is a file, else TEST.
    #[arg(value_name = "[REPORT.json] [TEST]", num_args = 0..=2)]
    pub args: Vec<String>,
    /// The Python interpreter (default: as `pacer run` finds it).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Act as if started in DIR.
    #[arg(short = 'C', value_name = "DIR")]
    pub directory: Option<PathBuf>,
}

/// `pacer bisect [REPORT.json] TEST` (docs/order-dependence.md).
#[derive(Debug, Args, Clone, Default)]
pub struct BisectArgs {
    /// `REPORT.json TEST`, or `TEST` alone after a run (its report is kept
    /// in `.pytest_cache/v/pacer/last-run.json`).
    #[arg(value_name = "[REPORT.json] TEST", num_args = 1..=2, required = true)]
    pub args: Vec<String>,
    /// Print one JSON object (test, verdict, polluters, command, runs, elapsed).
    #[arg(long)]
    pub json: bool,
    /// The Python interpreter (default: as `pacer run` finds it).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Act as if started in DIR.
    #[arg(short = 'C', value_name = "DIR")]
    pub directory: Option<PathBuf>,
}

/// `pacer audit`: the suite sequentially, in parallel and shuffled.
#[derive(Debug, Args, Clone, Default)]
pub struct AuditArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Also run the suite in K shuffled file orders (default 3), one process each.
    #[arg(
        long,
        value_name = "K",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "3",
        help_heading = "Audit"
    )]
    pub shuffle: Option<usize>,
    /// The shuffles' seed (default: from the clock; printed either way).
    #[arg(long, value_name = "N", help_heading = "Audit")]
    pub seed: Option<u64>,
    /// Print the fix list as JSON for CI.
    #[arg(long, help_heading = "Audit")]
    pub json: bool,
    #[command(flatten)]
    pub pytest: PytestArgs,
}

/// `pacer doctor`: one sequential run with timing hooks, then advice.
#[derive(Debug, Args, Clone, Default)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print JSON for machines.
    #[arg(long)]
    pub json: bool,
    /// Rows per table (slowest modules, fixtures, tests).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub top: usize,
    #[command(flatten)]
    pub pytest: PytestArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_is_the_default_command_and_takes_pytest_args_after_dashes() {
        let cli = Cli::try_parse_from([
            "pacer",
            "-n",
            "3",
            "--",
            "tests",
            "-k",
            "fast",
            "-p",
            "no:randomly",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.common.workers.as_deref(), Some("3"));
        assert_eq!(
            cli.run.pytest.pytest_args,
            vec!["tests", "-k", "fast", "-p", "no:randomly"]
        );
    }

    #[test]
    fn proxy_takes_upstreams_a_port_a_bind_address_and_the_rate_flags() {
        let cli = Cli::try_parse_from([
            "pacer",
            "proxy",
            "--upstream",
            "api=http://127.0.0.1:9",
            "--port",
            "8080",
            "--rate",
            "5",
            "--no-adaptive",
        ])
        .unwrap();
        let Some(Command::Proxy(args)) = cli.command else {
            panic!("not the proxy command");
        };
        assert_eq!(args.upstreams, vec!["api=http://127.0.0.1:9"]);
        assert_eq!(args.port, Some(8080));
        assert!(args.bind.is_loopback() && !args.allow_non_loopback);
        let overrides = args.limits.overrides(false);
        assert_eq!(overrides.rate.as_deref(), Some("5"));
        assert_eq!(overrides.adaptive, Some(false));
    }

    #[test]
    fn negative_workers_reach_validation_instead_of_clap() {
        let cli = Cli::try_parse_from(["pacer", "-n", "-3"]).unwrap();
        assert_eq!(cli.run.common.workers.as_deref(), Some("-3"));
    }
}
