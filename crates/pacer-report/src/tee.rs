//! A fan-out reporter: every event goes to each of several reporters, in
//! the order they were added.
//!
//! The pool takes one `&mut dyn Reporter`; a run that both draws the
//! terminal and writes a JUnit file hands it a `Tee` of the two, so neither
//! reporter knows of the other. It borrows its reporters, so the caller can
//! still ask them for results (a write error, say) after the run.

use pacer_runner::events::{Event, Reporter};

#[derive(Default)]
pub struct Tee<'a> {
    reporters: Vec<&'a mut dyn Reporter>,
}

impl<'a> Tee<'a> {
    pub fn new() -> Self {
        Tee::default()
    }

    /// Adds a reporter after those already there.
    pub fn with(mut self, reporter: &'a mut dyn Reporter) -> Self {
        self.reporters.push(reporter);
        self
    }

    /// Adds a reporter when there is one (`--junitxml` given or not).
    pub fn with_some(self, reporter: Option<&'a mut dyn Reporter>) -> Self {
        match reporter {
            Some(reporter) => self.with(reporter),
            None => self,
        }
    }
}

impl Reporter for Tee<'_> {
    fn report(&mut self, event: Event<'_>) {
        for reporter in &mut self.reporters {
            reporter.report(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reporter_sees_every_event_in_order() {
        let mut first = Vec::new();
        let mut second = Vec::new();
        {
            let mut a = |e: Event<'_>| first.push(format!("{e:?}"));
            let mut b = |e: Event<'_>| second.push(format!("{e:?}"));
            let mut tee = Tee::new().with(&mut a).with_some(Some(&mut b));
            tee.report(Event::Notice { message: "one" });
            tee.report(Event::Notice { message: "two" });
        }
        assert_eq!(first.len(), 2);
        assert_eq!(first, second);
        assert!(first[0].contains("one") && first[1].contains("two"));
    }
}
