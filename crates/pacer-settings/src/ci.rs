//! What one CI job is within its pipeline: its shard of the suite
//! (`--shard K/N`, pytest-split's `--splits N --group K`, `PACER_SHARD`)
//! and the run id the jobs of one pipeline share (`--run-id`,
//! `PACER_RUN_ID`, else the CI's own: GitHub Actions, GitLab, Buildkite).
//!
//! Neither has a key in the config file: both differ from job to job of the
//! same commit, so they come from the command line or the CI's environment.

use crate::error::SettingsError;
use crate::source::Source;
use crate::values::invalid;

pub use pacer_types::Shard;

const SHARD_EXPECTED: &str = "K/N, two integers with 1 ≤ K ≤ N (part K of N, from 1), e.g. `2/3`";

/// `K/N` with `1 ≤ K ≤ N`.
pub(crate) fn parse_shard(text: &str, origin: &Source) -> Result<Shard, SettingsError> {
    text.parse::<Shard>()
        .map_err(|_| invalid("shard", text, SHARD_EXPECTED, origin))
}

/// pytest-split's spelling: `--splits N --group K`.
pub(crate) fn shard_from_splits(
    splits: &str,
    group: &str,
    origin: &Source,
) -> Result<Shard, SettingsError> {
    let parsed = match (splits.trim().parse::<u32>(), group.trim().parse::<u32>()) {
        (Ok(n), Ok(k)) => Shard::new(k, n),
        _ => None,
    };
    parsed.ok_or_else(|| {
        invalid(
            "shard",
            &format!("--splits {splits} --group {group}"),
            "--splits N --group K, two integers with 1 ≤ K ≤ N, e.g. `--splits 3 --group 2`",
            origin,
        )
    })
}

/// A run id as given: printable, without spaces, at most 128 characters,
/// since it names keys in a shared limiter (Redis) and lines in reports.
pub(crate) fn parse_run_id(text: &str, origin: &Source) -> Result<String, SettingsError> {
    let id = text.trim();
    if id.is_empty()
        || id.chars().count() > 128
        || id.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            "run_id",
            text,
            "1 to 128 characters without spaces, e.g. `1234567-1`",
            origin,
        ));
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_one_based_and_within_their_count() {
        let flag = Source::flag("--shard");
        assert_eq!(
            parse_shard("2/3", &flag).unwrap(),
            Shard { index: 2, count: 3 }
        );
        assert_eq!(parse_shard(" 1 / 1 ", &flag).unwrap().to_string(), "1/1");
        for bad in ["0/3", "4/3", "2/0", "x", "3", "1/2/3", "-1/3", ""] {
            let err = parse_shard(bad, &flag).unwrap_err().to_string();
            assert!(err.contains("flag --shard"), "{bad}: {err}");
        }
        let env = Source::env("PACER_SHARD");
        let err = parse_shard("4/3", &env).unwrap_err().to_string();
        assert!(err.contains("env PACER_SHARD"), "{err}");
    }

    #[test]
    fn pytest_splits_spelling_is_the_same_shard() {
        let flag = Source::flag("--splits/--group");
        assert_eq!(
            shard_from_splits("3", "2", &flag).unwrap(),
            parse_shard("2/3", &flag).unwrap()
        );
        let err = shard_from_splits("3", "4", &flag).unwrap_err().to_string();
        assert!(err.contains("--splits 3 --group 4"), "{err}");
    }

    #[test]
    fn run_ids_are_one_word() {
        let flag = Source::flag("--run-id");
        assert_eq!(parse_run_id(" 42-1 ", &flag).unwrap(), "42-1");
        for bad in ["", "a b", &"x".repeat(129)] {
            assert!(parse_run_id(bad, &flag).is_err(), "{bad}");
        }
    }
}
