//! The terminal reporter fed with synthetic events (no processes), its whole
//! output snapshotted with `insta`: progress, sections, short summary and
//! the final line, at two verbosities, and a run stopped by `-x` and then
//! interrupted. Update with `INSTA_UPDATE=always` and read the diff.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use pacer_report::{Terminal, TerminalOptions};
use pacer_runner::events::{CollectProblem, PhaseReport, SkipLocation};
use pacer_runner::events::{Event, Reporter, Summary};
use pacer_types::{exit, Outcome, Phase, Status, StopReason};

/// What the terminal wrote, kept after the terminal is dropped.
#[derive(Clone, Default)]
struct Screen(Rc<RefCell<Vec<u8>>>);

impl Write for Screen {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Screen {
    fn text(&self) -> String {
        String::from_utf8(self.0.borrow().clone()).expect("utf-8 output")
    }
}

fn phase(when: Phase, outcome: Outcome, cat: Option<Status>, word: &str) -> PhaseReport {
    PhaseReport {
        when,
        outcome,
        cat,
        word: word.into(),
        dur: 0.01,
        ..Default::default()
    }
}

fn failure(when: Phase, cat: Status, word: &str, message: &str) -> PhaseReport {
    PhaseReport {
        longrepr: Some(format!(
            "    def test():\n>       {message}\nE       {message}"
        )),
        msg: Some(message.into()),
        sections: vec![(format!("Captured stdout {when}"), "hello\n".into())],
        ..phase(when, Outcome::Failed, Some(cat), word)
    }
}

/// A small suite's run: every kind of outcome once, a collection error and
/// a warning.
fn tests() -> Vec<(&'static str, Vec<PhaseReport>)> {
    let skip = PhaseReport {
        skip: Some(SkipLocation(
            "tests/test_a.py".into(),
            Some(9),
            "Skipped: not on this platform".into(),
        )),
        longrepr: Some("skipped".into()),
        ..phase(
            Phase::Setup,
            Outcome::Skipped,
            Some(Status::Skipped),
            "SKIPPED",
        )
    };
    let xfail = PhaseReport {
        xfail: Some("known bug".into()),
        ..phase(
            Phase::Call,
            Outcome::Skipped,
            Some(Status::XFailed),
            "XFAIL",
        )
    };
    vec![
        (
            "tests/test_a.py::test_pass",
            vec![phase(
                Phase::Call,
                Outcome::Passed,
                Some(Status::Passed),
                "PASSED",
            )],
        ),
        (
            "tests/test_a.py::test_fail",
            vec![failure(
                Phase::Call,
                Status::Failed,
                "FAILED",
                "assert 1 == 2",
            )],
        ),
        ("tests/test_a.py::test_skip", vec![skip]),
        ("tests/test_a.py::test_xfail", vec![xfail]),
        (
            "tests/test_b.py::test_teardown_error",
            vec![
                phase(Phase::Call, Outcome::Passed, Some(Status::Passed), "PASSED"),
                failure(
                    Phase::Teardown,
                    Status::Error,
                    "ERROR",
                    "RuntimeError: boom",
                ),
            ],
        ),
        (
            "tests/test_b.py::test_flaky",
            vec![
                PhaseReport {
                    msg: Some("ConnectionError: reset".into()),
                    ..phase(
                        Phase::Call,
                        Outcome::Rerun,
                        Some(Status::Other("rerun".into())),
                        "RERUN",
                    )
                },
                // The worker names the final pass of a retried test.
                phase(Phase::Call, Outcome::Passed, Some(Status::Flaky), "FLAKY"),
            ],
        ),
    ]
}

fn render(options: TerminalOptions, summary: Summary, run: usize) -> String {
    let screen = Screen::default();
    let mut terminal = Terminal::new(screen.clone(), options);
    let problems = [CollectProblem {
        id: "tests/test_broken.py".into(),
        outcome: Outcome::Failed,
        longrepr: "ImportError while importing test module 'tests/test_broken.py'.".into(),
        skip: None,
    }];
    let tests = tests();
    terminal.report(Event::Collected {
        total: tests.len(),
        deselected: 1,
        problems: &problems,
    });
    for (n, (id, reports)) in tests.iter().take(run).enumerate() {
        terminal.report(Event::TestStarted { id, worker: "gw0" });
        terminal.report(Event::TestFinished {
            id,
            worker: if n % 2 == 0 { "gw0" } else { "gw1" },
            reports,
            finished: n + 1,
            total: tests.len(),
            cpu: None,
        });
    }
    terminal.report(Event::Warning {
        id: "tests/test_a.py::test_pass",
        message: "tests/test_a.py:3: DeprecationWarning: old API\n  old()",
    });
    terminal.report(Event::Finished { summary: &summary });
    drop(terminal);
    screen.text()
}

fn finished() -> Summary {
    Summary {
        elapsed: Duration::from_millis(1234),
        exit_code: exit::TESTS_FAILED,
        deselected: 1,
        ..Summary::default()
    }
}

#[test]
fn a_run_with_every_outcome() {
    let text = render(TerminalOptions::default(), finished(), tests().len());
    insta::assert_snapshot!("every_outcome", text);
}

#[test]
fn a_verbose_run_with_every_outcome() {
    let options = TerminalOptions {
        verbosity: 1,
        report_chars: "fEsxXp".into(),
        ..TerminalOptions::default()
    };
    let text = render(options, finished(), tests().len());
    insta::assert_snapshot!("every_outcome_verbose", text);
}

#[test]
fn a_run_stopped_by_maxfail_then_interrupted() {
    let summary = Summary {
        stopped: Some(StopReason::MaxFail { failures: 1 }),
        interrupted: Some(StopReason::Interrupted),
        not_run: 4,
        exit_code: exit::INTERRUPTED,
        ..finished()
    };
    let text = render(TerminalOptions::default(), summary, 2);
    insta::assert_snapshot!("stopped_then_interrupted", text);
}
