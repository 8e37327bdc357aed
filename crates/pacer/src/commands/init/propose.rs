//! From what the suite shows to the categories and upstreams `pacer init`
//! proposes, each with the evidence for it as a comment.
//!
//! The rule is to write only what the suite makes certain: a folder of
//! tests that no category takes yet becomes a category of its own; a marker
//! declared in pytest's configuration and used by tests becomes one only when
//! its name or description says it calls a real API (then `io` and rate
//! limited); a base URL read from the environment becomes an upstream, left
//! commented out unless the code gives its URL. Everything else is named in a
//! comment and left to the user.

use std::collections::BTreeSet;

use pacer_settings::{Settings, DEFAULT_CATEGORY};

use super::scan::Suite;

/// A category `init` will write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedCategory {
    pub name: String,
    /// Why, one line each.
    pub why: Vec<String>,
    pub description: String,
    pub paths: Vec<String>,
    pub markers: Vec<String>,
    pub io: bool,
    pub rate_limited: bool,
    pub max_workers: Option<usize>,
    pub order: Option<i64>,
    /// A built-in category changed key by key: only `rate_limited` is written.
    pub builtin_override: bool,
}

/// An upstream stub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedUpstream {
    pub name: String,
    pub var: String,
    pub at: String,
    /// Without a URL it is written commented out (pacer requires one).
    pub url: Option<String>,
    /// Where the URL was found: `tests/conftest.py:5`, `.env.example`.
    pub url_from: String,
}

/// What `init` proposes, and what it saw and left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proposal {
    pub categories: Vec<ProposedCategory>,
    pub upstreams: Vec<ProposedUpstream>,
    /// Comment lines: what already fits a category, what was left out.
    pub notes: Vec<String>,
}

impl Proposal {
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty() && self.upstreams.is_empty()
    }
}

/// Words in a marker's name or description that mean "calls a real API".
const API_WORDS: &[&str] = &[
    "real", "live", "api", "network", "online", "remote", "external", "internet", "http",
];

/// Like the built-in end-to-end and live categories: the proxy paces the
/// requests however many tests run at once.
const API_CATEGORY_CAP: usize = 10;

/// Before every built-in but `serial` (-10): a test that calls the API is
/// paced whatever folder it sits in.
const API_CATEGORY_ORDER: i64 = -5;

