//! Test categories: named selectors, each with its own concurrency cap.
//!
//! The built-in categories mirror the layout of the `ofsc` client's suite
//! (README, "Categories"). A project overrides any field of them, or adds its own,
//! under `[tool.pacer.categories.NAME]`. Categories are tried in `order`
//! (then declaration order); the first whose selector matches a test wins,
//! and a test no selector matches lands in [`DEFAULT_CATEGORY`], so every
//! test has exactly one category and none is dropped.

use serde::Serialize;

use crate::source::Source;

/// The name of the catch-all category.
pub const DEFAULT_CATEGORY: &str = "default";

/// Whether a category's tests mostly use the CPU or wait on the network:
/// the scheduler's own type (issue 8: declared once, not mapped by hand).
pub use pacer_types::Kind;

/// Where each field of a category came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategorySources {
    pub paths: Source,
    pub markers: Source,
    pub max_workers: Source,
    pub kind: Source,
    pub rate_limited: Source,
    pub exclusive: Source,
    pub order: Source,
}

impl CategorySources {
    fn all(source: Source) -> Self {
        CategorySources {
            paths: source.clone(),
            markers: source.clone(),
            max_workers: source.clone(),
            kind: source.clone(),
            rate_limited: source.clone(),
            exclusive: source.clone(),
            order: source,
        }
    }
}

/// One category, fully resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Category {
    pub name: String,
    /// One line for `pacer list` and `pacer config`.
    pub description: String,
    /// Path prefixes relative to the project root (`tests/unit/`), matched
    /// by whole path components against the file part of a node id.
    pub paths: Vec<String>,
    /// pytest markers; a test carrying any of them matches.
    pub markers: Vec<String>,
    /// How many of this category's tests may run at once.
    pub max_workers: usize,
    pub kind: Kind,
    /// Whether its workers go through the rate-limiting proxy.
    pub rate_limited: bool,
    /// Its tests run one at a time with nothing else running.
    pub exclusive: bool,
    /// Matching order: lower is tried first; ties keep declaration order.
    pub order: i64,
    /// Whether pacer defines it (as opposed to the project).
    pub builtin: bool,
    pub sources: CategorySources,
}

impl Category {
    /// Whether this category's selector matches a test.
    pub fn matches(&self, nodeid: &str, markers: &[String]) -> bool {
        let file = node_file(nodeid);
        self.paths.iter().any(|p| path_prefix_matches(&file, p))
            || markers
                .iter()
                .any(|m| self.markers.iter().any(|own| own == m))
    }

    /// A project-defined category before its table is applied: unset
    /// fields keep defaults (`cpu`, not rate limited, cap = workers).
    pub(crate) fn new_project(name: &str, max_workers: usize, order: i64) -> Self {
        Category {
            name: name.to_string(),
            description: String::new(),
            paths: Vec::new(),
            markers: Vec::new(),
            max_workers,
            kind: Kind::Cpu,
            rate_limited: false,
            exclusive: false,
            order,
            builtin: false,
            sources: CategorySources {
                max_workers: Source::derived("= workers"),
                order: Source::derived("after the built-ins"),
                ..CategorySources::all(Source::Default)
            },
        }
    }
}

/// The file part of a node id, with `\` as `/` and no leading `./`.
pub fn node_file(nodeid: &str) -> String {
    let file = nodeid.split("::").next().unwrap_or(nodeid);
    normalise_path(file)
}

fn normalise_path(path: &str) -> String {
    let mut p = path.trim().replace('\\', "/");
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.to_string();
    }
    p
}

