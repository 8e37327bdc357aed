//! Rate limiting end to end: the built `pacer` runs the `ratelimited` fixture
//! suite through its proxy against the real `pacer-mockapi` binary, over
//! real HTTP, with real pytest workers.
//!
//! Nothing here asserts a duration: the mock's own counters (requests in
//! flight at most, refusals) and the tests' outcomes are the proof.
//!
//! Python comes from `PACER_TEST_PYTHON`, else the repository's
//! `.venv/bin/python` (made by `scripts/venv`; it has pytest, pytest-xdist).

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output};

use common::mockapi::{spawn_with_url, start as mock, Running};
use common::outcomes::{self, tallies, Tally};
use common::python;

fn suite() -> PathBuf {
    common::suite("ratelimited")
}

fn pacer_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pacer"))
}

/// A plain HTTP/1.1 GET; returns the status and the body.
fn http_get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {answer}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn mock_stats(mock: &Running) -> serde_json::Value {
    let (status, body) = http_get(&format!("{}/__stats", mock.url));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Issue 17: what the API itself refused and accepted, by its own count
/// (`/__stats`), not pacer's: a run that drew 429s can still pass every
/// test, pacer retrying them, and pacer's statistics are pacer's word.
#[track_caller]
fn assert_mock_answered(mock: &Running, accepted: u64, refused: u64, why: &str) {
    let stats = mock_stats(mock);
    assert_eq!(
        (&stats["accepted"], &stats["rejected"]),
        (&accepted.into(), &refused.into()),
        "the API's own count (accepted, refused) is not {why}: {stats}"
    );
    assert_eq!(stats["total_requests"], accepted + refused, "{stats}");
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `pacer` on the fixture suite, `RATELIMITED_TESTS=tests`, against `url`.
fn pacer(url: &str, tests: usize, flags: &[&str]) -> Output {
    Command::new(pacer_bin())
        .arg("-C")
        .arg(suite())
        .arg("--python")
        .arg(python())
        .arg("--upstream")
        .arg(format!("api={url}"))
        .args(flags)
        .args(["--", "-p", "no:cacheprovider"])
        .env("RATELIMITED_TESTS", tests.to_string())
        .env_remove("PACER_UPSTREAM_API")
        .output()
        .expect("pacer runs")
}

const RERUN_LINE: &str = "rerunning them once, sequentially (--no-fallback turns this off)";

#[test]
fn through_the_proxy_every_test_passes_and_the_api_never_sees_more_than_max_concurrent() {
    // 20 requests/s allowed; 0.2 s per call, so unpaced workers would pile up.
    let api = mock(&["--rate", "20", "--burst", "5", "--latency", "0.2"]);
    let out = pacer(
        &api.url,
        12,
        &[
            "--rate",
            "15",
            "--burst",
            "1",
            "--min-delay",
            "0",
            "--max-concurrent",
            "2",
            "--base-backoff",
            "0.05",
            "--max-backoff",
            "2",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        outcomes::final_line(&stdout),
        tallies(&[(16, Tally::Passed)]),
        "{stdout}"
    );
    assert!(!stdout.contains(RERUN_LINE), "{stdout}");
    // Here the in-flight cap keeps the API under its limit (2 calls of
    // 0.2 s in flight: 10/s at most): with --rate 1000 --burst 20
    // --max-concurrent 10 the API refused some, retried, and every test
    // still passed.
    assert_mock_answered(&api, 36, 0, "12 tests x 3 calls, none refused");
    let stats = mock_stats(&api);
    assert!(
        stats["max_concurrent"].as_u64().unwrap() <= 2,
        "the API saw more than --max-concurrent at once: {stats}"
    );
    // The statistics block follows pytest's final line.
    let final_line = stdout.find("16 passed").unwrap();
    let block = stdout
        .find("rate-limited upstreams")
        .expect("statistics printed");
    assert!(block > final_line, "{stdout}");
    assert!(stdout.contains("api (http://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("requests 36, retried"), "{stdout}");
}

#[test]
fn straight_at_the_api_pytest_n_4_fails_on_429() {
    // The point of the proxy: the same suite without it, in parallel.
    let api = mock(&["--rate", "20", "--burst", "5", "--latency", "0.02"]);
    let out = Command::new(python())
        .args(["-m", "pytest", "-n", "4", "-p", "no:cacheprovider", "-q"])
        .current_dir(suite())
        .env("PACER_UPSTREAM_API", &api.url)
        .env("RATELIMITED_TESTS", "16")
        .output()
        .expect("pytest runs");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("HTTP Error 429"), "{stdout}");
    assert!(mock_stats(&api)["rejected"].as_u64().unwrap() > 0);
}

/// The suite of the test above on the same API, through the proxy: its rate
/// (half the API's, the in-flight cap no bound) keeps every call under the
/// limit, by the API's own count. With the rate above the API's (`--rate
/// 40`), or without the proxy (`--no-rate-limit`), the API refuses some.
#[test]
fn through_the_proxy_the_same_parallel_suite_draws_no_429() {
    let api = mock(&["--rate", "20", "--burst", "5", "--latency", "0.02"]);
    let out = pacer(
        &api.url,
        16,
        &[
            "--rate",
            "10",
            "--burst",
            "1",
            "--min-delay",
            "0",
            "--max-concurrent",
            "10",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_mock_answered(&api, 48, 0, "16 tests x 3 calls, none refused");
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("20 passed"), "{stdout}");
    assert!(!stdout.contains(RERUN_LINE), "{stdout}");
}

#[test]
fn tests_that_still_fail_on_429_are_rerun_once_sequentially() {
    // An API that refuses everything: retries cannot help, and the rerun
    // fails too, so the run fails.
    let api = mock(&["--fail-first", "1000000"]);
    let flags = ["--rate", "100", "--min-delay", "0", "--max-retries", "0"];
    let out = pacer(&api.url, 3, &flags);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let line = format!("pacer: 3 tests failed on HTTP 429; {RERUN_LINE}");
    assert_eq!(stdout.matches(&line).count(), 1, "{stdout}");
    // The rerun is a session of its own, on one worker, with only those tests.
    let rerun = &stdout[stdout.find(&line).unwrap()..];
    assert!(rerun.contains("\npacer: 1 worker\n"), "{rerun}");
    assert!(rerun.contains("\ncollected 3 items\n"), "{rerun}");
    assert_eq!(
        outcomes::final_line(rerun),
        tallies(&[(3, Tally::Failed)]),
        "{rerun}"
    );
    // Each test's first call, refused and not retried, in the parallel run
    // and in the rerun: nothing more reached the API (--max-retries 1 would
    // make it 12).
    assert_mock_answered(&api, 0, 6, "3 calls refused, then 3 in the rerun");

    // --no-fallback turns it off.
    let mut no_fallback = flags.to_vec();
    no_fallback.push("--no-fallback");
    let out = pacer(&api.url, 3, &no_fallback);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stdout.contains(RERUN_LINE), "{stdout}");
    // The three end-to-end tests fail, the four unit tests pass.
    assert_eq!(
        outcomes::final_line(&stdout),
        tallies(&[(3, Tally::Failed), (4, Tally::Passed)]),
        "{stdout}"
    );
    assert_mock_answered(&api, 0, 9, "3 more refused calls, no rerun");
}

#[test]
fn a_rerun_that_passes_makes_the_run_pass() {
    // The first two calls are refused, and nothing is retried: up to two
    // tests fail in the parallel run, and pass when rerun.
    let api = mock(&["--fail-first", "2"]);
    let out = pacer(
        &api.url,
        4,
        &["--rate", "100", "--min-delay", "0", "--max-retries", "0"],
    );
    let (stdout, stderr) = text(&out);
    // The two refusals ended two tests at their first call; the rerun ran
    // those two alone: 2 x 3 calls there, 2 x 3 for the tests that passed
    // (a rerun of all four would make it 18 accepted, a retry 3 refused
    // with --fail-first 3).
    assert_mock_answered(&api, 12, 2, "the 2 forced refusals, 12 calls accepted");
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(RERUN_LINE), "{stdout}");
    assert!(
        stdout.contains("pacer: 2 tests failed on HTTP 429"),
        "{stdout}"
    );
}

#[test]
fn pacer_proxy_prints_its_address_and_forwards() {
    let api = mock(&["--rate", "100"]);
    let mut cmd = Command::new(pacer_bin());
    cmd.args(["proxy", "--upstream"])
        .arg(format!("api={}", api.url))
        .current_dir(std::env::temp_dir());
    let proxy = spawn_with_url(cmd, |line| {
        // `http://127.0.0.1:PORT -> UPSTREAM  (PACER_UPSTREAM_API=...)`
        let (url, rest) = line.split_once(" -> ")?;
        rest.contains("PACER_UPSTREAM_API=").then(|| url.to_owned())
    });
    assert!(proxy.url.starts_with("http://127.0.0.1:"), "{}", proxy.url);
    let (status, body) = http_get(&format!("{}/hello?x=1", proxy.url));
    assert_eq!(status, 200, "{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["path"], "/hello");
    assert_eq!(echo["query"], "x=1");
    // One call, answered at once: a 429 retried by the proxy (the mock
    // with --fail-first 1) would still leave one accepted.
    assert_mock_answered(&api, 1, 0, "one call, accepted at once");
}

/// The plugin's `pacer_upstream(name)` finds the proxy by the variable pacer
/// named for it (`PACER_UPSTREAMS`), not by a name it builds itself.
#[test]
fn pacer_upstream_reaches_the_proxy_by_the_variable_pacer_named() {
    let api = mock(&["--rate", "100"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = 'x'\n[tool.pytest.ini_options]\nmarkers = ['e2e: live']\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("test_api.py"),
        r#"import json, os, urllib.request
import pytest

@pytest.mark.e2e
def test_call(pacer_upstream):
    assert json.loads(os.environ["PACER_UPSTREAMS"]) == {"my-api": "PACER_UPSTREAM_MY_API"}
    url = pacer_upstream("my-api")
    assert url == os.environ["PACER_UPSTREAM_MY_API"]
    with urllib.request.urlopen(url + "/hello") as answer:
        assert json.load(answer)["path"] == "/hello"
"#,
    )
    .unwrap();
    let upstream = format!("my-api={}", api.url);
    let out = common::pacer_in(dir.path(), &["--upstream", &upstream], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        outcomes::final_line(&stdout),
        tallies(&[(1, Tally::Passed)]),
        "{stdout}"
    );
    assert_mock_answered(&api, 1, 0, "one call, accepted at once");
}

#[test]
fn pacer_proxy_stays_on_loopback_unless_told() {
    let out = Command::new(pacer_bin())
        .args([
            "proxy",
            "--upstream",
            "api=http://127.0.0.1:9",
            "--bind",
            "0.0.0.0",
        ])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", common::text(&out));
    let non_loopback = common::text(&out);

    let out = Command::new(pacer_bin())
        .arg("proxy")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", common::text(&out));
    common::snapshot!(
        "ratelimit__proxy_usage_errors",
        "--bind 0.0.0.0 refused, pointing at --allow-non-loopback; no upstream: --upstream NAME=URL asked for",
        &[],
        format!("{non_loopback}\n{}", common::text(&out)),
    );
}
