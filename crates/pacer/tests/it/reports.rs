//! `--json-report` and `--html-report` on real runs: the JSON report agrees
//! with the JUnit report test by test (outcome, worker, category), both are
//! written however the run ends (`-x`, a crashed worker), and the HTML page,
//! drawn in headless Chromium, has a lane per worker and a bar per test,
//! visible in the screenshot's pixels.
//!
//! Chromium is Debian's `chromium` (`.ci/run` installs it). The test does
//! not skip without it: it fails and says how to install it.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{pacer_command, python, suite, text};
use pacer_report::junit::names;
use pacer_report::RunReport;
use pacer_types::Status;
use quick_junit::{NonSuccessKind, Report, TestCaseStatus};

fn pacer_in(dir: &Path, args: &[&str]) -> Output {
    pacer_command(dir, args).output().expect("pacer runs")
}

/// `pacer ARGS --json-report --html-report --junitxml` in `suite`, with the
/// three files' paths.
struct Reported {
    output: Output,
    json: PathBuf,
    html: PathBuf,
    xml: PathBuf,
    _dir: tempfile::TempDir,
}

fn run_reported(suite_name: &str, args: &[&str]) -> Reported {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out/run.json");
    let html = dir.path().join("out/run.html");
    let xml = dir.path().join("out/junit.xml");
    let mut all: Vec<String> = vec![
        "--json-report".into(),
        json.display().to_string(),
        "--html-report".into(),
        html.display().to_string(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    all.push(format!("--junitxml={}", xml.display()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let output = pacer_in(&suite(suite_name), &all);
    Reported {
        output,
        json,
        html,
        xml,
        _dir: dir,
    }
}

fn read_json(path: &Path, context: &str) -> RunReport {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no JSON report at {}: {e}\n{context}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("unreadable JSON report: {e}\n{text}"))
}

/// A JUnit test's elements' kinds and its properties.
type JunitTest = (Vec<&'static str>, BTreeMap<String, String>);

/// Per JUnit test (classname, name): its elements' kinds and its properties.
fn junit_tests(path: &Path) -> BTreeMap<(String, String), JunitTest> {
    let xml = std::fs::read_to_string(path).expect("a JUnit report");
    let report = Report::deserialize_from_str(&xml).expect("readable JUnit");
    let mut tests: BTreeMap<_, JunitTest> = BTreeMap::new();
    for case in &report.test_suites[0].test_cases {
        let key = (
            case.classname
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
            case.name.to_string(),
        );
        let kind = match &case.status {
            TestCaseStatus::Success { .. } => "success",
            TestCaseStatus::Skipped { .. } => "skipped",
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                ..
            } => "failure",
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Error,
                ..
            } => "error",
        };
        let entry = tests.entry(key).or_default();
        entry.0.push(kind);
        for p in case.properties.iter() {
            entry.1.insert(p.name.to_string(), p.value.to_string());
        }
    }
    tests
}

/// The JUnit elements pytest writes for a test of this outcome.
fn junit_kinds_for(outcome: &Status) -> &'static [&'static [&'static str]] {
    match outcome {
        // A flaky test is a success with a `<flakyFailure>` per attempt.
        Status::Passed | Status::XPassed | Status::Flaky => &[&["success"]],
        Status::Skipped | Status::XFailed => &[&["skipped"]],
        // A failed call and a failed teardown are two elements.
        Status::Failed => &[&["failure"], &["failure", "error"]],
        Status::Error => &[&["error"], &["success", "error"], &["skipped", "error"]],
        // A plugin's word: what pytest writes for it is the plugin's.
        Status::Other(_) => &[],
    }
}

/// Every test of the JSON report is in the JUnit report with the same
/// outcome, worker and category, and the other way round (collection errors
/// apart).
fn assert_agree(json: &RunReport, xml: &Path, context: &str) {
    let junit = junit_tests(xml);
    let collection: BTreeSet<(String, String)> =
        json.collection.iter().map(|e| names(&e.id)).collect();
    let mut seen = BTreeSet::new();
    for test in &json.tests {
        let key = names(&test.id);
        let (kinds, properties) = junit
            .get(&key)
            .unwrap_or_else(|| panic!("{} is not in the JUnit report\n{context}", test.id));
        // A test whose worker was lost is an `<error>` in JUnit, as
        // pytest-xdist writes it, and `failed` in pytest's final line.
        let lost = test
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("worker crashed (") || m.ends_with("(--timeout)"));
        let expected = if lost {
            &[&["error"][..]][..]
        } else {
            junit_kinds_for(&test.outcome)
        };
        assert!(
            expected.contains(&kinds.as_slice()),
            "{}: JSON says {}, JUnit has {kinds:?}\n{context}",
            test.id,
            test.outcome
        );
        assert_eq!(properties.get("worker"), Some(&test.worker), "{}", test.id);
        assert_eq!(
            properties.get("category"),
            test.category.as_ref(),
            "{}",
            test.id
        );
        assert!(
            test.start <= test.end && test.end <= json.elapsed,
            "{test:?}"
        );
        seen.insert(key);
    }
    for key in junit.keys() {
        assert!(
            seen.contains(key) || collection.contains(key),
            "{key:?} is in the JUnit report only\n{context}"
        );
    }
}

#[test]
fn the_json_report_agrees_with_the_junit_report_test_by_test() {
    let run = run_reported("outcomes", &["-n", "2"]);
    let context = text(&run.output);
    assert_eq!(run.output.status.code(), Some(1), "{context}");
    let json = read_json(&run.json, &context);
    assert_eq!(json.schema, "pacer-run-report");
    assert_eq!(json.version, 1);
    assert_eq!(json.exit_code, Some(1));
    assert_eq!(json.workers, 2);
    assert_agree(&json, &run.xml, &context);

    // Every outcome of the suite is there, counted as the tests say.
    for outcome in [
        Status::Passed,
        Status::Failed,
        Status::Skipped,
        Status::XFailed,
        Status::XPassed,
        Status::Error,
    ] {
        assert!(
            json.counts.get(&outcome).copied().unwrap_or(0) > 0,
            "no {outcome}: {:?}",
            json.counts
        );
    }
    // Counted as pytest's final line counts them.
    let stdout = String::from_utf8_lossy(&run.output.stdout);
    let mut final_line = common::runs::final_counts(&stdout).expect("a final line");
    final_line.remove("warnings");
    if let Some(n) = final_line.remove("errors") {
        final_line.insert("error".into(), n);
    }
    let json_counts: BTreeMap<String, u64> = json
        .counts
        .iter()
        .map(|(k, v)| (k.to_string(), *v as u64))
        .collect();
    assert_eq!(final_line, json_counts, "{context}");

    // A failed test carries its message and output; a passing one neither.
    let failed = json
        .tests
        .iter()
        .find(|t| t.id.ends_with("::test_output_in_failing_test"))
        .expect("the failing test with output");
    assert_eq!(failed.outcome, Status::Failed);
    let output = failed.output.as_deref().unwrap_or_default();
    assert!(output.contains("Captured stdout call"), "{output}");
    let passed = json
        .tests
        .iter()
        .find(|t| t.id.ends_with("test_basic.py::test_pass"))
        .unwrap();
    assert!(
        passed.output.is_none() && passed.phases.call.is_some(),
        "{passed:?}"
    );

    // Lanes: one per worker that ran a test, the tests shared between them.
    let workers: BTreeSet<&str> = json.tests.iter().map(|t| t.worker.as_str()).collect();
    assert_eq!(json.lanes.len(), workers.len());
    assert_eq!(
        json.lanes.iter().map(|l| l.tests).sum::<usize>(),
        json.tests.len()
    );
}

#[test]
fn categories_reach_the_json_and_junit_reports() {
    let run = run_reported("categories", &["-n", "2"]);
    let context = text(&run.output);
    let json = read_json(&run.json, &context);
    assert_agree(&json, &run.xml, &context);
    let categories: BTreeSet<&str> = json
        .tests
        .iter()
        .filter_map(|t| t.category.as_deref())
        .collect();
    assert!(categories.len() >= 3, "{categories:?}\n{context}");
    let unit = json
        .tests
        .iter()
        .find(|t| t.id.starts_with("tests/unit/"))
        .unwrap();
    assert_eq!(unit.category.as_deref(), Some("unit"), "{unit:?}");
    for c in &json.categories {
        let n = json
            .tests
            .iter()
            .filter(|t| t.category.as_deref() == Some(&c.name))
            .count();
        assert_eq!(c.tests, n, "{c:?}");
    }
}

#[test]
fn a_run_stopped_by_x_still_writes_both_reports() {
    let run = run_reported("maxfail", &["-n", "2", "-x"]);
    let context = text(&run.output);
    assert_eq!(run.output.status.code(), Some(1), "{context}");
    let json = read_json(&run.json, &context);
    assert!(json.stopped.is_some(), "{json:?}");
    assert!(json.counts.get(&Status::Failed).copied().unwrap_or(0) >= 1);
    assert_agree(&json, &run.xml, &context);
    assert!(run.html.is_file(), "{context}");
}

#[test]
fn a_crashed_worker_is_a_failed_test_in_the_reports() {
    let run = run_reported("crash", &["-n", "2"]);
    let context = text(&run.output);
    let json = read_json(&run.json, &context);
    assert_agree(&json, &run.xml, &context);
    let crashed = json
        .tests
        .iter()
        .find(|t| {
            t.message
                .as_deref()
                .is_some_and(|m| m.starts_with("worker crashed"))
        })
        .unwrap_or_else(|| panic!("no crashed test in {json:#?}"));
    assert_eq!(crashed.outcome, Status::Failed);
    assert!(run.html.is_file(), "{context}");
}

#[test]
fn an_unwritable_report_path_is_a_usage_error_before_any_test_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = pacer_in(
        &suite("outcomes"),
        &["--json-report", &dir.path().display().to_string()],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    common::snapshot!(
        "reports__unwritable_report_path",
        "the error names --json-report and the folder, with a hint; nothing ran",
        &[(dir.path(), "[DIR]")],
        text(&out),
    );
}

/// Counts the pixels of the given colours in a PNG (8-bit RGB or RGBA, as
/// Chromium writes screenshots), with Python's zlib: no image crate needed.
const COUNT_PIXELS: &str = r#"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, width, height, ctype = 8, b"", 0, 0, 0
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and ctype in (2, 6), (depth, ctype)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = width * bpp
prev = bytearray(stride)
wanted = {bytes.fromhex(c): 0 for c in sys.argv[2:]}
i = 0
for _ in range(height):
    f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = bytes(line[x:x + 3])
        if px in wanted: wanted[px] += 1
    prev = line
print(" ".join(str(wanted[bytes.fromhex(c)]) for c in sys.argv[2:]))
"#;

/// `chromium --headless ... EXTRA URL`, with a profile of its own.
pub(crate) fn chromium(extra: &[&str], url: &str) -> Output {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "failed to run chromium ({e}); install Debian's chromium \
                 (apt-get install -y chromium), as .ci/run does"
            )
        });
    assert!(
        output.status.success(),
        "chromium failed: {}",
        text(&output)
    );
    output
}

