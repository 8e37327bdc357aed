//! "Did you mean …?": the closest valid name to a misspelt one.

/// The candidate most similar to `input`, if it is similar enough to be a
/// plausible typo (Jaro–Winkler ≥ 0.7, after treating `-` as `_`).
pub(crate) fn closest<'a, I, S>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a S>,
    S: AsRef<str> + 'a + ?Sized,
{
    let normalised = input.to_ascii_lowercase().replace('-', "_");
    candidates
        .into_iter()
        .map(|c| {
            let c = c.as_ref();
            let score =
                strsim::jaro_winkler(&normalised, &c.to_ascii_lowercase().replace('-', "_"));
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn finds_a_typo() {
        assert_eq!(
            closest("wrokers", ["workers", "debug", "python"].iter()),
            Some("workers".into())
        );
    }

    #[test]
    fn dashes_match_underscores() {
        assert_eq!(
            closest("max-workers", ["max_workers", "markers"].iter()),
            Some("max_workers".into())
        );
    }

    #[test]
    fn nothing_for_unrelated_names() {
        assert_eq!(closest("zzzz", ["workers", "debug"].iter()), None);
    }
}
