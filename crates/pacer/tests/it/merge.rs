//! `pacer report merge` on real runs: the `outcomes` suite run whole, and
//! run again as three shards (`--shard K/3 --run-id ...`, without pytest's
//! cache so that every shard cuts its part from the same inputs);
//! the shards' JSON reports merged make the JUnit and JSON files the whole
//! run wrote, but for times and workers, and a page with a lane group per
//! shard. The merge refuses shards of two runs, a shard twice or a shard
//! missing, naming it.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use crate::reports::{body_attribute, chromium};
use common::{pacer_command, suite, text};
use pacer_report::RunReport;
use pacer_types::exit;

/// The selection every run makes: `-k` deselects a file's tests, so that
/// the merged report's count of deselected tests is checked against the
/// whole run's (each shard also deselects the other parts).
const SELECTION: [&str; 2] = ["-k", "not test_xdist_compat"];

const RUN_ID: &str = "ci-1234";

/// The whole run's reports and the three shards' JSON reports, made once
/// for every test here, in a folder of cargo's for tests' files (a static
/// is never dropped, so a temporary folder would stay behind in /tmp).
struct Runs {
    dir: PathBuf,
    whole: Output,
    shards: Vec<PathBuf>,
}

impl Runs {
    fn whole_json(&self) -> PathBuf {
        self.dir.join("whole/report.json")
    }

    fn whole_junit(&self) -> PathBuf {
        self.dir.join("whole/junit.xml")
    }
}

fn reported(dir: &Path, out: &str, extra: &[String]) -> Output {
    let json = dir.join(out).join("report.json");
    let xml = dir.join(out).join("junit.xml");
    let mut args = vec![
        "-n".to_string(),
        "2".into(),
        "--json-report".into(),
        json.display().to_string(),
        format!("--junitxml={}", xml.display()),
        "-p".into(),
        "no:cacheprovider".into(),
    ];
    args.extend(SELECTION.iter().map(|a| a.to_string()));
    args.extend(extra.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut command = pacer_command(&suite("outcomes"), &args);
    // pytest's diff of two dicts lists their differing keys in a set's
    // order, which Python's hash seed makes each process's own.
    command.env("PYTHONHASHSEED", "0");
    command.output().expect("pacer runs")
}

fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("merge");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let whole = reported(&dir, "whole", &[]);
        let mut shards = Vec::new();
        for k in 1..=3 {
            let name = format!("shard-{k}");
            let shard = [format!("--shard={k}/3"), format!("--run-id={RUN_ID}")];
            let output = reported(&dir, &name, &shard);
            assert!(
                output.status.code() == Some(exit::OK)
                    || output.status.code() == Some(exit::TESTS_FAILED),
                "{name}: {}",
                text(&output)
            );
            shards.push(dir.join(name).join("report.json"));
        }
        Runs { dir, whole, shards }
    })
}

fn merge(out: &Path, reports: &[PathBuf], env: &[(&str, &str)]) -> Output {
    let mut args = vec![
        "report".to_string(),
        "merge".into(),
        out.display().to_string(),
    ];
    args.extend(reports.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut command = pacer_command(&suite("outcomes"), &args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("pacer runs")
}

fn read_json(path: &Path) -> RunReport {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no JSON report at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("unreadable JSON report: {e}\n{text}"))
}

/// A JUnit file without what differs between runs: times, the timestamp
/// and the workers' names.
fn normalised_junit(path: &Path) -> String {
    let xml = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no JUnit file at {}: {e}", path.display()));
    let xml = without_attribute(&xml, " time=\"");
    let xml = without_attribute(&xml, " timestamp=\"");
    let xml = replace_values(&xml, "<property name=\"worker\" value=\"", "W");
    without_addresses(&xml)
}

/// `text` with each object's address (`<Foo object at 0x7f3a4fd87750>`)
/// as `0xADDR`: they differ from one process to the next.
fn without_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at + 2]);
        let digits = rest[at + 2..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len() - at - 2);
        if digits >= 6 {
            out.push_str("ADDR");
        } else {
            out.push_str(&rest[at + 2..at + 2 + digits]);
        }
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out
}

/// `text` without each `key` attribute (`key` ends in its opening quote).
fn without_attribute(text: &str, key: &str) -> String {
    replace_values(text, key, "").replace(&format!("{key}\""), "")
}

