//! GitHub Actions (`GITHUB_ACTIONS=true`) on real runs of the `outcomes`
//! suite: the step summary agrees with pytest's final line and the run's
//! failures, each failed or errored test gets an `::error` annotation at
//! its file and line (escaped, capped, with a notice for the rest), long
//! sections are folded in log groups, and no progress bar is drawn. Also
//! `.test_durations` (pytest-split's format), merged across runs and
//! written only where a project asked for it.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use common::{pacer_command, stderr, stdout, suite, text};

/// `pacer ARGS` in `dir` under GitHub Actions, with `env` on top.
fn on_github(dir: &Path, args: &[&str], summary: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = pacer_command(dir, args);
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", summary)
        .env_remove("GITHUB_WORKSPACE");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("pacer runs")
}

/// pytest's final line without its frame and time: `15 failed, ... 6 errors`.
fn final_counts(out: &str) -> String {
    let last = out.lines().rev().find(|l| l.starts_with("===")).unwrap();
    let inner = last.trim_matches(|c| c == '=' || c == ' ');
    inner.rsplit_once(" in ").unwrap().0.to_string()
}

/// The node ids of the short summary's FAILED and ERROR lines.
fn failing_ids(out: &str) -> BTreeSet<String> {
    out.lines()
        .skip_while(|l| !l.contains(" short test summary info "))
        .filter_map(|l| {
            l.strip_prefix("FAILED ")
                .or_else(|| l.strip_prefix("ERROR "))
        })
        .map(|l| l.split(" - ").next().unwrap().to_string())
        .collect()
}

/// An `::error` line's properties and message, unescaped as GitHub reads them.
struct Annotation {
    file: String,
    line: Option<usize>,
    title: String,
    message: String,
}

