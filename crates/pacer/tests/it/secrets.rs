//! Issue 11, "secrets stay secret": credentials in an upstream URL reach the
//! API as `Authorization: Basic` (never as `Host`), and a full run with every
//! report, debug logging and `pacer config` never prints them.
//!
//! Real pacer, real pytest workers, the real proxy, the mock API recording
//! the headers it gets (its echo).

use crate::common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;

use common::outcomes::{final_line, tallies, Tally};
use common::{pacer_command, pacer_in, stderr, stdout, text};

const SECRET: &str = "s3cret";

/// A project whose one end-to-end test asserts what the API received.
fn project(url: &str, expected_host: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::write(
        root.join("pyproject.toml"),
        format!(
            "[tool.pytest.ini_options]\nmarkers = [\"e2e: end-to-end\"]\n\n\
             [tool.pacer.upstreams.api]\nurl = \"{url}\"\n"
        ),
    )
    .unwrap();
    let tests = root.join("tests/end_to_end");
    std::fs::create_dir_all(&tests).unwrap();
    std::fs::write(
        tests.join("test_auth.py"),
        format!(
            r#"import json
import os
import urllib.request

import pytest

BASE = os.environ["PACER_UPSTREAM_API"]


def call(path):
    with urllib.request.urlopen(BASE + path, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.e2e
def test_the_api_gets_basic_credentials_and_its_own_host():
    assert "@" not in BASE
    # pacer_requests/pacer_httpx read their timeout from it.
    assert os.environ["PACER_UPSTREAM_API_MAX_WAIT"] == "120"
    echo = call("/who")
    assert echo["headers"]["authorization"] == "Basic YWxpY2U6czNjcmV0"
    assert echo["headers"]["host"] == "{expected_host}"


@pytest.mark.e2e
def test_a_failure_shows_what_the_test_saw_and_not_the_secret():
    echo = call("/seen")
    assert echo["path"] == "/elsewhere", (BASE, echo)
"#
        ),
    )
    .unwrap();
    dir
}

/// Every file under `dir`, but the project file that holds the secret.
fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else if path.file_name().is_some_and(|n| n != "pyproject.toml") {
            out.push(path);
        }
    }
}

#[test]
fn credentials_in_an_upstream_url_become_basic_auth_and_are_never_printed() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let api = runtime
        .block_on(pacer_mockapi::start(
            pacer_mockapi::MockConfig::default(),
            loopback,
        ))
        .unwrap();
    let host = api.addr().to_string();
    let url = format!("http://alice:{SECRET}@{host}/v1");
    let dir = project(&url, &host);
    let root = dir.path();

    let out = pacer_in(
        root,
        &[
            "--json-report",
            "report.json",
            "--html-report",
            "report.html",
            "--junitxml",
            "junit.xml",
            "-n",
            "2",
        ],
        &[("PACER_DEBUG", "1")],
    );
    let all = text(&out);
    // One test passes (the API got the credentials and its own Host), one
    // fails showing what it saw: the run's exit code is pytest's.
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert_eq!(
        final_line(&stdout(&out)),
        tallies(&[(1, Tally::Failed), (1, Tally::Passed)]),
        "{all}"
    );
    assert!(
        stdout(&out).contains(&format!("api (http://***@{host}/v1) via http://127.0.0.1:")),
        "the statistics name the upstream, redacted: {all}"
    );
    assert!(!all.contains(SECRET), "{all}");

    let mut files = Vec::new();
    files_under(root, &mut files);
    for name in ["report.json", "report.html", "junit.xml"] {
        assert!(
            files.iter().any(|f| f.ends_with(name)),
            "{name} not written: {all}"
        );
    }
    for file in &files {
        let content = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
        assert!(
            !content.contains(SECRET),
            "{} holds the secret",
            file.display()
        );
    }

    // `pacer config`, as text and as JSON.
    for args in [&["config"][..], &["config", "--json"][..]] {
        let out = pacer_in(root, args, &[]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {all}");
        assert!(all.contains("***@"), "{args:?}: {all}");
        assert!(!all.contains(SECRET), "{args:?}: {all}");
    }

    // A refused URL is named in the error, redacted.
    let out = pacer_in(
        root,
        &["--upstream", &format!("api=ftp://alice:{SECRET}@{host}")],
        &[],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(stderr(&out).contains("ftp://***@"), "{}", text(&out));
    assert!(!text(&out).contains(SECRET), "{}", text(&out));

    // `pacer proxy` prints where it forwards to.
    let mut proxy = pacer_command(root, &["proxy"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(proxy.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert!(first.contains(&format!("http://***@{host}/v1")), "{first}");
    assert!(!first.contains(SECRET), "{first}");
    runtime.block_on(api.shutdown());
}
