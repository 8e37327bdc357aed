//! The shared limiter's rules (`src/shared/limit.lua`) against a real
//! `redis-server`, through real proxies (each one stands for a pacer) and
//! the real mock API over HTTP. Each test starts its own `redis-server` on
//! a free loopback port and kills it at the end; a missing
//! `/usr/bin/redis-server` fails the test (CI installs it).
//!
//! The proof is the mock's own count (refusals, the admission log, the most
//! requests in flight), never a duration.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pacer_limiter::{
    start_proxy, Backend, BackendFallback, ProxyError, ProxyHandle, Quota, QuotaOrigin, RateLimit,
    UpstreamConfig,
};
use pacer_mockapi::{Advertise, Limit, MockConfig, MockServer};

const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A `redis-server` of the test's own, killed when dropped.
struct Redis {
    child: Option<Child>,
    port: u16,
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
        let mut redis = Redis {
            child: None,
            port: free_port(),
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
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
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

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn mock(cfg: MockConfig) -> MockServer {
    pacer_mockapi::start(cfg, loopback()).await.unwrap()
}

fn config(api: &str, backend: &str, rate: Quota) -> UpstreamConfig {
    UpstreamConfig {
        name: "api".into(),
        url: api.into(),
        limits: RateLimit {
            rate,
            burst: 1,
            max_concurrent: 20,
            max_retries: 0,
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(2),
            backend: Backend::parse(backend).unwrap(),
            ..RateLimit::default()
        },
        ..UpstreamConfig::default()
    }
}

type TestClient = Client<HttpConnector, Full<Bytes>>;

async fn get(client: &TestClient, url: String) -> StatusCode {
    let req = Request::get(url).body(Full::new(Bytes::new())).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(60), client.request(req))
        .await
        .expect("an answer within a minute")
        .expect("the proxy answers");
    let status = response.status();
    let _ = response.into_body().collect().await;
    status
}

/// `n` requests through each proxy, all at once; the statuses.
async fn burst(proxies: &[&ProxyHandle], n: usize) -> Vec<StatusCode> {
    let client: TestClient = Client::builder(TokioExecutor::new()).build_http();
    let mut tasks = tokio::task::JoinSet::new();
    for proxy in proxies {
        for i in 0..n {
            let (client, url) = (client.clone(), format!("{}/item/{i}", proxy.url()));
            tasks.spawn(async move { get(&client, url).await });
        }
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap());
    }
    statuses
}

