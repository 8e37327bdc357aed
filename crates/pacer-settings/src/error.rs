//! Every way configuration can be wrong, as one typed error.
//!
//! Each message names where the bad value came from (a flag, an environment
//! variable, `file:line`) and ends with a `hint:` line telling the fix, so the
//! binary can print it as is. All of them are usage errors: exit code 4.

use std::path::PathBuf;

use crate::source::Source;

/// pytest's exit code for a usage error, which every [`SettingsError`] maps
/// to (from the one exit-code table, `pacer_types::exit`).
pub const USAGE_ERROR_EXIT_CODE: i32 = pacer_types::exit::USAGE_ERROR;

/// A configuration error.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A config file exists but could not be read.
    #[error("failed to read {}: {source}\nhint: check that the file is readable", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A config file is not valid TOML.
    #[error("{}:{line}:{column}: malformed TOML: {message}\nhint: fix the TOML syntax at that position", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// A key pacer does not know, under `[tool.pacer]` or one of its tables.
    #[error("{}:{line}: unknown key `{key}` in `[{table}]`\nhint: {}", path.display(), unknown_hint(suggestion.as_deref(), valid))]
    UnknownKey {
        path: PathBuf,
        line: usize,
        table: String,
        key: String,
        suggestion: Option<String>,
        valid: &'static [&'static str],
    },

    /// A key whose value has the wrong TOML type.
    #[error("{}:{line}: `{key}` must be {expected}, found {found}\nhint: write it like `{example}`", path.display())]
    WrongType {
        path: PathBuf,
        line: usize,
        key: String,
        expected: &'static str,
        found: &'static str,
        example: String,
    },

    /// A worker count that is not a positive integer or `auto`.
    #[error("invalid worker count `{value}` from {origin}: expected a positive integer or `auto`\nhint: {}", workers_hint(origin))]
    InvalidWorkers { value: String, origin: Box<Source> },

    /// A value of the right type but out of range, or unparsable text from a
    /// flag or environment variable.
    #[error(
        "invalid value `{value}` for {setting} from {origin}: expected {expected}\nhint: {}",
        set_hint(origin, expected)
    )]
    InvalidValue {
        setting: String,
        value: String,
        expected: String,
        origin: Box<Source>,
    },

    /// A negative duration (`min_delay`, `base_backoff`, …).
    #[error(
        "negative {setting} `{value}` from {origin}: a delay cannot be negative\nhint: {}",
        set_hint(origin, "a number of seconds ≥ 0")
    )]
    NegativeDelay {
        setting: String,
        value: String,
        origin: Box<Source>,
    },

    /// A rate-limit value the limiter refuses.
    #[error(
        "invalid {setting} from {origin}: {reason}\nhint: {}",
        set_hint(origin, "a valid value")
    )]
    InvalidRateLimit {
        setting: &'static str,
        reason: String,
        origin: Box<Source>,
    },

    /// `base_backoff` larger than `max_backoff`.
    #[error("base_backoff ({base}s, from {base_origin}) exceeds max_backoff ({max}s, from {max_origin})\nhint: raise max_backoff or lower base_backoff")]
    BackoffOrder {
        base: f64,
        base_origin: Box<Source>,
        max: f64,
        max_origin: Box<Source>,
    },

    /// A category name that is neither built in nor defined by the project.
    #[error("unknown category `{name}` from {origin}\nhint: {}", category_hint(suggestion.as_deref(), valid))]
    UnknownCategory {
        name: String,
        origin: Box<Source>,
        suggestion: Option<String>,
        valid: Vec<String>,
    },

    /// A category or upstream name with characters pacer cannot use.
    #[error(
        "invalid {what} name `{name}` from {origin}\nhint: use letters, digits, `-` and `_` only"
    )]
    InvalidName {
        what: &'static str,
        name: String,
        origin: Box<Source>,
    },

    /// A new category with neither `paths` nor `markers`, or a `default`
    /// category given a selector.
    #[error("category `{name}` at {origin}: {problem}\nhint: {fix}")]
    BadSelector {
        name: String,
        origin: Box<Source>,
        problem: &'static str,
        fix: &'static str,
    },

    /// `--upstream` not of the form `NAME=URL`.
    #[error("invalid --upstream `{value}`: expected NAME=URL\nhint: write it like `--upstream ofsc=https://api.example.com`")]
    BadUpstreamSyntax { value: String },

    /// An upstream URL that is not `http://` or `https://` with a host.
    #[error("invalid URL `{}` for upstream `{upstream}` from {origin}: {reason}\nhint: upstream URLs look like `https://api.example.com` (http or https only)", pacer_limiter::redact_url(url))]
    BadUrl {
        upstream: String,
        url: String,
        origin: Box<Source>,
        reason: &'static str,
    },

    /// `[tool.pacer.upstreams.NAME]` without `url`.
    #[error("{}:{line}: upstream `{upstream}` has no `url`\nhint: add `url = \"https://…\"` to [{table}] or pass `--upstream {upstream}=URL`", path.display())]
    MissingUpstreamUrl {
        path: PathBuf,
        line: usize,
        upstream: String,
        table: String,
    },

    /// A `[tool.pytest_env]` value with `transform = true` that names an
    /// environment variable that is not set (pytest-env fails the same way).
    #[error("{}:{line}: tool.pytest_env.{key} refers to `{{{missing}}}`, which is not set\nhint: set {missing}, write `{{{{` to keep a literal brace, or drop `transform = true`", path.display())]
    PytestEnvTransform {
        path: PathBuf,
        line: usize,
        key: String,
        missing: String,
    },
}

impl SettingsError {
    /// The process exit code for this error: always 4, pytest's usage error.
    pub fn exit_code(&self) -> i32 {
        USAGE_ERROR_EXIT_CODE
    }

    /// The fix, as printed after `hint:` in the message.
    pub fn hint(&self) -> String {
        let text = self.to_string();
        text.split_once("\nhint: ")
            .map(|(_, hint)| hint.to_string())
            .unwrap_or_default()
    }

    /// The message without its hint line.
    pub fn message(&self) -> String {
        let text = self.to_string();
        match text.split_once("\nhint: ") {
            Some((message, _)) => message.to_string(),
            None => text,
        }
    }
}

fn unknown_hint(suggestion: Option<&str>, valid: &[&str]) -> String {
    let valid = valid
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match suggestion {
        Some(s) => format!("did you mean `{s}`? valid keys: {valid}"),
        None => format!("remove it; valid keys: {valid}"),
    }
}

fn category_hint(suggestion: Option<&str>, valid: &[String]) -> String {
    let list = valid.join(", ");
    match suggestion {
        Some(s) => format!("did you mean `{s}`? valid categories: {list}; define new ones under [tool.pacer.categories.NAME]"),
        None => format!("valid categories: {list}; define new ones under [tool.pacer.categories.NAME]"),
    }
}

fn set_hint(origin: &Source, expected: &str) -> String {
    match origin {
        Source::Env { name } => format!("set {name} to {expected}, or unset it"),
        Source::PytestEnv { name, .. } => {
            format!("fix tool.pytest_env.{name}: it must be {expected}")
        }
        Source::Flag { flag } => format!("pass {flag} {expected}"),
        Source::File { key, .. } => format!("set `{key}` to {expected}"),
        Source::Default | Source::Derived { .. } => format!("use {expected}"),
    }
}

fn workers_hint(origin: &Source) -> String {
    let base = set_hint(origin, "a positive integer or `auto`");
    format!("{base}; to run in one process use --sequential or PYTEST_DISABLE_PARALLEL=1")
}
