//! One limit across pacers (issue 19): three `pacer` processes at once, each
//! running its part of the `ratelimited` suite (`--shard K/3`, one run id),
//! against one `pacer-mockapi` keeping a sliding-window quota, sharing one
//! real `redis-server` (started per test on a free loopback port; a missing
//! `/usr/bin/redis-server` fails the test, it does not skip).
//!
//! The proof is the mock's own admission log and refusal count, and each
//! shard's outcomes; nothing asserts a duration.

use crate::common;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::mockapi::{start as mock, Running};
use common::python;

const REDIS_SERVER: &str = "/usr/bin/redis-server";
/// Tests of the suite, shared out over three shards.
const TESTS: usize = 18;
const SHARDS: usize = 3;
/// The mock's quota: 10 requests in any second.
const QUOTA: usize = 10;
/// The rate each shard is told: 80% of the quota, the headroom a team
/// leaves for requests that reach the API later than booked (a CI machine
/// with every core busy wakes a request tens of milliseconds late; the
/// window's margin covers a few). Three shards alone send 24/s.
const RATE: usize = 8;

/// A `redis-server` of the test's own, killed when dropped.
struct Redis {
    child: Option<Child>,
    port: u16,
    /// How it listens (`--port`, or TLS only), given again on a restart.
    listen: Vec<String>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Redis {
    fn start() -> Self {
        Self::start_with(|port| vec!["--port".into(), port.to_string()])
    }

    /// A server listening as `listen(port)` says, on a free port.
    fn start_with(listen: impl FnOnce(u16) -> Vec<String>) -> Self {
        let port = free_port();
        let mut redis = Redis {
            child: None,
            port,
            listen: listen(port),
        };
        redis.restart();
        redis
    }

    fn restart(&mut self) {
        assert!(
            std::path::Path::new(REDIS_SERVER).exists(),
            "{REDIS_SERVER} is missing: install Debian's redis-server (apt-get install redis-server)"
        );
        let child = Command::new(REDIS_SERVER)
            .args(&self.listen)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn pacer_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pacer"))
}

/// Every test of the suite.
fn all_ids() -> Vec<String> {
    (0..TESTS)
        .map(|n| format!("tests/end_to_end/test_api.py::test_item[{n}]"))
        .collect()
}

/// The run id the shards share, naming the limiter's keys in Redis.
const RUN_ID: &str = "shared-limit-it";

/// Shard `k` (from 0) of three: `pacer --shard k+1/3` on the suite, each
/// told the whole rate (alone, each would be right), `flags` after.
fn shard(api: &str, k: usize, flags: &[&str]) -> Command {
    let mut cmd = Command::new(pacer_bin());
    cmd.arg("-C")
        .arg(common::suite("ratelimited"))
        .arg("--python")
        .arg(python())
        .args(["--upstream", &format!("api={api}")])
        .args(["--rate", &RATE.to_string(), "--burst", "1"])
        .args(["--min-delay", "0", "--max-concurrent", "10"])
        // A refusal fails its test, and is not rerun: what the API
        // refused shows in the outcomes.
        .args(["--no-fallback"])
        .arg(format!("--shard={}/{SHARDS}", k + 1))
        .arg(format!("--run-id={RUN_ID}"))
        .args(flags)
        .args(["--", "-p", "no:cacheprovider", "-rA"])
        .arg("tests/end_to_end/test_api.py")
        .env("RATELIMITED_TESTS", TESTS.to_string())
        .env_remove("PACER_UPSTREAM_API")
        .env_remove("PACER_LIMITER_BACKEND")
        .env_remove("PACER_LIMITER_FALLBACK")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs the three shards at once; `meanwhile` runs while they do.
fn three_shards(api: &str, flags: &[&str], meanwhile: impl FnOnce()) -> Vec<Output> {
    let children: Vec<Child> = (0..SHARDS)
        .map(|k| shard(api, k, flags).spawn().expect("pacer runs"))
        .collect();
    meanwhile();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Each test of the suite reported exactly once over the shards' `-rA`
/// summaries (no test in two parts, none in none), and how many passed.
#[track_caller]
fn passed_once_each(outputs: &[Output]) -> usize {
    let mut passed = 0;
    for id in all_ids() {
        let mut lines = Vec::new();
        for o in outputs {
            let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
            lines.extend(
                stdout
                    .lines()
                    .filter(|l| {
                        l.split_once(' ').is_some_and(|(_, rest)| {
                            rest == id || rest.starts_with(&format!("{id} - "))
                        })
                    })
                    .map(str::to_string),
            );
        }
        assert_eq!(
            lines.len(),
            1,
            "{id} reported {} times: {lines:?}",
            lines.len()
        );
        if lines[0].starts_with("PASSED ") {
            passed += 1;
        }
    }
    passed
}

fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.split_once("\r\n\r\n").unwrap().1.to_owned()
}

/// The mock's refusals and the most admissions any second of its log held.
fn mock_count(api: &Running) -> (u64, usize) {
    let stats: serde_json::Value =
        serde_json::from_str(&http_get(&format!("{}/__stats", api.url))).unwrap();
    let log: Vec<f64> =
        serde_json::from_str(&http_get(&format!("{}/__admissions", api.url))).unwrap();
    let mut most = 0;
    for (i, start) in log.iter().enumerate() {
        most = most.max(log[i..].iter().take_while(|t| **t < start + 1.0).count());
    }
    (stats["rejected"].as_u64().unwrap(), most)
}

fn window_api() -> Running {
    mock(&[
        "--limit",
        "sliding-window",
        "--rate",
        &QUOTA.to_string(),
        "--window",
        "1",
        "--latency",
        "0.02",
    ])
}

#[test]
fn three_shards_sharing_redis_keep_the_quota_and_pass() {
    let redis = Redis::start();
    let api = window_api();
    let flags = ["--limiter-backend", &redis.url(), "--max-retries", "0"];
    let outputs = three_shards(&api.url, &flags, || {});
    assert_eq!(passed_once_each(&outputs), TESTS);
    for (k, o) in outputs.iter().enumerate() {
        assert_eq!(o.status.code(), Some(0), "shard {k}:\n{}", text(o));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            stdout.contains(&format!("limit shared through {}", redis.url())),
            "{stdout}"
        );
    }
    let (refused, most) = mock_count(&api);
    assert_eq!(refused, 0, "the API refused some");
    assert!(
        most <= QUOTA,
        "{most} admissions in one second of the API's log"
    );
}

#[test]
fn three_shards_each_with_memory_overrun_the_quota() {
    // The control: the same shards, each keeping the limit alone.
    let api = window_api();
    let outputs = three_shards(&api.url, &["--max-retries", "0"], || {});
    let (refused, most) = mock_count(&api);
    assert!(refused > 0, "the API refused nothing");
    assert!(most <= QUOTA, "the mock's own window let {most} through");
    let failed = outputs
        .iter()
        .filter(|o| o.status.code() == Some(1))
        .count();
    assert!(failed > 0, "no shard failed");
    assert!(outputs.iter().any(|o| text(o).contains("HTTP Error 429")));
}

#[test]
fn redis_killed_mid_run_falls_back_then_reconnects_and_loses_no_test() {
    let mut redis = Redis::start();
    let api = window_api();
    let url = redis.url();
    // Retries on: while the store is gone each shard goes on alone, and
    // three of them can overrun the quota until it is back.
    let flags = ["--limiter-backend", &url, "--base-backoff", "0.05"];
    let outputs = three_shards(&api.url, &flags, || {
        // Mid-run: the run takes about TESTS x 3 calls / RATE = 6.8 s.
        std::thread::sleep(Duration::from_millis(1500));
        redis.kill();
        std::thread::sleep(Duration::from_millis(1500));
        redis.restart();
    });
    let mut fell_back = 0;
    for (k, o) in outputs.iter().enumerate() {
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "shard {k} did not finish its run:\n{}",
            text(o)
        );
        let out = text(o);
        if out.contains("fell back to memory at rate / 3 for") {
            assert!(out.contains("1 fallback, 1 reconnect"), "{out}");
            assert!(out.contains("then reconnected"), "{out}");
            fell_back += 1;
        }
    }
    assert!(fell_back > 0, "no shard fell back:\n{}", text(&outputs[0]));
    passed_once_each(&outputs);
}

#[test]
fn an_unreachable_backend_at_start_exits_4_naming_it_redacted() {
    let api = window_api();
    let port = free_port();
    let url = format!("redis://pacer:s3cret@127.0.0.1:{port}/0");
    let out = shard(&api.url, 0, &["--limiter-backend", &url])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert!(
        all.contains(&format!(
            "cannot reach the shared limiter at redis://***@127.0.0.1:{port}/0"
        )),
        "{all}"
    );
    assert!(!all.contains("s3cret"), "{all}");
    // With the memory fallback the shard runs alone, and says so.
    let out = shard(&api.url, 0, &[])
        .env("PACER_LIMITER_BACKEND", &url)
        .env("PACER_LIMITER_FALLBACK", "memory")
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("going on alone with a memory limiter at rate / 3"),
        "{all}"
    );
    assert!(!all.contains("s3cret"), "{all}");
}

