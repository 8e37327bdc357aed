//! The pacer section of a config file, read into typed, sourced values.
//!
//! The section is `[tool.pacer]` of `pyproject.toml` or the top level of
//! `pacer.toml`. Every key is checked here: unknown keys (with the closest
//! valid one), wrong types (at `file:line`) and out-of-range values. Nothing
//! is merged with other sources yet; [`crate::settings`] does that.

use std::time::Duration;

use crate::category::Kind;
use crate::error::SettingsError;
use crate::fallback::FallbackThreshold;
use crate::rate_limit::{valid_name, RateLimitLayer, RATE_LIMIT_TABLE_KEYS, UPSTREAM_KEYS};
use crate::source::{Source, Sourced};
use crate::toml_reader::Table;
use crate::values::{at_least, checked, invalid, seconds};
use crate::workers::Workers;
use pacer_types::{Collection, FlakyResult};

/// `pass` or `fail` (nextest's `--flaky-result`).
/// `auto`, `whole` or `split`.
pub(crate) fn parse_collection(text: &str, origin: &Source) -> Result<Collection, SettingsError> {
    Collection::parse(text)
        .ok_or_else(|| invalid("collection", text, "`auto`, `whole` or `split`", origin))
}

pub(crate) fn parse_flaky_result(
    text: &str,
    origin: &Source,
) -> Result<FlakyResult, SettingsError> {
    text.parse()
        .map_err(|_| invalid("flaky_result", text, "`pass` or `fail`", origin))
}

/// The keys allowed directly under `[tool.pacer]`.
pub const PACER_KEYS: &[&str] = &[
    "workers",
    "sequential",
    "python",
    "debug",
    "trace_touched",
    "max_worker_restart",
    "max_wait_workers",
    "fork",
    "fresh_workers",
    "collection",
    "fallback",
    "fallback_threshold",
    "durations_file",
    "timeout",
    "collect_timeout",
    "exit_grace",
    "reruns",
    "reruns_delay",
    "flaky_result",
    "pytest_args",
    "changed_always",
    "categories",
    "rate_limit",
    "upstreams",
];

/// The keys allowed in `[tool.pacer.categories.NAME]`.
pub const CATEGORY_KEYS: &[&str] = &[
    "paths",
    "markers",
    "max_workers",
    "kind",
    "rate_limited",
    "exclusive",
    "order",
    "description",
    "reruns",
];

/// Changes a file makes to one category (built in or new).
#[derive(Debug, Clone, Default)]
pub(crate) struct CategoryPatch {
    pub name: String,
    pub source: Option<Source>,
    pub description: Option<Sourced<String>>,
    pub paths: Option<Sourced<Vec<String>>>,
    pub markers: Option<Sourced<Vec<String>>>,
    pub max_workers: Option<Sourced<usize>>,
    pub kind: Option<Sourced<Kind>>,
    pub rate_limited: Option<Sourced<bool>>,
    pub exclusive: Option<Sourced<bool>>,
    pub order: Option<Sourced<i64>>,
    pub reruns: Option<Sourced<u32>>,
}

/// An upstream as written in a file.
#[derive(Debug, Clone)]
pub(crate) struct FileUpstream {
    pub name: String,
    pub url: Option<Sourced<String>>,
    pub limits: RateLimitLayer,
    pub line: usize,
    pub table: String,
}

/// Everything a config file says about pacer.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileConfig {
    pub workers: Option<Sourced<Workers>>,
    pub sequential: Option<Sourced<bool>>,
    pub python: Option<Sourced<String>>,
    pub debug: Option<Sourced<bool>>,
    pub trace_touched: Option<Sourced<bool>>,
    pub fork: Option<Sourced<bool>>,
    pub fresh_workers: Option<Sourced<u32>>,
    pub collection: Option<Sourced<Collection>>,
    pub max_worker_restart: Option<Sourced<u32>>,
    pub max_wait_workers: Option<Sourced<u32>>,
    pub fallback: Option<Sourced<bool>>,
    pub fallback_threshold: Option<Sourced<FallbackThreshold>>,
    pub durations_file: Option<Sourced<String>>,
    pub timeout: Option<Sourced<Option<Duration>>>,
    pub collect_timeout: Option<Sourced<Option<Duration>>>,
    pub exit_grace: Option<Sourced<Duration>>,
    pub reruns: Option<Sourced<u32>>,
    pub reruns_delay: Option<Sourced<Duration>>,
    pub flaky_result: Option<Sourced<FlakyResult>>,
    pub pytest_args: Option<Sourced<Vec<String>>>,
    pub changed_always: Option<Sourced<Vec<String>>>,
    pub rate_limit_enabled: Option<Sourced<bool>>,
    pub rate_limit: RateLimitLayer,
    pub upstreams: Vec<FileUpstream>,
    pub categories: Vec<CategoryPatch>,
}

