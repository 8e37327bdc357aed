//! Issue 11, "bad input never panics": the parsers of what an upstream
//! sends (`Retry-After`, the advertised limits) and of what a user writes
//! (quotas, URLs) never panic, whatever they are fed. Property tests.
//!
//! Issue 17, "tests that must be able to fail": not panicking is not
//! enough. The limiter keeps what it promises on any run: starts within the
//! rate, burst and quota window, the in-flight cap, every call ended, the
//! adaptive rate within its bounds, `Retry-After` and pauses respected
//! (`the_limiter_keeps_its_promises_on_random_runs`, on virtual time). The
//! `regression_` tests at the end are the bugs it found, each failing
//! without its fix.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use pacer_limiter::{
    interval_for, parse_advertised, parse_retry_after, parse_url, redact_url, Advertised, Backoff,
    Limiter, ManualClock, Quota, RateLimit, TokioClock, UpstreamConfig,
};
use proptest::prelude::*;

const ADVERTISING: &[&str] = &[
    "ratelimit-policy",
    "ratelimit",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
];

/// Header texts close to the real ones, and anything else.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9.eE+-]{0,30}",
        "\"[a-z]{0,5}\";q=[0-9.eE-]{0,25};w=[0-9.eE-]{0,25}",
        "\"[a-z]{0,5}\";r=[0-9.eE-]{0,25};t=[0-9.eE-]{0,25}",
        "[A-Za-z]{3}, [0-9]{1,2} [A-Za-z]{3} [0-9]{1,6} [0-9:]{8} GMT",
        "[ -~]{0,60}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn retry_after_never_panics(text in header_text(), now_secs in any::<u32>()) {
        let now = UNIX_EPOCH + Duration::from_secs(u64::from(now_secs));
        if let Some(wait) = parse_retry_after(&text, now) {
            // A wait the backoff can always cap, and never shortens below
            // what was asked (issue 17).
            let b = Backoff { base: Duration::from_secs(1), max: Duration::from_secs(60) };
            let delay = b.delay(3, Some(wait), &mut rand::thread_rng());
            prop_assert!(delay <= Duration::from_secs(60));
            prop_assert!(delay >= wait.min(b.max), "{delay:?} for a Retry-After of {wait:?}");
        }
    }

    #[test]
    fn advertised_limits_never_panic(
        headers in proptest::collection::vec((0..ADVERTISING.len(), header_text()), 0..6),
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                map.append(HeaderName::from_static(ADVERTISING[name]), value);
            }
        }
        let _ = parse_advertised(&map, SystemTime::now());
    }

    #[test]
    fn quotas_parse_or_fail_and_what_parses_is_valid(text in prop_oneof![
        "[0-9.eE+-]{0,20}(/[0-9.]{0,8}(ms|s|sec|min|m|h|d|days|x)?)?",
        "\\PC{0,30}",
    ]) {
        if let Ok(quota) = text.parse::<Quota>() {
            prop_assert!(quota.validate().is_ok());
            prop_assert!(quota.rate().is_finite() && quota.rate() > 0.0);
        }
    }

    #[test]
    fn urls_parse_or_fail_and_never_print_their_password(
        user in "[a-z%0-9]{0,8}", password in "[a-zA-Z0-9%@:]{1,12}", rest in "\\PC{0,30}",
    ) {
        let url = format!("http://{user}:{password}@{rest}");
        let _ = parse_url(&url);
        let _ = parse_url(&rest);
        let shown = redact_url(&url);
        prop_assert!(!shown.contains(&format!("{user}:{password}@")), "{shown}");
    }
}

/// A step of a limiter's life, driven by what an API could send.
#[derive(Debug, Clone)]
enum Step {
    Reserve,
    Advance(u64),
    Refused(Option<u64>),
    Success,
    Pause(u64),
    Learn(Vec<(usize, String)>),
}

