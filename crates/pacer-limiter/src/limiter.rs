//! Admission for one upstream: the in-flight cap, then the booked start.
//!
//! [`Limiter`] joins the pure parts ([`Gcra`], [`WindowLog`], [`Aimd`]) with
//! a tokio semaphore for the in-flight cap. Its mutex guards plain
//! arithmetic and is never held across an `.await`: `reserve` computes a
//! wait under the lock, releases it, and only then does the caller sleep.
//!
//! Order inside [`Limiter::admit`]: the in-flight permit first, the start
//! reservation second. Reserving first would let a thousand waiting
//! requests book slots far into the future at the *current* rate, so an
//! AIMD decrease would not reach them for a long while, and requests that
//! booked a slot but then waited for a permit would start bunched together.
//! Taking the permit first bounds the booked-ahead queue by the cap and
//! makes every start happen at its booked time.
//!
//! A start is the latest of what each constraint allows, and the one that
//! allowed it last is charged the wait (the statistics' "held back by"):
//!
//! - the **rate** (GCRA: rate and burst, so at most `burst` go at once;
//!   the burst is never more than the quota's amount per window, see
//!   [`burst_within`]);
//! - the **quota window** ([`WindowLog`]: never more than N in any W);
//! - **`min_delay`**, when set;
//! - the **upstream's pause**: a `Retry-After`, or an advertised quota with
//!   nothing remaining, stops every request until then. A request booked
//!   before a pause began and waking inside it books again.
//!
//! Starts are booked in order (never before the previous booking), which
//! keeps the window log sorted. When the API's headers change the quota,
//! the bookings not yet started are dropped and their requests woken to
//! book again: up to `max_concurrent` requests may have booked slots
//! seconds ahead at the old rate, which would otherwise keep it that long.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::advertised::Advertised;
use crate::aimd::{Aimd, AimdConfig};
use crate::clock::{Clock, TokioClock};
use crate::gcra::Gcra;
use crate::quota::Quota;
use crate::window::WindowLog;

/// What a [`Limiter`] enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct LimiterConfig {
    /// The quota (its rate is the GCRA's).
    pub quota: Quota,
    /// Whether the quota was configured rather than left at its default;
    /// see [`crate::UpstreamConfig::rate_configured`].
    pub rate_configured: bool,
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

/// What held a request back from starting at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// The rate (GCRA spacing and burst).
    Rate,
    /// The quota's window (N per W).
    Window,
    /// `min_delay`.
    MinDelay,
    /// A pause the upstream asked for (`Retry-After`, nothing remaining).
    Pause,
    /// The cap on requests in flight (`max_concurrent`).
    InFlight,
}

impl Constraint {
    /// Every constraint, in the order the statistics list them.
    pub const ALL: [Constraint; 5] = [
        Constraint::Rate,
        Constraint::Window,
        Constraint::MinDelay,
        Constraint::Pause,
        Constraint::InFlight,
    ];

