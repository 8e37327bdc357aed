//! Parsing the text of flags and environment variables into typed values,
//! and checking the values a file holds, with errors that name where the
//! value came from.

use std::time::Duration;

use crate::error::SettingsError;
use crate::source::{Source, Sourced};

/// `true/1/yes/on` or `false/0/no/off`, any case.
pub(crate) fn parse_bool(
    text: &str,
    setting: &str,
    origin: &Source,
) -> Result<bool, SettingsError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(invalid(setting, text, "true/1/yes or false/0/no", origin)),
    }
}

/// An unsigned integer at least `min`.
pub(crate) fn parse_u32(
    text: &str,
    setting: &str,
    min: u32,
    origin: &Source,
) -> Result<u32, SettingsError> {
    let expected = if min == 0 {
        "an integer ≥ 0".to_string()
    } else {
        format!("an integer ≥ {min}")
    };
    match text.trim().parse::<i64>() {
        Ok(n) if n >= i64::from(min) && n <= i64::from(u32::MAX) => Ok(n as u32),
        _ => Err(invalid(setting, text, &expected, origin)),
    }
}

/// A finite number of seconds ≥ 0; negatives get their own error.
pub(crate) fn parse_seconds(
    text: &str,
    setting: &str,
    origin: &Source,
) -> Result<Duration, SettingsError> {
    match text.trim().parse::<f64>() {
        Ok(v) => seconds(v, setting, origin),
        Err(_) => Err(invalid(setting, text, "a number of seconds ≥ 0", origin)),
    }
}

/// The longest duration any setting takes: a year. Far beyond any sane
/// timeout or backoff, and far below what `Instant + Duration` can hold
/// (`1e300` seconds panicked in `Duration::from_secs_f64`).
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// Checks a number of seconds from any source.
pub(crate) fn seconds(v: f64, setting: &str, origin: &Source) -> Result<Duration, SettingsError> {
    if v.is_nan() || v.is_infinite() {
        return Err(invalid(
            setting,
            &v.to_string(),
            "a finite number of seconds ≥ 0",
            origin,
        ));
    }
    if v > MAX_SECONDS {
        return Err(invalid(
            setting,
            &v.to_string(),
            "a number of seconds ≤ 31536000 (a year)",
            origin,
        ));
    }
    if v < 0.0 {
        return Err(SettingsError::NegativeDelay {
            setting: setting.to_string(),
            value: v.to_string(),
            origin: Box::new(origin.clone()),
        });
    }
    Ok(Duration::from_secs_f64(v))
}

/// A finite number > 0.
pub(crate) fn positive(v: f64, setting: &str, origin: &Source) -> Result<f64, SettingsError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(invalid(setting, &v.to_string(), "a number > 0", origin))
    }
}

pub(crate) fn parse_positive(
    text: &str,
    setting: &str,
    origin: &Source,
) -> Result<f64, SettingsError> {
    match text.trim().parse::<f64>() {
        Ok(v) => {
            positive(v, setting, origin).map_err(|_| invalid(setting, text, "a number > 0", origin))
        }
        Err(_) => Err(invalid(setting, text, "a number > 0", origin)),
    }
}

/// An HTTP status code 100–599.
pub(crate) fn status(v: i64, setting: &str, origin: &Source) -> Result<u16, SettingsError> {
    if (100..=599).contains(&v) {
        Ok(v as u16)
    } else {
        Err(invalid(
            setting,
            &v.to_string(),
            "HTTP status codes between 100 and 599",
            origin,
        ))
    }
}

/// A comma-separated list of status codes.
pub(crate) fn parse_statuses(
    text: &str,
    setting: &str,
    origin: &Source,
) -> Result<Vec<u16>, SettingsError> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| {
                    invalid(
                        setting,
                        text,
                        "comma-separated HTTP status codes, e.g. `429,503`",
                        origin,
                    )
                })
                .and_then(|v| status(v, setting, origin))
        })
        .collect()
}

pub(crate) fn invalid(
    setting: &str,
    value: &str,
    expected: &str,
    origin: &Source,
) -> SettingsError {
    SettingsError::InvalidValue {
        setting: setting.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
        origin: Box::new(origin.clone()),
    }
}

