//! Admission for one upstream: the in-flight cap, then the rate.
//!
//! [`Limiter`] joins the pure parts ([`Gcra`], [`Aimd`]) with a tokio
//! semaphore for the in-flight cap. Its mutex guards plain arithmetic and
//! is never held across an `.await`: `reserve` computes a wait under the
//! lock, releases it, and only then does the caller sleep.
//!
//! Order inside [`Limiter::admit`]: the in-flight permit first, the rate
//! reservation second. Reserving first would let a thousand waiting
//! requests book slots far into the future at the *current* rate, so an
//! AIMD decrease would not reach them for a long while, and requests that
//! booked a slot but then waited for a permit would start bunched together.
//! Taking the permit first bounds the booked-ahead queue by the cap and
//! makes every start happen at its booked time.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::aimd::{Aimd, AimdConfig};
use crate::clock::{Clock, TokioClock};
use crate::gcra::Gcra;
use crate::stats::RateSnapshot;

/// What a [`Limiter`] enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct LimiterConfig {
    /// Requests per second.
    pub rate: f64,
    /// Requests that may start at once after an idle period.
    pub burst: u32,
    /// Minimum gap between request starts.
    pub min_delay: Duration,
    /// Requests in flight at once; 0 means no cap.
    pub max_concurrent: usize,
    /// Whether 429s lower the rate (AIMD).
    pub adaptive: bool,
    /// AIMD tuning, used when `adaptive`.
    pub aimd: AimdConfig,
}

#[derive(Debug)]
struct State {
    gcra: Gcra,
    aimd: Aimd,
}

/// The admission state of one upstream, shared by all its requests.
#[derive(Debug)]
pub struct Limiter<C: Clock = TokioClock> {
    clock: C,
    state: Mutex<State>,
    inflight: Arc<Semaphore>,
    adaptive: bool,
}

/// Permission to send one attempt upstream. Holding it holds an in-flight
/// slot; drop it when the response is finished.
#[derive(Debug)]
pub struct Admission {
    permit: OwnedSemaphorePermit,
    /// When the attempt was allowed to start (a [`Clock`] reading).
    pub started_at: Duration,
    /// How long admission took (waiting for a slot and for the rate).
    pub queued: Duration,
}

impl Admission {
    /// The in-flight slot, to be released together with the response body.
    pub fn into_permit(self) -> OwnedSemaphorePermit {
        self.permit
    }
}