/// Milliseconds: up to a year, or (as often) up to two seconds, the scale
/// of the rates most runs use.
fn millis() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..=31_536_000_000, 0u64..2_000]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Reserve),
        millis().prop_map(Step::Advance),
        proptest::option::of(millis()).prop_map(Step::Refused),
        Just(Step::Success),
        millis().prop_map(Step::Pause),
        proptest::collection::vec((0..ADVERTISING.len(), header_text()), 0..4)
            .prop_map(Step::Learn),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Any rate limit the one validator accepts, fed any sequence of
    /// answers, keeps the limiter's arithmetic in range: it never panics,
    /// and its rate and pauses stay what it promises (below).
    #[test]
    fn a_validated_rate_limit_never_panics_the_limiter(
        amount in prop_oneof![1e-7f64..1e9, Just(1e9), Just(3.2e-8)],
        window_ms in 1u64..=31_536_000_000,
        burst in prop_oneof![1u32..100, Just(u32::MAX)],
        max_concurrent in prop_oneof![0u32..100, Just(u32::MAX)],
        min_delay_ms in 0u64..=31_536_000_000,
        adaptive in any::<bool>(),
        steps in proptest::collection::vec(step(), 0..30),
    ) {
        let limits = RateLimit {
            rate: Quota { amount, window: Duration::from_millis(window_ms) },
            burst,
            max_concurrent,
            min_delay: Duration::from_millis(min_delay_ms),
            adaptive,
            ..RateLimit::default()
        };
        if limits.validate().is_err() {
            return Ok(());
        }
        let cfg = UpstreamConfig { limits, ..UpstreamConfig::default() };
        let clock = std::sync::Arc::new(ManualClock::new());
        let limiter = Limiter::new(&cfg.limiter_config(), std::sync::Arc::clone(&clock));
        // Issue 17: and keeps its promises. No booking inside a pause it
        // took; a pause it declines is one its rate's spacing already keeps;
        // the rate it reports is the one it uses, within [floor, quota], the
        // quota never above the configured one.
        let mut paused_until = Duration::ZERO;
        for step in steps {
            match step.clone() {
                Step::Reserve => {
                    let now = limiter.now();
                    let start = now.saturating_add(limiter.reserve());
                    prop_assert!(start >= paused_until, "start {start:?} inside a pause to {paused_until:?}");
                }
                Step::Advance(ms) => clock.advance(Duration::from_millis(ms)),
                Step::Refused(after) => {
                    let rate = limiter.on_refused(limiter.now(), after.map(Duration::from_millis));
                    if let Some(rate) = rate {
                        prop_assert_eq!(rate, limiter.rates().current);
                    }
                }
                Step::Success => {
                    if let Some(rate) = limiter.on_success() {
                        prop_assert_eq!(rate, limiter.rates().current);
                    }
                }
                Step::Pause(ms) => {
                    let wait = Duration::from_millis(ms);
                    let interval = interval_for(limiter.rates().current);
                    if limiter.pause_for_all(wait) {
                        paused_until = paused_until.max(limiter.now().saturating_add(wait));
                    } else {
                        prop_assert!(wait <= interval.saturating_mul(2), "{wait:?} declined at {interval:?}");
                    }
                }
                Step::Learn(headers) => {
                    let mut map = HeaderMap::new();
                    for (name, value) in headers {
                        if let Ok(value) = HeaderValue::from_str(&value) {
                            map.append(HeaderName::from_static(ADVERTISING[name]), value);
                        }
                    }
                    let _ = limiter.learn(&parse_advertised(&map, SystemTime::now()), limiter.now());
                }
            }
            if let Some(problem) = rate_problem(&limiter, adaptive) {
                return Err(TestCaseError::fail(format!("{problem} after {step:?}")));
            }
        }
    }
}

// Issue 17: the limiter's promises, checked on random runs. Each case is a
// run of simulated calls on a tokio runtime whose time is paused (virtual,
// deterministic: the limiter's `TokioClock` reads it, and only sleeps move
// it), driven through `Limiter::admit` the way `forward.rs` drives it: an
// attempt holds its admission while the API answers, a refusal feeds AIMD
// and waits its backoff as a pause for everyone (or alone), then the
// attempt goes back to admission.

/// What the API answers one attempt.
#[derive(Debug, Clone)]
enum Answer {
    Ok,
    /// A 429, with its `Retry-After` in ms.
    Refused(Option<u64>),
    /// A success advertising `amount` per the configured window, `remaining`
    /// left, more in `reset_ms`.
    Advertises {
        amount: u32,
        remaining: u64,
        reset_ms: u64,
    },
}

/// One call: when it arrives, and for each attempt how long the API takes
/// and what it answers (past the list, a quick success).
#[derive(Debug, Clone)]
struct SimCall {
    arrive_ms: u64,
    attempts: Vec<(u64, Answer)>,
}