/// Parses an optional raw value with `parse`, keeping its source.
pub(crate) fn sourced<T>(
    raw: Option<(String, Source)>,
    parse: impl FnOnce(&str, &Source) -> Result<T, SettingsError>,
) -> Result<Option<Sourced<T>>, SettingsError> {
    raw.map(|(text, source)| parse(&text, &source).map(|v| Sourced::new(v, source)))
        .transpose()
}

/// Checks a number read from a file with `check`, keeping its source.
pub(crate) fn checked<T, U>(
    value: Option<Sourced<T>>,
    check: impl FnOnce(T, &Source) -> Result<U, SettingsError>,
) -> Result<Option<Sourced<U>>, SettingsError> {
    value
        .map(|s| check(s.value, &s.source).map(|v| Sourced::new(v, s.source)))
        .transpose()
}

/// An integer from a file, at least `min` and at most `u32::MAX`.
pub(crate) fn at_least(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Source {
        Source::env(name)
    }

    #[test]
    fn booleans_accept_the_original_spellings() {
        for t in ["true", "1", "yes", "YES", "True", "on"] {
            assert!(parse_bool(t, "sequential", &env("X")).unwrap());
        }
        for f in ["false", "0", "no", "off", ""] {
            assert!(!parse_bool(f, "sequential", &env("X")).unwrap());
        }
        let err = parse_bool("maybe", "sequential", &env("PYTEST_DISABLE_PARALLEL")).unwrap_err();
        assert!(err.to_string().contains("env PYTEST_DISABLE_PARALLEL"));
    }

    #[test]
    fn negative_delay_is_its_own_error() {
        let err = parse_seconds("-0.5", "min_delay", &env("PYTEST_RATE_LIMIT_DELAY")).unwrap_err();
        assert!(matches!(err, SettingsError::NegativeDelay { .. }));
        assert!(err.to_string().contains("PYTEST_RATE_LIMIT_DELAY"), "{err}");
        assert_eq!(
            parse_seconds("0.25", "min_delay", &env("X")).unwrap(),
            Duration::from_millis(250)
        );
        assert!(matches!(
            parse_seconds("soon", "min_delay", &env("X")).unwrap_err(),
            SettingsError::InvalidValue { .. }
        ));
    }

    /// Issue 11: `PACER_TIMEOUT=1e300` panicked converting to a Duration.
    #[test]
    fn regression_huge_nan_and_negative_seconds_are_errors_not_panics() {
        for text in ["1e300", "1e20", "31536001", "inf", "NaN", "-inf", "-1"] {
            let err = parse_seconds(text, "timeout", &env("PACER_TIMEOUT")).unwrap_err();
            assert!(err.to_string().contains("PACER_TIMEOUT"), "{text}: {err}");
        }
        for v in [f64::MAX, 1e20, f64::NAN, -0.5, f64::NEG_INFINITY] {
            assert!(seconds(v, "max_backoff", &env("X")).is_err(), "{v}");
        }
        assert_eq!(
            seconds(MAX_SECONDS, "max_backoff", &env("X")).unwrap(),
            Duration::from_secs(31_536_000)
        );
    }

    #[test]
    fn integers_respect_their_minimum() {
        assert_eq!(parse_u32("3", "max_retries", 0, &env("X")).unwrap(), 3);
        assert!(parse_u32("-1", "max_retries", 0, &env("X")).is_err());
        assert!(parse_u32("0", "max_concurrent", 1, &env("X")).is_err());
        assert!(parse_u32("x", "max_concurrent", 1, &env("X")).is_err());
    }

    #[test]
    fn statuses_parse_from_a_list() {
        assert_eq!(
            parse_statuses("429, 503", "retry_statuses", &env("X")).unwrap(),
            vec![429, 503]
        );
        assert!(parse_statuses("429,700", "retry_statuses", &env("X")).is_err());
        assert!(parse_statuses("abc", "retry_statuses", &env("X")).is_err());
    }

    #[test]
    fn rate_must_be_positive() {
        assert_eq!(parse_positive("2.5", "rate", &env("X")).unwrap(), 2.5);
        assert!(parse_positive("0", "rate", &env("X")).is_err());
        assert!(parse_positive("-1", "rate", &env("X")).is_err());
    }
}
