//! Where each rate-limit value of an upstream came from.
//!
//! The values themselves, their defaults and their validation are
//! [`pacer_limiter::RateLimit`]'s: the limiter is the crate that uses them.
//! Settings only resolves each field from its sources and remembers which
//! one won. `[tool.pacer.rate_limit]` holds defaults for every upstream;
//! each `[tool.pacer.upstreams.NAME]` may override any of them. Flags and
//! environment variables set the same values for *every* upstream and, being
//! higher in precedence, beat both tables: per field, flag > env >
//! `upstreams.NAME` > `rate_limit` > default.

mod kinds;

use std::path::PathBuf;
use std::time::Duration;

use pacer_limiter::{parse_url, Backend, BackendFallback, RateLimitError};
pub use pacer_limiter::{Quota, RateLimit};
use serde::Serialize;
use serde_json::Value;

use self::kinds::{
    AtLeast, Bytes, CaFile, Kind, OnStoreLoss, Rate, Seconds, Statuses, Store, Switch, TextKind,
};
use crate::cli::{flags, RateLimitOverrides};
use crate::env::{self, EnvVar};
use crate::error::SettingsError;
use crate::source::{first_of, Source, Sourced};
use crate::toml_reader::Table;
use crate::values::sourced;

/// The one list of a rate limit's settings, in the order of
/// [`RateLimit`]'s fields; the limiter's `RateLimit::default` holds their
/// defaults and `RateLimit::validate` their rules. A row is a field (also
/// its key in `[rate_limit]` and `[upstreams.NAME]`), its type, its kind
/// (`kinds.rs`: how a file and a text spell it, its checks, how `pacer
/// config` shows it), then the constant of [`flags`] and of `env.rs` that
/// set it, if any. `rate_limit_settings!` makes of it [`RATE_LIMIT_KEYS`],
/// [`RATE_LIMIT_TABLE_KEYS`], [`UPSTREAM_KEYS`], [`RateLimitSources`],
/// `RateLimitLayer` and its readers (a file's table, the flags, the
/// environment), the merge of layers and the rows of `pacer config`.
///
/// A new field is a row here and the field, with its default (and its rule),
/// in `pacer_limiter::RateLimit`: the merge builds a `RateLimit` from the
/// rows, so a field without a row, or a row without a field, does not
/// compile. A flag also needs its field in [`RateLimitOverrides`], its
/// constant in [`flags`] and its clap argument, a variable its entry in
/// `env.rs`; the commented defaults (`default_config.toml`, whose keys
/// `tests/docs.rs` holds to this list) document it.
macro_rules! rate_limit_settings {
    ($(
        $field:ident: $ty:ty as $kind:ty $(, flag $flag:ident)? $(, env $env:ident)?;
    )*) => {
        /// The keys of a rate-limit table (`[tool.pacer.rate_limit]` also takes `enabled`).
        pub const RATE_LIMIT_KEYS: &[&str] = &[$(stringify!($field)),*];

        /// The keys allowed in `[tool.pacer.rate_limit]`: `enabled` and [`RATE_LIMIT_KEYS`](crate::RATE_LIMIT_KEYS).
        pub const RATE_LIMIT_TABLE_KEYS: &[&str] = &["enabled", $(stringify!($field)),*];

        /// The keys allowed in `[tool.pacer.upstreams.NAME]`: `url` and [`RATE_LIMIT_KEYS`](crate::RATE_LIMIT_KEYS).
        pub const UPSTREAM_KEYS: &[&str] = &["url", $(stringify!($field)),*];

        /// Where each field of a [`RateLimit`] came from.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub struct RateLimitSources {
            $(
                #[doc = concat!("Where `", stringify!($field), "` came from.")]
                pub $field: Source,
            )*
        }

        impl RateLimitSources {
            /// The source of the value of `key`, if it is a rate-limit key.
            fn of(&self, key: &str) -> Option<&Source> {
                match key {
                    $(stringify!($field) => Some(&self.$field),)*
                    _ => None,
                }
            }
        }

        /// One precedence layer of rate-limit values; unset fields fall through.
        #[derive(Debug, Clone, Default)]
        pub(crate) struct RateLimitLayer {
            $(pub $field: Option<Sourced<$ty>>,)*
        }

        impl RateLimitLayer {
            /// The rate-limit keys of `[tool.pacer.rate_limit]` or an upstream table.
            pub(crate) fn read(t: &Table<'_>) -> Result<Self, SettingsError> {
                Ok(Self {
                    $($field: <$kind as Kind>::read(t, stringify!($field))?,)*
                })
            }

            /// The values of the flags that take text.
            pub(crate) fn from_flags(o: &RateLimitOverrides) -> Result<Self, SettingsError> {
                #[allow(unused_mut)]
                let mut layer = Self::default();
                $($(
                    let raw = o.$field.as_ref().map(|v| (v.clone(), Source::flag(flags::$flag)));
                    layer.$field = sourced(raw, |t, o| {
                        <$kind as TextKind>::parse(t, stringify!($field), o)
                    })?;
                )?)*
                Ok(layer)
            }

            /// The values of the environment's variables that take text,
            /// `raw` giving a variable's text and where it was set.
            pub(crate) fn from_env(
                raw: impl Fn(&EnvVar) -> Option<(String, Source)>,
            ) -> Result<Self, SettingsError> {
                #[allow(unused_mut)]
                let mut layer = Self::default();
                $($(
                    layer.$field = sourced(raw(&env::$env), |t, o| {
                        <$kind as TextKind>::parse(t, stringify!($field), o)
                    })?;
                )?)*
                Ok(layer)
            }
        }

        /// Each field from the first layer that sets it (highest precedence
        /// first), else from the limiter's defaults.
        fn merge(layers: &[&RateLimitLayer]) -> (RateLimit, RateLimitSources) {
            let defaults = RateLimit::default();
            $(
                let $field = first_of(layers.iter().map(|l| l.$field.clone()))
                    .unwrap_or_else(|| Sourced::default(defaults.$field.clone()));
            )*
            let limits = RateLimit {
                $($field: $field.value,)*
            };
            let sources = RateLimitSources {
                $($field: $field.source,)*
            };
            (limits, sources)
        }

        /// Each field's key, value as `pacer config` shows it, and source.
        pub(crate) fn rows<'a>(
            limits: &RateLimit,
            sources: &'a RateLimitSources,
        ) -> Vec<(&'static str, Value, &'a Source)> {
            vec![$(
                (stringify!($field), <$kind as Kind>::json(&limits.$field), &sources.$field),
            )*]
        }
    };
}