pub fn propose(suite: &Suite, settings: &Settings) -> Proposal {
    let mut proposal = Proposal::default();
    let used = suite.used_markers();
    let mut taken: BTreeSet<String> = settings.categories().names().into_iter().collect();

    // Markers first: they are tried before folders.
    for marker in &suite.declared {
        if !used.contains(marker.name.as_str()) {
            continue;
        }
        let marked = suite.files_marked(&marker.name);
        let in_files = files(marked.len());
        if let Some(existing) = settings
            .categories()
            .ordered()
            .iter()
            .find(|c| c.markers.contains(&marker.name))
        {
            let what = if existing.exclusive {
                "runs them one at a time, alone"
            } else {
                "takes them"
            };
            proposal.notes.push(format!(
                "marker `{}` ({in_files}): the built-in category `{}` {what}",
                marker.name, existing.name
            ));
            continue;
        }
        let text = format!("{} {}", marker.name, marker.description).to_ascii_lowercase();
        let word = text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .find(|w| API_WORDS.contains(w));
        let Some(word) = word else {
            proposal.notes.push(format!(
                "marker `{}` ({in_files}) left to you: nothing says its tests call an API",
                marker.name
            ));
            continue;
        };
        let mut why = vec![format!(
            "marker `{}` is declared in {} and used in {in_files}; \"{word}\" says its tests call a real API",
            marker.name, marker.at
        )];
        let fixtures: BTreeSet<String> = marked
            .iter()
            .flat_map(|f| f.requested.iter())
            .filter_map(|p| suite.network_fixtures.iter().find(|n| &n.name == p))
            .map(|n| format!("`{}` ({}, {})", n.name, n.client, n.at))
            .collect();
        if !fixtures.is_empty() {
            why.push(format!(
                "its tests use fixtures that open network clients: {}",
                fixtures.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        taken.insert(marker.name.clone());
        proposal.categories.push(ProposedCategory {
            name: category_name(&marker.name),
            why,
            description: if marker.description.is_empty() {
                format!("tests marked {}", marker.name)
            } else {
                marker.description.clone()
            },
            paths: Vec::new(),
            markers: vec![marker.name.clone()],
            io: true,
            rate_limited: true,
            max_workers: Some(API_CATEGORY_CAP),
            order: Some(API_CATEGORY_ORDER),
            builtin_override: false,
        });
    }

    // A built-in category tried before the API ones (`serial`, whose tests
    // run alone) takes API-calling tests too: without the proxy their calls
    // would go straight to the API. Rate limiting it costs tests that make
    // no calls nothing.
    let api_markers: BTreeSet<String> = proposal
        .categories
        .iter()
        .flat_map(|c| c.markers.iter().cloned())
        .collect();
    for builtin in settings.categories().ordered() {
        if builtin.rate_limited
            || builtin.markers.is_empty()
            || builtin.order >= API_CATEGORY_ORDER
            || api_markers.is_empty()
        {
            continue;
        }
        let both: Vec<&str> = suite
            .files
            .iter()
            .filter(|f| f.is_test)
            .filter(|f| builtin.markers.iter().any(|m| f.markers.contains(m)))
            .filter(|f| f.markers.iter().any(|m| api_markers.contains(m)))
            .map(|f| f.path.as_str())
            .collect();
        if both.is_empty() {
            continue;
        }
        proposal.categories.push(ProposedCategory {
            name: builtin.name.clone(),
            why: vec![
                format!(
                    "{} mark{} tests both `{}` and `{}`: the built-in `{}` comes first and takes them,",
                    both.join(", "),
                    if both.len() == 1 { "s" } else { "" },
                    builtin.markers.join("`/`"),
                    api_markers.iter().cloned().collect::<Vec<_>>().join("`/`"),
                    builtin.name
                ),
                "so it goes through the proxy too (tests that make no calls lose nothing)".into(),
            ],
            description: String::new(),
            paths: Vec::new(),
            markers: Vec::new(),
            io: false,
            rate_limited: true,
            max_workers: None,
            order: None,
            builtin_override: true,
        });
    }

    // Then each folder of tests directly under a test path.
    for testpath in &suite.testpaths {
        // `testpaths = ["."]`: the folders at the root.
        let prefix = match testpath.as_str() {
            "." | "" => String::new(),
            t => format!("{t}/"),
        };
        let mut folders: Vec<(String, usize)> = Vec::new();
        let mut top_level = 0;
        for file in suite.files.iter().filter(|f| f.is_test) {
            let Some(rest) = file.path.strip_prefix(&prefix) else {
                continue;
            };
            match rest.split_once('/') {
                Some((folder, _)) => match folders.iter_mut().find(|(f, _)| f == folder) {
                    Some((_, n)) => *n += 1,
                    None => folders.push((folder.to_string(), 1)),
                },
                None => top_level += 1,
            }
        }
        folders.sort();
        for (folder, count) in folders {
            let path = format!("{prefix}{folder}/");
            let existing = settings.categorize(&format!("{path}test_x.py::test"), &[]);
            if existing.name != DEFAULT_CATEGORY {
                proposal.notes.push(format!(
                    "{path} ({}): the built-in category `{}` takes it",
                    files(count),
                    existing.name
                ));
                continue;
            }
            let mut name = category_name(&folder);
            if taken.contains(&name) {
                name = category_name(&format!("{}-{folder}", last_component(testpath)));
            }
            if taken.contains(&name) {
                proposal
                    .notes
                    .push(format!("{path} left to you: no free category name for it"));
                continue;
            }
            taken.insert(name.clone());
            let mut why = vec![format!(
                "{path} holds {}; no category took it (it ran in `default`)",
                files(count)
            )];
            // Network clients in tests no API category takes: a hint, not a
            // setting (the client may well talk to a local test server).
            let clients: BTreeSet<String> = suite
                .files
                .iter()
                .filter(|f| f.is_test && f.path.starts_with(&path))
                .filter(|f| f.markers.is_disjoint(&api_markers))
                .flat_map(|f| f.requested.iter())
                .filter_map(|p| suite.network_fixtures.iter().find(|n| &n.name == p))
                .map(|n| format!("`{}` ({})", n.name, n.client))
                .collect();
            if !clients.is_empty() {
                why.push(format!(
                    "its tests use {}: if they call a live API, make it kind = \"io\" and rate_limited = true",
                    clients.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
            proposal.categories.push(ProposedCategory {
                name,
                why,
                description: format!("tests in {path}"),
                paths: vec![path],
                markers: Vec::new(),
                io: false,
                rate_limited: false,
                max_workers: None,
                order: None,
                builtin_override: false,
            });
        }
        if top_level > 0 {
            let place = if prefix.is_empty() {
                "the project root"
            } else {
                prefix.as_str()
            };
            proposal.notes.push(format!(
                "{} directly in {place}: left in `default`",
                files(top_level)
            ));
        }
    }

    // Upstreams: one per base-URL variable.
    let mut upstream_names = BTreeSet::new();
    for var in &suite.url_vars {
        let name = upstream_name(&var.name);
        if settings.upstream(&name).is_some() || !upstream_names.insert(name.clone()) {
            continue;
        }
        proposal.upstreams.push(ProposedUpstream {
            name,
            var: var.name.clone(),
            at: var.at.clone(),
            url: var.default.clone(),
            url_from: var.default_from.clone(),
        });
    }
    if !proposal.upstreams.is_empty() && !proposal.categories.iter().any(|c| c.rate_limited) {
        proposal.notes.push(
            "no category found to be rate limited: the upstreams below are paced only for \
             tests of end-to-end, live or a category with rate_limited = true"
                .into(),
        );
    }
    proposal
}

fn files(n: usize) -> String {
    match n {
        1 => "1 test file".into(),
        n => format!("{n} test files"),
    }
}

/// A valid category name: letters, digits, `-` and `_`.
fn category_name(text: &str) -> String {
    text.to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn last_component(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `OFSC_BASE_URL` -> `ofsc`, `GITHUB_API_URL` -> `github`, `BASE_URL` -> `api`.
pub fn upstream_name(var: &str) -> String {
    let upper = var.to_ascii_uppercase();
    let mut stem = upper.as_str();
    for suffix in [
        "_API_BASE_URL",
        "_BASE_URL",
        "_API_URL",
        "_URL",
        "_ENDPOINT",
        "URL",
    ] {
        if let Some(s) = stem.strip_suffix(suffix) {
            stem = s;
            break;
        }
    }
    let stem = stem.trim_matches('_');
    if stem.is_empty() || stem == "BASE" || stem == "API" {
        "api".into()
    } else {
        stem.to_ascii_lowercase().replace('_', "-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_names_come_from_the_variable() {
        assert_eq!(upstream_name("OFSC_BASE_URL"), "ofsc");
        assert_eq!(upstream_name("GITHUB_API_URL"), "github");
        assert_eq!(upstream_name("BASE_URL"), "api");
        assert_eq!(upstream_name("API_URL"), "api");
        assert_eq!(upstream_name("TOKEN_SERVICE_ENDPOINT"), "token-service");
    }

    #[test]
    fn category_names_keep_only_valid_characters() {
        assert_eq!(category_name("uses_real_data"), "uses_real_data");
        assert_eq!(category_name("My Tests.v2"), "my-tests-v2");
    }
}