/// `tests/unit` matches `tests/unit/test_a.py` and `tests/unit` itself but
/// not `tests/unit_slow/test_b.py`; `.` or an empty path matches everything.
fn path_prefix_matches(file: &str, selector: &str) -> bool {
    let selector = normalise_path(selector);
    let selector = selector.trim_end_matches('/');
    if selector.is_empty() || selector == "." {
        return true;
    }
    file == selector
        || file
            .strip_prefix(selector)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The built-in categories (README, "Categories"), in matching order.
pub fn builtin_categories() -> Vec<Category> {
    // name, description, path, marker, cap, kind, rate limited
    type Row = (
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        usize,
        Kind,
        bool,
    );
    let spec: [Row; 5] = [
        (
            "unit",
            "fast isolated tests",
            "tests/unit/",
            Some("unit"),
            8,
            Kind::Cpu,
            false,
        ),
        (
            "models",
            "data-model tests",
            "tests/models/",
            None,
            8,
            Kind::Cpu,
            false,
        ),
        (
            "integration",
            "tests across modules",
            "tests/integration/",
            Some("integration"),
            4,
            Kind::Cpu,
            false,
        ),
        (
            "end-to-end",
            "tests against a live API",
            "tests/end_to_end/",
            Some("e2e"),
            10,
            Kind::Io,
            true,
        ),
        (
            "live",
            "tests against a live API",
            "tests/live/",
            Some("live"),
            10,
            Kind::Io,
            true,
        ),
    ];
    // Tests that must not run beside others (pyOFSC's `serial` marker, run
    // by xdist users in a second `-m serial` pass) come first, so the marker
    // wins over any path.
    let serial = Category {
        name: "serial".to_string(),
        description: "tests that run alone, nothing beside them".to_string(),
        paths: Vec::new(),
        markers: vec!["serial".to_string()],
        max_workers: 1,
        kind: Kind::Cpu,
        rate_limited: false,
        exclusive: true,
        order: -10,
        builtin: true,
        sources: CategorySources::all(Source::Default),
    };
    std::iter::once(serial)
        .chain(spec.iter().enumerate().map(
            |(i, (name, description, path, marker, cap, kind, rate_limited))| Category {
                name: name.to_string(),
                description: description.to_string(),
                paths: vec![path.to_string()],
                markers: marker.iter().map(|m| m.to_string()).collect(),
                max_workers: *cap,
                kind: *kind,
                rate_limited: *rate_limited,
                exclusive: false,
                order: (i as i64) * 10,
                builtin: true,
                sources: CategorySources::all(Source::Default),
            },
        ))
        .collect()
}

/// The catch-all category: capped at the worker count, `cpu`.
pub(crate) fn default_category(workers: usize) -> Category {
    Category {
        name: DEFAULT_CATEGORY.to_string(),
        description: "tests no other category selects".to_string(),
        paths: Vec::new(),
        markers: Vec::new(),
        max_workers: workers,
        kind: Kind::Cpu,
        rate_limited: false,
        exclusive: false,
        order: i64::MAX,
        builtin: true,
        sources: CategorySources {
            max_workers: Source::derived("= workers"),
            ..CategorySources::all(Source::Default)
        },
    }
}

/// The ordered categories plus `default`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Categories {
    ordered: Vec<Category>,
    default: Category,
}

impl Categories {
    /// Sorts by `order` (stable, so ties keep declaration order).
    pub(crate) fn new(mut ordered: Vec<Category>, default: Category) -> Self {
        ordered.sort_by_key(|c| c.order);
        Categories { ordered, default }
    }

    /// The first category whose selector matches, else `default`.
    pub fn categorize(&self, nodeid: &str, markers: &[String]) -> &Category {
        self.ordered
            .iter()
            .find(|c| c.matches(nodeid, markers))
            .unwrap_or(&self.default)
    }

    /// The categories in matching order, without `default`.
    pub fn ordered(&self) -> &[Category] {
        &self.ordered
    }

    /// The catch-all category.
    pub fn default_category(&self) -> &Category {
        &self.default
    }

    /// Every category, `default` last.
    pub fn iter(&self) -> impl Iterator<Item = &Category> {
        self.ordered.iter().chain(std::iter::once(&self.default))
    }

    /// A category by name (including `default`).
    pub fn get(&self, name: &str) -> Option<&Category> {
        self.iter().find(|c| c.name == name)
    }

    /// Every name, `default` last.
    pub fn names(&self) -> Vec<String> {
        self.iter().map(|c| c.name.clone()).collect()
    }

    /// Notes about categories that can never select a test: an earlier one
    /// (first match wins) selects every path and marker they name. Two
    /// built-ins never count: the user did not write them.
    pub fn shadow_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for (i, later) in self.ordered.iter().enumerate() {
            if later.paths.is_empty() && later.markers.is_empty() {
                continue;
            }
            let Some(earlier) = self.ordered[..i]
                .iter()
                .find(|earlier| !(earlier.builtin && later.builtin) && covers(earlier, later))
            else {
                continue;
            };
            let source = |c: &Category| {
                if c.paths.is_empty() {
                    c.sources.markers.to_string()
                } else {
                    c.sources.paths.to_string()
                }
            };
            notes.push(format!(
                "warning: category `{}` ({}) never selects a test: `{}` ({}) comes first and selects \
                 all its paths and markers; give `{}` other paths or markers, or a lower `order`",
                later.name,
                source(later),
                earlier.name,
                source(earlier),
                later.name
            ));
        }
        notes
    }
}

