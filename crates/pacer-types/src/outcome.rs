//! What one phase of one test did, in pytest's terms.
//!
//! pytest describes a phase three ways: its `when` ([`Phase`]), its
//! `outcome` ([`Outcome`]: passed, failed or skipped, nothing else) and the
//! status category of `pytest_report_teststatus` ([`Status`]: `xfailed`,
//! `error`, a plugin's own `rerun`, ...), which is what the final line
//! counts. The worker sends them as strings; serde turns them into these
//! enums at the protocol boundary, and writes them back as the same words
//! in the run's JSON report.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The phase of a test a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Setup,
    #[default]
    Call,
    Teardown,
}

impl Phase {
    /// pytest's word for it (`report.when`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Call => "call",
            Phase::Teardown => "teardown",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = UnknownWord;

    fn from_str(word: &str) -> Result<Self, UnknownWord> {
        [Phase::Setup, Phase::Call, Phase::Teardown]
            .into_iter()
            .find(|p| p.as_str() == word)
            .ok_or_else(|| UnknownWord(word.to_string()))
    }
}

/// A word that names no phase or outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWord(pub String);

impl fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown word `{}`", self.0)
    }
}

impl std::error::Error for UnknownWord {}

/// pytest's `report.outcome`: passed, failed or skipped, except that
/// plugins set their own (pytest-rerunfailures' `rerun` for an attempt that
/// will be retried), which must never make a worker's report unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    #[default]
    Passed,
    Failed,
    Skipped,
    /// pytest-rerunfailures: this attempt failed and the test runs again.
    Rerun,
    /// Another plugin's word; counted by its status category, if any.
    #[serde(other)]
    Other,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Rerun => "rerun",
            Outcome::Other => "other",
        }
    }

    pub fn is_failed(self) -> bool {
        self == Outcome::Failed
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = UnknownWord;

    /// Only the words pacer knows; the wire reads any other as `Other`.
    fn from_str(word: &str) -> Result<Self, UnknownWord> {
        [
            Outcome::Passed,
            Outcome::Failed,
            Outcome::Skipped,
            Outcome::Rerun,
        ]
        .into_iter()
        .find(|o| o.as_str() == word)
        .ok_or_else(|| UnknownWord(word.to_string()))
    }
}

/// The status category pytest's `pytest_report_teststatus` gives a phase:
/// the word the final line counts. Plugins add their own (`rerun` from
/// pytest-rerunfailures), kept as [`Status::Other`] with their word.
///
/// [`Status::Flaky`] is pacer's: a test whose call passed after failed
/// attempts (pytest-rerunfailures' reruns or pacer's own). Its phase's
/// `outcome` stays `passed`, so pytest's exit codes hold unless the run
/// says flakiness fails (`--flaky-result fail`).
///
/// On the wire a phase that does not count (a passing setup) has the empty
/// category; it is read as no status at all (`Option<Status>`), never as a
/// `Status`.
///
/// serde reads and writes it as its word (`"xfailed"`, a plugin's own), so
/// that reports keep it typed until they are written. Statuses order as
/// their words do, so that a map keyed by them is written in the order a
/// map keyed by the words was.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Status {
    #[default]
    Passed,
    Failed,
    Skipped,
    XFailed,
    XPassed,
    Error,
    /// Passed after failed attempts: pacer's word, where pytest with
    /// pytest-rerunfailures says `passed`.
    Flaky,
    /// A category pytest itself does not know, with its word.
    Other(String),
}

impl Status {
    /// The category as pytest spells it; `None` for the empty one.
    pub fn parse(word: &str) -> Option<Status> {
        Some(match word {
            "" => return None,
            "passed" => Status::Passed,
            "failed" => Status::Failed,
            "skipped" => Status::Skipped,
            "xfailed" => Status::XFailed,
            "xpassed" => Status::XPassed,
            "error" => Status::Error,
            "flaky" => Status::Flaky,
            other => Status::Other(other.to_string()),
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::XFailed => "xfailed",
            Status::XPassed => "xpassed",
            Status::Error => "error",
            Status::Flaky => "flaky",
            Status::Other(word) => word,
        }
    }

    /// Reads the wire's `cat`: the empty string is `None`.
    pub fn deserialize_optional<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Status>, D::Error> {
        let word = String::deserialize(deserializer)?;
        Ok(Status::parse(&word))
    }

    /// Writes `None` as the wire's empty string, so that a report read and
    /// written again is the same message.
    pub fn serialize_optional<S: Serializer>(
        status: &Option<Status>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(status.as_ref().map_or("", Status::as_str))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Ord for Status {
    /// By word; a plugin's word that is also one of pytest's (never parsed
    /// so, but constructible) after pytest's, so that the order agrees with
    /// `Eq`.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let is_other = |s: &Status| matches!(s, Status::Other(_));
        self.as_str()
            .cmp(other.as_str())
            .then_with(|| is_other(self).cmp(&is_other(other)))
    }
}

impl PartialOrd for Status {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    /// Any word but the empty one, which is no status (see
    /// [`Status::deserialize_optional`] for the wire's).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Status, D::Error> {
        let word = String::deserialize(deserializer)?;
        Status::parse(&word).ok_or_else(|| serde::de::Error::custom("the empty word is no status"))
    }
}

/// What a flaky test means for the run (nextest's `--flaky-result`):
/// `pass` (the default) keeps pytest's exit code, `fail` makes the run fail
/// with pytest's code for failed tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlakyResult {
    #[default]
    Pass,
    Fail,
}

