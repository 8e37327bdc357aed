//! Issue 11, "bad input never panics": the parsers of what an upstream
//! sends (`Retry-After`, the advertised limits) and of what a user writes
//! (quotas, URLs) never panic, whatever they are fed. Property tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use pacer_limiter::{
    parse_advertised, parse_retry_after, parse_url, redact_url, Backoff, Limiter, ManualClock,
    Quota, RateLimit, UpstreamConfig,
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
            // A wait the backoff can always cap.
            let b = Backoff { base: Duration::from_secs(1), max: Duration::from_secs(60) };
            let delay = b.delay(3, Some(wait), &mut rand::thread_rng());
            prop_assert!(delay <= Duration::from_secs(60));
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

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Reserve),
        (0u64..=31_536_000_000).prop_map(Step::Advance),
        proptest::option::of(0u64..=31_536_000_000).prop_map(Step::Refused),
        Just(Step::Success),
        (0u64..=31_536_000_000).prop_map(Step::Pause),
        proptest::collection::vec((0..ADVERTISING.len(), header_text()), 0..4)
            .prop_map(Step::Learn),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Any rate limit the one validator accepts, fed any sequence of
    /// answers, keeps the limiter's arithmetic in range.
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
        for step in steps {
            match step {
                Step::Reserve => { let _ = limiter.reserve(); }
                Step::Advance(ms) => clock.advance(Duration::from_millis(ms)),
                Step::Refused(after) => {
                    let _ = limiter.on_refused(limiter.now(), after.map(Duration::from_millis));
                }
                Step::Success => { let _ = limiter.on_success(); }
                Step::Pause(ms) => { let _ = limiter.pause_for_all(Duration::from_millis(ms)); }
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
        }
        let _ = limiter.rates();
    }
}