fn unescape(text: &str) -> String {
    text.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

fn annotations(out: &str) -> Vec<Annotation> {
    out.lines()
        .filter_map(|l| l.strip_prefix("::error "))
        .map(|rest| {
            let (properties, message) = rest.split_once("::").unwrap();
            let mut annotation = Annotation {
                file: String::new(),
                line: None,
                title: String::new(),
                message: unescape(message),
            };
            for property in properties.split(',') {
                let (key, value) = property.split_once('=').unwrap();
                let value = unescape(value);
                match key {
                    "file" => annotation.file = value,
                    "line" => annotation.line = Some(value.parse().unwrap()),
                    "title" => annotation.title = value,
                    other => panic!("unexpected property {other} in {rest}"),
                }
            }
            annotation
        })
        .collect()
}

#[test]
fn summary_annotations_and_groups_describe_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("step_summary.md");
    std::fs::write(&summary, "# an earlier step's summary\n").unwrap();
    let outcomes = suite("outcomes");
    let output = on_github(
        &outcomes,
        &["-p", "no:cacheprovider"],
        &summary,
        &[("PACER_GITHUB_ANNOTATIONS", "100")],
    );
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    let out = stdout(&output);
    let md = std::fs::read_to_string(&summary).unwrap();

    // The summary follows what was there, and says what pytest's line says.
    assert!(
        md.starts_with("# an earlier step's summary\n## pacer: "),
        "{md}"
    );
    let counts = final_counts(&out);
    assert!(
        counts.contains("failed") && counts.contains("error"),
        "{all}"
    );
    assert!(
        md.contains(&format!("## pacer: {counts} in ")),
        "{counts}\n{md}"
    );
    assert!(md.contains("exit code **1** (tests failed)"), "{md}");
    let done = out
        .lines()
        .rev()
        .filter_map(|l| l.strip_prefix("pacer: "))
        .filter_map(|l| l.split_once(" tests,"))
        .map(|(progress, _)| progress.to_string())
        .next()
        .unwrap_or_else(|| panic!("no progress line\n{all}"));
    let (finished, total) = done.split_once('/').unwrap();
    assert_eq!(
        finished, total,
        "the last progress line ends the run\n{all}"
    );
    assert!(
        md.contains("| category | tests | passed | failed |")
            && md.contains(&format!("| default | {total} |")),
        "the categories' table counts every test\n{md}"
    );
    assert!(md.contains("### Slowest tests"), "{md}");

    // Every failing test once in the summary (folded) and once annotated.
    let failing = failing_ids(&out);
    assert!(failing.len() > 10, "{all}");
    assert_eq!(
        md.matches("<details><summary>").count(),
        failing.len(),
        "{md}"
    );
    for id in &failing {
        assert!(
            md.contains(&format!("<code>{id}</code>")),
            "{id} not in\n{md}"
        );
    }
    let annotations = annotations(&out);
    let titled: BTreeSet<String> = annotations
        .iter()
        .map(|a| a.title.split_once(' ').unwrap().1.to_string())
        .collect();
    assert_eq!(titled, failing, "{all}");
    assert_eq!(annotations.len(), failing.len(), "{all}");
    assert!(
        !out.contains("::notice"),
        "nothing left out under the cap\n{all}"
    );
    for a in &annotations {
        let source = std::fs::read_to_string(outcomes.join(&a.file))
            .unwrap_or_else(|e| panic!("{}: {e}", a.file));
        let line = a.line.unwrap_or_else(|| panic!("{} has no line", a.title));
        assert!(
            line >= 1 && line <= source.lines().count(),
            "{}:{line}",
            a.file
        );
        assert!(a.title.contains(&a.file), "{} names {}", a.title, a.file);
    }
    let at = |title: &str| -> &Annotation {
        annotations
            .iter()
            .find(|a| a.title == title)
            .unwrap_or_else(|| panic!("no annotation {title}\n{all}"))
    };
    // The failing assert's own line, in the test's file.
    let sums = at("FAILED tests/test_params.py::test_sums[2-2-5]");
    let line = std::fs::read_to_string(outcomes.join("tests/test_params.py")).unwrap();
    let line = line.lines().nth(sums.line.unwrap() - 1).unwrap();
    assert!(line.contains("assert a + b == total"), "{line}");
    assert_eq!(sums.message, "assert (2 + 2) == 5");
    // A fixture's error points at the fixture's raise.
    let setup = at("ERROR tests/test_scopes.py::test_setup_error");
    let source = std::fs::read_to_string(outcomes.join("tests/test_scopes.py")).unwrap();
    let line = source.lines().nth(setup.line.unwrap() - 1).unwrap();
    assert!(line.contains("raise RuntimeError"), "{line}");
    // Messages keep their lines, escaped: one annotation is one line.
    let diff = at("FAILED tests/test_basic.py::test_fail_list_diff");
    assert!(diff.message.contains('\n'), "{}", diff.message);
    assert!(
        out.contains("::error file=tests/test_params.py,line="),
        "{all}"
    );
    assert!(out.contains("title=FAILED tests/test_params.py%3A%3Atest_sums[2-2-5]::"));

    // Long sections are folded, never nested; no bar, no escape codes.
    let opened = out.lines().filter(|l| l.starts_with("::group::")).count();
    let closed = out.lines().filter(|l| *l == "::endgroup::").count();
    assert_eq!(opened, closed, "{all}");
    assert!(opened >= failing.len(), "a group per failure\n{all}");
    assert!(out.contains("::group::FAILED test_sums[2-2-5]\n"), "{all}");
    let mut open = false;
    for line in out.lines() {
        if line.starts_with("::group::") {
            assert!(!open, "nested group at {line}");
            open = true;
        } else if line == "::endgroup::" {
            assert!(open, "a group closed twice");
            open = false;
        }
    }
    for stream in [out.as_str(), stderr(&output).as_str()] {
        assert!(!stream.contains('\x1b') && !stream.contains('\r'), "{all}");
    }
}

#[test]
fn annotations_stop_at_the_cap_and_a_notice_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("step_summary.md");
    let output = on_github(
        &suite("outcomes"),
        &["-p", "no:cacheprovider"],
        &summary,
        &[],
    );
    let out = stdout(&output);
    let failing = failing_ids(&out).len();
    assert_eq!(
        annotations(&out).len(),
        10,
        "GitHub shows ten a step\n{out}"
    );
    let notice = out
        .lines()
        .find(|l| l.starts_with("::notice"))
        .unwrap_or_else(|| panic!("no notice\n{out}"));
    assert!(
        notice.contains(&format!("::{} more failures not annotated", failing - 10)),
        "{notice}"
    );
    // And the summary lists every one of them.
    let md = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(md.matches("<details>").count(), failing, "{md}");
}

