//! The JUnit reporter made on demand: pytest's `--junitxml` (from the
//! command line, `addopts` or `PYTEST_ADDOPTS`) is known only once pytest
//! has parsed it, in the first worker's hello.

use std::path::PathBuf;

use pacer_report::junit::Family;
use pacer_report::Junit;
use pacer_runner::events::{Event, Reporter};

/// The JUnit reporter, made when pytest says where the report goes (its
/// folder was checked by `tune` before any test ran), styled as pytest's
/// own settings say (`junit_family`, `--junitprefix`, `junit_suite_name`).
pub struct JunitOnDemand {
    pub junit: Option<Junit>,
    /// `-o junit_suite_name=NAME` on the command line.
    suite_name: Option<String>,
}

impl JunitOnDemand {
    pub fn new(suite_name: Option<String>) -> Self {
        JunitOnDemand {
            junit: None,
            suite_name,
        }
    }
}

impl Reporter for JunitOnDemand {
    fn report(&mut self, event: Event<'_>) {
        if let Event::Started { hello, .. } = &event {
            if let (None, Some(path)) = (&self.junit, &hello.options.xmlpath) {
                let mut junit = Junit::new(PathBuf::from(path));
                let mut suite = self.suite_name.clone();
                if let Some(options) = &hello.junit {
                    junit = junit
                        .with_family(Family::from_ini(&options.family))
                        .with_prefix(options.prefix.clone());
                    suite = suite.or_else(|| Some(options.suite_name.clone()));
                }
                let suite = suite
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| pacer_report::junit::DEFAULT_SUITE_NAME.into());
                self.junit = Some(junit.with_suite_name(suite));
            }
        }
        if let Some(junit) = self.junit.as_mut() {
            junit.report(event);
        }
    }
}