    /// How the statistics name it.
    pub fn describe(self) -> &'static str {
        match self {
            Constraint::Rate => "the rate",
            Constraint::Window => "the quota window",
            Constraint::MinDelay => "min_delay",
            Constraint::Pause => "the upstream's pauses (Retry-After, nothing remaining)",
            Constraint::InFlight => "the in-flight cap (max_concurrent)",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Where the quota in force came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaOrigin {
    /// Configured (a flag, the environment, a file).
    Configured,
    /// The built-in default; nothing configured, nothing advertised yet.
    Default,
    /// Advertised by the API, nothing being configured.
    Advertised,
    /// Advertised by the API, lower than the configured one.
    LoweredByApi,
    /// Learned from the API's refusals: the starts a window held when the
    /// API began refusing.
    LearnedFromRefusals,
}

/// The limiter's view of the rate ([`Limiter::rates`]), which the
/// statistics fold into their snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct RateSnapshot {
    /// The rate the user configured, requests per second.
    pub configured: f64,
    /// The rate AIMD settled on (equal to `configured` when not adaptive).
    pub current: f64,
    /// How many times AIMD lowered the rate.
    pub decreases: u64,
    /// The quota in force: the configured one, or the API's.
    pub quota: Quota,
    /// Where `quota` came from.
    pub origin: QuotaOrigin,
    /// Starts per second, from the first start to the last.
    pub achieved: f64,
    /// The constraint that held requests back longest, if any did.
    pub binding: Option<Constraint>,
    /// Seconds of waiting charged to each constraint.
    pub held: Vec<(Constraint, f64)>,
    /// How many times the upstream paused admission.
    pub pauses: u64,
}

impl Default for RateSnapshot {
    fn default() -> Self {
        Self {
            configured: 0.0,
            current: 0.0,
            decreases: 0,
            quota: Quota::per_second(0.0),
            origin: QuotaOrigin::Configured,
            achieved: 0.0,
            binding: None,
            held: Vec::new(),
            pauses: 0,
        }
    }
}

/// The burst the GCRA uses under `quota`: the configured one, but never
/// more than the quota lets start in one window (and at least 1). Above
/// the quota's amount a burst could only be spent where the window log
/// allows it anyway, except for a quota under one request per window
/// (`rate = 0.5`), whose window the log does not bound: there any burst
/// above 1 would start more than the quota in its first window. With the
/// default burst of 3 (issue 19), `rate = 2` goes two at once, `rate = 0.5`
/// one at a time.
pub fn burst_within(burst: u32, quota: &Quota) -> u32 {
    let per_window = quota
        .limit()
        .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX));
    burst.clamp(1, per_window.max(1))
}

#[derive(Debug)]
struct State {
    gcra: Gcra,
    /// The configured burst, before [`burst_within`] narrows it to the
    /// quota in force.
    burst: u32,
    window: WindowLog,
    aimd: Aimd,
    /// The quota in force (configured, or advertised).
    quota: Quota,
    configured: Quota,
    origin: QuotaOrigin,
    paused_until: Duration,
    pauses: u64,
    last_booked: Duration,
    /// The longest reset an API advertised, to size an unnamed window.
    longest_reset: Duration,
    held: [Duration; 5],
    /// Starts of refused attempts, to leave them out of what a window held.
    refused: std::collections::VecDeque<Duration>,
    first_start: Option<Duration>,
    last_start: Option<Duration>,
    starts: u64,
}

impl State {
    /// The GCRA takes the adaptive rate; the window keeps the quota.
    fn apply_rate(&mut self) {
        let rate = self.aimd.rate();
        self.gcra.set_rate(rate);
        // The window holds the quota itself, not the adaptive rate: starts
        // made at a higher rate before a decrease would otherwise fill a
        // window scaled down to the new rate and stop every request until
        // they leave it (a 0.6 s stall after the first 429s against a
        // token bucket). The lowered rate paces through the GCRA alone.
        self.window
            .set(self.quota.limit().unwrap_or(0), self.quota.window);
    }

    fn adopt(&mut self, quota: Quota, origin: QuotaOrigin, now: Duration) {
        self.quota = quota;
        self.origin = origin;
        self.gcra.set_burst(burst_within(self.burst, &quota));
        self.aimd.set_configured(quota.rate());
        self.apply_rate();
        self.gcra.rebase(now);
        self.window.forget_after(now);
        self.last_booked = self.last_booked.min(now);
    }

    fn pause_until(&mut self, until: Duration) -> bool {
        if until > self.paused_until {
            self.paused_until = until;
            self.pauses += 1;
            true
        } else {
            false
        }
    }
}

