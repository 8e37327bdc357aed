//! The worker count: a number, or `auto` for the machine's cores.

use std::fmt;

use serde::Serialize;

use crate::error::SettingsError;
use crate::source::Source;

/// How many workers to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Workers {
    /// Exactly this many (≥ 1).
    Count(usize),
    /// One per core.
    Auto,
}

impl Workers {
    /// Parses `auto` or a positive integer; `0`, negatives and text are errors
    /// that name `origin`.
    pub fn parse(text: &str, origin: &Source) -> Result<Workers, SettingsError> {
        let trimmed = text.trim();
        // pytest-xdist's `logical` counts logical cores, which is what
        // `auto` counts here too.
        if trimmed.eq_ignore_ascii_case("auto") || trimmed.eq_ignore_ascii_case("logical") {
            return Ok(Workers::Auto);
        }
        match trimmed.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Workers::Count(n)),
            _ => Err(SettingsError::InvalidWorkers {
                value: text.to_string(),
                origin: Box::new(origin.clone()),
            }),
        }
    }

    /// The number of workers on a machine with `cores` cores.
    pub fn count(self, cores: usize) -> usize {
        match self {
            Workers::Count(n) => n,
            Workers::Auto => cores.max(1),
        }
    }
}

impl fmt::Display for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workers::Count(n) => write!(f, "{n}"),
            Workers::Auto => f.write_str("auto"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Source {
        Source::env("PYTEST_WORKERS")
    }

    #[test]
    fn parses_counts_and_auto() {
        assert_eq!(Workers::parse("4", &env()).unwrap(), Workers::Count(4));
        assert_eq!(Workers::parse(" AUTO ", &env()).unwrap(), Workers::Auto);
        assert_eq!(Workers::parse("logical", &env()).unwrap(), Workers::Auto);
        assert_eq!(Workers::Auto.count(6), 6);
    }

    #[test]
    fn rejects_text_negative_and_zero_naming_the_source() {
        for bad in ["abc", "-3", "0", "", "2.5"] {
            let err = Workers::parse(bad, &env()).unwrap_err();
            assert!(matches!(err, SettingsError::InvalidWorkers { .. }), "{bad}");
            assert!(err.to_string().contains("env PYTEST_WORKERS"), "{err}");
            assert!(err.hint().contains("PYTEST_WORKERS"), "{err}");
        }
    }
}
