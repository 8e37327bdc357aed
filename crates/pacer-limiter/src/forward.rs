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
//! 3. **forward**: rewrite the URL and `Host`, drop hop-by-hop headers, send.
//!    An unreachable upstream becomes a 502 with a text message at once.
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
use crate::rate_limit::{Target, UpstreamConfig};
use crate::retry::parse_retry_after;
use crate::series::{CallLog, CallTrace};
use crate::stats::{StatsRecorder, UpstreamStats};

/// The HTTP(S) client the proxy forwards with.
pub(crate) type UpstreamClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

/// Everything the requests of one upstream share.
pub(crate) struct Upstream {
    pub cfg: UpstreamConfig,
    pub target: Target,
    pub limiter: Limiter<TokioClock>,
    pub stats: StatsRecorder,
    pub client: UpstreamClient,
    /// Each call and the admissions over time, for the run's report.
    pub log: Arc<CallLog>,
}

impl Upstream {
    pub(crate) fn snapshot(&self) -> UpstreamStats {
        self.stats.snapshot(&self.cfg.name, self.limiter.rates())
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

/// The upstream URL for a request: the upstream's scheme and host, its path
/// prefix, then the request's own path and query.
pub(crate) fn upstream_uri(target: &Target, incoming: &Uri) -> Result<Uri, http::Error> {
    let path_and_query = incoming
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    Uri::builder()
        .scheme(target.scheme.clone())
        .authority(target.authority.clone())
        .path_and_query(format!("{}{}", target.prefix, path_and_query))
        .build()
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
    let mut trace = CallTrace::start(&up.log, caller);
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
    let content_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());

    // Layer 1: buffer the body so retries can replay it.
    let body = match RequestBody::read(body, content_length, up.cfg.max_body_bytes).await {
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

    let mut retries = 0u32;
    loop {
        // Layer 2: admission (in-flight slot, then the shared rate).
        let admission = up.limiter.admit().await;
        up.stats.admitted(admission.queued);
        trace.admitted(&up.log, admission.queued, up.limiter.rates().current);

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

        let response = match up.client.request(upstream_req).await {
            Ok(response) => response,
            Err(e) => {
                drop(admission);
                up.stats.upstream_error();
                trace.finish(&up.log, 502);
                tracing::warn!(upstream = %up.cfg.name, error = %error_chain(&e), "upstream unreachable");
                return Ok(proxy_error(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "pacer proxy: cannot reach upstream {:?} at {}: {}",
                        up.cfg.name,
                        up.cfg.url,
                        error_chain(&e)
                    ),
                ));
            }
        };

        up.limiter.answered(admission.started_at);
        let status = response.status().as_u16();
        up.stats.status(status);

        // Layer 4: learn the advertised limit.
        let advertised = parse_advertised(response.headers(), SystemTime::now());
        if !advertised.is_empty() {
            if let Some(quota) = up.limiter.learn(&advertised, admission.started_at) {
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
            if let Some(rate) = up.limiter.on_refused(admission.started_at, retry_after) {
                tracing::info!(upstream = %up.cfg.name, rate, "429: lowering the rate");
            }
        } else if !refused {
            up.limiter.on_success();
        }

        let retrying = refused && replay.is_some() && retries < up.cfg.limits.max_retries;
        trace.answered(&up.log, status, retrying);
        if retrying {
            let delay = up
                .cfg
                .backoff()
                .delay(retries, retry_after, &mut rand::thread_rng());
            // Read the refusal's small body so the connection is reused;
            // give the slot back before waiting, so others can go meanwhile.
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                drain(response.into_body(), 64 * 1024),
            )
            .await;
            drop(admission);
            up.stats.retry(delay);
            // The refusal speaks for the upstream, not for this request:
            // hold every request back, this one included (admission waits
            // for the pause, so it does not sleep twice). Overlapping
            // pauses of requests refused together do not add up.
            if !up.limiter.pause_for_all(delay) {
                tokio::time::sleep(delay).await;
            }
            tracing::debug!(upstream = %up.cfg.name, status, ?delay, retries, "pausing, then retrying");
            retries += 1;
            continue;
        }

        if refused && replay.is_none() {
            up.stats.not_replayable();
        }
        up.stats.completed(refused);
        trace.finish(&up.log, status);
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        let body = PermitBody::new(body, admission.into_permit())
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