/// `text` with the value after each `key` (which ends in its opening
/// quote) replaced by `with`.
fn replace_values(text: &str, key: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let value = &rest[at + key.len()..];
        let end = value.find('"').expect("a quoted value ends");
        out.push_str(&rest[..at + key.len()]);
        out.push_str(with);
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

/// A test of the JSON report without its times and worker: what a merge
/// must keep as the shard reported it.
fn facts(test: &pacer_report::schema::TestReport) -> serde_json::Value {
    let mut value = serde_json::to_value(test).unwrap();
    let object = value.as_object_mut().unwrap();
    for key in ["worker", "start", "end", "phases", "collected", "cpu"] {
        object.remove(key);
    }
    for attempt in object["attempts"].as_array_mut().unwrap() {
        attempt.as_object_mut().unwrap().remove("duration");
    }
    for report in object["reports"].as_array_mut().unwrap() {
        report.as_object_mut().unwrap().remove("dur");
    }
    value
}

#[test]
fn three_shards_merge_into_the_reports_of_one_run() {
    let runs = runs();
    let context = text(&runs.whole);
    assert_eq!(
        runs.whole.status.code(),
        Some(exit::TESTS_FAILED),
        "{context}"
    );
    let out = runs.dir.join("merged");
    let step_summary = runs.dir.join("step-summary.md");
    std::fs::write(&step_summary, "# an earlier step\n").unwrap();
    let merged = merge(
        &out,
        &runs.shards,
        &[("GITHUB_STEP_SUMMARY", &step_summary.display().to_string())],
    );
    let said = text(&merged);
    // The worst shard's code: the first and second shards have failures.
    assert_eq!(merged.status.code(), Some(exit::TESTS_FAILED), "{said}");
    assert!(said.contains("merged 3 reports of run ci-1234: "), "{said}");

    // The JUnit file is the whole run's but for times and workers: the same
    // cases in the same order, with the same failures, messages, output.
    let whole_xml = normalised_junit(&runs.whole_junit());
    let merged_xml = normalised_junit(&out.join("junit.xml"));
    assert!(whole_xml.contains("<failure"), "{whole_xml}");
    assert_eq!(merged_xml, whole_xml);

    // Each run's report says which run and shard it is.
    let second = read_json(&runs.shards[1]);
    assert_eq!(second.run_id.as_deref(), Some(RUN_ID));
    assert_eq!(second.shard.map(|s| s.to_string()).as_deref(), Some("2/3"));

    // The JSON report: the same tests with the same facts, counts and
    // collection problems; the run's identity; the shards' worst code.
    let whole = read_json(&runs.whole_json());
    let report = read_json(&out.join("report.json"));
    let by_id = |r: &RunReport| -> BTreeMap<String, String> {
        r.tests
            .iter()
            .map(|t| (t.id.clone(), without_addresses(&facts(t).to_string())))
            .collect()
    };
    assert_eq!(by_id(&report), by_id(&whole));
    assert_eq!(report.tests.len(), whole.tests.len());
    assert_eq!(report.counts, whole.counts);
    assert_eq!(report.collection, whole.collection);
    assert_eq!(
        (report.not_run, report.deselected, report.warnings),
        (whole.not_run, whole.deselected, whole.warnings)
    );
    assert_eq!(report.exit_code, whole.exit_code);
    assert_eq!(report.run_id.as_deref(), Some(RUN_ID));
    assert_eq!(report.shard, None);
    assert_eq!(report.shards.len(), 3);
    assert_eq!(report.workers, 3 * whole.workers);
    // Collection order: each shard recorded its tests' places in the one
    // collection the shards share.
    let in_collection = |r: &RunReport| -> Vec<String> {
        let mut tests: Vec<_> = r.tests.iter().collect();
        tests.sort_by_key(|t| t.collected);
        tests.into_iter().map(|t| t.id.clone()).collect()
    };
    assert_eq!(in_collection(&report), in_collection(&whole));
    // The merged tests in pytest's order, each named for its shard's worker.
    let listed: Vec<String> = report.tests.iter().map(|t| t.id.clone()).collect();
    assert_eq!(listed, in_collection(&whole));
    let mut shard_by_id = BTreeMap::new();
    for (i, path) in runs.shards.iter().enumerate() {
        for test in read_json(path).tests {
            assert_eq!(
                shard_by_id.insert(test.id.clone(), i + 1),
                None,
                "{}",
                test.id
            );
        }
    }
    let shard_of = |id: &str| shard_by_id[id];
    for test in &report.tests {
        let prefix = format!("s{}-gw", shard_of(&test.id));
        assert!(
            test.worker.starts_with(&prefix),
            "{}: {}",
            test.id,
            test.worker
        );
    }
    let groups: Vec<&str> = report
        .lanes
        .iter()
        .map(|l| l.group.as_deref().unwrap_or("none"))
        .collect();
    assert!(
        groups.contains(&"shard 1") && groups.contains(&"shard 2") && groups.contains(&"shard 3"),
        "{groups:?}"
    );
    // The report rounds its times (to 10 µs), so the sum is compared as
    // the report would write it.
    let longest = report.shards.iter().map(|s| s.offset + s.elapsed);
    let longest = longest.fold(0.0, f64::max);
    assert!(
        (report.elapsed - longest).abs() < 1e-5,
        "from the first shard's start to the last one's end: {} against {longest}",
        report.elapsed
    );

    // The step summary: appended to GitHub's file and beside the reports.
    let summary = std::fs::read_to_string(&step_summary).unwrap();
    let own = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert_eq!(summary, format!("# an earlier step\n{own}"));
    let phrase = pacer_report::github::summary::counts_phrase(&whole, whole.warnings);
    assert!(own.starts_with(&format!("## pacer: {phrase} in ")), "{own}");
    assert!(own.contains("3 shards merged"), "{own}");
    assert!(own.contains("exit code **1**"), "{own}");
}

#[test]
fn the_merged_page_draws_a_lane_group_per_shard_in_chromium() {
    let runs = runs();
    let out = runs.dir.join("merged-page");
    let merged = merge(&out, &runs.shards, &[]);
    assert_eq!(
        merged.status.code(),
        Some(exit::TESTS_FAILED),
        "{}",
        text(&merged)
    );
    let report = read_json(&out.join("report.json"));
    let url = format!("file://{}", out.join("report.html").display());
    let dom = String::from_utf8(chromium(&["--dump-dom"], &url).stdout).unwrap();
    assert_eq!(
        body_attribute(&dom, "data-lane-groups").as_deref(),
        Some("3"),
        "{dom}"
    );
    assert_eq!(
        body_attribute(&dom, "data-lanes"),
        Some(report.lanes.len().to_string())
    );
    assert_eq!(
        body_attribute(&dom, "data-bars"),
        Some(report.tests.len().to_string())
    );
    // Each group, in the shards' order, holds its shard's lanes and no other's.
    let groups: Vec<&str> = dom.split("<g class=\"lane-group\"").skip(1).collect();
    assert_eq!(groups.len(), 3, "{dom}");
    for (i, group) in groups.iter().enumerate() {
        let k = i + 1;
        assert!(
            group.starts_with(&format!(" data-group=\"shard {k}\">")),
            "{group}"
        );
        let own = format!("shard {k}");
        let lanes: Vec<_> = report
            .lanes
            .iter()
            .filter(|l| l.group.as_deref() == Some(own.as_str()))
            .collect();
        assert!(!lanes.is_empty(), "shard {k} has no lane");
        for lane in lanes {
            assert!(
                group.contains(&format!("data-worker=\"{}\"", lane.worker)),
                "shard {k}'s group lacks {}",
                lane.worker
            );
        }
        for other in (1..=3).filter(|j| *j != k) {
            assert!(
                !group.contains(&format!("data-worker=\"s{other}-")),
                "shard {k}'s group holds a lane of shard {other}"
            );
        }
    }
}

/// A copy of `report` with `edit` made to its JSON, in `dir`.
fn edited(dir: &Path, report: &Path, name: &str, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    edit(&mut value);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
    path
}

fn assert_refused(output: &Output, message: &str) {
    let said = text(output);
    assert_eq!(output.status.code(), Some(exit::USAGE_ERROR), "{said}");
    assert!(
        said.contains(&format!("error: {message}\n")),
        "expected `{message}` in:\n{said}"
    );
}

#[test]
fn shards_of_two_runs_a_missing_shard_and_a_shard_twice_are_refused() {
    let runs = runs();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let [one, two, three] = [&runs.shards[0], &runs.shards[1], &runs.shards[2]];

    let other = edited(dir.path(), three, "other-run.json", |v| {
        v["run_id"] = "ci-9999".into();
    });
    assert_refused(
        &merge(&out, &[one.clone(), two.clone(), other.clone()], &[]),
        &format!(
            "{}: run id \"ci-9999\" differs from {}'s \"ci-1234\"",
            other.display(),
            one.display()
        ),
    );

    assert_refused(
        &merge(&out, &[one.clone(), three.clone()], &[]),
        "shard 2/3 missing",
    );
    assert_refused(
        &merge(&out, std::slice::from_ref(one), &[]),
        "shards 2/3, 3/3 missing",
    );

    assert_refused(
        &merge(
            &out,
            &[one.clone(), two.clone(), three.clone(), two.clone()],
            &[],
        ),
        &format!("{} and {} are both shard 2/3", two.display(), two.display()),
    );

    let unsharded = runs.whole_json();
    assert_refused(
        &merge(&out, &[one.clone(), two.clone(), three.clone(), unsharded.clone()], &[]),
        &format!(
            "{}: not the report of a shard (no `shard`); a run without --shard is merged only alone",
            unsharded.display()
        ),
    );

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"schema\": ").unwrap();
    let said = text(&merge(&out, std::slice::from_ref(&broken), &[]));
    assert!(
        said.contains(&format!(
            "error: {} is not a pacer JSON report: ",
            broken.display()
        )) && said.contains("line 1 column"),
        "{said}"
    );
    assert!(
        !out.exists(),
        "nothing is written when the merge is refused"
    );
}
