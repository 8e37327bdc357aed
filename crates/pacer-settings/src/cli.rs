//! What the command line can override, filled by the binary from clap.
//!
//! Values that need validating arrive as the raw text the user typed, so
//! this crate checks them (`--workers abc`, `--workers -3`) and names the
//! flag in the error, exactly as it does for environment variables. Boolean
//! switches are plain `bool`s: `false` means "not given", never "off".

use std::path::PathBuf;

/// Overrides taken from the command line; `Default` means "no flags".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CliOverrides {
    /// `--workers N|auto` (`-n`), raw.
    pub workers: Option<String>,
    /// `--sequential`.
    pub sequential: bool,
    /// `--python PATH`.
    pub python: Option<PathBuf>,
    /// `--debug`.
    pub debug: bool,
    /// `--no-fork`: spawn every worker instead of forking from a zygote.
    pub no_fork: bool,
    /// `--trace-touched`: record what each test leaves behind.
    pub trace_touched: bool,
    /// `--collection auto|whole|split`, raw.
    pub collection: Option<String>,
    /// `--all`: every category (also the default when no category flag is given).
    pub all: bool,
    /// `--unit`.
    pub unit: bool,
    /// `--models`.
    pub models: bool,
    /// `--integration`.
    pub integration: bool,
    /// `--end-to-end`.
    pub end_to_end: bool,
    /// `--live`.
    pub live: bool,
    /// `--category NAME`, repeatable, for any category.
    pub categories: Vec<String>,
    /// `--max-worker-restart N`, raw.
    pub max_worker_restart: Option<String>,
    /// `--max-wait-workers N`, raw.
    pub max_wait_workers: Option<String>,
    /// `--upstream NAME=URL`, repeatable; adds an upstream or overrides its URL.
    pub upstreams: Vec<String>,
    /// Rate-limit flags, applied to every upstream.
    pub rate_limit: RateLimitOverrides,
    /// `--no-fallback`: never rerun 429-failed tests sequentially.
    pub no_fallback: bool,
    /// `--fallback-threshold N|F|P%`, raw.
    pub fallback_threshold: Option<String>,
    /// `--durations-file PATH`.
    pub durations_file: Option<PathBuf>,
    /// `--timeout SECONDS`, raw.
    pub timeout: Option<String>,
    /// `--collect-timeout SECONDS`, raw.
    pub collect_timeout: Option<String>,
    /// `--exit-grace SECONDS`, raw.
    pub exit_grace: Option<String>,
    /// `--flaky-result pass|fail`, raw.
    pub flaky_result: Option<String>,
    /// `--shard K/N`, raw.
    pub shard: Option<String>,
    /// pytest-split's `--splits N` and `--group K`, raw; both or neither.
    pub splits: Option<(String, String)>,
    /// `--run-id ID`, raw.
    pub run_id: Option<String>,
    /// `--changed [REF]`: `Some("")` when given without a REF.
    pub changed: Option<String>,
    /// `--changed-always GLOB`, repeatable.
    pub changed_always: Vec<String>,
}

/// Rate-limit flags (raw text, validated here), applied to every upstream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateLimitOverrides {
    /// `--no-rate-limit`: run rate-limited categories without the proxy.
    pub disable: bool,
    /// `--rate R` (requests per second).
    pub rate: Option<String>,
    /// `--burst N`.
    pub burst: Option<String>,
    /// `--max-concurrent N`.
    pub max_concurrent: Option<String>,
    /// `--min-delay SECONDS`.
    pub min_delay: Option<String>,
    /// `--max-retries N`.
    pub max_retries: Option<String>,
    /// `--base-backoff SECONDS`.
    pub base_backoff: Option<String>,
    /// `--max-backoff SECONDS`.
    pub max_backoff: Option<String>,
    /// `--adaptive` (`Some(true)`) / `--no-adaptive` (`Some(false)`).
    pub adaptive: Option<bool>,
    /// `--limiter-backend memory|redis://...`.
    pub backend: Option<String>,
    /// `--limiter-fallback fail|memory`.
    pub fallback: Option<String>,
}

/// The flag names this crate uses when naming a flag as a source.
pub mod flags {
    pub const WORKERS: &str = "--workers";
    pub const SEQUENTIAL: &str = "--sequential";
    pub const PYTHON: &str = "--python";
    pub const DEBUG: &str = "--debug";
    pub const NO_FORK: &str = "--no-fork";
    pub const TRACE_TOUCHED: &str = "--trace-touched";
    pub const COLLECTION: &str = "--collection";
    pub const CATEGORY: &str = "--category";
    pub const MAX_WORKER_RESTART: &str = "--max-worker-restart";
    pub const MAX_WAIT_WORKERS: &str = "--max-wait-workers";
    pub const UPSTREAM: &str = "--upstream";
    pub const NO_FALLBACK: &str = "--no-fallback";
    pub const FALLBACK_THRESHOLD: &str = "--fallback-threshold";
    pub const DURATIONS_FILE: &str = "--durations-file";
    pub const TIMEOUT: &str = "--timeout";
    pub const COLLECT_TIMEOUT: &str = "--collect-timeout";
    pub const EXIT_GRACE: &str = "--exit-grace";
    pub const FLAKY_RESULT: &str = "--flaky-result";
    pub const SHARD: &str = "--shard";
    pub const SPLITS: &str = "--splits/--group";
    pub const RUN_ID: &str = "--run-id";
    pub const CHANGED: &str = "--changed";
    pub const CHANGED_ALWAYS: &str = "--changed-always";
    pub const NO_RATE_LIMIT: &str = "--no-rate-limit";
    pub const RATE: &str = "--rate";
    pub const BURST: &str = "--burst";
    pub const MAX_CONCURRENT: &str = "--max-concurrent";
    pub const MIN_DELAY: &str = "--min-delay";
    pub const MAX_RETRIES: &str = "--max-retries";
    pub const BASE_BACKOFF: &str = "--base-backoff";
    pub const MAX_BACKOFF: &str = "--max-backoff";
    pub const ADAPTIVE: &str = "--adaptive";
    pub const NO_ADAPTIVE: &str = "--no-adaptive";
    pub const LIMITER_BACKEND: &str = "--limiter-backend";
    pub const LIMITER_FALLBACK: &str = "--limiter-fallback";
}