#[test]
fn an_interrupted_run_has_its_summary_and_collection_errors_are_annotated() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("step_summary.md");
    let output = on_github(
        &suite("collect_error"),
        &["-p", "no:cacheprovider"],
        &summary,
        &[],
    );
    let all = text(&output);
    assert_eq!(output.status.code(), Some(2), "{all}");
    let annotations = annotations(&stdout(&output));
    let files: BTreeSet<&str> = annotations.iter().map(|a| a.file.as_str()).collect();
    assert_eq!(
        files,
        BTreeSet::from(["tests/test_broken_import.py", "tests/test_broken_syntax.py"]),
        "{all}"
    );
    let import = annotations
        .iter()
        .find(|a| a.file.ends_with("import.py"))
        .unwrap();
    assert_eq!(import.title, "ERROR collecting tests/test_broken_import.py");
    assert!(
        import.message.starts_with("ModuleNotFoundError"),
        "{}",
        import.message
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains(&format!("## pacer: {} in ", final_counts(&stdout(&output)))),
        "{md}"
    );
    assert!(md.contains("exit code **2** (interrupted)"), "{md}");
    assert!(
        md.contains("> Interrupted: 2 errors during collection"),
        "{md}"
    );
    assert_eq!(md.matches("<details>").count(), 2, "{md}");
}

/// A test that passed only on a rerun is `flaky` in the run's record; its
/// `::warning` must follow from that word, on a real run of the `flaky`
/// suite with pacer's own `--reruns` (issue 18: the annotations looked for
/// `passed` with reruns, which no flaky test is, so GitHub never warned).
#[test]
fn a_test_that_passed_on_a_rerun_gets_a_flaky_warning() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("step_summary.md");
    let json = dir.path().join("run.json");
    let state = tempfile::tempdir().unwrap();
    let output = on_github(
        &suite("flaky"),
        &[
            "-n",
            "2",
            "--reruns",
            "2",
            "--json-report",
            json.to_str().unwrap(),
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
        ],
        &summary,
        &[
            ("FLAKY_STATE", state.path().to_str().unwrap()),
            ("PYTHONDONTWRITEBYTECODE", "1"),
        ],
    );
    let all = text(&output);
    // One test fails on every attempt; the flaky ones keep pytest's code.
    assert_eq!(output.status.code(), Some(1), "{all}");
    let out = stdout(&output);
    let warnings: BTreeSet<&str> = out
        .lines()
        .filter(|l| l.starts_with("::warning "))
        .collect();
    assert_eq!(
        warnings,
        BTreeSet::from([
            "::warning file=tests/test_flaky.py,title=flaky tests/test_flaky.py%3A%3Atest_fails_once::passed after 1 rerun",
            "::warning file=tests/test_flaky.py,title=flaky tests/test_flaky.py%3A%3Atest_marked_passes_on_third::passed after 2 reruns",
            "::warning file=tests/test_flaky.py,title=flaky tests/test_flaky.py%3A%3Atest_setup_error_once::passed after 1 rerun",
        ]),
        "{all}"
    );
    // The warned tests are the JSON report's `flaky` ones, and the test that
    // failed every time is an error, not a warning.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let flaky: BTreeSet<&str> = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["outcome"] == "flaky")
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        flaky,
        BTreeSet::from([
            "tests/test_flaky.py::test_fails_once",
            "tests/test_flaky.py::test_marked_passes_on_third",
            "tests/test_flaky.py::test_setup_error_once",
        ]),
        "{all}"
    );
    let errors: Vec<String> = annotations(&out).into_iter().map(|a| a.title).collect();
    assert_eq!(
        errors,
        ["FAILED tests/test_flaky.py::test_always_fails"],
        "{all}"
    );
}

/// `pacer-mockapi` on a free port, rate-limited, killed when dropped.
fn mock_api() -> common::mockapi::Running {
    common::mockapi::start(&["--rate", "50", "--burst", "5"])
}

#[test]
fn the_summary_has_the_upstreams_statistics_when_proxies_ran() {
    let api = mock_api();
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("step_summary.md");
    let json = dir.path().join("run.json");
    let upstream = format!("api={}", api.url);
    let output = on_github(
        &suite("ratelimited"),
        &[
            "--upstream",
            &upstream,
            "--json-report",
            json.to_str().unwrap(),
            "-p",
            "no:cacheprovider",
        ],
        &summary,
        &[("RATELIMITED_TESTS", "4")],
    );
    drop(api);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    let md = std::fs::read_to_string(&summary).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let stats = &report["upstreams"][0]["stats"];
    let requests = stats["requests"].as_u64().unwrap();
    assert!(requests >= 12, "{stats}");
    assert!(md.contains("### Rate-limited upstreams"), "{md}");
    let row = format!(
        "| api | {requests} | {} | {} |",
        stats["retried"], stats["seen_429"]
    );
    assert!(md.contains(&row), "{row} not in\n{md}");
    assert!(
        md.contains("(rate-limited) | "),
        "a rate-limited category's row\n{md}"
    );
    assert!(md.contains("exit code **0** (all passed)"), "{md}");
    assert!(!md.contains("### Failures"), "{md}");
    assert!(
        !stdout(&output).lines().any(|l| l.starts_with("::error")),
        "{all}"
    );
}