/// The body's `data-NAME` attribute in Chromium's dump of the DOM.
pub(crate) fn body_attribute(dom: &str, name: &str) -> Option<String> {
    let body = &dom[dom.find("<body")?..];
    let body = &body[..body.find('>')?];
    let key = format!("{name}=\"");
    let start = body.find(&key)? + key.len();
    Some(body[start..].split('"').next()?.to_string())
}

#[test]
fn the_html_report_draws_a_lane_per_worker_and_a_bar_per_test_in_chromium() {
    let run = run_reported("outcomes", &["-n", "2"]);
    let context = text(&run.output);
    let json = read_json(&run.json, &context);
    let page = std::fs::read_to_string(&run.html).unwrap();
    for remote in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!page.contains(remote), "the page loads {remote}...");
    }
    let url = format!("file://{}", run.html.display());

    // The DOM after the page's script ran.
    let dom = String::from_utf8(chromium(&["--dump-dom"], &url).stdout).unwrap();
    assert_eq!(
        body_attribute(&dom, "data-rendered").as_deref(),
        Some("1"),
        "{dom}"
    );
    assert_eq!(
        body_attribute(&dom, "data-lanes"),
        Some(json.lanes.len().to_string())
    );
    assert_eq!(
        body_attribute(&dom, "data-bars"),
        Some(json.tests.len().to_string())
    );
    assert_eq!(dom.matches("class=\"lane\"").count(), json.lanes.len());
    assert_eq!(dom.matches("<rect class=\"bar\"").count(), json.tests.len());
    for lane in &json.lanes {
        assert!(
            dom.contains(&format!("data-worker=\"{}\"", lane.worker)),
            "{}",
            lane.worker
        );
    }
    assert!(
        dom.contains("test_output_in_failing_test"),
        "failures are listed"
    );

    // The screenshot: bars in the colours of passed and failed tests.
    let shot = run.html.with_file_name("shot.png");
    chromium(&[&format!("--screenshot={}", shot.display())], &url);
    let counts = Command::new(python())
        .args(["-c", COUNT_PIXELS])
        .arg(&shot)
        .args(["2e9e44", "d7263d"])
        .output()
        .expect("python runs");
    let counts = String::from_utf8_lossy(&counts.stdout).to_string();
    let counts: Vec<usize> = counts
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(counts[0] > 100, "too few green (passed) pixels: {counts:?}");
    assert!(counts[1] > 20, "too few red (failed) pixels: {counts:?}");
}