impl FlakyResult {
    pub fn as_str(self) -> &'static str {
        match self {
            FlakyResult::Pass => "pass",
            FlakyResult::Fail => "fail",
        }
    }
}

impl FromStr for FlakyResult {
    type Err = UnknownWord;

    fn from_str(word: &str) -> Result<Self, UnknownWord> {
        match word.trim().to_ascii_lowercase().as_str() {
            "pass" => Ok(FlakyResult::Pass),
            "fail" => Ok(FlakyResult::Fail),
            _ => Err(UnknownWord(word.to_string())),
        }
    }
}

impl fmt::Display for FlakyResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_read_pytests_words_and_nothing_else() {
        for phase in [Phase::Setup, Phase::Call, Phase::Teardown] {
            let json = format!("\"{phase}\"");
            assert_eq!(serde_json::from_str::<Phase>(&json).unwrap(), phase);
        }
        for outcome in [
            Outcome::Passed,
            Outcome::Failed,
            Outcome::Skipped,
            Outcome::Rerun,
        ] {
            let json = format!("\"{outcome}\"");
            assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), outcome);
        }
        assert!(serde_json::from_str::<Phase>("\"collect\"").is_err());
        assert_eq!("teardown".parse(), Ok(Phase::Teardown));
        assert_eq!("skipped".parse(), Ok(Outcome::Skipped));
        assert!("error".parse::<Outcome>().is_err());
    }

    #[test]
    fn a_plugins_outcome_is_read_not_refused() {
        assert_eq!(
            serde_json::from_str::<Outcome>("\"rerun\"").unwrap(),
            Outcome::Rerun
        );
        assert_eq!(
            serde_json::from_str::<Outcome>("\"flaky\"").unwrap(),
            Outcome::Other
        );
    }

    #[test]
    fn a_status_round_trips_its_word_and_the_empty_one_is_none() {
        for word in [
            "passed", "failed", "skipped", "xfailed", "xpassed", "error", "flaky", "rerun",
        ] {
            assert_eq!(Status::parse(word).unwrap().as_str(), word);
        }
        assert_eq!(Status::parse("rerun"), Some(Status::Other("rerun".into())));
        assert_eq!(Status::parse(""), None);
        assert_eq!(Status::parse("flaky"), Some(Status::Flaky));
    }

    #[test]
    fn serde_writes_a_status_as_its_word_and_orders_it_so() {
        use std::collections::BTreeMap;
        let words = [
            "xpassed", "rerun", "error", "passed", "blocked", "flaky", "skipped", "failed",
            "xfailed",
        ];
        let by_status: BTreeMap<Status, usize> = words
            .iter()
            .enumerate()
            .map(|(i, w)| (Status::parse(w).unwrap(), i))
            .collect();
        let by_word: BTreeMap<&str, usize> =
            words.iter().enumerate().map(|(i, w)| (*w, i)).collect();
        let json = serde_json::to_string(&by_status).unwrap();
        assert_eq!(json, serde_json::to_string(&by_word).unwrap());
        assert_eq!(
            serde_json::from_str::<BTreeMap<Status, usize>>(&json).unwrap(),
            by_status
        );
        assert_eq!(
            serde_json::from_str::<Status>("\"xfailed\"").unwrap(),
            Status::XFailed
        );
        assert!(serde_json::from_str::<Status>("\"\"").is_err());
        // A plugin's word that is pytest's too is another status, after it.
        assert!(Status::Passed < Status::Other("passed".into()));
        assert_ne!(Status::Passed, Status::Other("passed".into()));
    }
}