/// A CA, and a certificate for 127.0.0.1 it signed, in `dir`: `ca.pem`,
/// `server.pem`, `server.key`.
fn tls_files(dir: &std::path::Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "pacer test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

/// `rediss://`: a Redis that speaks only TLS and wants a password. With its
/// CA trusted (`SSL_CERT_FILE`, which the system's roots are read from), a
/// shard shares the limit through it; with the CA not trusted, the
/// certificate is refused at start (exit 4), the password never printed.
#[test]
fn rediss_shares_the_limit_over_tls_and_refuses_an_untrusted_certificate() {
    let dir = tempfile::tempdir().unwrap();
    tls_files(dir.path());
    let file = |name: &str| dir.path().join(name).display().to_string();
    let redis = Redis::start_with(|port| {
        let mut listen = vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
        ];
        for (flag, name) in [
            ("--tls-cert-file", "server.pem"),
            ("--tls-key-file", "server.key"),
            ("--tls-ca-cert-file", "ca.pem"),
        ] {
            listen.extend([flag.to_string(), file(name)]);
        }
        listen.extend(["--tls-auth-clients", "no", "--requirepass", "s3cret"].map(String::from));
        listen
    });
    let port = redis.port;
    let api = window_api();
    let url = format!("rediss://:s3cret@127.0.0.1:{port}/0");

    let out = shard(&api.url, 0, &["--limiter-backend", &url])
        .env("SSL_CERT_FILE", file("ca.pem"))
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains(&format!(
            "limit shared through rediss://***@127.0.0.1:{port}/0"
        )),
        "{all}"
    );
    assert!(!all.contains("s3cret"), "{all}");

    // A certificate no trusted CA signed: refused, not used.
    let out = shard(&api.url, 0, &["--limiter-backend", &url])
        .env("SSL_CERT_FILE", file("server.pem"))
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert!(
        all.contains(&format!(
            "cannot reach the shared limiter at rediss://***@127.0.0.1:{port}/0"
        )) && all.contains("certificate"),
        "{all}"
    );
    assert!(!all.contains("s3cret"), "{all}");
}
