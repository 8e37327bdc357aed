//! `--changed --dry-run`: the pool collects (pytest's `-k`, `-m`, paths,
//! pacer's categories and shard all apply), nothing runs, and each
//! selected file is printed with its tests and the reason it is selected.

use std::collections::BTreeMap;
use std::io::Write;

use pacer_runner::events::{Event, PlannedTest, Reporter};
use pacer_runner::pool::RunEnd;
use pacer_types::{exit, Outcome};

use super::Selection;

#[derive(Default)]
pub struct DryRun {
    tests: Vec<PlannedTest>,
    rootdir: Option<std::path::PathBuf>,
    problems: Vec<String>,
}

impl Reporter for DryRun {
    fn report(&mut self, event: Event<'_>) {
        match event {
            Event::Started { hello, .. } => {
                self.rootdir = Some(std::path::PathBuf::from(&hello.rootdir));
            }
            Event::Planned { tests, .. } => {
                self.tests = tests.iter().filter(|t| t.selected).cloned().collect();
            }
            Event::Collected { problems, .. } => {
                self.problems = problems
                    .iter()
                    .filter(|p| p.outcome == Outcome::Failed)
                    .map(|p| p.id.clone())
                    .collect();
            }
            Event::Notice { message } => eprintln!("pacer: {message}"),
            _ => {}
        }
    }
}

impl DryRun {
    /// Prints the selection; the exit code is pytest's for a collection
    /// that selects nothing (5), else 0.
    pub fn finish(&self, end: &RunEnd, selection: &Selection, out: &mut dyn Write) -> Option<i32> {
        let RunEnd::Finished(summary) = end else {
            return None;
        };
        let rootdir = self
            .rootdir
            .clone()
            .unwrap_or_else(|| selection.root.clone());
        let mut by_file: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for test in &self.tests {
            let file = test.id.split("::").next().unwrap_or(&test.id);
            by_file.entry(file).or_default().push(&test.id);
        }
        let reason = |file: &str| match &selection.everything {
            Some(why) => format!("every test: {why}"),
            None => match selection.files.get(&rootdir.join(file)) {
                Some(chain) if chain.len() <= 1 => "changed".to_string(),
                Some(chain) => {
                    let shown: Vec<String> =
                        chain.iter().map(|p| p.display().to_string()).collect();
                    format!(
                        "imports {} (changed): {}",
                        shown.last().map_or("", String::as_str),
                        shown.join(" -> ")
                    )
                }
                None => "selected".to_string(),
            },
        };
        for (file, tests) in &by_file {
            let _ = writeln!(
                out,
                "{file} ({} test{}): {}",
                tests.len(),
                if tests.len() == 1 { "" } else { "s" },
                reason(file)
            );
            for id in tests {
                let _ = writeln!(out, "  {id}");
            }
        }
        // A selected file that no longer imports (its module was deleted)
        // is the change's first casualty: named with its reason.
        for id in &self.problems {
            let file = id.split("::").next().unwrap_or(id);
            let _ = writeln!(out, "ERROR collecting {id}: {}", reason(file));
        }
        let stats = selection.stats;
        let _ = writeln!(
            out,
            "{} test{} in {} file{} selected by --changed (since {}); nothing run; import graph: {} files, {} read, {:.1} ms",
            self.tests.len(),
            if self.tests.len() == 1 { "" } else { "s" },
            by_file.len(),
            if by_file.len() == 1 { "" } else { "s" },
            selection.since,
            stats.files,
            stats.read,
            stats.millis,
        );
        Some(if self.tests.is_empty() && summary.exit_code == exit::OK {
            exit::NO_TESTS_COLLECTED
        } else {
            summary.exit_code
        })
    }
}