rate_limit_settings! {
    rate: Quota as Rate, flag RATE, env RATE;
    burst: u32 as AtLeast<1>, flag BURST, env BURST;
    max_concurrent: u32 as AtLeast<1>, flag MAX_CONCURRENT, env MAX_CONCURRENT;
    min_delay: Duration as Seconds, flag MIN_DELAY, env MIN_DELAY;
    max_retries: u32 as AtLeast<0>, flag MAX_RETRIES, env MAX_RETRIES;
    base_backoff: Duration as Seconds, flag BASE_BACKOFF, env BASE_BACKOFF;
    max_backoff: Duration as Seconds, flag MAX_BACKOFF, env MAX_BACKOFF;
    // Two switches (`--adaptive`, `--no-adaptive`) and PACER_ADAPTIVE, read
    // before the others; settings.rs's `cli_limits` and `env_limits` take them.
    adaptive: bool as Switch;
    retry_statuses: Vec<u16> as Statuses, env RETRY_STATUSES;
    ca_file: Option<PathBuf> as CaFile;
    upstream_timeout: Duration as Seconds;
    max_wait: Duration as Seconds;
    max_body_bytes: u64 as Bytes;
    backend: Backend as Store, flag LIMITER_BACKEND, env LIMITER_BACKEND;
    fallback: BackendFallback as OnStoreLoss, flag LIMITER_FALLBACK, env LIMITER_FALLBACK;
}

/// One upstream API and its limits.
#[derive(Clone, PartialEq, Serialize)]
pub struct Upstream {
    pub name: String,
    /// As written, credentials included; serialised redacted (`pacer config --json`).
    #[serde(serialize_with = "redacted")]
    pub url: String,
    pub url_source: Source,
    pub limits: RateLimit,
    pub sources: RateLimitSources,
}

/// Never prints the URL's credentials.
impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .field("url", &pacer_limiter::redact_url(&self.url))
            .field("url_source", &self.url_source)
            .field("limits", &self.limits)
            .field("sources", &self.sources)
            .finish()
    }
}

fn redacted<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&pacer_limiter::redact_url(url))
}

impl Upstream {
    /// The variable workers get the proxy's URL in: `PACER_UPSTREAM_<NAME>`,
    /// upper-cased with `-` as `_`.
    pub fn env_var(&self) -> String {
        upstream_env_var(&self.name)
    }

    /// Whether the rate was set anywhere (a flag, the environment, a file):
    /// a rate left at its default gives way to the one the API advertises.
    pub fn rate_configured(&self) -> bool {
        self.sources.rate != Source::Default
    }
}

/// `PACER_UPSTREAM_<NAME>` for an upstream name: the limiter's
/// [`pacer_limiter::env_var_name`], the one place it is built.
pub fn upstream_env_var(name: &str) -> String {
    pacer_limiter::env_var_name(name)
}

