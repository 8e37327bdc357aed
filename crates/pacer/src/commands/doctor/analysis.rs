//! What `pacer doctor` concludes from one timed sequential run: the
//! plugin's timings (`pacer_doctor.py`), Python's `-X importtime` lines,
//! the categories and the proxies' statistics, turned into tables and advice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the plugin writes.
#[derive(Debug, Clone, Deserialize)]
pub struct Timings {
    pub python: Option<String>,
    pub pytest: Option<String>,
    pub session: f64,
    pub collection: Option<f64>,
    pub collectors: Vec<Collector>,
    pub fixtures: Vec<Fixture>,
    pub tests: Vec<TestTime>,
    pub exitstatus: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Collector {
    pub id: String,
    pub kind: String,
    pub seconds: f64,
    /// Modules first imported while it was collected (conftests for a
    /// folder); only used to name who imported a slow module.
    #[serde(skip_serializing)]
    pub imported: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fixture {
    pub name: String,
    pub scope: String,
    pub baseid: String,
    pub r#where: String,
    pub setups: u64,
    pub seconds: f64,
    pub longest: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TestTime {
    pub id: String,
    pub markers: Vec<String>,
    pub phases: BTreeMap<String, f64>,
    pub outcome: String,
    /// Wall and CPU seconds over the whole test (the process's and its
    /// waited-for children's CPU).
    #[serde(default)]
    pub wall: f64,
    #[serde(default)]
    pub cpu: f64,
    /// Seconds its thread was ready but queued for a core (Linux).
    #[serde(default)]
    pub queued: f64,
    /// Stack samples taken while it ran, and per kind of wait those that
    /// showed it (`sleep`, `socket`, `subprocess`, `lock`).
    #[serde(default)]
    pub samples: u64,
    #[serde(default)]
    pub waits: BTreeMap<String, u64>,
}

/// One module's import, from `-X importtime`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Import {
    pub module: String,
    /// Seconds in the module itself, its imports excluded.
    pub seconds: f64,
    pub cumulative: f64,
    /// The collected file that imported it first, when a test file did.
    pub imported_by: Option<String>,
}

/// `import time:  self [us] | cumulative | name` lines, slowest first.
pub fn parse_importtime(stderr: &str) -> Vec<Import> {
    let mut imports: Vec<Import> = stderr
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("import time:")?;
            let mut parts = rest.split('|');
            let own: f64 = parts.next()?.trim().parse().ok()?;
            let cumulative: f64 = parts.next()?.trim().parse().ok()?;
            let module = parts.next()?.trim().to_string();
            Some(Import {
                module,
                seconds: own / 1e6,
                cumulative: cumulative / 1e6,
                imported_by: None,
            })
        })
        .collect();
    imports.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    imports
}

