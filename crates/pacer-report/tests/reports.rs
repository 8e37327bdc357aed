//! The run record behind `--json-report` / `--html-report`, fed synthetic
//! events with a fake clock (no processes): its JSON snapshotted with
//! `insta`, a rerun inside the worker (pytest-rerunfailures) and pacer's own
//! 429 rerun counted, and the JUnit file's `category` property. Update
//! with `INSTA_UPDATE=always` and read the diff.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use pacer_report::{html, json, Junit, RunRecord};
use pacer_runner::category::CategorySpec;
use pacer_runner::events::PhaseReport;
use pacer_runner::events::{Event, PlannedTest, Reporter, Summary};
use pacer_runner::scheduler::{CategorySlots, Kind};
use pacer_types::{exit, Outcome, Phase, Status};

fn phase(when: Phase, outcome: Outcome, cat: Option<Status>, dur: f64) -> PhaseReport {
    PhaseReport {
        when,
        outcome,
        cat,
        word: String::new(),
        dur,
        ..Default::default()
    }
}

fn category(name: &str, rate_limited: bool) -> CategorySpec {
    CategorySpec {
        name: name.into(),
        slots: CategorySlots {
            cap: 2,
            kind: Kind::Cpu,
            exclusive: false,
        },
        rate_limited,
        selected: true,
        env: Vec::new(),
        implicit: false,
    }
}

/// Events of a small run; `now` is the record's clock, set before each.
fn feed(reporter: &mut dyn Reporter, now: &Cell<f64>) {
    let categories = [category("unit", false), category("live", true)];
    let planned = [
        ("tests/unit/test_a.py::test_pass", 0),
        ("tests/unit/test_a.py::test_fail", 0),
        ("tests/live/test_api.py::test_flaky", 1),
        ("tests/live/test_api.py::test_429", 1),
    ]
    .map(|(id, category)| PlannedTest {
        id: id.into(),
        category,
        selected: true,
    });
    reporter.report(Event::Planned {
        tests: &planned,
        categories: &categories,
    });
    let pass = [phase(
        Phase::Call,
        Outcome::Passed,
        Some(Status::Passed),
        0.5,
    )];
    let fail = [PhaseReport {
        longrepr: Some("    def test_fail():\n>       assert 1 == 2\nE       assert 1 == 2".into()),
        msg: Some("assert 1 == 2".into()),
        sections: vec![("Captured stdout call".into(), "hello\n".into())],
        ..phase(Phase::Call, Outcome::Failed, Some(Status::Failed), 1.0)
    }];
    let flaky = [
        phase(
            Phase::Call,
            Outcome::Rerun,
            Some(Status::Other("rerun".into())),
            0.2,
        ),
        // The worker names the final pass of a retried test `flaky`.
        phase(Phase::Call, Outcome::Passed, Some(Status::Flaky), 0.3),
    ];
    let on_429 = [PhaseReport {
        msg: Some("HTTPError: 429 Too Many Requests".into()),
        longrepr: Some("E   HTTPError: 429 Too Many Requests".into()),
        ..phase(Phase::Call, Outcome::Failed, Some(Status::Failed), 0.4)
    }];
    let at = |t: f64, reporter: &mut dyn Reporter, event: Event<'_>| {
        now.set(t);
        reporter.report(event);
    };
    at(
        1.0,
        reporter,
        Event::TestStarted {
            id: &planned[0].id,
            worker: "gw0",
        },
    );
    at(
        1.0,
        reporter,
        Event::TestStarted {
            id: &planned[1].id,
            worker: "gw1",
        },
    );
    at(
        1.5,
        reporter,
        Event::TestFinished {
            id: &planned[0].id,
            worker: "gw0",
            reports: &pass,
            finished: 1,
            total: 4,
            cpu: None,
        },
    );
    at(
        1.5,
        reporter,
        Event::TestStarted {
            id: &planned[2].id,
            worker: "gw0",
        },
    );
    at(
        2.0,
        reporter,
        Event::TestFinished {
            id: &planned[1].id,
            worker: "gw1",
            reports: &fail,
            finished: 2,
            total: 4,
            cpu: None,
        },
    );
    at(
        2.0,
        reporter,
        Event::TestFinished {
            id: &planned[2].id,
            worker: "gw0",
            reports: &flaky,
            finished: 3,
            total: 4,
            cpu: None,
        },
    );
    at(
        2.5,
        reporter,
        Event::TestStarted {
            id: &planned[3].id,
            worker: "gw1",
        },
    );
    at(
        2.9,
        reporter,
        Event::TestFinished {
            id: &planned[3].id,
            worker: "gw1",
            reports: &on_429,
            finished: 4,
            total: 4,
            cpu: None,
        },
    );
    let summary = Summary {
        elapsed: Duration::from_secs(3),
        exit_code: exit::TESTS_FAILED,
        ..Default::default()
    };
    at(3.0, reporter, Event::Finished { summary: &summary });
    // pacer's sequential rerun of the test that failed on HTTP 429.
    reporter.report(Event::Planned {
        tests: &planned[3..],
        categories: &categories,
    });
    at(
        4.0,
        reporter,
        Event::TestStarted {
            id: &planned[3].id,
            worker: "gw0",
        },
    );
    at(
        4.5,
        reporter,
        Event::TestFinished {
            id: &planned[3].id,
            worker: "gw0",
            reports: &pass,
            finished: 1,
            total: 1,
            cpu: None,
        },
    );
    at(4.6, reporter, Event::Finished { summary: &summary });
}