/// Merges layers (highest precedence first) over the defaults and checks
/// the result with the limiter's one validator, naming the source of the
/// value it refuses.
pub(crate) fn resolve_layers(
    layers: &[&RateLimitLayer],
) -> Result<(RateLimit, RateLimitSources), SettingsError> {
    let (limits, sources) = merge(layers);
    if let Err(e) = limits.validate() {
        return Err(refused(&limits, &sources, e));
    }
    Ok((limits, sources))
}

/// The limiter's refusal, with the source of the value it refuses.
fn refused(limits: &RateLimit, sources: &RateLimitSources, e: RateLimitError) -> SettingsError {
    if e.setting == "max_backoff" {
        return SettingsError::BackoffOrder {
            base: limits.base_backoff.as_secs_f64(),
            base_origin: Box::new(sources.base_backoff.clone()),
            max: limits.max_backoff.as_secs_f64(),
            max_origin: Box::new(sources.max_backoff.clone()),
        };
    }
    let origin = sources.of(e.setting).unwrap_or(&sources.rate);
    SettingsError::InvalidRateLimit {
        setting: e.setting,
        reason: e.reason,
        origin: Box::new(origin.clone()),
    }
}

/// Whether a category or upstream name is usable: letters, digits, `-`, `_`.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks an upstream URL with the limiter's one URL check (`http://` or
/// `https://`, a host, no query), naming where it came from.
pub(crate) fn check_url(upstream: &str, url: &str, origin: &Source) -> Result<(), SettingsError> {
    parse_url(url)
        .map(|_| ())
        .map_err(|problem| SettingsError::BadUrl {
            upstream: upstream.to_string(),
            url: url.to_string(),
            origin: Box::new(origin.clone()),
            reason: problem.reason(),
        })
}

/// Notes about an upstream named more than once: `--upstream` twice (the
/// last wins), or `--upstream` over the url of a config table. Each names
/// both sources; URLs are shown redacted.
pub(crate) fn duplicate_upstream_notes(
    flags: &[(String, String)],
    files: &[(String, Option<Sourced<String>>)],
) -> Vec<String> {
    let flag = crate::cli::flags::UPSTREAM;
    let redact = pacer_limiter::redact_url;
    let mut notes = Vec::new();
    for (i, (name, url)) in flags.iter().enumerate() {
        let later = flags[i + 1..].iter().find(|(n, _)| n == name);
        if let Some((_, used)) = later {
            notes.push(format!(
                "warning: upstream `{name}` is given twice by {flag}: {name}={} is ignored, the later {name}={} is used",
                redact(url),
                redact(used)
            ));
            continue;
        }
        if let Some((_, file_url)) = files.iter().find(|(n, _)| n == name) {
            let from = match file_url {
                Some(u) => format!("its url {} from {}", redact(&u.value), u.source),
                None => "its table in the config file".to_string(),
            };
            notes.push(format!(
                "upstream `{name}`: {flag} {name}={} replaces {from}",
                redact(url)
            ));
        }
    }
    notes
}

