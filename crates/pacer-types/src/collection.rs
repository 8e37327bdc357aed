//! How the workers collect the suite: `collection = "auto" | "whole" | "split"`.

/// Where the workers' collection comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Collection {
    /// Split where pacer can tell it changes nothing, else whole.
    #[default]
    Auto,
    /// pytest's own collection of the whole run in one process, every
    /// collection hook included, from which the workers are forked (or,
    /// without fork, in every worker): each holds the whole
    /// `session.items`, in pytest's final order, as an xdist worker does.
    Whole,
    /// Each worker collects only its share of the files: collection paid
    /// once across the cores, but a worker's `session.items` is its share
    /// and `pytest_collection_modifyitems` sees only that share.
    Split,
}

impl Collection {
    /// `auto`, `whole` or `split`, in any case.
    pub fn parse(text: &str) -> Option<Collection> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Collection::Auto),
            "whole" => Some(Collection::Whole),
            "split" => Some(Collection::Split),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Auto => "auto",
            Collection::Whole => "whole",
            Collection::Split => "split",
        }
    }
}

impl std::fmt::Display for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_parses_back() {
        for c in [Collection::Auto, Collection::Whole, Collection::Split] {
            assert_eq!(Collection::parse(c.as_str()), Some(c));
            assert_eq!(Collection::parse(&c.as_str().to_uppercase()), Some(c));
        }
        assert_eq!(Collection::parse("fragment"), None);
    }
}