#[derive(Debug, Clone, Serialize)]
pub struct Slowest {
    pub id: String,
    pub category: String,
    pub seconds: f64,
    pub phases: BTreeMap<String, f64>,
    pub outcome: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryLoad {
    pub name: String,
    pub tests: usize,
    pub work: f64,
    /// Tests it may run at once on this machine.
    pub slots: usize,
    /// Its work / slots.
    pub bound: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct UpstreamLoad {
    pub name: String,
    pub requests: u64,
    pub configured_rate: f64,
    /// Requests / configured rate: the least time they take however run.
    pub bound: f64,
}

/// One piece of advice: `kind` for machines, `text` for people.
#[derive(Debug, Clone, Serialize)]
pub struct Advice {
    pub kind: &'static str,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub schema: &'static str,
    pub version: u32,
    pub python: Option<String>,
    pub pytest: Option<String>,
    pub workers: usize,
    /// The sequential run's session, seconds.
    pub session: f64,
    pub collection: Option<f64>,
    pub tests: usize,
    /// Seconds of the tests (setup, call, teardown), summed.
    pub work: f64,
    /// Max of work / workers, the longest test, each category's and each upstream's bound.
    pub bound: f64,
    pub modules: Vec<Collector>,
    pub imports: Vec<Import>,
    pub fixtures: Vec<Fixture>,
    pub slowest: Vec<Slowest>,
    /// The tests that wait most and on what (issue 21).
    pub waiting: Vec<super::waiting::Waiting>,
    pub categories: Vec<CategoryLoad>,
    pub upstreams: Vec<UpstreamLoad>,
    pub advice: Vec<Advice>,
}

/// A category as doctor needs it.
pub struct CategoryInfo {
    pub name: String,
    pub slots: usize,
}

pub struct Inputs<'a> {
    pub timings: Timings,
    pub imports: Vec<Import>,
    pub workers: usize,
    pub top: usize,
    /// Each test's category, and the categories' slots.
    pub categorize: &'a dyn Fn(&str, &[String]) -> String,
    pub categories: Vec<CategoryInfo>,
    pub upstreams: Vec<UpstreamLoad>,
}

/// Imports (self time) at least this long are worth naming.
const SLOW_IMPORT: f64 = 0.1;

pub fn diagnose(inputs: Inputs<'_>) -> Diagnosis {
    let Inputs {
        timings,
        mut imports,
        workers,
        top,
        categorize,
        categories,
        upstreams,
    } = inputs;
    let workers = workers.max(1);
    let waiting = super::waiting::tests_that_wait(&timings.tests, categorize, top);
    let mut slowest: Vec<Slowest> = timings
        .tests
        .iter()
        .map(|t| Slowest {
            id: t.id.clone(),
            category: categorize(&t.id, &t.markers),
            seconds: t.phases.values().sum(),
            phases: t.phases.clone(),
            outcome: t.outcome.clone(),
        })
        .collect();
    slowest.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    let work: f64 = slowest.iter().map(|t| t.seconds).sum();
    let per_worker = work / workers as f64;

    let mut loads: Vec<CategoryLoad> = Vec::new();
    for info in &categories {
        let mine: Vec<&Slowest> = slowest.iter().filter(|t| t.category == info.name).collect();
        if mine.is_empty() {
            continue;
        }
        let cat_work: f64 = mine.iter().map(|t| t.seconds).sum();
        loads.push(CategoryLoad {
            name: info.name.clone(),
            tests: mine.len(),
            work: cat_work,
            slots: info.slots,
            bound: cat_work / info.slots.max(1) as f64,
        });
    }

    let longest = slowest.first();
    let mut bound = per_worker.max(longest.map_or(0.0, |t| t.seconds));
    let machine = bound;
    for l in &loads {
        bound = bound.max(l.bound);
    }
    for u in &upstreams {
        bound = bound.max(u.bound);
    }

    let mut advice = Vec::new();
    if let Some(t) = longest.filter(|t| t.seconds > per_worker && slowest.len() > 1) {
        advice.push(Advice {
            kind: "bounding-test",
            text: format!(
                "{} ({:.2} s) bounds the run: all the tests' work spread over {workers} workers is {:.2} s; \
                 no scheduling finishes before it does. Split it, or make its slow part a shared fixture.",
                t.id, t.seconds, per_worker
            ),
        });
    }
    for l in &loads {
        if l.slots < workers && l.bound > machine * 1.05 {
            advice.push(Advice {
                kind: "category-cap",
                text: format!(
                    "category `{}` runs at most {} test(s) at once: its {:.2} s of tests need {:.2} s, \
                     while the machine could finish the whole suite in {:.2} s. Raise its max_workers if its tests allow it.",
                    l.name, l.slots, l.work, l.bound, machine
                ),
            });
        }
    }
    for u in &upstreams {
        if u.bound > machine * 1.05 {
            advice.push(Advice {
                kind: "upstream-rate",
                text: format!(
                    "upstream `{}` is the bottleneck: {} requests at {:.2} req/s take {:.2} s at least, \
                     more than the tests' own {:.2} s. Fewer calls per test, or a higher rate if the API allows it.",
                    u.name, u.requests, u.configured_rate, u.bound, machine
                ),
            });
        }
    }

    // Name the test file that first pulled each slow import in.
    let modules_by_time = {
        let mut m: Vec<Collector> = timings.collectors.clone();
        m.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
        m
    };
    for import in imports.iter_mut() {
        import.imported_by = timings
            .collectors
            .iter()
            .find(|c| c.imported.contains(&import.module))
            .map(|c| c.id.clone());
    }
    let collection = timings.collection.unwrap_or(0.0);
    // Only the suite's own imports: what pytest and its plugins import
    // before collection is not the suite's to change.
    for import in imports
        .iter()
        .filter(|i| i.seconds >= SLOW_IMPORT && i.imported_by.is_some())
        .take(top)
    {
        advice.push(Advice {
            kind: "slow-import",
            text: format!(
                "importing `{}` takes {:.2} s, first imported by {} (every worker pays it once): import it lazily where it is used, or make its module-level work a fixture.",
                import.module,
                import.seconds,
                import.imported_by.as_deref().unwrap_or_default()
            ),
        });
    }
    if collection > 0.0 && collection > work * 0.5 && collection >= 1.0 {
        advice.push(Advice {
            kind: "slow-collection",
            text: format!(
                "collection takes {collection:.2} s, {:.0}% of the tests' time: every worker collects, so it does not shrink with more workers.",
                collection / work.max(1e-9) * 100.0
            ),
        });
    }
    let mut fixtures = timings.fixtures.clone();
    fixtures.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    if let Some(f) = fixtures
        .first()
        .filter(|f| f.setups > 1 && f.scope == "function" && f.seconds > work * 0.2)
    {
        advice.push(Advice {
            kind: "fixture-scope",
            text: format!(
                "fixture `{}` is set up {} times for {:.2} s in all: a wider scope (module, session) would set it up once per worker.",
                f.name, f.setups, f.seconds
            ),
        });
    }

    Diagnosis {
        schema: "pacer-doctor",
        version: 1,
        python: timings.python,
        pytest: timings.pytest,
        workers,
        session: timings.session,
        collection: timings.collection,
        tests: slowest.len(),
        work,
        bound,
        modules: modules_by_time.into_iter().take(top).collect(),
        imports: imports.into_iter().take(top).collect(),
        fixtures: fixtures.into_iter().take(top).collect(),
        slowest: slowest.into_iter().take(top).collect(),
        waiting,
        categories: loads,
        upstreams,
        advice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn importtime_lines_are_read_slowest_first() {
        let stderr = "import time: self [us] | cumulative | imported package\n\
                      import time:       120 |        120 |   _io\n\
                      import time:    412000 |     415000 | slow_helper\n\
                      something else\n";
        let imports = parse_importtime(stderr);
        assert_eq!(imports.len(), 2);
        assert_eq!(imports[0].module, "slow_helper");
        assert!((imports[0].seconds - 0.412).abs() < 1e-9);
    }

    fn test(id: &str, seconds: f64) -> TestTime {
        TestTime {
            id: id.into(),
            markers: vec![],
            phases: [("call".to_string(), seconds)].into(),
            outcome: "passed".into(),
            ..TestTime::default()
        }
    }

    fn timings(tests: Vec<TestTime>) -> Timings {
        Timings {
            python: None,
            pytest: None,
            session: 1.0,
            collection: Some(0.1),
            collectors: vec![],
            fixtures: vec![],
            tests,
            exitstatus: 0,
        }
    }

    fn kinds(d: &Diagnosis) -> Vec<&'static str> {
        d.advice.iter().map(|a| a.kind).collect()
    }

    #[test]
    fn a_category_whose_cap_starves_the_pool_is_named() {
        let tests: Vec<TestTime> = (0..8).map(|i| test(&format!("slow/t{i}"), 1.0)).collect();
        let categorize = |id: &str, _: &[String]| id.split('/').next().unwrap().to_string();
        let d = diagnose(Inputs {
            timings: timings(tests),
            imports: vec![],
            workers: 4,
            top: 5,
            categorize: &categorize,
            categories: vec![CategoryInfo {
                name: "slow".into(),
                slots: 1,
            }],
            upstreams: vec![],
        });
        assert_eq!(kinds(&d), vec!["category-cap"]);
        assert_eq!(d.bound, 8.0);
    }

    #[test]
    fn an_upstream_whose_rate_bounds_the_run_is_named() {
        let categorize = |_: &str, _: &[String]| "e2e".to_string();
        let d = diagnose(Inputs {
            timings: timings(vec![test("a", 0.5), test("b", 0.5)]),
            imports: vec![],
            workers: 2,
            top: 5,
            categorize: &categorize,
            categories: vec![],
            upstreams: vec![UpstreamLoad {
                name: "api".into(),
                requests: 30,
                configured_rate: 10.0,
                bound: 3.0,
            }],
        });
        assert_eq!(kinds(&d), vec!["upstream-rate"]);
        assert_eq!(d.bound, 3.0);
    }

    #[test]
    fn only_the_suites_own_slow_imports_are_advice() {
        let categorize = |_: &str, _: &[String]| "default".to_string();
        let mut t = timings(vec![test("a", 0.1), test("b", 0.1)]);
        t.collectors = vec![Collector {
            id: "tests/test_a.py".into(),
            kind: "Module".into(),
            seconds: 0.6,
            imported: vec!["heavy".into(), "heavy.part".into()],
        }];
        let import = |module: &str| Import {
            module: module.into(),
            seconds: 0.3,
            cumulative: 0.3,
            imported_by: None,
        };
        let d = diagnose(Inputs {
            timings: t,
            imports: vec![import("heavy.part"), import("pytests_own_dependency")],
            workers: 2,
            top: 5,
            categorize: &categorize,
            categories: vec![],
            upstreams: vec![],
        });
        assert_eq!(kinds(&d), vec!["slow-import"]);
        assert!(
            d.advice[0].text.contains("`heavy.part`")
                && d.advice[0].text.contains("tests/test_a.py")
        );
        assert_eq!(d.imports[1].imported_by, None);
    }
}