/// Splits `--upstream NAME=URL`, checking the name and the URL.
pub(crate) fn parse_upstream_flag(text: &str) -> Result<(String, String), SettingsError> {
    let origin = Source::flag(crate::cli::flags::UPSTREAM);
    let Some((name, url)) = text.split_once('=') else {
        return Err(SettingsError::BadUpstreamSyntax {
            value: text.to_string(),
        });
    };
    let (name, url) = (name.trim(), url.trim());
    if name.is_empty() || url.is_empty() {
        return Err(SettingsError::BadUpstreamSyntax {
            value: text.to_string(),
        });
    }
    if !valid_name(name) {
        return Err(SettingsError::InvalidName {
            what: "upstream",
            name: name.to_string(),
            origin: Box::new(origin),
        });
    }
    check_url(name, url, &origin)?;
    Ok((name.to_string(), url.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_issue() {
        let d = RateLimit::default();
        assert_eq!(d.rate, 10.0);
        assert_eq!(d.burst, 3);
        assert_eq!(d.max_concurrent, 10);
        assert_eq!(d.min_delay, Duration::ZERO);
        assert_eq!(d.max_retries, 3);
        assert_eq!(d.base_backoff, Duration::from_secs(1));
        assert_eq!(d.max_backoff, Duration::from_secs(60));
        assert!(d.adaptive);
        assert_eq!(d.retry_statuses, vec![429, 503]);
    }

    #[test]
    fn upper_layers_win_per_field() {
        let high = RateLimitLayer {
            rate: Some(Sourced::new(Quota::per_second(5.0), Source::flag("--rate"))),
            ..Default::default()
        };
        let low = RateLimitLayer {
            rate: Some(Sourced::new(
                Quota::per_second(2.0),
                Source::env("PACER_RATE"),
            )),
            burst: Some(Sourced::new(4, Source::env("PACER_BURST"))),
            ..Default::default()
        };
        let (limits, sources) = resolve_layers(&[&high, &low]).unwrap();
        assert_eq!(
            (limits.rate.rate(), limits.burst, limits.max_retries),
            (5.0, 4, 3)
        );
        assert_eq!(sources.rate, Source::flag("--rate"));
        assert_eq!(sources.burst, Source::env("PACER_BURST"));
        assert_eq!(sources.max_retries, Source::Default);
    }

    #[test]
    fn base_backoff_above_max_is_an_error() {
        let layer = RateLimitLayer {
            base_backoff: Some(Sourced::new(
                Duration::from_secs(90),
                Source::env("PYTEST_BASE_BACKOFF"),
            )),
            ..Default::default()
        };
        let err = resolve_layers(&[&layer]).unwrap_err();
        assert!(matches!(err, SettingsError::BackoffOrder { .. }));
        assert!(err.to_string().contains("env PYTEST_BASE_BACKOFF"), "{err}");
    }

    #[test]
    fn upstream_flag_syntax() {
        assert_eq!(
            parse_upstream_flag("ofsc=https://acme.example.com/api").unwrap(),
            ("ofsc".into(), "https://acme.example.com/api".into())
        );
        for bad in ["ofsc", "=https://x", "ofsc="] {
            assert!(matches!(
                parse_upstream_flag(bad).unwrap_err(),
                SettingsError::BadUpstreamSyntax { .. }
            ));
        }
        assert!(matches!(
            parse_upstream_flag("of sc=https://x").unwrap_err(),
            SettingsError::InvalidName { .. }
        ));
    }

    #[test]
    fn url_scheme_must_be_http_or_https() {
        let origin = Source::flag("--upstream");
        assert!(check_url("a", "http://127.0.0.1:8080", &origin).is_ok());
        assert!(check_url("a", "HTTPS://user@host/x", &origin).is_ok());
        for bad in [
            "ftp://host",
            "host:80",
            "https://",
            "https:///path",
            "http://:80",
        ] {
            let err = check_url("a", bad, &origin).unwrap_err();
            assert!(matches!(err, SettingsError::BadUrl { .. }), "{bad}");
            assert!(err.to_string().contains("flag --upstream"), "{err}");
        }
        let err = parse_upstream_flag("ofsc=ftp://files.example.com").unwrap_err();
        assert!(
            err.to_string().contains("scheme must be http or https"),
            "{err}"
        );
    }

    /// Issue 8: a URL with a query passed settings and failed at proxy start.
    #[test]
    fn regression_a_url_with_a_query_is_refused_where_it_is_written() {
        let err = check_url(
            "a",
            "https://x.example.com/api?key=1",
            &Source::flag("--upstream"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("has a query"), "{err}");
        assert!(err.to_string().contains("flag --upstream"), "{err}");
    }

    #[test]
    fn the_limiters_validator_is_wrapped_with_the_source() {
        let layer = RateLimitLayer {
            burst: Some(Sourced::new(0, Source::env("PACER_BURST"))),
            ..Default::default()
        };
        let err = resolve_layers(&[&layer]).unwrap_err();
        assert!(
            matches!(err, SettingsError::InvalidRateLimit { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("env PACER_BURST"), "{err}");
    }

    /// Issue 11: the same upstream name given twice kept the last silently.
    #[test]
    fn regression_an_upstream_named_twice_is_noted_with_both_sources() {
        let flags = vec![
            ("api".to_string(), "http://a:pw@one".to_string()),
            ("api".to_string(), "http://two".to_string()),
            ("b".to_string(), "http://three".to_string()),
        ];
        let file_source = Source::File {
            file: "pyproject.toml".into(),
            line: 7,
            key: "tool.pacer.upstreams.b.url".into(),
        };
        let files = vec![(
            "b".to_string(),
            Some(Sourced::new("http://four".to_string(), file_source)),
        )];
        let notes = duplicate_upstream_notes(&flags, &files);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("given twice by --upstream"), "{notes:?}");
        assert!(
            notes[0].contains("api=http://***@one is ignored"),
            "{notes:?}"
        );
        assert!(notes[0].contains("api=http://two is used"), "{notes:?}");
        assert!(
            notes[1].contains("b=http://three replaces its url http://four from pyproject.toml:7"),
            "{notes:?}"
        );
    }

    #[test]
    fn env_var_name_is_upper_snake() {
        assert_eq!(upstream_env_var("my-api"), "PACER_UPSTREAM_MY_API");
    }
}
