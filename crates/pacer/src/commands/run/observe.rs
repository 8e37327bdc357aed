//! What the first run's events showed that the steps after the pool need:
//! pytest's rootdir and options as the workers parsed them (the stores read
//! pytest's cache folder from them, the 429 rerun its arguments), and the
//! selected tests per category (the rerun's threshold).

use pacer_runner::events::{Event, Reporter};

/// What the first run showed, gathered from the runner's events on their
/// way to the reporters.
#[derive(Debug, Default)]
pub struct Observed {
    /// pytest's rootdir (node ids are relative to it).
    pub rootdir: Option<String>,
    /// pytest's options as the workers parsed them.
    pub options: Option<pacer_runner::events::PytestOptions>,
    /// Selected tests per category index.
    pub selected: Vec<usize>,
}

/// A reporter that passes every event on, noting what [`Observed`] holds.
pub struct Observing<'a> {
    pub inner: &'a mut dyn Reporter,
    pub observed: &'a mut Observed,
}

impl Reporter for Observing<'_> {
    fn report(&mut self, event: Event<'_>) {
        match &event {
            Event::Started { hello, .. } => {
                self.observed.rootdir = Some(hello.rootdir.clone());
                self.observed.options = Some(hello.options.clone());
            }
            Event::Planned { tests, categories } => {
                let mut selected = vec![0; categories.len()];
                for t in tests.iter().filter(|t| t.selected) {
                    if let Some(n) = selected.get_mut(t.category) {
                        *n += 1;
                    }
                }
                self.observed.selected = selected;
            }
            _ => {}
        }
        self.inner.report(event);
    }
}
