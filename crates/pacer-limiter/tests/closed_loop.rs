//! A suite that itself runs near the limit (issue 19), in virtual time: ten
//! workers, each doing its client's work and then one call through the
//! limiter, 100 ms of latency, the next call only after the answer. Such a
//! suite sends calls in bunches, and every wait the limiter adds is time
//! its worker does not spend on its next call. Paused tokio time and seeded
//! work times make the achieved rate the admission rule's alone.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pacer_limiter::{AimdConfig, Limiter, LimiterConfig, Quota, RateLimit, TokioClock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const WORKERS: usize = 10;
const LATENCY: Duration = Duration::from_millis(100);
/// The client's mean work per call: with 10 workers and 100 ms of latency
/// the suite reaches about 41 calls/s with nothing limiting it, the issue's
/// suite against its API's 40.
const WORK: Duration = Duration::from_millis(144);
const CALLS: usize = 400;
const LIMIT: f64 = 40.0;

/// The limiter pacer builds for `rate = limit` and every other key at its
/// shipped default.
fn shipped(limit: f64) -> LimiterConfig {
    let limits = RateLimit {
        rate: Quota::per_second(limit),
        ..RateLimit::default()
    };
    LimiterConfig {
        quota: limits.rate,
        rate_configured: true,
        burst: limits.burst,
        min_delay: limits.min_delay,
        max_concurrent: limits.max_concurrent as usize,
        adaptive: limits.adaptive,
        aimd: AimdConfig::default(),
    }
}

/// Runs the suite's calls; returns their starts, sorted.
async fn suite(cfg: &LimiterConfig, seed: u64) -> Vec<Duration> {
    let limiter = Arc::new(Limiter::new(cfg, TokioClock::new()));
    let left = Arc::new(Mutex::new(CALLS));
    let starts = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (limiter, left, starts) = (limiter.clone(), left.clone(), starts.clone());
        let mut rng = StdRng::seed_from_u64(seed * 1_000 + w as u64);
        workers.push(tokio::spawn(async move {
            loop {
                {
                    let mut left = left.lock().unwrap();
                    if *left == 0 {
                        break;
                    }
                    *left -= 1;
                }
                // Work times vary as on a machine whose cores the workers
                // share: exponentially, around the mean.
                let f = -(1.0 - rng.gen::<f64>()).ln();
                tokio::time::sleep(WORK.mul_f64(f)).await;
                let admission = limiter.admit().await;
                starts.lock().unwrap().push(admission.started_at);
                tokio::time::sleep(LATENCY).await;
                drop(admission);
                limiter.on_success();
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let mut starts = Arc::try_unwrap(starts).unwrap().into_inner().unwrap();
    starts.sort();
    starts
}

/// Starts per second from the first to the last, as the benchmark's mock
/// counts them.
fn achieved(starts: &[Duration]) -> f64 {
    (starts.len() - 1) as f64 / (starts[starts.len() - 1] - starts[0]).as_secs_f64()
}

/// The achieved rate over the reachable one, the median of five seeds.
async fn share_of_reachable(cfg: &LimiterConfig) -> f64 {
    let unlimited = LimiterConfig {
        quota: Quota::per_second(1e6),
        ..cfg.clone()
    };
    let mut shares = Vec::new();
    for seed in 0..5 {
        let starts = suite(cfg, seed).await;
        // What the API would see: never more than the quota in any second,
        // never more than the burst at once.
        for (i, s) in starts.iter().enumerate() {
            let within = starts[i..]
                .iter()
                .take_while(|t| **t < *s + Duration::from_secs(1))
                .count();
            assert!(
                within as f64 <= LIMIT,
                "{within} starts in the second from {s:?}"
            );
            let together = starts[i..].iter().take_while(|t| *t == s).count();
            assert!(
                together as u32 <= cfg.burst.max(1),
                "{together} at once at {s:?}"
            );
        }
        shares.push(achieved(&starts) / achieved(&suite(&unlimited, seed).await));
    }
    shares.sort_by(f64::total_cmp);
    shares[2]
}

/// Issue 19: with one request at a time (the old default burst), calls
/// that arrive together queue behind a strict 25 ms spacing while the
/// API's window has room, and the suite reaches under 90% of its own pace.
/// Shipped defaults reach over 92% (the quota is 97.5% of it).
#[tokio::test(start_paused = true)]
async fn regression_issue_19_bunched_calls_near_the_limit_use_the_window() {
    let defaults = shipped(LIMIT);
    let share = share_of_reachable(&defaults).await;
    assert!(
        share >= 0.92,
        "shipped defaults reach {:.1}% of the reachable rate",
        share * 100.0
    );

    let strict = LimiterConfig {
        burst: 1,
        ..defaults
    };
    let old = share_of_reachable(&strict).await;
    assert!(old < 0.90, "one at a time reached {:.1}%", old * 100.0);
}
