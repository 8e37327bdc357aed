//! The proxy's call log over real HTTP: each worker's own listener names
//! the worker of the calls it receives, all listeners share one limiter,
//! and the admissions series counts every attempt.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pacer_limiter::{start_proxy, Quota, RateLimit, UpstreamConfig};
use pacer_mockapi::MockConfig;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn get(url: &str) -> u16 {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let answer = client.get(url.parse().unwrap()).await.unwrap();
    let status = answer.status().as_u16();
    let _ = answer.into_body().collect().await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_workers_listener_names_its_calls_and_all_share_one_limit() {
    // The first request is refused once, so one call has a 429 retry.
    let api = pacer_mockapi::start(
        MockConfig {
            fail_first: 1,
            fail_first_wait: Duration::from_millis(20),
            ..MockConfig::default()
        },
        loopback(),
    )
    .await
    .unwrap();
    let proxy = start_proxy(
        UpstreamConfig {
            name: "mock".into(),
            url: api.url(),
            limits: RateLimit {
                rate: Quota::per_second(20.0),
                burst: 1,
                max_retries: 3,
                base_backoff: Duration::from_millis(10),
                ..RateLimit::default()
            },
            ..UpstreamConfig::default()
        },
        loopback(),
    )
    .await
    .unwrap();
    let listeners = proxy.listeners();
    // From another thread, as pacer's pool opens them.
    let (gw0, gw1) =
        std::thread::spawn(move || (listeners.url("gw0").unwrap(), listeners.url("gw1").unwrap()))
            .join()
            .unwrap();
    assert_ne!(gw0, gw1);
    assert_eq!(proxy.listeners().url("gw0").unwrap(), gw0, "opened once");

    let mut calls = Vec::new();
    for (base, n) in [(&gw0, 3), (&gw1, 3), (&proxy.url(), 2)] {
        for i in 0..n {
            let url = format!("{base}/item/{i}");
            calls.push(tokio::spawn(async move { get(&url).await }));
        }
    }
    for c in calls {
        assert_eq!(c.await.unwrap(), 200);
    }
    let log = proxy.call_log();
    let stats = proxy.shutdown().await;
    let snap = log.snapshot();
    let by = |w: Option<&str>| {
        snap.calls
            .iter()
            .filter(|c| c.worker.as_deref() == w)
            .count()
    };
    assert_eq!((by(Some("gw0")), by(Some("gw1")), by(None)), (3, 3, 2));
    // One limiter for all: eight calls at 20/s with a burst of 1 waited.
    let queued: f64 = snap.calls.iter().map(|c| c.queued).sum();
    assert!(
        (queued - stats.time_queued).abs() < 1e-6,
        "{queued} vs {stats:?}"
    );
    assert!(queued > 0.0, "{snap:?}");
    for c in &snap.calls {
        assert!(c.arrival <= c.done, "{c:?}");
        for (from, to) in &c.waits {
            assert!(from <= to && *from >= c.arrival - 1e-3, "{c:?}");
        }
    }
    let retried: usize = snap.calls.iter().map(|c| c.retries_429.len()).sum();
    assert_eq!((retried as u64, stats.retried), (1, 1));
    assert_eq!(snap.series.admitted.iter().sum::<u64>(), stats.admitted);
    assert_eq!(
        snap.series.admitted.iter().sum::<u64>(),
        9,
        "8 calls, 1 retry"
    );
    assert_eq!(snap.series.seen_429.iter().sum::<u64>(), 1);
    assert!(snap.series.limit.iter().flatten().all(|l| *l > 0.0));
}