/// Issue 17: the header's wall (23.1 s) and a category's (20.3 s) differed
/// with no word why. They measure different spans, and the page says so.
#[test]
fn the_html_report_says_what_its_two_wall_times_measure() {
    let run = run_reported("categories", &["-n", "2"]);
    let context = text(&run.output);
    let json = read_json(&run.json, &context);
    // Not a bug: a category's wall is its tests' span, the run's also holds
    // the workers' start-up, collection and session teardown.
    let ran: Vec<_> = json.categories.iter().filter(|c| c.tests > 0).collect();
    assert!(ran.len() >= 3, "{:?}\n{context}", json.categories);
    for c in &ran {
        let mine = json
            .tests
            .iter()
            .filter(|t| t.category.as_deref() == Some(&c.name));
        let first = mine.clone().map(|t| t.start).fold(f64::INFINITY, f64::min);
        let last = mine.map(|t| t.end).fold(0.0, f64::max);
        assert!((c.wall - (last - first)).abs() < 1e-5, "{c:?}");
        assert!(c.wall < json.elapsed, "{c:?} {}", json.elapsed);
    }
    // Nor is the run's wall the span of all its tests: it is longer.
    let first = json
        .tests
        .iter()
        .map(|t| t.start)
        .fold(f64::INFINITY, f64::min);
    let last = json.tests.iter().map(|t| t.end).fold(0.0, f64::max);
    assert!(
        last - first < json.elapsed,
        "{first} {last} {}",
        json.elapsed
    );

    let url = format!("file://{}", run.html.display());
    let dom = String::from_utf8(chromium(&["--dump-dom"], &url).stdout).unwrap();
    let section = &dom[dom.find("id=\"categories-section\"").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    for words in [
        "A category's wall is the time from its first test's start to its last test's end",
        "The run's wall in the summary above also counts the workers' start-up, collection and session teardown",
        // The column's heading, on hover.
        "title=\"from the category's first test's start to its last test's end\">wall</th>",
    ] {
        assert!(section.contains(words), "the categories don't say {words:?}: {section}");
    }
    // The header's figure, on hover.
    assert!(
        dom.contains(
            "<span class=\"fact\" title=\"from the start of the run, before the first worker, \
             to the last worker's exit: the workers' start-up, collection and session teardown \
             included\">wall <b>"
        ),
        "{dom}"
    );
}

/// Issue 17: a failure's folded heading showed its whole message, eight
/// lines of it; it is the node id and the message's first line, cut at
/// 200 characters, the rest in the body.
#[test]
fn a_folded_failure_shows_its_node_id_and_its_messages_first_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.pytest.ini_options]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("test_messages.py"),
        "def test_eight_lines():\n    \
             assert False, 'the first line\\n' + '\\n'.join(f'line {i}' for i in range(2, 9))\n\n\
         def test_one_long_line():\n    \
             raise ValueError('x' * 500)\n",
    )
    .unwrap();
    let html = dir.path().join("run.html");
    let output = pacer_in(
        dir.path(),
        &["-n", "1", "--html-report", &html.display().to_string()],
    );
    let context = text(&output);
    assert_eq!(output.status.code(), Some(1), "{context}");
    let url = format!("file://{}", html.display());
    let dom = String::from_utf8(chromium(&["--dump-dom"], &url).stdout).unwrap();

    // Each failure as its heading and its body.
    let failures: Vec<(&str, &str)> = dom
        .split("<summary>")
        .skip(1)
        .map(|rest| {
            let (heading, rest) = rest.split_once("</summary>").unwrap();
            let body = &rest[rest.find("<pre>").unwrap() + 5..rest.find("</pre>").unwrap()];
            (heading, body)
        })
        .collect();
    assert_eq!(failures.len(), 2, "{dom}");
    let (heading, body) = failures
        .iter()
        .find(|(h, _)| h.contains("::test_eight_lines"))
        .expect("the eight-line failure");
    assert_eq!(
        *heading,
        "FAILED test_messages.py::test_eight_lines — AssertionError: the first line … [gw0]"
    );
    assert!(
        body.contains("line 8"),
        "the body keeps the message: {body}"
    );

    let (heading, _) = failures
        .iter()
        .find(|(h, _)| h.contains("::test_one_long_line"))
        .expect("the long failure");
    let message = heading
        .strip_prefix("FAILED test_messages.py::test_one_long_line — ValueError: ")
        .and_then(|h| h.strip_suffix("… [gw0]"))
        .unwrap_or_else(|| panic!("{heading}"));
    assert_eq!(message.len(), 199 - "ValueError: ".len(), "{heading}");
}