#[derive(Debug, Clone)]
struct Setup {
    amount: f64,
    window_ms: u64,
    burst: u32,
    max_concurrent: u32,
    min_delay_ms: u64,
    adaptive: bool,
    max_retries: u32,
    base_backoff_ms: u64,
    max_backoff_ms: u64,
    /// `None`: a budget no call can exhaust, so every call must be admitted.
    max_wait_ms: Option<u64>,
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        3 => Just(Answer::Ok),
        2 => proptest::option::of(0u64..3_000).prop_map(Answer::Refused),
        2 => (1u32..12, 0u64..3, 0u64..3_000).prop_map(|(amount, remaining, reset_ms)| {
            Answer::Advertises { amount, remaining, reset_ms }
        }),
    ]
}

fn sim_call() -> impl Strategy<Value = SimCall> {
    (
        // Spread out, or all at once (a queue of bookings ahead).
        prop_oneof![0u64..3_000, 0u64..300],
        proptest::collection::vec((0u64..400, answer()), 0..5),
    )
        .prop_map(|(arrive_ms, attempts)| SimCall {
            arrive_ms,
            attempts,
        })
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        (
            prop_oneof![(1u32..40).prop_map(f64::from), 0.2f64..40.0],
            prop_oneof![Just(1_000u64), 100u64..5_000],
            1u32..6,
            prop_oneof![Just(0u32), 1u32..6],
            prop_oneof![Just(0u64), 1u64..300],
        ),
        (
            any::<bool>(),
            0u32..4,
            1u64..500,
            1u64..5_000,
            proptest::option::of(100u64..10_000),
        ),
    )
        .prop_map(
            |(
                (amount, window_ms, burst, max_concurrent, min_delay_ms),
                (adaptive, max_retries, base_backoff_ms, max_backoff_ms, max_wait_ms),
            )| Setup {
                amount,
                window_ms,
                burst,
                max_concurrent,
                min_delay_ms,
                adaptive,
                max_retries,
                base_backoff_ms,
                max_backoff_ms: max_backoff_ms.max(base_backoff_ms),
                max_wait_ms,
            },
        )
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// How a call ended: every call ends one of these ways, with its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// An attempt was admitted and answered without a refusal.
    Answered,
    /// Refused `max_retries + 1` times.
    RefusedMaxRetries,
    /// Refused, and the backoff would not fit in `max_wait`.
    RefusedOutOfBudget,
    /// No turn before `max_wait` (or half the guard) ran out.
    NoTurn,
}

/// What the run did, as the simulated calls saw it.
#[derive(Debug, Default)]
struct Record {
    /// Every attempt's start, as `Admission::started_at`.
    starts: Vec<Duration>,
    in_flight: usize,
    peak_in_flight: usize,
    /// Pauses `pause_for_all` accepted: (from, until).
    pauses: Vec<(Duration, Duration)>,
    /// Broken promises, in words.
    broken: Vec<String>,
}

const GUARD: Duration = Duration::from_secs(86_400);

/// The rate the limiter uses never leaves [floor x quota, quota] (it is the
/// quota when not adaptive), and the quota never rises above the configured
/// one; what is wrong, if anything.
fn rate_problem<C: pacer_limiter::Clock>(limiter: &Limiter<C>, adaptive: bool) -> Option<String> {
    let r = limiter.rates();
    let quota = r.quota.rate();
    let floor = pacer_limiter::AimdConfig::default().floor_fraction * quota;
    let eps = 1e-9;
    if quota > r.configured * (1.0 + eps) {
        return Some(format!(
            "quota {} above the configured rate {}",
            r.quota, r.configured
        ));
    }
    let ok = if adaptive {
        r.current <= quota * (1.0 + eps) && r.current >= floor * (1.0 - eps)
    } else {
        (r.current - quota).abs() <= quota * eps
    };
    (!ok).then(|| {
        format!(
            "rate {} outside [{floor}, {quota}] (adaptive: {adaptive}) at {:?}",
            r.current,
            limiter.now()
        )
    })
}

fn check_rates<C: pacer_limiter::Clock>(limiter: &Limiter<C>, adaptive: bool, rec: &mut Record) {
    rec.broken.extend(rate_problem(limiter, adaptive));
}