impl FileConfig {
    /// Reads the pacer section `t`.
    pub fn read(t: &Table<'_>) -> Result<Self, SettingsError> {
        t.deny_unknown(PACER_KEYS)?;
        let mut config = FileConfig {
            workers: read_workers(t)?,
            sequential: t.bool("sequential")?,
            python: t.string("python")?,
            debug: t.bool("debug")?,
            trace_touched: t.bool("trace_touched")?,
            fork: t.bool("fork")?,
            fresh_workers: checked(t.int("fresh_workers")?, at_least(1, "fresh_workers"))?,
            collection: match t.string("collection")? {
                None => None,
                Some(s) => Some(Sourced::new(
                    parse_collection(&s.value, &s.source)?,
                    s.source,
                )),
            },
            max_worker_restart: checked(
                t.int("max_worker_restart")?,
                at_least(0, "max_worker_restart"),
            )?,
            max_wait_workers: checked(t.int("max_wait_workers")?, at_least(0, "max_wait_workers"))?,
            fallback: t.bool("fallback")?,
            fallback_threshold: read_threshold(t)?,
            durations_file: t.string("durations_file")?,
            timeout: checked(t.number("timeout")?, |v, o| {
                seconds(v, "timeout", o).map(|d| (!d.is_zero()).then_some(d))
            })?,
            collect_timeout: checked(t.number("collect_timeout")?, |v, o| {
                seconds(v, "collect_timeout", o).map(|d| (!d.is_zero()).then_some(d))
            })?,
            exit_grace: checked(t.number("exit_grace")?, |v, o| seconds(v, "exit_grace", o))?,
            reruns: checked(t.int("reruns")?, at_least(0, "reruns"))?,
            reruns_delay: checked(t.number("reruns_delay")?, |v, o| {
                seconds(v, "reruns_delay", o)
            })?,
            flaky_result: match t.string("flaky_result")? {
                None => None,
                Some(s) => Some(Sourced::new(
                    parse_flaky_result(&s.value, &s.source)?,
                    s.source,
                )),
            },
            pytest_args: t.strings("pytest_args")?,
            changed_always: t.strings("changed_always")?,
            ..FileConfig::default()
        };
        if let Some(rl) = t.table("rate_limit")? {
            rl.deny_unknown(RATE_LIMIT_TABLE_KEYS)?;
            config.rate_limit_enabled = rl.bool("enabled")?;
            config.rate_limit = RateLimitLayer::read(&rl)?;
        }
        if let Some(ups) = t.table("upstreams")? {
            for name in ups.keys() {
                let up = ups.table(name)?.expect("listed key");
                check_name("upstream", name, &ups.source(name))?;
                up.deny_unknown(UPSTREAM_KEYS)?;
                config.upstreams.push(FileUpstream {
                    name: name.to_string(),
                    url: up.string("url")?,
                    limits: RateLimitLayer::read(&up)?,
                    line: up.line(),
                    table: up.dotted().to_string(),
                });
            }
        }
        if let Some(cats) = t.table("categories")? {
            for name in cats.keys() {
                let c = cats.table(name)?.expect("listed key");
                check_name("category", name, &cats.source(name))?;
                c.deny_unknown(CATEGORY_KEYS)?;
                config.categories.push(CategoryPatch {
                    name: name.to_string(),
                    source: Some(cats.source(name)),
                    description: c.string("description")?,
                    paths: c.strings("paths")?,
                    markers: c.strings("markers")?,
                    max_workers: checked(c.int("max_workers")?, |n, o| {
                        at_least(1, "max_workers")(n, o).map(|n| n as usize)
                    })?,
                    kind: match c.string("kind")? {
                        None => None,
                        Some(s) => match Kind::parse(&s.value) {
                            Some(k) => Some(Sourced::new(k, s.source)),
                            None => {
                                return Err(invalid("kind", &s.value, "`cpu` or `io`", &s.source))
                            }
                        },
                    },
                    rate_limited: c.bool("rate_limited")?,
                    exclusive: c.bool("exclusive")?,
                    order: c.int("order")?,
                    reruns: checked(c.int("reruns")?, at_least(0, "reruns"))?,
                });
            }
        }
        Ok(config)
    }
}

fn check_name(what: &'static str, name: &str, origin: &Source) -> Result<(), SettingsError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(SettingsError::InvalidName {
            what,
            name: name.to_string(),
            origin: Box::new(origin.clone()),
        })
    }
}

fn read_workers(t: &Table<'_>) -> Result<Option<Sourced<Workers>>, SettingsError> {
    let Some(item) = t.raw("workers") else {
        return Ok(None);
    };
    let source = t.source("workers");
    let text = if let Some(n) = item.as_integer() {
        n.to_string()
    } else if let Some(s) = item.as_str() {
        s.to_string()
    } else {
        return Err(t.wrong_type("workers", "a positive integer or \"auto\"", "workers = 4"));
    };
    Workers::parse(&text, &source).map(|w| Some(Sourced::new(w, source)))
}

fn read_threshold(t: &Table<'_>) -> Result<Option<Sourced<FallbackThreshold>>, SettingsError> {
    let key = "fallback_threshold";
    let Some(item) = t.raw(key) else {
        return Ok(None);
    };
    let source = t.source(key);
    let value = if let Some(n) = item.as_integer() {
        FallbackThreshold::count(n, &source)?
    } else if let Some(f) = item.as_float() {
        FallbackThreshold::fraction(f, &f.to_string(), &source)?
    } else if let Some(s) = item.as_str() {
        FallbackThreshold::parse(s, &source)?
    } else {
        return Err(t.wrong_type(key, "a count or a fraction", "fallback_threshold = 0.2"));
    };
    Ok(Some(Sourced::new(value, source)))
}