#[test]
fn an_interrupted_run_still_writes_both_reports() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let html = dir.path().join("run.html");
    let xml = dir.path().join("junit.xml");
    let (json_arg, html_arg) = (json.display().to_string(), html.display().to_string());
    let xml_arg = format!("--junitxml={}", xml.display());
    let args = [
        "-n",
        "2",
        "-v",
        "--json-report",
        &json_arg,
        "--html-report",
        &html_arg,
        &xml_arg,
    ];
    // SIGINT, as Ctrl-C sends it.
    let (status, seen) = common::signal_mid_run(&args, 2);
    assert_eq!(status.code(), Some(2), "{seen}");
    let report = read_json(&json, &seen);
    assert!(report.interrupted.is_some(), "{report:?}");
    assert_eq!(report.exit_code, Some(2));
    assert!(
        report.tests.iter().any(|t| t.outcome == Status::Passed),
        "{report:?}"
    );
    assert_agree(&report, &xml, &seen);
    assert!(html.is_file());
}

/// `pacer-mockapi` with these flags, and its URL; killed when dropped.
fn mock_api_with(flags: &[&str]) -> (common::mockapi::Running, String) {
    let api = common::mockapi::start(flags);
    let url = api.url.clone();
    (api, url)
}

/// [`mock_api_with`] rate-limited at 50/s, burst 5.
fn mock_api() -> (common::mockapi::Running, String) {
    mock_api_with(&["--rate", "50", "--burst", "5"])
}

