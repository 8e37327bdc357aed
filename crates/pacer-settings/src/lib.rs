//! pacer's configuration, resolved once into one immutable [`Settings`] value
//! that remembers where each setting came from.
//!
//! Sources, highest precedence first (per setting):
//! 1. the command line, as [`CliOverrides`] filled by the binary from clap;
//! 2. the environment ([`Env`]): `PACER_*` names, then their `PYTEST_*`
//!    twins from the original system (see [`ENV_VARS`]), read from the
//!    process environment with `[tool.pytest_env]` applied on top exactly as
//!    pytest-env would apply it for the tests;
//! 3. `pacer.toml` in the project root (keys at top level) or, if there is
//!    none, `[tool.pacer]` of `pyproject.toml` (never both: `pacer.toml`
//!    wins whole, and `pacer config` says so);
//! 4. built-in defaults, commented in [`DEFAULT_CONFIG_TOML`].
//!
//! Main types: [`Settings`] (with [`Settings::categorize`],
//! [`Settings::render_text`], [`Settings::to_json`]), [`Category`],
//! [`Upstream`] / [`RateLimit`], [`Source`] / [`Sourced`], and
//! [`SettingsError`], whose every variant is a usage error (exit code 4)
//! naming its source and its fix.
//!
//! Files are parsed with `toml_edit` rather than serde so every value keeps
//! its line for errors and for `pacer config`.

mod category;
mod ci;
mod cli;
mod default_config;
mod env;
mod error;
mod fallback;
mod file_config;
mod location;
mod project;
mod pytest_env;
mod rate_limit;
mod render;
mod settings;
mod source;
mod suggest;
mod toml_reader;
mod values;
mod wait_workers;
mod workers;

pub use category::{
    builtin_categories, node_file, Categories, Category, CategorySources, Kind, DEFAULT_CATEGORY,
};
pub use ci::Shard;
pub use cli::{flags, CliOverrides, RateLimitOverrides};
pub use default_config::DEFAULT_CONFIG_TOML;
pub use env::{env_table_markdown, Direction, Env, EnvVar, ProcessEnv, ENV_VARS};
pub use error::{SettingsError, USAGE_ERROR_EXIT_CODE};
pub use fallback::FallbackThreshold;
pub use file_config::{CATEGORY_KEYS, PACER_KEYS};
pub use project::{find_project_root, ROOT_MARKERS};
pub use pytest_env::WorkerEnvVar;
pub use rate_limit::{
    upstream_env_var, RateLimit, RateLimitSources, Upstream, RATE_LIMIT_KEYS,
    RATE_LIMIT_TABLE_KEYS, UPSTREAM_KEYS,
};
pub use render::SettingRow;
pub use settings::{ConfigFile, Reruns, Selection, Settings};
pub use source::{Source, Sourced};
pub use workers::Workers;
