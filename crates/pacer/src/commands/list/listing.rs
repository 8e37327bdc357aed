//! `pacer list`: the collected tests grouped by category, with counts and
//! each category's cap, kind and rate limiting.

use std::io::Write;

use pacer_runner::category::CategorySpec;
use pacer_runner::events::{Event, PlannedTest, Reporter};
use pacer_runner::scheduler::Kind;
use pacer_settings::Settings;
use pacer_types::Outcome;
use serde_json::json;

pub struct Listing {
    json: bool,
    tests: Vec<PlannedTest>,
    categories: Vec<CategorySpec>,
    descriptions: Vec<(String, String)>,
    problems: Vec<(String, String)>,
    deselected: usize,
}

impl Listing {
    pub fn new(settings: &Settings, json: bool) -> Self {
        let all = settings.categories();
        let descriptions = all
            .ordered()
            .iter()
            .chain(std::iter::once(all.default_category()))
            .map(|c| (c.name.clone(), c.description.clone()))
            .collect();
        Listing {
            json,
            tests: Vec::new(),
            categories: Vec::new(),
            descriptions,
            problems: Vec::new(),
            deselected: 0,
        }
    }

    pub fn print(&self, out: &mut dyn Write) {
        if self.json {
            let categories: Vec<_> = self
                .categories
                .iter()
                .enumerate()
                .map(|(index, c)| {
                    let tests: Vec<&str> = self
                        .tests
                        .iter()
                        .filter(|t| t.category == index)
                        .map(|t| t.id.as_str())
                        .collect();
                    json!({
                        "name": c.name,
                        "max_workers": c.slots.cap,
                        "kind": c.slots.kind,
                        "rate_limited": c.rate_limited,
                        "exclusive": c.slots.exclusive,
                        "selected": c.selected,
                        "count": tests.len(),
                        "tests": tests,
                    })
                })
                .collect();
            let errors: Vec<_> = self
                .problems
                .iter()
                .map(|(id, text)| json!({"id": id, "error": text}))
                .collect();
            let doc = json!({
                "total": self.tests.len(),
                "deselected": self.deselected,
                "categories": categories,
                "collection_errors": errors,
            });
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            );
            return;
        }
        for (index, c) in self.categories.iter().enumerate() {
            let tests: Vec<&PlannedTest> =
                self.tests.iter().filter(|t| t.category == index).collect();
            if tests.is_empty() {
                continue;
            }
            let kind = match c.slots.kind {
                Kind::Cpu => "cpu",
                Kind::Io => "io",
            };
            let limited = if c.rate_limited { ", rate limited" } else { "" };
            let alone = if c.slots.exclusive { ", alone" } else { "" };
            let skipped = if c.selected { "" } else { " (not selected)" };
            let _ = writeln!(
                out,
                "{} ({} test{}; up to {} at once, {kind}{limited}{alone}){skipped}",
                c.name,
                tests.len(),
                if tests.len() == 1 { "" } else { "s" },
                c.slots.cap
            );
            if let Some((_, description)) = self.descriptions.iter().find(|(n, _)| *n == c.name) {
                if !description.is_empty() {
                    let _ = writeln!(out, "  # {description}");
                }
            }
            for test in tests {
                let _ = writeln!(out, "  {}", test.id);
            }
        }
        for (id, _) in &self.problems {
            let _ = writeln!(out, "ERROR collecting {id}");
        }
        let used = self
            .categories
            .iter()
            .enumerate()
            .filter(|(i, _)| self.tests.iter().any(|t| t.category == *i))
            .count();
        let _ = writeln!(
            out,
            "{} {} in {used} {}",
            self.tests.len(),
            plural(self.tests.len(), "test", "tests"),
            plural(used, "category", "categories"),
        );
    }
}

impl Reporter for Listing {
    fn report(&mut self, event: Event<'_>) {
        match event {
            Event::Planned { tests, categories } => {
                // A test of a selected category left out (`--changed`) is
                // not listed; a category's that is not selected is, marked.
                self.tests = tests
                    .iter()
                    .filter(|t| {
                        t.selected || categories.get(t.category).is_some_and(|c| !c.selected)
                    })
                    .cloned()
                    .collect();
                self.categories = categories.to_vec();
            }
            Event::Collected {
                deselected,
                problems,
                ..
            } => {
                self.deselected = deselected;
                self.problems = problems
                    .iter()
                    .filter(|p| p.outcome == Outcome::Failed)
                    .map(|p| (p.id.clone(), p.longrepr.clone()))
                    .collect();
            }
            Event::Notice { message } => eprintln!("pacer: {message}"),
            Event::WaitWorkers { .. } => {}
            _ => {}
        }
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}