#[test]
fn the_reports_carry_each_upstreams_proxy_statistics() {
    let (api, url) = mock_api();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let html = dir.path().join("run.html");
    let output = Command::new(env!("CARGO_BIN_EXE_pacer"))
        .arg("-C")
        .arg(suite("ratelimited"))
        .arg("--python")
        .arg(python())
        .arg("--upstream")
        .arg(format!("api={url}"))
        .arg("--json-report")
        .arg(&json)
        .arg("--html-report")
        .arg(&html)
        .args(["--", "-p", "no:cacheprovider"])
        .env("RATELIMITED_TESTS", "4")
        .env_remove("PACER_UPSTREAM_API")
        .output()
        .expect("pacer runs");
    drop(api);
    let context = text(&output);
    assert_eq!(output.status.code(), Some(0), "{context}");
    let report = read_json(&json, &context);
    assert_eq!(report.upstreams.len(), 1, "{:?}", report.upstreams);
    let upstream = &report.upstreams[0];
    assert_eq!(upstream["upstream_url"], url.as_str(), "{upstream}");
    assert_eq!(upstream["stats"]["name"], "api", "{upstream}");
    // 4 end-to-end tests of 3 calls each, every one through the proxy.
    assert!(
        upstream["stats"]["requests"].as_u64() >= Some(12),
        "{upstream}"
    );
    let rate_limited: Vec<_> = report
        .categories
        .iter()
        .filter(|c| c.rate_limited && c.tests > 0)
        .collect();
    assert!(!rate_limited.is_empty(), "{:?}", report.categories);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("\"seen_429\""),
        "the page holds the statistics"
    );
    let url = format!("file://{}", html.display());
    let dom = String::from_utf8(chromium(&["--dump-dom"], &url).stdout).unwrap();
    let at = dom
        .find("id=\"upstreams-section\"")
        .expect("the upstreams' section");
    let section = &dom[at..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(!section.contains("hidden"), "{section}");
    assert!(
        section.contains("seen 429") && section.contains(">api"),
        "{section}"
    );
}

