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
use crate::rate_limit::{parse_rate, valid_name, Quota, RateLimitLayer};
use crate::source::{Source, Sourced};
use crate::toml_reader::Table;
use crate::values::{invalid, positive, seconds, status};
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
    "max_worker_restart",
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
    "categories",
    "rate_limit",
    "upstreams",
];

/// The keys allowed in `[tool.pacer.rate_limit]`: `enabled` and [`RATE_LIMIT_KEYS`](crate::RATE_LIMIT_KEYS).
pub const RATE_LIMIT_TABLE_KEYS: &[&str] = &[
    "enabled",
    "rate",
    "burst",
    "max_concurrent",
    "min_delay",
    "max_retries",
    "base_backoff",
    "max_backoff",
    "adaptive",
    "retry_statuses",
    "ca_file",
    "upstream_timeout",
    "max_wait",
    "max_body_bytes",
];

/// The keys allowed in `[tool.pacer.upstreams.NAME]`: `url` and [`RATE_LIMIT_KEYS`](crate::RATE_LIMIT_KEYS).
pub const UPSTREAM_KEYS: &[&str] = &[
    "url",
    "rate",
    "burst",
    "max_concurrent",
    "min_delay",
    "max_retries",
    "base_backoff",
    "max_backoff",
    "adaptive",
    "retry_statuses",
    "ca_file",
    "upstream_timeout",
    "max_wait",
    "max_body_bytes",
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
    pub fork: Option<Sourced<bool>>,
    pub fresh_workers: Option<Sourced<u32>>,
    pub collection: Option<Sourced<Collection>>,
    pub max_worker_restart: Option<Sourced<u32>>,
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
    pub rate_limit_enabled: Option<Sourced<bool>>,
    pub rate_limit: RateLimitLayer,
    pub upstreams: Vec<FileUpstream>,
    pub categories: Vec<CategoryPatch>,
}

/// Checks a number read from a file with `check`, keeping its source.
fn checked<T, U>(
    value: Option<Sourced<T>>,
    check: impl FnOnce(T, &Source) -> Result<U, SettingsError>,
) -> Result<Option<Sourced<U>>, SettingsError> {
    value
        .map(|s| check(s.value, &s.source).map(|v| Sourced::new(v, s.source)))
        .transpose()
}

fn at_least(
    min: i64,
    setting: &'static str,
) -> impl Fn(i64, &Source) -> Result<u32, SettingsError> {
    move |n, origin| {
        if n >= min && n <= i64::from(u32::MAX) {
            Ok(n as u32)
        } else {
            Err(invalid(
                setting,
                &n.to_string(),
                &format!("an integer ≥ {min}"),
                origin,
            ))
        }
    }
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
            ..FileConfig::default()
        };
        if let Some(rl) = t.table("rate_limit")? {
            rl.deny_unknown(RATE_LIMIT_TABLE_KEYS)?;
            config.rate_limit_enabled = rl.bool("enabled")?;
            config.rate_limit = read_limits(&rl)?;
        }
        if let Some(ups) = t.table("upstreams")? {
            for name in ups.keys() {
                let up = ups.table(name)?.expect("listed key");
                check_name("upstream", name, &ups.source(name))?;
                up.deny_unknown(UPSTREAM_KEYS)?;
                config.upstreams.push(FileUpstream {
                    name: name.to_string(),
                    url: up.string("url")?,
                    limits: read_limits(&up)?,
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

/// `rate`: requests per second (`rate = 40`) or a quota per window
/// (`rate = "2400/min"`).
fn read_rate(t: &Table<'_>) -> Result<Option<Sourced<Quota>>, SettingsError> {
    let Some(item) = t.raw("rate") else {
        return Ok(None);
    };
    let source = t.source("rate");
    let quota = if let Some(text) = item.as_str() {
        parse_rate(text, &source)?
    } else if let Some(v) = item
        .as_float()
        .or_else(|| item.as_integer().map(|n| n as f64))
    {
        Quota::per_second(positive(v, "rate", &source)?)
    } else {
        return Err(t.wrong_type("rate", "a number or a quota string", "rate = \"2400/min\""));
    };
    Ok(Some(Sourced::new(quota, source)))
}

/// The rate-limit keys of `[tool.pacer.rate_limit]` or an upstream table.
fn read_limits(t: &Table<'_>) -> Result<RateLimitLayer, SettingsError> {
    Ok(RateLimitLayer {
        rate: read_rate(t)?,
        burst: checked(t.int("burst")?, at_least(1, "burst"))?,
        max_concurrent: checked(t.int("max_concurrent")?, at_least(1, "max_concurrent"))?,
        min_delay: checked(t.number("min_delay")?, |v, o| seconds(v, "min_delay", o))?,
        max_retries: checked(t.int("max_retries")?, at_least(0, "max_retries"))?,
        base_backoff: checked(t.number("base_backoff")?, |v, o| {
            seconds(v, "base_backoff", o)
        })?,
        max_backoff: checked(t.number("max_backoff")?, |v, o| {
            seconds(v, "max_backoff", o)
        })?,
        adaptive: t.bool("adaptive")?,
        retry_statuses: checked(t.ints("retry_statuses")?, |v, o| {
            v.into_iter()
                .map(|s| status(s, "retry_statuses", o))
                .collect()
        })?,
        ca_file: t.string("ca_file")?.map(|s| {
            // A relative path is relative to the file that names it.
            let path = std::path::PathBuf::from(&s.value);
            let path = match &s.source {
                Source::File { file, .. } if path.is_relative() => {
                    file.parent().map(|dir| dir.join(&path)).unwrap_or(path)
                }
                _ => path,
            };
            Sourced::new(Some(path), s.source)
        }),
        upstream_timeout: checked(t.number("upstream_timeout")?, |v, o| {
            seconds(v, "upstream_timeout", o)
        })?,
        max_wait: checked(t.number("max_wait")?, |v, o| seconds(v, "max_wait", o))?,
        max_body_bytes: checked(t.int("max_body_bytes")?, |v, o| {
            u64::try_from(v)
                .map_err(|_| invalid("max_body_bytes", &v.to_string(), "a number of bytes ≥ 0", o))
        })?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::RATE_LIMIT_KEYS;

    #[test]
    fn table_key_lists_extend_the_rate_limit_keys() {
        assert_eq!(&RATE_LIMIT_TABLE_KEYS[1..], RATE_LIMIT_KEYS);
        assert_eq!(&UPSTREAM_KEYS[1..], RATE_LIMIT_KEYS);
    }
}
