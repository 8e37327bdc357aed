//! The kinds of rate-limit values: how a config file holds each (typed
//! TOML), how a flag or an environment variable spells it (text), their
//! checks and messages, and how `pacer config` shows it. The table in
//! `rate_limit.rs` gives each field its kind.

use std::path::PathBuf;
use std::time::Duration;

use pacer_limiter::{Backend, BackendFallback, Quota};
use serde_json::{json, Value};

use crate::error::SettingsError;
use crate::source::{Source, Sourced};
use crate::toml_reader::Table;
use crate::values::{
    at_least, checked, invalid, parse_positive, parse_seconds, parse_statuses, parse_u32, positive,
    seconds, status,
};

/// A kind of rate-limit value, as a config file holds it.
pub(crate) trait Kind {
    type Value;

    /// The value of `key` in `t`, checked; `None` when `t` does not set it.
    fn read(
        t: &Table<'_>,
        key: &'static str,
    ) -> Result<Option<Sourced<Self::Value>>, SettingsError>;

    /// The value as `pacer config` shows it.
    fn json(value: &Self::Value) -> Value;
}

/// A kind a flag or an environment variable sets, as text.
pub(crate) trait TextKind: Kind {
    fn parse(text: &str, key: &'static str, origin: &Source) -> Result<Self::Value, SettingsError>;
}

/// A [`Quota`]: requests per second (`40`) or a quota per window
/// (`"2400/min"`).
pub(crate) struct Rate;

/// A whole number of at least `MIN` (a count: requests, retries).
pub(crate) struct AtLeast<const MIN: u32>;

/// A duration, written in seconds.
pub(crate) struct Seconds;

/// `true` or `false`.
pub(crate) struct Switch;

/// HTTP statuses, 100 to 599.
pub(crate) struct Statuses;

/// A PEM file, relative to the file that names it.
pub(crate) struct CaFile;

/// A number of bytes.
pub(crate) struct Bytes;

/// Where the admission state lives: `memory`, or a `redis://` URL.
pub(crate) struct Store;

/// What a pacer does when its store is unreachable at start: `fail` or
/// `memory`.
pub(crate) struct OnStoreLoss;

impl Kind for Rate {
    type Value = Quota;

    /// `rate = 40` or `rate = "2400/min"`.
    fn read(t: &Table<'_>, key: &'static str) -> Result<Option<Sourced<Quota>>, SettingsError> {
        let Some(item) = t.raw(key) else {
            return Ok(None);
        };
        let source = t.source(key);
        let quota = if let Some(text) = item.as_str() {
            parse_rate(text, &source)?
        } else if let Some(v) = item
            .as_float()
            .or_else(|| item.as_integer().map(|n| n as f64))
        {
            Quota::per_second(positive(v, key, &source)?)
        } else {
            return Err(t.wrong_type(key, "a number or a quota string", "rate = \"2400/min\""));
        };
        Ok(Some(Sourced::new(quota, source)))
    }

    fn json(value: &Quota) -> Value {
        json!(value)
    }
}

impl TextKind for Rate {
    fn parse(text: &str, _key: &'static str, origin: &Source) -> Result<Quota, SettingsError> {
        parse_rate(text, origin)
    }
}

/// A rate as text (a flag, the environment, a TOML string): requests per
/// second (`40`) or a quota per window (`"2400/min"`).
fn parse_rate(text: &str, origin: &Source) -> Result<Quota, SettingsError> {
    if !text.contains('/') {
        return parse_positive(text, "rate", origin).map(Quota::per_second);
    }
    text.parse::<Quota>().map_err(|_| {
        invalid(
            "rate",
            text,
            "a number > 0 (requests per second) or a quota like \"40/s\", \"2400/min\", \"100000/h\"",
            origin,
        )
    })
}

impl<const MIN: u32> Kind for AtLeast<MIN> {
    type Value = u32;

    fn read(t: &Table<'_>, key: &'static str) -> Result<Option<Sourced<u32>>, SettingsError> {
        checked(t.int(key)?, at_least(i64::from(MIN), key))
    }

    fn json(value: &u32) -> Value {
        json!(value)
    }
}

impl<const MIN: u32> TextKind for AtLeast<MIN> {
    fn parse(text: &str, key: &'static str, origin: &Source) -> Result<u32, SettingsError> {
        parse_u32(text, key, MIN, origin)
    }
}

impl Kind for Seconds {
    type Value = Duration;

    fn read(t: &Table<'_>, key: &'static str) -> Result<Option<Sourced<Duration>>, SettingsError> {
        checked(t.number(key)?, |v, o| seconds(v, key, o))
    }

    fn json(value: &Duration) -> Value {
        json!(value.as_secs_f64())
    }
}

impl TextKind for Seconds {
    fn parse(text: &str, key: &'static str, origin: &Source) -> Result<Duration, SettingsError> {
        parse_seconds(text, key, origin)
    }
}

impl Kind for Switch {
    type Value = bool;

    fn read(t: &Table<'_>, key: &'static str) -> Result<Option<Sourced<bool>>, SettingsError> {
        t.bool(key)
    }

    fn json(value: &bool) -> Value {
        json!(value)
    }
}

impl Kind for Statuses {
    type Value = Vec<u16>;