/// Per test, the time its calls waited in the limiter and the proxy's
/// retries after a 429; per upstream, the admissions over time. Real
/// workers call a mock API (refusing its first two requests) through the
/// real proxy, paced to 5 requests per second.
#[test]
fn tests_are_charged_their_limiter_waits_and_429_retries_and_the_page_marks_them() {
    let (api, url) = mock_api_with(&[
        "--rate",
        "50",
        "--burst",
        "5",
        "--fail-first",
        "2",
        "--retry-after",
        "fractional",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let html = dir.path().join("run.html");
    let output = Command::new(env!("CARGO_BIN_EXE_pacer"))
        .arg("-C")
        .arg(suite("ratelimited"))
        .arg("--python")
        .arg(python())
        .arg("--upstream")
        .arg(format!("api={url}"))
        .args(["--rate", "5", "--burst", "1", "--base-backoff", "0.05"])
        .arg("--json-report")
        .arg(&json)
        .arg("--html-report")
        .arg(&html)
        .args(["--", "-p", "no:cacheprovider"])
        .env("RATELIMITED_TESTS", "6")
        .env("RATELIMITED_CALLS", "2")
        .env_remove("PACER_UPSTREAM_API")
        .output()
        .expect("pacer runs");
    drop(api);
    let context = text(&output);
    assert_eq!(output.status.code(), Some(0), "{context}");
    let report = read_json(&json, &context);
    let stats = &report.upstreams[0]["stats"];
    let e2e: Vec<_> = report
        .tests
        .iter()
        .filter(|t| t.id.contains("end_to_end"))
        .collect();
    assert_eq!(e2e.len(), 6, "{context}");

    // Every call is some test's: each end-to-end test made its two.
    assert!(
        report.calls_outside_tests.is_empty(),
        "{:?}",
        report.calls_outside_tests
    );
    for t in &report.tests {
        let want = if t.id.contains("end_to_end") { 2 } else { 0 };
        assert_eq!(t.calls, want, "{t:?}");
    }
    // Paced to 5/s with a burst of 1: twelve calls cannot all go at once.
    let held: Vec<_> = e2e.iter().filter(|t| t.limiter_wait > 0.0).collect();
    assert!(!held.is_empty(), "no test waited: {e2e:?}");
    for t in &held {
        assert!(!t.waits.is_empty(), "{t:?}");
        for [from, to] in &t.waits {
            assert!(from <= to, "{t:?}");
        }
    }
    // The per-test waits add up to the proxy's time queued.
    let waited: f64 = report.tests.iter().map(|t| t.limiter_wait).sum();
    let queued = stats["time_queued"].as_f64().unwrap();
    assert!(
        (waited - queued).abs() < 1e-4,
        "tests waited {waited} s, the proxy queued {queued} s"
    );
    // The two forced refusals were retried, and charged to the tests whose
    // calls they were.
    let retried: usize = report.tests.iter().map(|t| t.retries_429).sum();
    assert_eq!(retried, 2, "{e2e:?}");
    assert_eq!(stats["retried"], 2, "{stats}");
    for t in &report.tests {
        assert_eq!(t.retry_marks.len(), t.retries_429, "{t:?}");
    }
    // The series counts every admission and both 429s.
    let series = &report.upstreams[0]["series"];
    let sum = |key: &str| -> u64 {
        series[key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} in {series}"))
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        sum("admitted"),
        stats["admitted"].as_u64().unwrap(),
        "{series}"
    );
    assert_eq!(sum("admitted"), 14, "12 calls and 2 retries: {series}");
    assert_eq!(sum("seen_429"), 2, "{series}");

    // The page marks the waits and retries on the bars and draws the chart.
    let url = format!("file://{}", html.display());
    let dom = String::from_utf8(chromium(&["--dump-dom"], &url).stdout).unwrap();
    assert_eq!(body_attribute(&dom, "data-rendered").as_deref(), Some("1"));
    let wait_marks: usize = body_attribute(&dom, "data-wait-marks")
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait_marks > 0, "no wait drawn");
    assert_eq!(dom.matches("<rect class=\"wait\"").count(), wait_marks);
    assert_eq!(
        body_attribute(&dom, "data-retry-marks").as_deref(),
        Some("2")
    );
    assert_eq!(
        body_attribute(&dom, "data-rate-charts").as_deref(),
        Some("1")
    );
    assert!(
        dom.contains("class=\"rate-bucket\""),
        "no achieved rate drawn"
    );
    assert!(
        dom.contains("class=\"mark-429\""),
        "no 429 marked on the chart"
    );
    let tip = held
        .iter()
        .map(|t| format!("waited {:.1} s in the limiter", t.limiter_wait))
        .find(|tip| dom.contains(tip.as_str()));
    assert!(tip.is_some(), "no bar's hover text tells its wait");
    assert!(dom.contains("retries after 429") || dom.contains("1 retry after 429"));

    // The screenshot: the waits' dark hatch is drawn over green bars.
    let shot = html.with_file_name("shot.png");
    chromium(&[&format!("--screenshot={}", shot.display())], &url);
    assert!(shot.is_file());
}

/// A client built at start-up in conftest.py (as `ofsc` users build theirs)
/// keeps the address pacer's zygote had: each worker forked from it still
/// has its own calls charged to its own tests, a subprocess's too. Every
/// worker but the first is forked, on any machine (`PACER_FRESH_WORKERS=1`).
#[test]
fn calls_through_a_client_built_in_the_zygote_are_charged_to_their_tests() {
    let (api, url) = mock_api_with(&["--rate", "50", "--burst", "5"]);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let output = Command::new(env!("CARGO_BIN_EXE_pacer"))
        .arg("-C")
        .arg(suite("zygote_client"))
        .arg("--python")
        .arg(python())
        .arg("--upstream")
        .arg(format!("api={url}"))
        .args(["--rate", "5", "--burst", "1"])
        .arg("--json-report")
        .arg(&json)
        .args(["-n", "2", "--debug", "--", "-p", "no:cacheprovider"])
        .env_remove("PACER_UPSTREAM_API")
        .env("PACER_FRESH_WORKERS", "1")
        .output()
        .expect("pacer runs");
    drop(api);
    let context = text(&output);
    assert_eq!(output.status.code(), Some(0), "{context}");
    assert!(
        context.contains("forked from the zygote"),
        "a worker must be forked:\n{context}"
    );
    let report = read_json(&json, &context);
    assert!(
        report.calls_outside_tests.is_empty(),
        "calls not charged to a test: {:?}\n{context}",
        report.calls_outside_tests
    );
    for t in &report.tests {
        let want = if t.id.contains("subprocess") { 1 } else { 2 };
        assert_eq!(t.calls, want, "{t:?}");
    }
    let waited: f64 = report.tests.iter().map(|t| t.limiter_wait).sum();
    let queued = report.upstreams[0]["stats"]["time_queued"]
        .as_f64()
        .unwrap();
    assert!((waited - queued).abs() < 1e-4, "{waited} vs {queued}");
}
