//! One proxied request, from the client's request to the answer it gets.
//!
//! The layers, in the order a request meets them:
//!
//! 1. **buffer**: read the body into memory up to `max_body_bytes`, so it can
//!    be replayed; larger bodies are streamed once and never retried.
//! 2. **admission** ([`Limiter::admit`]): an in-flight slot, then the booked
//!    start (the rate with its burst, the quota's window, `min_delay`, and
//!    any pause the upstream asked for). Every attempt, retries included,
//!    passes here: retries spend the same budget.
//! 3. **forward**: resolve the path's dot segments (never above the base
//!    path: 400), rewrite the URL and `Host`, add the URL's credentials as
//!    `Authorization: Basic` unless the client sent its own, drop hop-by-hop
//!    headers, send. An unreachable upstream becomes a 502 with a text
//!    message at once; no answer within `upstream_timeout` a 504.
//! 4. **learn**: every answer, refusals included, may advertise the limit
//!    (`RateLimit-Policy`/`RateLimit`, `X-RateLimit-*`); the limiter adopts
//!    a lower quota (any, when none is configured) and pauses everyone when
//!    nothing remains. Learning comes before classification so that a 429
//!    and its headers describe the same moment.
//! 5. **retry classification**: a retry status (429/503 by default) with
//!    retries left releases the slot, feeds AIMD, pauses admission of
//!    *every* request to this upstream for `Retry-After` (or, without one,
//!    the full-jitter backoff) and goes back to 2, where the pause holds it
//!    like everyone else; any other answer, or the last refusal as it came,
//!    is streamed to the client, holding the slot until the body is done.
//!
//! `max_wait` bounds layers 2 to 5 together: a backoff that would not fit
//! passes the refusal on, and so does a retry that gets no turn or no answer
//! in time (with a `pacer-not-retried` header saying why).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;

use crate::advertised::parse_advertised;
use crate::body::{drain, full, BoxError, PermitBody, ProxyBody, RequestBody};
use crate::clock::TokioClock;
use crate::limiter::Limiter;
use crate::rate_limit::UpstreamConfig;
use crate::retry::parse_retry_after;
use crate::series::{CallLog, CallTrace};
use crate::shared::{SharedLimit, Turn};
use crate::stats::{StatsRecorder, UpstreamStats};
use crate::url::{redact_url, Target};

/// The HTTP(S) client the proxy forwards with.
pub(crate) type UpstreamClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

/// Everything the requests of one upstream share.
pub(crate) struct Upstream {
    pub cfg: UpstreamConfig,
    pub target: Target,
    pub limiter: Limiter<TokioClock>,
    /// The limit shared with other pacers through a store, when the
    /// backend is not `memory`; it then admits instead of `limiter`, which
    /// still decides what an advertised quota means.
    pub shared: Option<SharedLimit>,
    pub stats: StatsRecorder,
    pub client: UpstreamClient,
    /// Each call and the admissions over time, for the run's report.
    pub log: Arc<CallLog>,
    /// Whether a `Retry-After` above `max_backoff` was announced yet: once
    /// per upstream is enough to explain the waits that follow.
    pub long_wait_announced: AtomicBool,
}

impl Upstream {
    pub(crate) fn snapshot(&self) -> UpstreamStats {
        let mut rates = self.limiter.rates();
        if let Some(shared) = &self.shared {
            shared.amend(&mut rates);
        }
        let mut stats = self.stats.snapshot(&self.cfg.name, rates);
        stats.backend = self.shared.as_ref().map(SharedLimit::stats);
        stats
    }

    async fn admit(&self) -> Turn {
        match &self.shared {
            Some(shared) => shared.admit().await,
            None => Turn::memory(self.limiter.admit().await),
        }
    }

    fn current_rate(&self) -> f64 {
        match &self.shared {
            Some(_) => self.snapshot_rate(),
            None => self.limiter.rates().current,
        }
    }

    fn snapshot_rate(&self) -> f64 {
        let mut rates = self.limiter.rates();
        if let Some(shared) = &self.shared {
            shared.amend(&mut rates);
        }
        rates.current
    }
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1);
/// a proxy must not pass them on.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    // Not in the RFC list, but only ever meant for the proxy itself.
    headers.remove("proxy-connection");
}