impl<C: Clock> Limiter<C> {
    /// A limiter reading time from `clock`.
    pub fn new(cfg: &LimiterConfig, clock: C) -> Self {
        let permits = match cfg.max_concurrent {
            0 => Semaphore::MAX_PERMITS,
            n => n.min(Semaphore::MAX_PERMITS),
        };
        Self {
            clock,
            state: Mutex::new(State {
                gcra: Gcra::new(cfg.rate, cfg.burst, cfg.min_delay),
                aimd: Aimd::new(cfg.rate, cfg.aimd.clone()),
            }),
            inflight: Arc::new(Semaphore::new(permits)),
            adaptive: cfg.adaptive,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The guarded code is arithmetic that cannot leave the state half
        // updated, so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The clock's current reading.
    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Books the next start permitted by the rate and `min_delay`; returns
    /// how long to wait for it. Does not touch the in-flight cap.
    pub fn reserve(&self) -> Duration {
        let now = self.clock.now();
        self.state().gcra.reserve(now)
    }

    /// Waits for an in-flight slot, then for the booked start (see the
    /// module docs for why in that order). Cancel-safe: dropping the future
    /// gives the slot back; a booked start is simply left unused.
    pub async fn admit(&self) -> Admission {
        let arrived = self.clock.now();
        let permit = Arc::clone(&self.inflight)
            .acquire_owned()
            .await
            .expect("the in-flight semaphore is never closed");
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let started_at = self.clock.now();
        Admission {
            permit,
            started_at,
            queued: started_at.saturating_sub(arrived),
        }
    }

    /// Slots free under the in-flight cap.
    pub fn available_permits(&self) -> usize {
        self.inflight.available_permits()
    }

    /// The upstream refused (429) an attempt that started at `started_at`;
    /// lowers the rate when adaptive. Returns the new rate if it changed.
    pub fn on_throttled(&self, started_at: Duration) -> Option<f64> {
        if !self.adaptive {
            return None;
        }
        let now = self.clock.now();
        let mut state = self.state();
        let rate = state.aimd.on_throttled(now, started_at)?;
        state.gcra.set_rate(rate);
        Some(rate)
    }

    /// The upstream accepted an attempt; lets the rate climb back when
    /// adaptive. Returns the new rate if it changed.
    pub fn on_success(&self) -> Option<f64> {
        if !self.adaptive {
            return None;
        }
        let now = self.clock.now();
        let mut state = self.state();
        let rate = state.aimd.on_success(now)?;
        state.gcra.set_rate(rate);
        Some(rate)
    }

    /// The configured and current rate.
    pub fn rates(&self) -> RateSnapshot {
        let state = self.state();
        RateSnapshot {
            configured: state.aimd.configured(),
            current: state.aimd.rate(),
            decreases: state.aimd.decreases(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn cfg(rate: f64, burst: u32, max_concurrent: usize) -> LimiterConfig {
        LimiterConfig {
            rate,
            burst,
            min_delay: Duration::ZERO,
            max_concurrent,
            adaptive: true,
            aimd: AimdConfig::default(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn admit_paces_starts_at_the_rate() {
        let limiter = Arc::new(Limiter::new(&cfg(10.0, 1, 0), TokioClock::new()));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let l = Arc::clone(&limiter);
            tasks.push(tokio::spawn(async move { l.admit().await.started_at }));
        }
        let mut starts = Vec::new();
        for t in tasks {
            starts.push(t.await.unwrap());
        }
        starts.sort();
        for pair in starts.windows(2) {
            // Paused time: sleeps end exactly on time.
            assert!(pair[1] - pair[0] >= Duration::from_millis(99), "{starts:?}");
        }
        assert!(starts[19] - starts[0] >= Duration::from_millis(1899));
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_cap_holds_with_many_waiters() {
        let limiter = Arc::new(Limiter::new(&cfg(f64::INFINITY, 1, 3), TokioClock::new()));
        let current = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (l, c, p) = (
                Arc::clone(&limiter),
                Arc::clone(&current),
                Arc::clone(&peak),
            );
            tasks.push(tokio::spawn(async move {
                let admission = l.admit().await;
                let now = c.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
                c.fetch_sub(1, Ordering::SeqCst);
                drop(admission);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(limiter.available_permits(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_a_waiting_admission_returns_the_slot() {
        let limiter = Arc::new(Limiter::new(&cfg(1.0, 1, 1), TokioClock::new()));
        let first = limiter.admit().await;
        let waiting = tokio::time::timeout(Duration::from_millis(50), limiter.admit()).await;
        assert!(waiting.is_err());
        drop(first);
        assert_eq!(limiter.available_permits(), 1);
        // The next admission waits for the rate (1/s), not forever.
        let next = tokio::time::timeout(Duration::from_secs(3), limiter.admit()).await;
        assert!(next.is_ok());
    }

    /// Regression guard: the system pacer replaces held a lock across an
    /// `.await` and deadlocked with five concurrent calls.
    #[tokio::test(start_paused = true)]
    async fn regression_five_concurrent_calls_do_not_deadlock() {
        let limiter = Arc::new(Limiter::new(&cfg(5.0, 1, 2), TokioClock::new()));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let l = Arc::clone(&limiter);
            tasks.push(tokio::spawn(async move {
                for _ in 0..4 {
                    let admission = l.admit().await;
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    if i % 2 == 0 {
                        l.on_throttled(admission.started_at);
                    } else {
                        l.on_success();
                    }
                }
            }));
        }
        let all = async {
            for t in tasks {
                t.await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(3600), all)
            .await
            .expect("five concurrent callers deadlocked");
        assert_eq!(limiter.available_permits(), 2);
    }

    #[test]
    fn throttling_lowers_the_gcra_rate() {
        let clock = Arc::new(ManualClock::new());
        let limiter = Limiter::new(&cfg(10.0, 1, 0), Arc::clone(&clock));
        clock.set(Duration::from_secs(10));
        assert_eq!(limiter.reserve(), Duration::ZERO);
        let started = limiter.now();
        assert_eq!(limiter.on_throttled(started), Some(7.0));
        // The next slot is one old interval away; the one after uses 1/7 s.
        assert_eq!(limiter.reserve(), Duration::from_millis(100));
        let wait = limiter.reserve();
        assert!(
            wait > Duration::from_millis(242) && wait < Duration::from_millis(244),
            "{wait:?}"
        );
        let rates = limiter.rates();
        assert_eq!((rates.configured, rates.decreases), (10.0, 1));
    }

    #[test]
    fn not_adaptive_means_the_rate_is_fixed() {
        let clock = Arc::new(ManualClock::new());
        let mut c = cfg(10.0, 1, 0);
        c.adaptive = false;
        let limiter = Limiter::new(&c, Arc::clone(&clock));
        clock.set(Duration::from_secs(1));
        assert_eq!(limiter.on_throttled(Duration::from_secs(1)), None);
        assert_eq!(limiter.rates().current, 10.0);
    }
}
