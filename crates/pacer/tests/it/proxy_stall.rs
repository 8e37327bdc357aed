//! Issue 11, "the proxy never stalls", end to end: a hung API and an API
//! that asks for an hour's wait, behind the real proxy, called by real
//! pytest workers through `pacer_requests`. Each test gets a clear answer
//! in bounded time and the statistics say what happened.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::outcomes::{final_line, tallies, Tally};
use common::{pacer_in, stdout, text};
use pacer_mockapi::MockConfig;

#[test]
fn a_hung_api_gets_a_504_and_a_long_retry_after_is_capped_announced_and_bounded() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let hung = runtime
        .block_on(pacer_mockapi::start(
            MockConfig {
                latency: Duration::from_secs(3600),
                ..MockConfig::default()
            },
            loopback,
        ))
        .unwrap();
    let busy = runtime
        .block_on(pacer_mockapi::start(
            MockConfig {
                fail_first: 1000,
                fail_first_wait: Duration::from_secs(3600),
                ..MockConfig::default()
            },
            loopback,
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("pyproject.toml"),
        format!(
            "[tool.pytest.ini_options]\nmarkers = [\"e2e: end-to-end\"]\n\n\
             [tool.pacer.upstreams.hung]\nurl = \"{}\"\nupstream_timeout = 0.5\n\n\
             [tool.pacer.upstreams.busy]\nurl = \"{}\"\nbase_backoff = 0.1\nmax_backoff = 0.2\nmax_wait = 1\nmax_retries = 50\n",
            hung.url(),
            busy.url()
        ),
    )
    .unwrap();
    let tests = root.join("tests/end_to_end");
    std::fs::create_dir_all(&tests).unwrap();
    std::fs::write(
        tests.join("test_stall.py"),
        r#"import pytest


@pytest.mark.e2e
def test_a_hung_api_answers_504(pacer_requests):
    answer = pacer_requests("hung").get("/slow")
    assert answer.status_code == 504
    assert "did not answer within 0.5 s (upstream_timeout)" in answer.text


@pytest.mark.e2e
def test_an_hour_long_retry_after_reaches_the_test_within_max_wait(pacer_requests):
    answer = pacer_requests("busy").get("/busy")
    assert answer.status_code == 429
    assert "max_wait (1 s)" in answer.headers["pacer-not-retried"]
"#,
    )
    .unwrap();

    let out = pacer_in(root, &["-n", "2"], &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert_eq!(
        final_line(&stdout(&out)),
        tallies(&[(2, Tally::Passed)]),
        "{all}"
    );
    let stats = stdout(&out);
    assert!(stats.contains("timed out (504) 1"), "{all}");
    assert!(stats.contains("refusals passed on at max_wait 1"), "{all}");
    // Announced once, on stderr as it happens and in the statistics.
    let notice = "busy: API asked to wait 3600 s, capped at 0.2 s (max_backoff)";
    assert_eq!(all.matches(notice).count(), 2, "{all}");
    runtime.block_on(async {
        hung.shutdown().await;
        busy.shutdown().await;
    });
}