/// A segment that hides a `..` behind what this resolution does not decode
/// but a server may: an encoded slash or backslash (`..%2f`, `%2e%2e%5c`),
/// a backslash (`..\`), or a path parameter (`..;`). nginx decodes `%2f`
/// before it resolves `..`; Tomcat drops `;` parameters.
fn hides_dot_dot(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase().replace("%2e", ".");
    let parts = lower
        .replace("%2f", "/")
        .replace("%5c", "/")
        .replace('\\', "/");
    parts
        .split('/')
        .map(|part| part.split(';').next().unwrap_or(part))
        .any(|part| part == "..")
}

/// A request path with its `.` and `..` segments resolved (RFC 3986
/// §5.2.4; `%2e` counts as a dot, as most servers decode it), `None` when a
/// `..` would climb above the root or hides in a segment
/// ([`hides_dot_dot`]). Empty segments (`//`) are kept: some APIs give
/// them meaning.
pub(crate) fn normalise_path(path: &str) -> Option<String> {
    let is_dots = |segment: &str, n: usize| {
        let lower = segment.to_ascii_lowercase().replace("%2e", ".");
        lower.len() == n && lower.bytes().all(|b| b == b'.')
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.into_iter().enumerate() {
        if is_dots(segment, 1) {
            // `/a/.` names the directory: keep its trailing slash.
            if i == last {
                out.push("");
            }
        } else if is_dots(segment, 2) {
            out.pop()?;
            if i == last {
                out.push("");
            }
        } else if hides_dot_dot(segment) {
            return None;
        } else {
            out.push(segment);
        }
    }
    Some(format!("/{}", out.join("/")))
}

/// The upstream URL for a request: the upstream's scheme and host, its path
/// prefix, then the request's own path (dot segments resolved, never above
/// the prefix) and query.
pub(crate) fn upstream_uri(target: &Target, incoming: &Uri) -> Result<Uri, String> {
    let path = normalise_path(incoming.path()).ok_or_else(|| {
        format!(
            "the path {:?} climbs above the upstream's base path with `..`, or hides a `..` (`%2f`, `%5c`, `\\`, `;`)",
            incoming.path()
        )
    })?;
    let query = incoming
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    Uri::builder()
        .scheme(target.scheme.clone())
        .authority(target.authority.clone())
        .path_and_query(format!("{}{path}{query}", target.prefix))
        .build()
        .map_err(|e| e.to_string())
}

/// Seconds as people write them: `60`, `0.4`, `0.099`.
fn seconds(d: Duration) -> String {
    let text = format!("{:.3}", d.as_secs_f64());
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The header that tells a client why a refusal reached it unretried.
const NOT_RETRIED: HeaderName = HeaderName::from_static("pacer-not-retried");

/// A plain-text refusal made by the proxy itself, for the accept loop.
pub(crate) fn refusal(status: StatusCode, message: String) -> Response<ProxyBody> {
    proxy_error(status, message)
}

/// A plain-text error answer made by the proxy itself.
fn proxy_error(status: StatusCode, message: String) -> Response<ProxyBody> {
    let mut response = Response::new(full(message + "\n"));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The last refusal, passed on as the API sent it when `max_wait` runs out
/// before a retry gets its turn or its answer.
fn pass_on(
    up: &Upstream,
    (mut parts, body): (http::response::Parts, bytes::Bytes),
    retries: u32,
) -> Response<ProxyBody> {
    up.stats.out_of_budget();
    up.stats.completed(true);
    strip_hop_by_hop(&mut parts.headers);
    let why = format!(
        "max_wait ({} s) ran out before retry {} got its turn or its answer",
        seconds(up.cfg.limits.max_wait),
        retries
    );
    if let Ok(why) = HeaderValue::try_from(why) {
        parts.headers.insert(NOT_RETRIED, why);
    }
    Response::from_parts(parts, full(body))
}

/// An error and its causes on one line: hyper's own message ("client
/// error (Connect)") says little without them.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Handles one client request end to end. Never fails: problems become
/// error responses with a message.
pub(crate) async fn handle(
    up: Arc<Upstream>,
    req: Request<Incoming>,
    caller: Option<Arc<str>>,
) -> Result<Response<ProxyBody>, std::convert::Infallible> {
    up.stats.request();
    let request: Arc<str> = format!("{} {}", req.method(), req.uri().path()).into();
    let mut trace = CallTrace::start(&up.log, caller, request);
    let (parts, body) = req.into_parts();

    let uri = match upstream_uri(&up.target, &parts.uri) {
        Ok(uri) => uri,
        Err(e) => {
            up.stats.completed(false);
            trace.finish(&up.log, 400);
            return Ok(proxy_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "pacer proxy: cannot build the upstream URL for {}: {e}",
                    parts.uri
                ),
            ));
        }
    };
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    if let Ok(host) = HeaderValue::from_str(up.target.authority.as_str()) {
        headers.insert(header::HOST, host);
    }
    // The URL's credentials, unless the client brought its own.
    if let Some(auth) = &up.target.authorization {
        headers.entry(header::AUTHORIZATION).or_insert(auth.clone());
    }
    let content_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());

    // Layer 1: buffer the body so retries can replay it.
    let cap = usize::try_from(up.cfg.limits.max_body_bytes).unwrap_or(usize::MAX);
    let body = match RequestBody::read(body, content_length, cap).await {
        Ok(body) => body,
        Err(e) => {
            up.stats.completed(false);
            trace.finish(&up.log, 400);
            return Ok(proxy_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "pacer proxy: cannot read the request body: {}",
                    error_chain(&e)
                ),
            ));
        }
    };
    let (replay, mut once) = match body {
        RequestBody::Replayable(bytes) => (Some(bytes), None),
        RequestBody::Streaming(stream) => (None, Some(stream)),
    };

    // The whole budget of this request from here on: queueing, attempts and
    // backoff (the client's upload is the client's business).
    let deadline = tokio::time::Instant::now() + up.cfg.limits.max_wait;
    let mut retries = 0u32;
    // The last refusal, kept to be passed on if the budget runs out before
    // the retry gets its turn or its answer: it says more than a 504.
    let mut last_refusal: Option<(http::response::Parts, bytes::Bytes)> = None;
    loop {
        // Layer 2: admission (in-flight slot, then the shared rate).
        let Ok(admission) = tokio::time::timeout_at(deadline, up.admit()).await else {
            if let Some(refusal) = last_refusal.take() {
                trace.finish(&up.log, refusal.0.status.as_u16());
                return Ok(pass_on(&up, refusal, retries));
            }
            up.stats.timed_out();
            trace.finish(&up.log, 504);
            return Ok(proxy_error(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "pacer proxy: upstream {:?}: no turn to send this request within max_wait ({} s){}; raise max_wait or lower the load",
                    up.cfg.name,
                    seconds(up.cfg.limits.max_wait),
                    if retries > 0 { format!(" after {retries} retries") } else { String::new() }
                ),
            ));
        };
        up.stats.admitted(admission.queued);
        trace.admitted(&up.log, admission.queued, up.current_rate());

        // Layer 3: forward.
        let body: ProxyBody = match (&replay, once.take()) {
            (Some(bytes), _) => full(bytes.clone()),
            (None, Some(stream)) => stream.map_err(BoxError::from).boxed(),
            (None, None) => unreachable!("a streamed body is sent only once"),
        };
        let mut upstream_req = Request::new(body);
        *upstream_req.method_mut() = parts.method.clone();
        *upstream_req.uri_mut() = uri.clone();
        *upstream_req.version_mut() = Version::HTTP_11;
        *upstream_req.headers_mut() = headers.clone();

        // One attempt waits `upstream_timeout` at most, and never past the
        // request's budget: a hung upstream must not hold the slot for ever.
        let budget = deadline.saturating_duration_since(tokio::time::Instant::now());
        let wait = up.cfg.limits.upstream_timeout.min(budget);
        let answer = tokio::time::timeout(wait, up.client.request(upstream_req)).await;
        let response = match answer {
            Ok(Ok(response)) => response,
            Err(_) => {
                drop(admission);
                let which = if wait < up.cfg.limits.upstream_timeout {
                    "max_wait"
                } else {
                    "upstream_timeout"
                };
                if let Some(refusal) = last_refusal.take().filter(|_| which == "max_wait") {
                    trace.finish(&up.log, refusal.0.status.as_u16());
                    return Ok(pass_on(&up, refusal, retries));
                }
                up.stats.timed_out();
                trace.finish(&up.log, 504);
                tracing::warn!(upstream = %up.cfg.name, "no answer within {} s ({which}): answered 504", seconds(wait));
                return Ok(proxy_error(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "pacer proxy: upstream {:?} at {} did not answer within {} s ({which}); the request was not retried",
                        up.cfg.name,
                        redact_url(&up.cfg.url),
                        seconds(wait)
                    ),
                ));
            }
            Ok(Err(e)) => {
                drop(admission);
                up.stats.upstream_error();
                trace.finish(&up.log, 502);
                tracing::warn!(upstream = %up.cfg.name, error = %error_chain(&e), "upstream unreachable");
                return Ok(proxy_error(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "pacer proxy: cannot reach upstream {:?} at {}: {}",
                        up.cfg.name,
                        redact_url(&up.cfg.url),
                        error_chain(&e)
                    ),
                ));
            }
        };

        let status = response.status().as_u16();
        up.stats.status(status);

        // Layer 4: learn the advertised limit.
        let advertised = parse_advertised(response.headers(), SystemTime::now());
        if !advertised.is_empty() {
            let adopted = match &up.shared {
                Some(shared) => shared.learn(&up.limiter, &advertised, &admission).await,
                None => up.limiter.learn(&advertised, admission.started_at),
            };
            if let Some(quota) = adopted {
                tracing::info!(upstream = %up.cfg.name, %quota, "the API advertises its quota: pacing to it");
            }
        }

        // Layer 5: retry classification.
        let refused = up.cfg.limits.retry_statuses.contains(&status);
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        if status == 429 {
            let lowered = match &up.shared {
                Some(shared) => shared.on_refused(&admission, retry_after).await,
                None => up.limiter.on_refused(admission.started_at, retry_after),
            };
            if let Some(rate) = lowered {
                tracing::info!(upstream = %up.cfg.name, rate, "429: lowering the rate");
            }
        } else if !refused {
            match &up.shared {
                Some(shared) => shared.on_success(&admission),
                None => {
                    up.limiter.on_success();
                }
            }
        }

        let mut not_retried = None;
        if refused && replay.is_none() {
            up.stats.not_replayable();
            not_retried = Some(format!(
                "the request body is over max_body_bytes ({} bytes), so it could not be replayed",
                up.cfg.limits.max_body_bytes
            ));
        } else if refused && retries < up.cfg.limits.max_retries {
            let delay = up
                .cfg
                .backoff()
                .delay(retries, retry_after, &mut rand::thread_rng());
            if let Some(asked) = retry_after.filter(|asked| *asked > delay) {
                if !up.long_wait_announced.swap(true, Ordering::Relaxed) {
                    up.stats.notice(format!(
                        "{}: API asked to wait {} s, capped at {} s (max_backoff)",
                        up.cfg.name,
                        seconds(asked),
                        seconds(delay)
                    ));
                }
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if delay >= left {
                // Waiting would only end in a 504: the refusal says more.
                up.stats.out_of_budget();
                not_retried = Some(format!(
                    "max_wait ({} s) leaves no room for a {} s backoff after {retries} retries",
                    seconds(up.cfg.limits.max_wait),
                    seconds(delay)
                ));
            } else {
                // Read the refusal's small body so the connection is reused;
                // give the slot back before waiting, so others can go meanwhile.
                let (refusal, body) = response.into_parts();
                let body = tokio::time::timeout(Duration::from_secs(1), drain(body, 64 * 1024))
                    .await
                    .ok()
                    .flatten();
                last_refusal = body.map(|body| (refusal, body));
                drop(admission);
                up.stats.retry(delay);
                // The refusal speaks for the upstream, not for this request:
                // hold every request back, this one included (admission waits
                // for the pause, so it does not sleep twice). Overlapping
                // pauses of requests refused together do not add up.
                let paused = match &up.shared {
                    Some(shared) => shared.pause_for_all(delay).await,
                    None => up.limiter.pause_for_all(delay),
                };
                if !paused {
                    tokio::time::sleep(delay).await;
                }
                tracing::debug!(upstream = %up.cfg.name, status, ?delay, retries, "pausing, then retrying");
                trace.answered(&up.log, status, true);
                retries += 1;
                continue;
            }
        } else if refused && up.cfg.limits.max_retries > 0 {
            not_retried = Some(format!(
                "max_retries ({}) reached",
                up.cfg.limits.max_retries
            ));
        }

        trace.answered(&up.log, status, false);
        up.stats.completed(refused);
        trace.finish(&up.log, status);
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        if let Some(reason) = not_retried.and_then(|r| HeaderValue::try_from(r).ok()) {
            parts.headers.insert(NOT_RETRIED, reason);
        }
        let body = PermitBody::new(body, admission.into_slot())
            .map_err(BoxError::from)
            .boxed();
        return Ok(Response::from_parts(parts, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::UpstreamConfig;

    #[test]
    fn hop_by_hop_headers_are_stripped_including_connection_named_ones() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        h.insert("x-custom", HeaderValue::from_static("kept"));
        strip_hop_by_hop(&mut h);
        let left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["authorization", "x-custom"]);
    }

    /// Issue 11: `/../../etc/passwd` under `/base` was forwarded as is.
    #[test]
    fn regression_dot_segments_are_resolved_and_may_not_leave_the_base() {
        for (path, normal) in [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a/./b", "/a/b"),
            ("/a/b/../c", "/a/c"),
            ("/a//b", "/a//b"),
            ("/a/b/", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/a/.", "/a/"),
            ("/a/%2e%2E/b", "/b"),
            ("/a/..b/c", "/a/..b/c"),
        ] {
            assert_eq!(normalise_path(path).as_deref(), Some(normal), "{path}");
        }
        for escape in ["/..", "/../../etc/passwd", "/a/../../b", "/%2e%2e/x"] {
            assert_eq!(normalise_path(escape), None, "{escape}");
        }
        // Issue 17: a `..` hidden from the resolution but not from a server
        // that decodes `%2f` first (nginx) or drops `;` parameters (Tomcat).
        for hidden in [
            "/a/..%2f..%2fadmin",
            "/a/%2e%2e%2fadmin",
            "/a/..%5cadmin",
            "/a/..%5Cadmin",
            "/a/..\\admin",
            "/a/..;/admin",
            "/a/%2E%2E;x/admin",
            "/a/b%2f..%2f..%2fadmin",
        ] {
            assert_eq!(normalise_path(hidden), None, "{hidden}");
        }
        // An encoded slash with no `..` is an API's own business (GitLab's
        // `group%2Fproject`), and so are dots inside a name.
        for kept in [
            "/projects/group%2Fproject",
            "/a/b;v=1",
            "/a/...;/b",
            "/a/x..%2fy",
        ] {
            assert_eq!(normalise_path(kept).as_deref(), Some(kept), "{kept}");
        }
        let target = UpstreamConfig {
            url: "https://api.example.com/base".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let err = upstream_uri(&target, &"/../../etc/passwd".parse().unwrap()).unwrap_err();
        assert!(err.contains("climbs above"), "{err}");
        let uri = upstream_uri(&target, &"/x/../y?q=/../z".parse().unwrap()).unwrap();
        assert_eq!(uri.to_string(), "https://api.example.com/base/y?q=/../z");
    }

    #[test]
    fn upstream_uri_keeps_path_and_query_under_the_prefix() {
        let cfg = UpstreamConfig {
            url: "https://api.example.com/rest/".into(),
            ..Default::default()
        };
        let target = cfg.validate().unwrap();
        let uri = upstream_uri(&target, &"/users/1?x=a%20b&y".parse().unwrap()).unwrap();
        assert_eq!(
            uri.to_string(),
            "https://api.example.com/rest/users/1?x=a%20b&y"
        );
        let bare = UpstreamConfig {
            url: "http://127.0.0.1:9".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let uri = upstream_uri(&bare, &"/".parse().unwrap()).unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:9/");
    }
}
