//! Charging each test the calls it made through the proxies: the time they
//! waited in the limiter and the retries the proxy made after a 429.
//!
//! The proxy knows which worker sent a call (each worker has its own
//! listener) and when; a worker runs one test at a time, so the call is the
//! test's that was running on that worker then. The test's edges are when
//! pacer *heard* of its start and end, a little after the worker's, so the
//! join uses the call's answer: a call answered before its test's end was
//! heard is that test's or an earlier one's, and the earliest such test is
//! the one that ran it (pacer hears a test's end within a millisecond or
//! so, and a call through the proxy takes longer than that, so the next
//! test's first call is not answered before it). A call answered more than [`LAG`] before its test's
//! start was heard was made outside any test (an import, a session's end).
//!
//! A call on the proxy's shared address (a URL read from the environment
//! before the worker got its own, pacer's sequential rerun) names no
//! worker: it is charged when the tests running then all ran on one worker.

use std::collections::HashMap;

use crate::schema::{OutsideCalls, TestReport};

/// How long after a worker said a test started pacer may hear it.
pub const LAG: f64 = 0.5;
/// Wait spans and retry marks kept per test for drawing; the totals stay exact.
const MAX_MARKS: usize = 200;

/// One call through a proxy, its times in seconds since the run started.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProxyCall {
    /// The upstream's name.
    pub upstream: String,
    /// The worker whose listener it came in on; `None` on the shared one.
    pub worker: Option<String>,
    pub arrival: f64,
    pub done: f64,
    /// Seconds it waited for admission, every attempt summed.
    pub queued: f64,
    /// `[from, to]` of each wait for admission.
    pub waits: Vec<(f64, f64)>,
    /// When each retry after a 429 was decided.
    pub retries_429: Vec<f64>,
    /// Calls this entry stands for (more than one once the proxy's log
    /// was full and folded them per worker and second).
    pub count: u64,
    /// `METHOD /path`; `None` for folded calls, which keep no request.
    pub request: Option<String>,
}

/// Adds each call to its test's `calls`, `limiter_wait`, `retries_429`,
/// `waits` and `retry_marks`; returns the calls no test made, per upstream.
pub fn charge(tests: &mut [TestReport], calls: &[ProxyCall]) -> Vec<OutsideCalls> {
    let owners = owners(tests, calls);
    let mut outside: Vec<OutsideCalls> = Vec::new();
    for (call, owner) in calls.iter().zip(owners) {
        match owner {
            Some(i) => {
                let t = &mut tests[i];
                t.calls += call.count as usize;
                t.limiter_wait += call.queued;
                t.retries_429 += call.retries_429.len();
                for (from, to) in &call.waits {
                    if t.waits.len() < MAX_MARKS {
                        t.waits.push([*from, *to]);
                    }
                }
                for at in &call.retries_429 {
                    if t.retry_marks.len() < MAX_MARKS {
                        t.retry_marks.push(*at);
                    }
                }
            }
            None => {
                let entry = match outside.iter().position(|o| o.upstream == call.upstream) {
                    Some(k) => &mut outside[k],
                    None => {
                        outside.push(OutsideCalls {
                            upstream: call.upstream.clone(),
                            calls: 0,
                            limiter_wait: 0.0,
                            retries_429: 0,
                        });
                        outside.last_mut().expect("just pushed")
                    }
                };
                entry.calls += call.count;
                entry.limiter_wait += call.queued;
                entry.retries_429 += call.retries_429.len() as u64;
            }
        }
    }
    for t in tests.iter_mut() {
        t.waits.sort_by(|a, b| a[0].total_cmp(&b[0]));
        t.retry_marks.sort_by(f64::total_cmp);
    }
    outside
}

/// Adds each request a test sent to its `touched.api` (made for a test
/// that touched nothing else), once per distinct `METHOD /path`: for runs
/// that trace what tests touch (`--trace-touched`).
pub fn charge_requests(tests: &mut [TestReport], calls: &[ProxyCall]) {
    let owners = owners(tests, calls);
    for (call, owner) in calls.iter().zip(owners) {
        let (Some(i), Some(request)) = (owner, &call.request) else {
            continue;
        };
        let touched = tests[i].touched.get_or_insert_with(Default::default);
        if let Err(at) = touched.api.binary_search(request) {
            touched.api.insert(at, request.clone());
        }
    }
}

