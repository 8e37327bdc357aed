//! Prints how the proxy converges on a mock API's limit: the benchmark's
//! shape (workers each making sequential calls) at a configured rate that
//! is right and one that is too high. Not a test: nothing is asserted.
//!
//! `cargo run --release -p pacer-limiter --example converge -- [LIMIT] [LATENCY_MS] [CALLS] [WORKERS] [BURST] [bucket|window|fixed]`

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pacer_limiter::{start_proxy, Quota, RateLimit, UpstreamConfig};
use pacer_mockapi::{Limit, MockConfig, RetryAfterFormat};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: f64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let limit = arg(0, 40.0);
    let latency = Duration::from_millis(arg(1, 100.0) as u64);
    let calls = arg(2, 200.0) as usize;
    let workers = arg(3, 10.0) as usize;
    let burst = arg(4, 1.0) as u32;
    let shape = args.get(5).map(String::as_str).unwrap_or("bucket");
    for factor in [1.0, 2.5] {
        let api = std::sync::Arc::new(
            pacer_mockapi::start(
                MockConfig {
                    limit: match shape {
                        "window" => Limit::SlidingWindow {
                            limit: limit as u32,
                            window: Duration::from_secs(1),
                        },
                        "fixed" => Limit::FixedWindow {
                            limit: limit as u32,
                            window: Duration::from_secs(1),
                        },
                        _ => Limit::TokenBucket { rate: limit, burst },
                    },
                    latency,
                    // As in the rate-limit bench: whole seconds for the fixed window.
                    retry_after: if shape == "fixed" {
                        RetryAfterFormat::Seconds
                    } else {
                        RetryAfterFormat::Fractional
                    },
                    ..MockConfig::default()
                },
                "127.0.0.1:0".parse().unwrap(),
            )
            .await
            .unwrap(),
        );
        let proxy = start_proxy(
            UpstreamConfig {
                name: "mock".into(),
                url: api.url(),
                limits: RateLimit {
                    rate: Quota::per_second(limit * factor),
                    min_delay: Duration::ZERO,
                    max_retries: 10,
                    base_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(5),
                    ..RateLimit::default()
                },
                ..UpstreamConfig::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let started = Instant::now();
        let proxy = std::sync::Arc::new(proxy);
        let tracer = std::env::var_os("CONVERGE_TRACE").map(|_| {
            let (proxy, api) = (proxy.clone(), api.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let (s, m) = (proxy.stats(), api.stats());
                    eprintln!(
                        "  t={:.1} rate={:.1} accepted={} refused={}",
                        started.elapsed().as_secs_f64(),
                        s.current_rate,
                        m.accepted,
                        m.rejected
                    );
                }
            })
        });
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..workers {
            let (client, url) = (client.clone(), proxy.url());
            let per_worker = calls / workers;
            tasks.spawn(async move {
                let mut failed = 0;
                for i in 0..per_worker {
                    let uri = format!("{url}/w{w}/c{i}").parse().unwrap();
                    let r = client.get(uri).await.unwrap();
                    if !r.status().is_success() {
                        failed += 1;
                    }
                    let _ = r.into_body().collect().await;
                }
                failed
            });
        }
        let mut failed = 0;
        while let Some(f) = tasks.join_next().await {
            failed += f.unwrap();
        }
        let wall = started.elapsed().as_secs_f64();
        let seen = api.stats();
        if let Some(t) = tracer {
            t.abort();
            let _ = t.await;
        }
        let stats = std::sync::Arc::into_inner(proxy).unwrap().shutdown().await;
        if std::env::var_os("CONVERGE_TRACE").is_some() {
            eprintln!("{stats:#?}");
        }
        println!(
            "configured {:.0}/s vs limit {limit}/s: wall {wall:.2}s, failed {failed}, achieved {:.1}/s ({:.0}% of limit), mock achieved {:.1}/s, retry rate {:.1}%, settled {:.1}/s, decreases {}",
            limit * factor,
            seen.accepted as f64 / wall,
            100.0 * seen.accepted as f64 / wall / limit,
            seen.achieved_rate,
            stats.retry_rate * 100.0,
            stats.current_rate,
            stats.rate_decreases,
        );
    }
}