    fn read(t: &Table<'_>, key: &'static str) -> Result<Option<Sourced<Vec<u16>>>, SettingsError> {
        checked(t.ints(key)?, |v, o| {
            v.into_iter().map(|s| status(s, key, o)).collect()
        })
    }

    fn json(value: &Vec<u16>) -> Value {
        json!(value)
    }
}

impl TextKind for Statuses {
    fn parse(text: &str, key: &'static str, origin: &Source) -> Result<Vec<u16>, SettingsError> {
        parse_statuses(text, key, origin)
    }
}

impl Kind for CaFile {
    type Value = Option<PathBuf>;

    fn read(
        t: &Table<'_>,
        key: &'static str,
    ) -> Result<Option<Sourced<Option<PathBuf>>>, SettingsError> {
        Ok(t.string(key)?.map(|s| {
            // A relative path is relative to the file that names it.
            let path = PathBuf::from(&s.value);
            let path = match &s.source {
                Source::File { file, .. } if path.is_relative() => {
                    file.parent().map(|dir| dir.join(&path)).unwrap_or(path)
                }
                _ => path,
            };
            Sourced::new(Some(path), s.source)
        }))
    }

    fn json(value: &Option<PathBuf>) -> Value {
        json!(value)
    }
}

impl Kind for Bytes {
    type Value = u64;

    fn read(t: &Table<'_>, key: &'static str) -> Result<Option<Sourced<u64>>, SettingsError> {
        checked(t.int(key)?, |v, o| {
            u64::try_from(v).map_err(|_| invalid(key, &v.to_string(), "a number of bytes ≥ 0", o))
        })
    }

    fn json(value: &u64) -> Value {
        json!(value)
    }
}

/// A text the limiter's own parser refuses, as a settings error naming the
/// value's source.
fn refused_text(key: &'static str, text: &str, expected: &str, origin: &Source) -> SettingsError {
    invalid(key, &pacer_limiter::redact_url(text), expected, origin)
}

impl Kind for Store {
    type Value = Backend;

    fn read(t: &Table<'_>, key: &'static str) -> Result<Option<Sourced<Backend>>, SettingsError> {
        let Some(s) = t.string(key)? else {
            return Ok(None);
        };
        let backend = Self::parse(&s.value, key, &s.source)?;
        Ok(Some(Sourced::new(backend, s.source)))
    }

    fn json(value: &Backend) -> Value {
        json!(value.describe())
    }
}

impl TextKind for Store {
    fn parse(text: &str, key: &'static str, origin: &Source) -> Result<Backend, SettingsError> {
        const EXPECTED: &str =
            "\"memory\" or redis://[user:password@]host:6379/0 (rediss:// for TLS)";
        Backend::parse(text).map_err(|e| {
            // A Redis URL the client cannot use says why; anything else
            // is simply not a backend.
            let expected = if e.reason.contains("is not a backend") {
                EXPECTED.to_owned()
            } else {
                format!("{EXPECTED}; {}", e.reason)
            };
            refused_text(key, text, &expected, origin)
        })
    }
}

impl Kind for OnStoreLoss {
    type Value = BackendFallback;

    fn read(
        t: &Table<'_>,
        key: &'static str,
    ) -> Result<Option<Sourced<BackendFallback>>, SettingsError> {
        let Some(s) = t.string(key)? else {
            return Ok(None);
        };
        let fallback = Self::parse(&s.value, key, &s.source)?;
        Ok(Some(Sourced::new(fallback, s.source)))
    }

    fn json(value: &BackendFallback) -> Value {
        json!(value.as_str())
    }
}

impl TextKind for OnStoreLoss {
    fn parse(
        text: &str,
        key: &'static str,
        origin: &Source,
    ) -> Result<BackendFallback, SettingsError> {
        BackendFallback::parse(text).map_err(|_| refused_text(key, text, "fail or memory", origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_numbers_or_quotas_per_window() {
        let flag = Source::flag("--rate");
        assert_eq!(parse_rate("40", &flag).unwrap(), Quota::per_second(40.0));
        let q = parse_rate("2400/min", &flag).unwrap();
        assert_eq!((q.amount, q.window), (2400.0, Duration::from_secs(60)));
        let err = parse_rate("40/fortnight", &Source::env("PACER_RATE")).unwrap_err();
        assert!(err.to_string().contains("env PACER_RATE"), "{err}");
        assert!(err.to_string().contains("\"2400/min\""), "{err}");
    }

    #[test]
    fn backends_are_memory_or_redis_and_their_passwords_stay_hidden() {
        let flag = Source::flag("--limiter-backend");
        let b = <Store as TextKind>::parse("rediss://u:s3cret@h:6380/1", "backend", &flag).unwrap();
        assert_eq!(Store::json(&b), json!("rediss://***@h:6380/1"));
        for bad in ["http://u:s3cret@h/", "redis://u:s3cret@h:port/0"] {
            let err = <Store as TextKind>::parse(bad, "backend", &flag)
                .unwrap_err()
                .to_string();
            assert!(err.contains("flag --limiter-backend"), "{err}");
            assert!(err.contains("\"memory\" or redis://"), "{err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
        let env = Source::env("PACER_LIMITER_FALLBACK");
        let err = <OnStoreLoss as TextKind>::parse("maybe", "fallback", &env).unwrap_err();
        assert!(err.to_string().contains("fail or memory"), "{err}");
    }
}