/// The test each call was made by, if any (the rule is this module's doc).
fn owners(tests: &[TestReport], calls: &[ProxyCall]) -> Vec<Option<usize>> {
    // Per worker, its tests in the order they ran.
    let mut by_worker: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, t) in tests.iter().enumerate() {
        by_worker.entry(t.worker.as_str()).or_default().push(i);
    }
    for list in by_worker.values_mut() {
        list.sort_by(|a, b| tests[*a].end.total_cmp(&tests[*b].end));
    }
    let pick = |worker: &str, call: &ProxyCall| -> Option<usize> {
        let list = by_worker.get(worker)?;
        let at = list.partition_point(|i| tests[*i].end < call.done);
        let i = *list.get(at)?;
        (call.done >= tests[i].start - LAG).then_some(i)
    };
    let mut owners = Vec::with_capacity(calls.len());
    for call in calls {
        // A worker's own call outside its tests is nobody's: joining it by
        // time would charge an import-time call to another worker's test.
        let known = call.worker.as_deref().filter(|w| by_worker.contains_key(w));
        let owner = match known {
            Some(worker) => pick(worker, call),
            None => {
                // Only when the tests running then were all on one worker.
                let mut found: Option<usize> = None;
                let mut ambiguous = false;
                for worker in by_worker.keys() {
                    if let Some(i) = pick(worker, call) {
                        if found.is_some() {
                            ambiguous = true;
                        }
                        found = Some(i);
                    }
                }
                found.filter(|_| !ambiguous)
            }
        };
        owners.push(owner);
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(id: &str, worker: &str, start: f64, end: f64) -> TestReport {
        TestReport {
            id: id.into(),
            category: None,
            worker: worker.into(),
            start,
            end,
            outcome: pacer_types::Status::Passed,
            ..Default::default()
        }
    }

    fn call(
        worker: Option<&str>,
        arrival: f64,
        done: f64,
        queued: f64,
        retries: usize,
    ) -> ProxyCall {
        ProxyCall {
            upstream: "api".into(),
            worker: worker.map(String::from),
            arrival,
            done,
            queued,
            waits: vec![(arrival, arrival + queued)],
            retries_429: vec![arrival; retries],
            count: 1,
            request: Some("GET /users".into()),
        }
    }

    #[test]
    fn requests_go_to_touched_api_once_each_and_folded_calls_name_none() {
        let mut tests = vec![test("a", "gw0", 1.0, 2.0), test("b", "gw0", 2.5, 3.0)];
        let mut post = call(Some("gw0"), 1.3, 1.4, 0.0, 0);
        post.request = Some("POST /orders".into());
        let mut folded = call(Some("gw0"), 2.6, 2.7, 0.0, 0);
        folded.request = None;
        let calls = vec![
            call(Some("gw0"), 1.1, 1.2, 0.0, 0),
            post,
            call(Some("gw0"), 1.5, 1.6, 0.0, 0),
            folded,
        ];
        charge_requests(&mut tests, &calls);
        let a = tests[0].touched.as_ref().expect("a sent requests");
        assert_eq!(a.api, ["GET /users", "POST /orders"]);
        assert!(a.traced.env.is_empty() && a.traced.files.is_empty());
        assert_eq!(tests[1].touched, None);
    }

    #[test]
    fn calls_go_to_the_test_their_worker_ran_when_they_were_answered() {
        let mut tests = vec![
            test("a", "gw0", 1.0, 2.0),
            test("b", "gw0", 2.001, 3.0),
            test("c", "gw1", 1.0, 3.0),
        ];
        let calls = vec![
            call(Some("gw0"), 1.2, 1.9, 0.5, 0),
            // b's first call, answered before pacer heard that b started.
            call(Some("gw0"), 2.0002, 2.0008, 0.0, 0),
            call(Some("gw0"), 2.5, 2.9, 0.25, 2),
            call(Some("gw1"), 1.5, 2.5, 0.75, 1),
            // At import time, long before gw1's first test.
            call(Some("gw1"), 0.1, 0.2, 0.1, 0),
        ];
        let outside = charge(&mut tests, &calls);
        let got: Vec<(usize, f64, usize)> = tests
            .iter()
            .map(|t| (t.calls, t.limiter_wait, t.retries_429))
            .collect();
        assert_eq!(got, [(1, 0.5, 0), (2, 0.25, 2), (1, 0.75, 1)]);
        assert_eq!(outside.len(), 1);
        assert_eq!((outside[0].calls, outside[0].limiter_wait), (1, 0.1));
        assert_eq!(tests[1].retry_marks, [2.5, 2.5]);
    }

    #[test]
    fn a_call_naming_no_worker_is_charged_only_when_one_worker_was_busy() {
        let mut tests = vec![test("a", "gw0", 1.0, 2.0), test("b", "gw1", 3.0, 4.0)];
        let calls = vec![
            call(None, 1.1, 1.5, 0.2, 0),
            // gw0's a has ended and gw1's b may already run: it is b's, as
            // nothing else could be running.
            call(Some("zygote"), 3.1, 3.5, 0.3, 1),
        ];
        let outside = charge(&mut tests, &calls);
        assert!(outside.is_empty(), "{outside:?}");
        assert_eq!((tests[0].limiter_wait, tests[1].limiter_wait), (0.2, 0.3));

        // Two workers in tests at once: nobody's.
        let mut tests = vec![test("a", "gw0", 1.0, 2.0), test("b", "gw1", 1.0, 2.0)];
        let outside = charge(&mut tests, &[call(None, 1.1, 1.5, 0.2, 0)]);
        assert_eq!(outside[0].calls, 1);
        assert_eq!(tests[0].calls + tests[1].calls, 0);
    }
}