/// Whether every test `later` selects is selected by `earlier` too.
fn covers(earlier: &Category, later: &Category) -> bool {
    later.paths.iter().all(|path| {
        let path = normalise_path(path);
        let path = path.trim_end_matches('/');
        earlier
            .paths
            .iter()
            .any(|selector| path_prefix_matches(path, selector))
    }) && later.markers.iter().all(|m| earlier.markers.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtins() -> Categories {
        Categories::new(builtin_categories(), default_category(2))
    }

    fn m(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn builtins_match_the_design_table() {
        let cats = builtins();
        let row = |n: &str| {
            let c = cats.get(n).unwrap();
            (
                c.paths.clone(),
                c.markers.clone(),
                c.max_workers,
                c.kind,
                c.rate_limited,
            )
        };
        assert_eq!(
            row("unit"),
            (m(&["tests/unit/"]), m(&["unit"]), 8, Kind::Cpu, false)
        );
        assert_eq!(
            row("models"),
            (m(&["tests/models/"]), m(&[]), 8, Kind::Cpu, false)
        );
        assert_eq!(
            row("integration"),
            (
                m(&["tests/integration/"]),
                m(&["integration"]),
                4,
                Kind::Cpu,
                false
            )
        );
        assert_eq!(
            row("end-to-end"),
            (m(&["tests/end_to_end/"]), m(&["e2e"]), 10, Kind::Io, true)
        );
        assert_eq!(
            row("live"),
            (m(&["tests/live/"]), m(&["live"]), 10, Kind::Io, true)
        );
        assert_eq!(row("default"), (m(&[]), m(&[]), 2, Kind::Cpu, false));
        assert_eq!(row("serial"), (m(&[]), m(&["serial"]), 1, Kind::Cpu, false));
        assert!(cats.get("serial").unwrap().exclusive);
        assert!(!cats.get("unit").unwrap().exclusive);
        // A `serial` mark wins over any path: such a test must run alone.
        assert_eq!(
            cats.categorize("tests/unit/test_a.py::t", &m(&["serial"]))
                .name,
            "serial"
        );
        assert_eq!(
            cats.names(),
            m(&[
                "serial",
                "unit",
                "models",
                "integration",
                "end-to-end",
                "live",
                "default"
            ])
        );
    }

    #[test]
    fn path_prefix_selects_by_whole_components() {
        let cats = builtins();
        assert_eq!(
            cats.categorize("tests/unit/test_a.py::test_x", &[]).name,
            "unit"
        );
        assert_eq!(
            cats.categorize("tests/unit/sub/test_a.py::C::test[a::b]", &[])
                .name,
            "unit"
        );
        assert_eq!(
            cats.categorize("tests/unit_slow/test_a.py::test_x", &[])
                .name,
            "default"
        );
        assert_eq!(
            cats.categorize("tests/end_to_end/test_api.py::test_get", &[])
                .name,
            "end-to-end"
        );
    }

    #[test]
    fn windows_slashes_and_dot_prefix_are_normalised() {
        let cats = builtins();
        assert_eq!(
            cats.categorize(r"tests\models\test_m.py::test_x", &[]).name,
            "models"
        );
        assert_eq!(
            cats.categorize("./tests/live/test_l.py::test_x", &[]).name,
            "live"
        );
    }

    #[test]
    fn markers_select_too() {
        let cats = builtins();
        assert_eq!(
            cats.categorize("tests/test_misc.py::test_x", &m(&["e2e"]))
                .name,
            "end-to-end"
        );
        assert_eq!(
            cats.categorize("tests/test_misc.py::test_x", &m(&["slow", "live"]))
                .name,
            "live"
        );
    }

    #[test]
    fn first_match_in_order_wins() {
        // a unit-marked test under tests/live/ is unit: unit comes first.
        let cats = builtins();
        assert_eq!(
            cats.categorize("tests/live/test_l.py::test_x", &m(&["unit"]))
                .name,
            "unit"
        );
    }

    #[test]
    fn unmatched_tests_go_to_default_never_dropped() {
        let cats = builtins();
        for id in [
            "test_top.py::test_x",
            "src/pkg/test_y.py::test_y",
            "tests/test_z.py",
        ] {
            assert_eq!(cats.categorize(id, &[]).name, DEFAULT_CATEGORY);
        }
    }

    /// Issue 11: two categories with the same paths shadowed silently.
    #[test]
    fn regression_a_category_an_earlier_one_covers_is_warned_about() {
        let mut a = Category::new_project("api", 2, 100);
        a.paths = vec!["tests/api/".into()];
        a.sources.paths = Source::env("A");
        let mut b = Category::new_project("api_slow", 2, 110);
        b.paths = vec!["./tests/api/slow".into()];
        b.sources.paths = Source::env("B");
        let mut c = Category::new_project("other", 2, 120);
        c.paths = vec!["tests/api/".into()];
        c.markers = vec!["other".into()];
        let cats = Categories::new(vec![a, b, c], default_category(2));
        let notes = cats.shadow_notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("`api_slow` (env B)"), "{notes:?}");
        assert!(notes[0].contains("`api` (env A) comes first"), "{notes:?}");
        // A project category under a built-in's path is shadowed too.
        let mut mine = Category::new_project("mine", 2, 1000);
        mine.paths = vec!["tests/unit/".into()];
        let mut list = builtin_categories();
        list.push(mine);
        let notes = Categories::new(list, default_category(2)).shadow_notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("`mine`"), "{notes:?}");
        assert!(builtins().shadow_notes().is_empty());
    }

    #[test]
    fn order_overrides_declaration_order() {
        let mut list = builtin_categories();
        let mut slow = Category::new_project("slow", 2, -20);
        slow.markers = m(&["slow"]);
        list.push(slow);
        let cats = Categories::new(list, default_category(2));
        assert_eq!(
            cats.categorize("tests/unit/test_a.py::t", &m(&["slow"]))
                .name,
            "slow"
        );
        assert_eq!(cats.ordered()[0].name, "slow");
    }
}