fn record() -> RunRecord {
    let now = Rc::new(Cell::new(0.0));
    let clock = now.clone();
    let mut record = RunRecord::with_clock("0.0.0", Box::new(move || clock.get()));
    feed(&mut record, &now);
    record
}

#[test]
fn the_record_of_a_run_with_reruns() {
    let mut record = record();
    record.set_upstreams(vec![serde_json::json!({
        "upstream_url": "http://api.example",
        "stats": {"name": "live", "requests": 3, "seen_429": 1},
    })]);
    let report = record.to_report();
    let flaky = report
        .tests
        .iter()
        .find(|t| t.id.ends_with("test_flaky"))
        .unwrap();
    assert_eq!(
        (flaky.outcome.as_str(), flaky.reruns, flaky.flaky),
        ("flaky", 1, true)
    );
    assert_eq!(flaky.attempts.len(), 1);
    let on_429 = report
        .tests
        .iter()
        .find(|t| t.id.ends_with("test_429"))
        .unwrap();
    assert_eq!(
        (
            on_429.outcome.as_str(),
            on_429.reruns,
            on_429.worker.as_str()
        ),
        ("passed", 1, "gw0")
    );
    assert_eq!((on_429.start, on_429.end), (4.0, 4.5));
    insta::with_settings!({filters => vec![(r#""started_at": "[^"]*""#, r#""started_at": "[time]""#)]}, {
        insta::assert_snapshot!("record", json::render(&report));
    });
    let page = html::render(&report);
    assert!(page.contains("tests/live/test_api.py::test_429"));
}

#[test]
fn junit_names_each_tests_category() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    let now = Cell::new(0.0);
    let mut junit = Junit::new(&path);
    feed(&mut junit, &now);
    let xml = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        xml.matches(r#"<property name="category" value="unit"/>"#)
            .count(),
        2,
        "{xml}"
    );
    assert_eq!(
        xml.matches(r#"<property name="category" value="live"/>"#)
            .count(),
        2,
        "{xml}"
    );
}

/// `pacer report merge` writes the JUnit file from the JSON report (its
/// tests' phase reports): for the same events, it is the file the run
/// wrote, but for its times (the flaky test's `<flakyFailure>`, the test
/// pacer ran again after a 429, the categories and workers included).
#[test]
fn the_junit_file_written_from_the_json_report_is_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (from_events, from_report) = (dir.path().join("run.xml"), dir.path().join("merged.xml"));
    let now = Cell::new(0.0);
    let mut junit = Junit::new(&from_events);
    feed(&mut junit, &now);
    let text = json::render(&record().to_report());
    let report: pacer_report::RunReport = serde_json::from_str(&text).unwrap();
    Junit::from_report(&from_report, &report).write().unwrap();
    let timeless = |path: &std::path::Path| {
        let xml = std::fs::read_to_string(path).unwrap();
        let mut out = String::new();
        for line in xml.lines() {
            let mut line = line.to_string();
            for key in [" time=\"", " timestamp=\""] {
                while let Some(at) = line.find(key) {
                    let end = line[at + key.len()..].find('"').unwrap() + at + key.len() + 1;
                    line.replace_range(at..end, "");
                }
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    };
    let run = timeless(&from_events);
    assert!(run.contains("<flakyFailure"), "{run}");
    assert_eq!(timeless(&from_report), run);
}

/// Every word the JSON report writes for a test's, an attempt's, a
/// collection problem's status and why a run stopped, as the file had them
/// when they were strings in the record (issue 18 typed them): the snapshot
/// must not change, and the file reads back into the same report.
#[test]
fn every_word_of_the_report_stays_as_it_was() {
    use pacer_runner::events::{CollectProblem, SkipLocation};
    use pacer_types::StopReason;

    let now = Rc::new(Cell::new(0.0));
    let clock = now.clone();
    let mut record = RunRecord::with_clock("0.0.0", Box::new(move || clock.get()));
    let problems = [
        CollectProblem {
            id: "tests/test_broken.py".into(),
            outcome: Outcome::Failed,
            longrepr: "E   ModuleNotFoundError: No module named 'nope'".into(),
            skip: None,
        },
        CollectProblem {
            id: "tests/test_linux_only.py".into(),
            outcome: Outcome::Skipped,
            longrepr: String::new(),
            skip: Some(SkipLocation(
                "tests/test_linux_only.py".into(),
                Some(3),
                "Skipped: linux only".into(),
            )),
        },
    ];
    record.report(Event::Collected {
        total: 9,
        deselected: 1,
        problems: &problems,
    });
    let rerun = |when: Phase| PhaseReport {
        msg: Some("boom".into()),
        longrepr: Some("E   boom".into()),
        ..phase(
            when,
            Outcome::Rerun,
            Some(Status::Other("rerun".into())),
            0.1,
        )
    };
    let failing = |when: Phase, status: Status| PhaseReport {
        msg: Some("bad".into()),
        longrepr: Some("E   bad".into()),
        ..phase(when, Outcome::Failed, Some(status), 0.2)
    };
    let tests: Vec<(&str, Vec<PhaseReport>)> = vec![
        (
            "t.py::test_passed",
            vec![phase(
                Phase::Call,
                Outcome::Passed,
                Some(Status::Passed),
                0.1,
            )],
        ),
        (
            "t.py::test_failed",
            vec![failing(Phase::Call, Status::Failed)],
        ),
        (
            "t.py::test_setup_error",
            vec![failing(Phase::Setup, Status::Error)],
        ),
        (
            "t.py::test_teardown_error",
            vec![
                phase(Phase::Call, Outcome::Passed, Some(Status::Passed), 0.1),
                failing(Phase::Teardown, Status::Error),
            ],
        ),
        (
            "t.py::test_skipped",
            vec![phase(
                Phase::Setup,
                Outcome::Skipped,
                Some(Status::Skipped),
                0.0,
            )],
        ),
        (
            "t.py::test_xfailed",
            vec![phase(
                Phase::Call,
                Outcome::Skipped,
                Some(Status::XFailed),
                0.1,
            )],
        ),
        (
            "t.py::test_xpassed",
            vec![phase(
                Phase::Call,
                Outcome::Passed,
                Some(Status::XPassed),
                0.1,
            )],
        ),
        (
            "t.py::test_flaky_setup",
            vec![
                rerun(Phase::Setup),
                rerun(Phase::Call),
                phase(Phase::Call, Outcome::Passed, Some(Status::Flaky), 0.1),
            ],
        ),
        (
            "t.py::test_plugins_word",
            vec![phase(
                Phase::Call,
                Outcome::Other,
                Some(Status::Other("blocked".into())),
                0.1,
            )],
        ),
    ];
    let planned: Vec<PlannedTest> = tests
        .iter()
        .map(|(id, _)| PlannedTest {
            id: id.to_string(),
            category: 0,
            selected: true,
        })
        .collect();
    record.report(Event::Planned {
        tests: &planned,
        categories: &[category("unit", false)],
    });
    for (i, (id, reports)) in tests.iter().enumerate() {
        now.set(i as f64);
        record.report(Event::TestStarted { id, worker: "gw0" });
        now.set(i as f64 + 0.5);
        record.report(Event::TestFinished {
            id,
            worker: "gw0",
            reports,
            finished: i + 1,
            total: tests.len(),
            cpu: None,
        });
    }
    let summary = Summary {
        elapsed: Duration::from_secs(10),
        exit_code: exit::INTERRUPTED,
        stopped: Some(StopReason::MaxFail { failures: 2 }),
        interrupted: Some(StopReason::CollectionErrors { errors: 1 }),
        not_run: 1,
        deselected: 1,
        ..Default::default()
    };
    now.set(10.0);
    record.report(Event::Finished { summary: &summary });
    let report = record.to_report();
    let text = json::render(&report);
    insta::with_settings!({filters => vec![(r#""started_at": "[^"]*""#, r#""started_at": "[time]""#)]}, {
        insta::assert_snapshot!("every_word", text);
    });
    let back: pacer_report::RunReport = serde_json::from_str(&text).unwrap();
    assert_eq!(json::render(&back), text, "the file reads back as it was");
}