async fn run_call(
    limiter: Arc<Limiter>,
    rec: Arc<Mutex<Record>>,
    call: SimCall,
    setup: Setup,
    seed: u64,
) -> Outcome {
    use rand::SeedableRng;
    tokio::time::sleep(ms(call.arrive_ms)).await;
    // Without a budget of its own, half the guard: a call still waiting
    // then ends `NoTurn`, which such a run must not have.
    let max_wait = setup.max_wait_ms.map_or(GUARD / 2, ms);
    let deadline = tokio::time::Instant::now() + max_wait;
    let backoff = Backoff {
        base: ms(setup.base_backoff_ms),
        max: ms(setup.max_backoff_ms),
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let window = ms(setup.window_ms);
    // Not before: when the last refusal came plus what it asked to wait.
    let mut not_before: Option<(Duration, Duration)> = None;
    for attempt in 0u32.. {
        let Ok(admission) = tokio::time::timeout_at(deadline, limiter.admit()).await else {
            return Outcome::NoTurn;
        };
        let start = admission.started_at;
        {
            let mut r = lock(&rec);
            r.starts.push(start);
            r.in_flight += 1;
            r.peak_in_flight = r.peak_in_flight.max(r.in_flight);
            if let Some((refused_at, asked)) = not_before {
                if start < refused_at + asked {
                    r.broken.push(format!(
                        "retry started at {start:?}, before the {asked:?} the refusal at {refused_at:?} asked for (capped by max_backoff)"
                    ));
                }
            }
        }
        let (hold, answer) = call
            .attempts
            .get(attempt as usize)
            .cloned()
            .unwrap_or((1, Answer::Ok));
        tokio::time::sleep(ms(hold)).await;
        let retry_after = match answer {
            Answer::Ok => None,
            Answer::Advertises {
                amount,
                remaining,
                reset_ms,
            } => {
                let adv = Advertised {
                    quota: Some((f64::from(amount), Some(window))),
                    remaining: Some(remaining),
                    reset: Some(ms(reset_ms)),
                };
                limiter.learn(&adv, start);
                None
            }
            Answer::Refused(after) => Some(after.map(ms)),
        };
        let Some(retry_after) = retry_after else {
            limiter.on_success();
            check_rates(&limiter, setup.adaptive, &mut lock(&rec));
            lock(&rec).in_flight -= 1;
            drop(admission);
            return Outcome::Answered;
        };
        limiter.on_refused(start, retry_after);
        check_rates(&limiter, setup.adaptive, &mut lock(&rec));
        let outcome = if attempt >= setup.max_retries {
            Outcome::RefusedMaxRetries
        } else {
            let delay = backoff.delay(attempt, retry_after, &mut rng);
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if delay >= left {
                Outcome::RefusedOutOfBudget
            } else {
                // Give the slot back, then wait: for everyone if the
                // limiter takes the pause, else alone.
                lock(&rec).in_flight -= 1;
                drop(admission);
                let now = limiter.now();
                let asked = retry_after.unwrap_or_default().min(backoff.max);
                not_before = Some((now, asked));
                if limiter.pause_for_all(delay) {
                    lock(&rec).pauses.push((now, now + delay));
                } else {
                    tokio::time::sleep(delay).await;
                }
                continue;
            }
        };
        lock(&rec).in_flight -= 1;
        drop(admission);
        return outcome;
    }
    unreachable!("the loop returns")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `calls` against a limiter set up as `setup`, on virtual time, and
/// checks every promise listed on the property test below.
fn simulate(setup: &Setup, calls: &[SimCall], seed: u64) -> Result<(), TestCaseError> {
    let limits = RateLimit {
        rate: Quota {
            amount: setup.amount,
            window: ms(setup.window_ms),
        },
        burst: setup.burst,
        max_concurrent: setup.max_concurrent,
        min_delay: ms(setup.min_delay_ms),
        adaptive: setup.adaptive,
        ..RateLimit::default()
    };
    if limits.validate().is_err() {
        return Ok(());
    }
    let cfg = UpstreamConfig {
        limits,
        rate_configured: true,
        ..UpstreamConfig::default()
    }
    .limiter_config();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let rec = Arc::new(Mutex::new(Record::default()));
    let (outcomes, permits) = runtime.block_on(async {
        let limiter = Arc::new(Limiter::new(&cfg, TokioClock::new()));
        let mut tasks = Vec::new();
        for (i, call) in calls.iter().enumerate() {
            tasks.push(tokio::spawn(run_call(
                Arc::clone(&limiter),
                Arc::clone(&rec),
                call.clone(),
                setup.clone(),
                seed.wrapping_add(i as u64),
            )));
        }
        let all = async {
            let mut outcomes = Vec::new();
            for task in tasks {
                outcomes.push(task.await.expect("a call panicked"));
            }
            outcomes
        };
        let outcomes = tokio::time::timeout(GUARD, all).await;
        (outcomes, limiter.available_permits())
    });
    let rec = lock(&rec);
    prop_assert!(rec.broken.is_empty(), "{:#?}", rec.broken);
    let outcomes = outcomes.map_err(|_| {
        TestCaseError::fail(format!(
            "calls still waiting after {GUARD:?}: {} starts",
            rec.starts.len()
        ))
    })?;
    prop_assert_eq!(outcomes.len(), calls.len());
    if setup.max_wait_ms.is_none() {
        prop_assert!(!outcomes.contains(&Outcome::NoTurn), "{:?}", outcomes);
    }
    let cap = setup.max_concurrent as usize;
    if cap > 0 {
        prop_assert!(
            rec.peak_in_flight <= cap,
            "{} in flight, cap {cap}",
            rec.peak_in_flight
        );
        prop_assert_eq!(permits, cap);
    }
    prop_assert_eq!(rec.in_flight, 0);

    let mut starts = rec.starts.clone();
    starts.sort();
    // Timers fire on whole milliseconds: a start may come up to one
    // after its booked time, never before.
    let tick = ms(1);
    let interval = interval_for(cfg.quota.rate());
    let burst = setup.burst as usize;
    for i in 0..starts.len() {
        for j in i + 1..starts.len() {
            let k = j - i + 1;
            let span = starts[j] - starts[i];
            if k > burst {
                let least = interval.saturating_mul((k - burst) as u32);
                prop_assert!(
                    span + tick >= least,
                    "{k} starts within {span:?} at {:?}, burst {burst}, interval {interval:?}: {starts:?}",
                    starts[i]
                );
            }
        }
        if i + 1 < starts.len() && setup.min_delay_ms > 0 {
            let gap = starts[i + 1] - starts[i];
            prop_assert!(
                gap + tick >= ms(setup.min_delay_ms),
                "gap {gap:?} at {:?}: {starts:?}",
                starts[i]
            );
        }
        if let Some(limit) = cfg.quota.limit() {
            let window = cfg.quota.window;
            let within = starts[i..]
                .iter()
                .take_while(|s| **s < starts[i] + window)
                .count();
            prop_assert!(
                within as u64 <= limit,
                "{within} starts in the {window:?} from {:?}, quota {}: {starts:?}",
                starts[i],
                cfg.quota
            );
        }
    }
    for (from, until) in &rec.pauses {
        let inside: Vec<_> = starts.iter().filter(|s| *s > from && *s < until).collect();
        prop_assert!(
            inside.is_empty(),
            "starts {inside:?} inside the pause {from:?}..{until:?}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Whatever the API answers, and whenever the calls come:
    ///
    /// - starts never outrun the configured rate and burst: any `k` starts
    ///   span at least `(k - burst)` intervals (the GCRA bound, whatever
    ///   AIMD and the API's quotas did to the rate meanwhile), and no window
    ///   of the quota's length holds more than its amount;
    /// - `min_delay` separates any two starts;
    /// - no more than `max_concurrent` attempts are in flight at once, and
    ///   every slot is given back;
    /// - every call ends, admitted or refused for a reason ([`Outcome`]),
    ///   within a day of virtual time; with no `max_wait` of its own, every
    ///   call gets its turn within half of it;
    /// - the rate stays within [floor, quota in force] and the quota never
    ///   rises above the configured one;
    /// - a retry never starts before the `Retry-After` its refusal asked for
    ///   (capped by `max_backoff`), and no call starts inside a pause the
    ///   limiter accepted.
    #[test]
    fn the_limiter_keeps_its_promises_on_random_runs(
        setup in setup(),
        calls in proptest::collection::vec(sim_call(), 1..20),
        seed in any::<u64>(),
    ) {
        simulate(&setup, &calls, seed)?;
    }
}

fn call(arrive_ms: u64, attempts: Vec<(u64, Answer)>) -> SimCall {
    SimCall {
        arrive_ms,
        attempts,
    }
}

fn advertises(amount: u32, remaining: u64) -> Answer {
    Answer::Advertises {
        amount,
        remaining,
        reset_ms: 0,
    }
}

fn fixed(amount: f64, window_ms: u64, burst: u32, max_concurrent: u32) -> Setup {
    Setup {
        amount,
        window_ms,
        burst,
        max_concurrent,
        min_delay_ms: 0,
        adaptive: false,
        max_retries: 1,
        base_backoff_ms: 1,
        max_backoff_ms: 800,
        max_wait_ms: None,
    }
}

/// Found by the property test: AIMD lowering the rate lengthened the GCRA's
/// tolerance, (burst - 1) x T, so a burst just spent went again at once:
/// six starts at the same instant with a burst of 5.
#[test]
fn regression_a_lowered_rate_does_not_let_a_spent_burst_go_again() {
    let clock = Arc::new(ManualClock::new());
    let cfg = UpstreamConfig {
        limits: RateLimit {
            rate: Quota::per_second(100.0),
            burst: 5,
            ..RateLimit::default()
        },
        ..UpstreamConfig::default()
    };
    let limiter = Limiter::new(&cfg.limiter_config(), Arc::clone(&clock));
    clock.set(Duration::from_secs(10));
    for _ in 0..5 {
        assert_eq!(limiter.reserve(), Duration::ZERO);
    }
    assert_eq!(limiter.on_throttled(limiter.now()), Some(70.0));
    // The next start stays one old interval away (it was 0: a sixth at once).
    assert_eq!(limiter.reserve(), ms(10));
}

/// Found by the property test: adopting a quota the API advertised reset
/// the GCRA to "nothing booked", forgetting the start whose answer carried
/// it; a request booked again went at the same instant (burst 1).
#[test]
fn regression_a_learned_quota_keeps_the_start_that_taught_it() {
    let clock = Arc::new(ManualClock::new());
    let cfg = UpstreamConfig {
        limits: RateLimit {
            rate: Quota::per_second(10.0),
            burst: 1,
            adaptive: false,
            ..RateLimit::default()
        },
        ..UpstreamConfig::default()
    };
    let limiter = Limiter::new(&cfg.limiter_config(), Arc::clone(&clock));
    clock.set(Duration::from_secs(5));
    assert_eq!(limiter.reserve(), Duration::ZERO);
    let adv = Advertised {
        quota: Some((5.0, Some(Duration::from_secs(1)))),
        ..Advertised::default()
    };
    assert_eq!(
        limiter.learn(&adv, limiter.now()),
        Some(Quota::per_second(5.0))
    );
    let wait = limiter.reserve();
    assert!(
        wait >= ms(100),
        "{wait:?} after the start the quota was learned from"
    );
}

/// Found by the property test: the window log kept 2 x limit entries,
/// bookings ahead included, so a queue of bookings pushed out the starts
/// of the last window; a new quota then dropped the bookings, and the
/// window looked empty: 4 starts in a window of 3.
#[test]
fn regression_bookings_ahead_do_not_push_recent_starts_out_of_the_window() {
    let setup = fixed(3.0, 2_000, 3, 0);
    let mut calls = vec![call(0, vec![]), call(0, vec![])];
    calls.extend((0..3).map(|_| call(450, vec![])));
    calls.push(call(550, vec![(200, advertises(2, 1))]));
    calls.extend((0..5).map(|_| call(550, vec![])));
    simulate(&setup, &calls, 0).unwrap();
}

/// Found by the property test: a request woken by a quota change cancelled
/// its booking, which the change had already forgotten, and so removed
/// another request's new booking for the same instant: that request
/// started uncounted, 5 starts in a window of 4.
#[test]
fn regression_a_quota_change_does_not_uncount_a_booking() {
    let setup = fixed(4.91, 1_000, 2, 3);
    let calls = vec![
        call(1976, vec![(272, advertises(4, 0))]),
        call(2206, vec![]),
        call(2206, vec![(0, Answer::Refused(None))]),
        call(1976, vec![(42, Answer::Refused(Some(722)))]),
        call(1650, vec![(325, Answer::Refused(None))]),
    ];
    simulate(&setup, &calls, 0).unwrap();
}