/// The admission state of one upstream, shared by all its requests.
#[derive(Debug)]
pub struct Limiter<C: Clock = TokioClock> {
    clock: C,
    state: Mutex<State>,
    inflight: Arc<Semaphore>,
    adaptive: bool,
    /// Wakes requests waiting for a booked start to book again.
    rebooked: Notify,
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

/// Windows an advertised quota without one is assumed to count over: the
/// shortest that holds the longest reset seen.
const NICE_WINDOWS: [u64; 4] = [1, 60, 3600, 86400];

impl<C: Clock> Limiter<C> {
    /// A limiter reading time from `clock`.
    pub fn new(cfg: &LimiterConfig, clock: C) -> Self {
        let permits = match cfg.max_concurrent {
            0 => Semaphore::MAX_PERMITS,
            n => n.min(Semaphore::MAX_PERMITS),
        };
        let rate = cfg.quota.rate();
        Self {
            clock,
            state: Mutex::new(State {
                gcra: Gcra::new(rate, burst_within(cfg.burst, &cfg.quota), cfg.min_delay),
                burst: cfg.burst,
                window: WindowLog::new(cfg.quota.limit().unwrap_or(0), cfg.quota.window),
                aimd: Aimd::new(rate, cfg.aimd.clone()),
                quota: cfg.quota,
                configured: cfg.quota,
                origin: if cfg.rate_configured {
                    QuotaOrigin::Configured
                } else {
                    QuotaOrigin::Default
                },
                paused_until: Duration::ZERO,
                pauses: 0,
                last_booked: Duration::ZERO,
                longest_reset: Duration::ZERO,
                held: [Duration::ZERO; 5],
                refused: std::collections::VecDeque::new(),
                first_start: None,
                last_start: None,
                starts: 0,
            }),
            inflight: Arc::new(Semaphore::new(permits)),
            adaptive: cfg.adaptive,
            rebooked: Notify::new(),
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

    /// Books the next start every constraint permits; returns how long to
    /// wait for it. Does not touch the in-flight cap.
    pub fn reserve(&self) -> Duration {
        self.book().1
    }

    /// Books the next start; returns it and how long to wait for it.
    fn book(&self) -> (Duration, Duration) {
        let now = self.clock.now();
        let mut s = self.state();
        let (by_rate, by_gap) = s.gcra.earliest();
        // On a tie the later entry is charged: the window only when it
        // alone holds a start back, the rate before it, a pause before all.
        let candidates = [
            (s.window.earliest(), Constraint::Window),
            (by_rate.max(s.last_booked), Constraint::Rate),
            (by_gap, Constraint::MinDelay),
            (s.paused_until, Constraint::Pause),
        ];
        let (latest, binding) = candidates
            .into_iter()
            .max_by_key(|(at, _)| *at)
            .expect("four candidates");
        let start = now.max(latest);
        if start > now {
            s.held[binding.index()] += start - now;
        }
        s.gcra.book(start);
        s.window.book(start, now);
        s.last_booked = start;
        (start, start - now)
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
        let slot = self.clock.now().saturating_sub(arrived);
        if !slot.is_zero() {
            self.state().held[Constraint::InFlight.index()] += slot;
        }
        let mut booked;
        loop {
            // Listen before booking, so a quota change between the two is
            // not missed.
            let rebooked = self.rebooked.notified();
            tokio::pin!(rebooked);
            rebooked.as_mut().enable();
            let wait;
            (booked, wait) = self.book();
            if !wait.is_zero() {
                tokio::select! {
                    // A quota change first: it forgot this booking with
                    // every other one ahead of it (a booking whose time had
                    // come stays counted). Cancelling it here removed
                    // another request's new booking for the same instant,
                    // which then started uncounted (issue 17).
                    biased;
                    _ = &mut rebooked => continue,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            // A pause that began while this request slept holds it too; its
            // booking never happened, so the window does not count it.
            let mut s = self.state();
            if s.paused_until <= self.clock.now() {
                break;
            }
            s.window.cancel(booked);
        }
        let started_at = self.clock.now();
        {
            let mut s = self.state();
            s.window.started(booked, started_at);
            s.first_start.get_or_insert(started_at);
            s.last_start = Some(started_at);
            s.starts += 1;
        }
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

    /// Stops every admission for `wait` from now (a `Retry-After`). Pauses
    /// overlap, they never add up: requests already in flight that come
    /// back refused with the same hint do not extend it. Returns whether
    /// the pause was extended.
    pub fn pause_for(&self, wait: Duration) -> bool {
        let until = self.clock.now().saturating_add(wait);
        self.state().pause_until(until)
    }

    /// A refusal's wait, for every request: [`Limiter::pause_for`] unless
    /// the wait is within two intervals of the rate in force, which the
    /// rate's own spacing already keeps (a token bucket asking for one
    /// token); halting every request for it would only bunch them after.
    /// Returns whether admission now holds every request at least that long
    /// (otherwise the refused request waits on its own).
    pub fn pause_for_all(&self, wait: Duration) -> bool {
        let interval = crate::gcra::interval_for(self.state().aimd.rate());
        if wait <= interval.saturating_mul(2) {
            return false;
        }
        self.pause_for(wait);
        true
    }

    /// What a response advertised: a lower (or, when no rate is configured,
    /// any) quota replaces the one in force; nothing remaining pauses every
    /// request until the reset, unless the window log already knows the
    /// window is full (it then holds the next start back exactly, where a
    /// reset in whole seconds would hold every booked request up to a
    /// second too long). `started_at` is when the answered request started.
    /// Returns the quota adopted, if it changed.
    pub fn learn(&self, adv: &Advertised, started_at: Duration) -> Option<Quota> {
        let now = self.clock.now();
        let mut s = self.state();
        if let Some(reset) = adv.reset {
            s.longest_reset = s.longest_reset.max(reset);
            let window = s.quota.window;
            let limit = s.window.limit();
            let known_full = limit > 0
                && s.window.count_between(
                    started_at.saturating_sub(window),
                    started_at + Duration::from_nanos(1),
                ) >= limit;
            if adv.remaining == Some(0) && !known_full {
                // Whole seconds are rounded up (the draft's `t` is an
                // integer), so the true reset lies within the last second of
                // it; the window log, which saw every start, says where.
                let until = if reset.subsec_nanos() == 0 && !reset.is_zero() {
                    let lower = now.saturating_add(reset - Duration::from_secs(1));
                    lower
                        .max(s.window.earliest())
                        .min(now.saturating_add(reset))
                } else {
                    now.saturating_add(reset)
                };
                s.pause_until(until);
            }
        }
        let (amount, window) = adv.quota?;
        let window = window.unwrap_or_else(|| {
            let longest = s.longest_reset.as_secs_f64().ceil() as u64;
            let secs = NICE_WINDOWS
                .into_iter()
                .find(|w| *w >= longest)
                .unwrap_or(longest);
            Duration::from_secs(secs)
        });
        let advertised = Quota { amount, window };
        if advertised.validate().is_err() || advertised == s.quota {
            return None;
        }
        match s.origin {
            QuotaOrigin::Default | QuotaOrigin::Advertised => {
                s.adopt(advertised, QuotaOrigin::Advertised, now);
            }
            QuotaOrigin::Configured
            | QuotaOrigin::LoweredByApi
            | QuotaOrigin::LearnedFromRefusals => {
                // Never more permissive than the API, nor than the user.
                if advertised.rate() >= s.configured.rate().min(s.quota.rate()) * 0.999_999 {
                    return None;
                }
                s.adopt(advertised, QuotaOrigin::LoweredByApi, now);
            }
        }
        drop(s);
        self.rebooked.notify_waiters();
        Some(advertised)
    }

    /// The upstream refused (429) an attempt that started at `started_at`;
    /// lowers the rate when adaptive. Returns the new rate if it changed.
    pub fn on_throttled(&self, started_at: Duration) -> Option<f64> {
        self.on_refused(started_at, None)
    }

    /// [`Limiter::on_throttled`] with the refusal's `Retry-After`, which
    /// may also teach the quota (see `learn_from_refusal`).
    pub fn on_refused(&self, started_at: Duration, retry_after: Option<Duration>) -> Option<f64> {
        if !self.adaptive {
            return None;
        }
        let now = self.clock.now();
        let mut state = self.state();
        let learned = Self::learn_from_refusal(&mut state, started_at, retry_after, now);
        let rate = if learned {
            // The learned quota is this refusal's answer; the refusals of
            // requests already sent must not lower it again.
            state.aimd.note_decrease(now);
            Some(state.aimd.rate())
        } else {
            state.aimd.on_throttled(now, started_at)
        };
        state.apply_rate();
        drop(state);
        if learned {
            self.rebooked.notify_waiters();
        }
        rate
    }

    /// A window-keeping API refuses once its window is full: the starts of
    /// the last window before the refused one, less those refused, are what
    /// it accepts per window. When that is below the quota in force it
    /// becomes the quota (rate and window), so a rate set far too high stops
    /// drawing 429s after one refusal instead of halving its way down.
    ///
    /// Only once the proxy has been starting requests for a quarter of a
    /// window: over less, the count says what the tests asked for, not what
    /// the API takes. Over a saturated window, against a bucket, the count
    /// is its rate plus its burst, at or above the real rate, and AIMD keeps
    /// pacing below it.
    ///
    /// And only when the refusal's `Retry-After` tells the same story: a
    /// window API asks to wait until the oldest of those starts leaves the
    /// window, a token bucket for one token (a fraction of the window). A
    /// bucket that rounds its `Retry-After` up to whole seconds can pass for
    /// a window; the quota learned then is its rate plus its burst, or what
    /// the tests sent, and never above the rate in force.
    fn learn_from_refusal(
        s: &mut State,
        started_at: Duration,
        retry_after: Option<Duration>,
        now: Duration,
    ) -> bool {
        s.refused.push_back(started_at);
        let window = s.quota.window;
        let from = started_at.saturating_sub(window);
        while s.refused.front().is_some_and(|t| *t < from) {
            s.refused.pop_front();
        }
        let running = s
            .first_start
            .map_or(Duration::ZERO, |f| started_at.saturating_sub(f));
        if running < window / 4 {
            return false;
        }
        let refused = s.refused.iter().filter(|t| **t < started_at).count();
        let held = s
            .window
            .count_between(from, started_at)
            .saturating_sub(refused);
        let limit = s.window.limit();
        if held == 0 || (limit != 0 && held >= limit) {
            return false;
        }
        // When the oldest of the `held` starts leaves the window, from now.
        let Some(retry_after) = retry_after else {
            return false;
        };
        let oldest = s.window.nth_recent_before(held + refused, started_at);
        let predicted = oldest.map_or(Duration::ZERO, |o| (o + window).saturating_sub(now));
        let slack = (window / 10).max(Duration::from_millis(50));
        if retry_after + slack < predicted {
            return false;
        }
        let learned = Quota {
            amount: held as f64,
            window,
        };
        if learned.rate() >= s.quota.rate() {
            return false;
        }
        s.adopt(learned, QuotaOrigin::LearnedFromRefusals, now);
        true
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
        state.apply_rate();
        Some(rate)
    }

    /// The configured, current and achieved rates, and what held requests back.
    pub fn rates(&self) -> RateSnapshot {
        let s = self.state();
        let achieved = match (s.first_start, s.last_start) {
            (Some(first), Some(last)) if s.starts > 1 && last > first => {
                (s.starts - 1) as f64 / (last - first).as_secs_f64()
            }
            _ => 0.0,
        };
        let held: Vec<(Constraint, f64)> = Constraint::ALL
            .into_iter()
            .map(|c| (c, s.held[c.index()].as_secs_f64()))
            .collect();
        let binding = held
            .iter()
            .filter(|(_, secs)| *secs > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, _)| *c);
        RateSnapshot {
            configured: s.configured.rate(),
            current: s.aimd.rate(),
            decreases: s.aimd.decreases(),
            quota: s.quota,
            origin: s.origin,
            achieved,
            binding,
            held,
            pauses: s.pauses,
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
            quota: Quota::per_second(rate),
            rate_configured: true,
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

    fn booked(limiter: &Limiter<Arc<ManualClock>>, clock: &ManualClock, every: Duration, n: u32) {
        for _ in 0..n {
            let wait = limiter.reserve();
            clock.advance(wait);
            let started = limiter.now();
            let mut s = limiter.state();
            s.first_start.get_or_insert(started);
            drop(s);
            clock.advance(every);
        }
    }

    #[test]
    fn a_refusal_after_a_full_window_teaches_the_quota() {
        // Configured 100/s; the API keeps 40 per second and refuses the 41st.
        let clock = Arc::new(ManualClock::new());
        let limiter = Limiter::new(&cfg(100.0, 1, 0), Arc::clone(&clock));
        // 40 starts 25 ms apart, then the 41st, 1 s after the first, refused.
        booked(&limiter, &clock, Duration::from_millis(25), 41);
        let refused_at = Duration::from_millis(1000);
        // The API asks to wait until the first start leaves the window.
        let wait = Some(Duration::from_millis(1));
        assert_eq!(limiter.on_refused(refused_at, wait), Some(40.0));
        let rates = limiter.rates();
        assert_eq!(rates.origin, QuotaOrigin::LearnedFromRefusals);
        assert_eq!(rates.quota, Quota::per_second(40.0));
        // The refusals of requests sent before it change nothing more.
        assert_eq!(limiter.on_refused(refused_at, wait), None);
        assert_eq!(limiter.rates().current, 40.0);
    }

    #[test]
    fn a_burst_refused_for_one_token_teaches_no_quota() {
        // A lull, then a burst: 30 starts in 120 ms, 1.2 s into the run.
        let clock = Arc::new(ManualClock::new());
        let limiter = Limiter::new(&cfg(250.0, 1, 0), Arc::clone(&clock));
        booked(&limiter, &clock, Duration::from_millis(1100), 1);
        booked(&limiter, &clock, Duration::ZERO, 30);
        // A window API would ask to wait ~1 s for the first of them to
        // leave its window; a bucket asks for one token.
        let r = limiter.on_refused(limiter.now(), Some(Duration::from_millis(25)));
        assert_eq!(r, Some(175.0));
        assert_eq!(limiter.rates().origin, QuotaOrigin::Configured);
    }

    #[test]
    fn an_early_refusal_teaches_nothing_but_slows_the_rate() {
        // A token bucket refuses after its burst, 50 ms in: that is no quota.
        let clock = Arc::new(ManualClock::new());
        let limiter = Limiter::new(&cfg(100.0, 1, 0), Arc::clone(&clock));
        booked(&limiter, &clock, Duration::ZERO, 6);
        assert_eq!(limiter.on_throttled(Duration::from_millis(50)), Some(70.0));
        assert_eq!(limiter.rates().origin, QuotaOrigin::Configured);
    }

    #[test]
    fn a_lowered_rate_does_not_wait_for_the_window_to_empty() {
        // 40 starts at the configured 100/s, then three 429s lower the rate
        // to about 34/s: the next start is one new interval away, not held
        // until the starts made at 100/s leave the one-second window.
        let clock = Arc::new(ManualClock::new());
        let limiter = Limiter::new(&cfg(100.0, 1, 0), Arc::clone(&clock));
        booked(&limiter, &clock, Duration::from_millis(10), 40);
        for _ in 0..3 {
            assert!(limiter.on_throttled(limiter.now()).is_some());
            clock.advance(Duration::from_millis(60));
        }
        let rate = limiter.rates().current;
        assert!((34.0..35.0).contains(&rate), "{rate}");
        let wait = limiter.reserve();
        assert!(wait <= Duration::from_millis(30), "{wait:?}");
    }

    #[test]
    fn the_burst_never_exceeds_the_quota_per_window() {
        assert_eq!(burst_within(3, &Quota::per_second(40.0)), 3);
        assert_eq!(burst_within(3, &Quota::per_second(2.0)), 2);
        assert_eq!(burst_within(3, &Quota::per_second(0.5)), 1);
        assert_eq!(burst_within(0, &Quota::per_second(40.0)), 1);
        // One request per two seconds goes one at a time, whatever the burst.
        let clock = Arc::new(ManualClock::new());
        let limiter = Limiter::new(&cfg(0.5, 3, 0), Arc::clone(&clock));
        clock.set(Duration::from_secs(10));
        assert_eq!(limiter.reserve(), Duration::ZERO);
        assert_eq!(limiter.reserve(), Duration::from_secs(2));
        // A quota learned from the API narrows the burst with it: 2 per
        // second lets two go at once, not three.
        let limiter = Limiter::new(&cfg(40.0, 3, 0), Arc::clone(&clock));
        let adv = Advertised {
            quota: Some((2.0, Some(Duration::from_secs(1)))),
            ..Advertised::default()
        };
        assert!(limiter.learn(&adv, limiter.now()).is_some());
        clock.advance(Duration::from_secs(5));
        assert_eq!(limiter.reserve(), Duration::ZERO);
        assert_eq!(limiter.reserve(), Duration::ZERO);
        assert!(limiter.reserve() > Duration::ZERO);
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
