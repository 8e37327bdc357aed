//! pytest's own JUnit settings, as the workers' pytest parsed them.
//!
//! `--junitxml` may come from places pacer does not read: `addopts` in the
//! ini file, `PYTEST_ADDOPTS`, a plugin. The workers report what pytest
//! made of it in their `hello` (path, `--junitprefix`, `junit_family`,
//! `junit_suite_name`) and never write the file; this reporter opens pacer's
//! JUnit report then, when no path was given to pacer directly, and styles
//! it as pytest would.

use pacer_report::junit::{Family, Junit};
use pacer_runner::events::{Event, Reporter};

/// Forwards every event to the run's JUnit report, which it opens or styles
/// on the first worker's `hello`.
pub struct FromHello<'a> {
    junit: &'a mut Option<Junit>,
}

impl<'a> FromHello<'a> {
    pub fn new(junit: &'a mut Option<Junit>) -> Self {
        FromHello { junit }
    }
}

impl Reporter for FromHello<'_> {
    fn report(&mut self, event: Event<'_>) {
        if let Event::Started { hello, .. } = &event {
            if let Some(options) = &hello.junit {
                if self.junit.is_none() {
                    if let Some(path) = &options.xmlpath {
                        *self.junit = Some(Junit::new(path));
                    }
                }
                if let Some(junit) = self.junit.take() {
                    *self.junit = Some(
                        junit
                            .with_suite_name(options.suite_name.as_str())
                            .with_family(Family::from_ini(&options.family))
                            .with_prefix(options.prefix.clone()),
                    );
                }
            }
        }
        if let Some(junit) = self.junit.as_mut() {
            junit.report(event);
        }
    }
}