/// The most admissions any `window` of the mock's log holds.
fn most_in_any_window(admissions: &[f64], window: f64) -> usize {
    let mut most = 0;
    for (i, start) in admissions.iter().enumerate() {
        let n = admissions[i..]
            .iter()
            .take_while(|t| **t < start + window)
            .count();
        most = most.max(n);
    }
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_pacers_sharing_redis_never_put_more_than_the_quota_in_any_window() {
    let redis = Redis::start();
    // A whole second: the store's margin (4% of the window) is then 40 ms,
    // more than a loaded machine delays a request between its start and
    // the API (20 ms at half a second drew a 429 once, at load 6).
    let window = Duration::from_secs(1);
    let api = mock(MockConfig {
        limit: Limit::SlidingWindow { limit: 10, window },
        ..MockConfig::default()
    })
    .await;
    // Each pacer is told the whole quota: alone, each would be right.
    let quota = Quota {
        amount: 10.0,
        window,
    };
    let mut proxies = Vec::new();
    for _ in 0..3 {
        proxies.push(
            start_proxy(config(&api.url(), &redis.url(), quota), loopback())
                .await
                .unwrap(),
        );
    }
    let statuses = burst(&proxies.iter().collect::<Vec<_>>(), 15).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(api.stats().rejected, 0, "{:?}", api.stats());
    let most = most_in_any_window(&api.admissions(), window.as_secs_f64());
    assert!(most <= 10, "{most} admissions in one window");
    for proxy in proxies {
        let stats = proxy.shutdown().await;
        let backend = stats.backend.expect("a shared backend's statistics");
        assert_eq!(
            (backend.shared_admissions, backend.fallback_admissions),
            (15, 0)
        );
        assert!(backend.outages.is_empty(), "{backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_pacers_with_memory_overrun_the_same_quota() {
    // The control: the same three pacers, each keeping the quota alone.
    let window = Duration::from_millis(500);
    let api = mock(MockConfig {
        limit: Limit::SlidingWindow { limit: 10, window },
        ..MockConfig::default()
    })
    .await;
    let quota = Quota {
        amount: 10.0,
        window,
    };
    let mut proxies = Vec::new();
    for _ in 0..3 {
        proxies.push(
            start_proxy(config(&api.url(), "memory", quota), loopback())
                .await
                .unwrap(),
        );
    }
    let statuses = burst(&proxies.iter().collect::<Vec<_>>(), 15).await;
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(api.stats().rejected > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_flight_cap_holds_across_pacers() {
    let redis = Redis::start();
    let api = mock(MockConfig {
        limit: Limit::None,
        latency: Duration::from_millis(50),
        max_concurrent: Some(3),
        ..MockConfig::default()
    })
    .await;
    let mut proxies = Vec::new();
    for _ in 0..2 {
        let mut cfg = config(&api.url(), &redis.url(), Quota::per_second(1000.0));
        cfg.limits.burst = 100;
        cfg.limits.max_concurrent = 3;
        proxies.push(start_proxy(cfg, loopback()).await.unwrap());
    }
    let statuses = burst(&proxies.iter().collect::<Vec<_>>(), 12).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let stats = api.stats();
    assert_eq!((stats.rejected, stats.max_concurrent), (0, 3), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_seen_by_one_pacer_pauses_and_slows_the_other() {
    let redis = Redis::start();
    // The first request is refused with Retry-After: 1 (whole seconds).
    let api = mock(MockConfig {
        limit: Limit::None,
        fail_first: 1,
        fail_first_wait: Duration::from_secs(1),
        ..MockConfig::default()
    })
    .await;
    let mut first = config(&api.url(), &redis.url(), Quota::per_second(50.0));
    first.limits.max_retries = 1;
    first.limits.base_backoff = Duration::from_secs(1);
    let a = start_proxy(first, loopback()).await.unwrap();
    let b = start_proxy(
        config(&api.url(), &redis.url(), Quota::per_second(50.0)),
        loopback(),
    )
    .await
    .unwrap();
    let client: TestClient = Client::builder(TokioExecutor::new()).build_http();
    let refused = tokio::spawn({
        let (client, url) = (client.clone(), format!("{}/x", a.url()));
        async move { get(&client, url).await }
    });
    // Once A has been refused, B's request waits for the shared pause.
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.stats().rejected == 0 {
        assert!(
            Instant::now() < deadline,
            "A's request never reached the API"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let asked = Instant::now();
    assert_eq!(get(&client, format!("{}/y", b.url())).await, StatusCode::OK);
    // The pause (about a second) held B, which never saw the 429 itself.
    assert!(
        asked.elapsed() >= Duration::from_millis(500),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(refused.await.unwrap(), StatusCode::OK);
    let stats = b.shutdown().await;
    assert!(
        stats.current_rate < 50.0,
        "B's rate: {}",
        stats.current_rate
    );
    assert_eq!(stats.seen_429, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_at_start_is_an_error_naming_it_without_its_password() {
    let port = free_port();
    let url = format!("redis://pacer:s3cret@127.0.0.1:{port}/0");
    let cfg = config("http://127.0.0.1:9", &url, Quota::per_second(10.0));
    let err = start_proxy(cfg.clone(), loopback()).await.unwrap_err();
    assert!(matches!(err, ProxyError::Backend { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("redis://***@127.0.0.1:{port}/0")),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
    // With the memory fallback the proxy starts alone, and says so.
    let mut alone = cfg;
    alone.limits.fallback = BackendFallback::Memory;
    let proxy = start_proxy(alone, loopback()).await.unwrap();
    let backend = proxy.stats().backend.unwrap();
    assert_eq!(backend.outages.len(), 1, "{backend:?}");
    assert!(backend.outages[0].reason.contains("unreachable at start"));
    assert!(!format!("{backend:?}").contains("s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_lost_mid_run_falls_back_and_comes_back() {
    let mut redis = Redis::start();
    let api = mock(MockConfig::default()).await;
    let mut cfg = config(&api.url(), &redis.url(), Quota::per_second(200.0));
    cfg.shards = 2;
    let proxy = start_proxy(cfg, loopback()).await.unwrap();
    let before = burst(&[&proxy], 5).await;
    redis.kill();
    let during = burst(&[&proxy], 5).await;
    redis.restart();
    // The store is tried every half second; then admission goes back to it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.stats().backend.unwrap().reconnects == 0 {
        assert!(Instant::now() < deadline, "never reconnected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = burst(&[&proxy], 5).await;
    for statuses in [&before, &during, &after] {
        assert!(
            statuses.iter().all(|s| *s == StatusCode::OK),
            "{statuses:?}"
        );
    }
    let line = proxy.stats().summary_line();
    assert!(
        line.ends_with(&format!(
            "shared through {} (1 fallbacks to memory, 1 reconnects)",
            redis.url()
        )),
        "{line}"
    );
    let backend = proxy.shutdown().await.backend.unwrap();
    assert_eq!(backend.outages.len(), 1, "{backend:?}");
    assert!(backend.outages[0].seconds.is_some(), "{backend:?}");
    assert_eq!(backend.reconnects, 1);
    assert_eq!(backend.fallback_admissions, 5, "{backend:?}");
    assert_eq!(backend.shared_admissions, 10, "{backend:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_pacers_lease_expires() {
    // A pacer that died holding the only in-flight slot left its lease, due
    // to expire 1.5 s from now on the store's clock: the next pacer waits
    // for that, not for ever.
    let redis = Redis::start();
    let api = mock(MockConfig::default()).await;
    let key = format!("pacer:{{{}}}:api:leases", api.url());
    let planted = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "EVAL"])
        .arg("local t = redis.call('TIME'); return redis.call('ZADD', KEYS[1], t[1] * 1000000 + t[2] + 1500000, 'dead')")
        .args(["1", &key])
        .output()
        .expect("redis-cli runs");
    assert_eq!(
        String::from_utf8_lossy(&planted.stdout).trim(),
        "1",
        "{planted:?}"
    );
    let mut cfg = config(&api.url(), &redis.url(), Quota::per_second(100.0));
    cfg.limits.max_concurrent = 1;
    let survivor = start_proxy(cfg, loopback()).await.unwrap();
    let statuses = burst(&[&survivor], 1).await;
    assert_eq!(statuses, [StatusCode::OK]);
    let held = survivor.shutdown().await.held_back;
    let in_flight = held
        .iter()
        .find(|(c, _)| *c == pacer_limiter::Constraint::InFlight)
        .unwrap()
        .1;
    assert!(
        in_flight > 1.0,
        "the survivor did not wait for the lease: {held:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_one_pacer_reads_in_the_headers_paces_the_others() {
    // A advertises 20/s (RateLimit-Policy) to pacer A, configured at 100/s;
    // pacer B calls a mock that says nothing, in the same namespace: it is
    // paced to what A learned.
    let redis = Redis::start();
    let loud = mock(MockConfig {
        limit: Limit::TokenBucket {
            rate: 20.0,
            burst: 5,
        },
        advertise: Advertise::Ietf,
        ..MockConfig::default()
    })
    .await;
    let quiet = mock(MockConfig::default()).await;
    let a = start_proxy(
        config(&loud.url(), &redis.url(), Quota::per_second(100.0)),
        loopback(),
    )
    .await
    .unwrap();
    let mut b_cfg = config(&quiet.url(), &redis.url(), Quota::per_second(100.0));
    b_cfg.namespace = loud.url();
    let b = start_proxy(b_cfg, loopback()).await.unwrap();
    assert_eq!(burst(&[&a], 1).await, [StatusCode::OK]);
    let before = b.stats().current_rate;
    assert_eq!(burst(&[&b], 2).await, [StatusCode::OK; 2]);
    let stats = b.shutdown().await;
    assert_eq!(before, 100.0);
    assert_eq!((stats.current_rate, stats.quota.as_str()), (20.0, "20/s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_one_pacer_learns_from_refusals_paces_the_others() {
    // The API keeps 10 in any second and says nothing of it; A is set 4x
    // too high and meets its refusals. What A's window held when they began
    // is the quota, in the store: B, which never saw a 429, goes at it.
    let redis = Redis::start();
    let api = mock(MockConfig {
        limit: Limit::SlidingWindow {
            limit: 10,
            window: Duration::from_secs(1),
        },
        ..MockConfig::default()
    })
    .await;
    let a = start_proxy(
        config(&api.url(), &redis.url(), Quota::per_second(40.0)),
        loopback(),
    )
    .await
    .unwrap();
    let b = start_proxy(
        config(&api.url(), &redis.url(), Quota::per_second(40.0)),
        loopback(),
    )
    .await
    .unwrap();
    let statuses = burst(&[&a], 20).await;
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "A at 40/s against 10/s was never refused: {statuses:?}"
    );
    // B's next 12 requests: none refused, and never more than 10 in any
    // second of the API's log, B's own included.
    let accepted_before = api.stats().accepted;
    assert_eq!(burst(&[&b], 12).await, [StatusCode::OK; 12]);
    let stats = b.shutdown().await;
    assert_eq!(
        (stats.quota.as_str(), stats.quota_origin, stats.seen_429),
        ("10/s", QuotaOrigin::LearnedFromRefusals, 0),
        "B: {stats:?}"
    );
    assert!(
        stats.current_rate <= 10.0,
        "B's rate: {}",
        stats.current_rate
    );
    assert_eq!(api.stats().accepted, accepted_before + 12);
    let log = api.admissions();
    assert!(most_in_any_window(&log, 1.0) <= 10, "{log:?}");
    // The refusals of A's requests booked before the quota was learned did
    // not lower it again: one decrease, to the quota.
    let a = a.shutdown().await;
    assert_eq!((a.current_rate, a.rate_decreases), (10.0, 1), "A: {a:?}");
}