/// A small project: two files, one failing test.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.pytest.ini_options]\n\n[tool.pacer]\ndurations_file = \"ci/split.json\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("test_a.py"),
        "def test_one():\n    pass\n\ndef test_two():\n    assert 1 == 2\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("test_b.py"),
        "def test_three():\n    pass\n",
    )
    .unwrap();
    dir
}

#[test]
fn switched_off_pacer_prints_pytests_output_and_writes_no_summary() {
    let dir = project();
    let summary = dir.path().join("summary.md");
    for (args, env) in [
        (&["--no-github"][..], &[][..]),
        (&[][..], &[("PACER_GITHUB", "0")][..]),
    ] {
        let output = on_github(dir.path(), args, &summary, env);
        let out = stdout(&output);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        assert!(!out.lines().any(|l| l.starts_with("::")), "{out}");
        assert!(out.contains(".F"), "pytest's characters\n{out}");
        assert!(!summary.exists());
    }
    let output = on_github(dir.path(), &[], &summary, &[("PACER_GITHUB", "maybe")]);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    assert!(
        stderr(&output).contains("PACER_GITHUB=\"maybe\""),
        "{}",
        text(&output)
    );
}

/// `.test_durations` as a map, read from `path`.
fn durations(path: &Path) -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.starts_with("{\n    \""),
        "pytest-split's layout: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

#[test]
fn test_durations_are_written_where_config_says_and_merged_across_runs() {
    let dir = project();
    let root = dir.path();
    let run = |args: &[&str]| {
        let mut command = pacer_command(root, args);
        command.env_remove("GITHUB_ACTIONS");
        command.output().expect("pacer runs")
    };
    // Where `pacer config` says the file is.
    let config = run(&["config", "--json"]);
    let config: serde_json::Value = serde_json::from_slice(&config.stdout).unwrap();
    let path = find_setting(&config, "durations_file").expect("durations_file in pacer config");
    let path = Path::new(path.as_str().unwrap()).to_path_buf();
    assert_eq!(path, root.join("ci/split.json"));

    // Not asked for and not there: nothing is written.
    run(&["test_a.py"]);
    assert!(!path.exists(), "pacer wrote a durations file unasked");

    // Asked for: the tests that ran (its folder made).
    let first = run(&["--store-durations", "test_a.py"]);
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    let stored = durations(&path);
    let keys: Vec<&String> = stored.keys().collect();
    assert_eq!(keys, ["test_a.py::test_one", "test_a.py::test_two"]);
    assert!(stored
        .values()
        .all(|v| v.as_f64().is_some_and(|s| s >= 0.0)));

    // There already: merged, nothing dropped, the tests that ran updated.
    let mut seeded = stored.clone();
    seeded.insert("gone.py::test_old".into(), 9.5.into());
    seeded.insert("test_b.py::test_three".into(), 1234.0.into());
    std::fs::write(&path, serde_json::to_string(&seeded).unwrap()).unwrap();
    // (pytest's cache provider off: the file is the project's, not the cache's)
    let second = run(&["-p", "no:cacheprovider", "test_b.py"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    let merged = durations(&path);
    let keys: Vec<&String> = merged.keys().collect();
    assert_eq!(
        keys,
        [
            "gone.py::test_old",
            "test_a.py::test_one",
            "test_a.py::test_two",
            "test_b.py::test_three"
        ]
    );
    assert_eq!(merged["gone.py::test_old"], 9.5);
    assert_eq!(merged["test_a.py::test_one"], stored["test_a.py::test_one"]);
    assert_ne!(
        merged["test_b.py::test_three"], 1234.0,
        "the test that ran is updated"
    );

    // Refused: left as it is.
    let before = std::fs::read_to_string(&path).unwrap();
    run(&["--no-store-durations", "test_a.py"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
}

fn find_setting<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => {
            if map.get("key").and_then(|k| k.as_str()) == Some(key) {
                return map.get("value");
            }
            map.values().find_map(|v| find_setting(v, key))
        }
        serde_json::Value::Array(items) => items.iter().find_map(|v| find_setting(v, key)),
        _ => None,
    }
}
