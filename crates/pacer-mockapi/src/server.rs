//! The mock API server: routes, refusals, echo, and statistics.
//!
//! Routes (every path not under `/__` counts as an API call and is rate
//! limited):
//!
//! - `GET /__stats`: [`MockStats`] as JSON.
//! - `POST /__reset`: zero the statistics and the limit's state.
//!
//! What an admitted API call gets depends on [`MockConfig::app`]: with
//! [`App::Demo`] the demo API's routes (module `demo`), with [`App::Echo`]:
//!
//! - `/status/{code}`: answer with that status (and the echo body).
//! - `/stream/{n}?interval_ms=M`: `n` lines, one every `M` ms, streamed.
//! - anything else: echo the request as JSON ([`Echo`]) so a test can check
//!   that method, path, query, headers and body arrived intact.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::{Advertise, App, MockConfig, RetryAfterFormat};
use crate::demo::DemoApi;
use crate::limit::{Advert, Limiter};
use crate::query::query_param;

type MockBody = BoxBody<Bytes, Infallible>;

/// What the echo endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echo {
    /// The request method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Headers by lower-case name; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    /// The body, as UTF-8 (lossy).
    pub body: String,
    /// The body's length in bytes.
    pub body_len: usize,
}

/// The mock's statistics (`GET /__stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MockStats {
    /// API requests received (not counting `/__` endpoints).
    pub total_requests: u64,
    /// Requests answered normally.
    pub accepted: u64,
    /// Requests refused with the reject status.
    pub rejected: u64,
    /// The most API requests in flight at once.
    pub max_concurrent: u64,
    /// API requests in flight now.
    pub current_concurrent: u64,
    /// Accepted requests per second, from the first to the last accepted.
    pub achieved_rate: f64,
    /// Seconds since the first API request.
    pub elapsed: f64,
}

#[derive(Debug, Default)]
struct Counters {
    total: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    current: AtomicUsize,
    max_concurrent: AtomicUsize,
}

/// First and last accepted request, for the achieved rate.
#[derive(Debug, Default)]
struct Span {
    /// Every accepted request's arrival: the admission log tests read.
    accepted: Vec<Instant>,
    first_request: Option<Instant>,
    first_accept: Option<Instant>,
    last_accept: Option<Instant>,
}

struct State {
    cfg: MockConfig,
    counters: Counters,
    // The mutexes (these and the demo API's) guard plain data and are
    // released before any `.await`.
    limiter: Mutex<Limiter>,
    span: Mutex<Span>,
    demo: DemoApi,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    fn stats(&self) -> MockStats {
        let span = lock(&self.span);
        let accepted = self.counters.accepted.load(Ordering::SeqCst);
        let achieved_rate = match (span.first_accept, span.last_accept) {
            (Some(first), Some(last)) if accepted > 1 && last > first => {
                (accepted - 1) as f64 / (last - first).as_secs_f64()
            }
            _ => 0.0,
        };
        MockStats {
            total_requests: self.counters.total.load(Ordering::SeqCst),
            accepted,
            rejected: self.counters.rejected.load(Ordering::SeqCst),
            max_concurrent: self.counters.max_concurrent.load(Ordering::SeqCst) as u64,
            current_concurrent: self.counters.current.load(Ordering::SeqCst) as u64,
            achieved_rate,
            elapsed: span
                .first_request
                .map_or(0.0, |t| t.elapsed().as_secs_f64()),
        }
    }

    /// Seconds from the first accepted request to each accepted request.
    fn admissions(&self) -> Vec<f64> {
        let span = lock(&self.span);
        let Some(first) = span.accepted.first().copied() else {
            return Vec::new();
        };
        span.accepted
            .iter()
            .map(|t| t.saturating_duration_since(first).as_secs_f64())
            .collect()
    }

    fn reset(&self) {
        *lock(&self.limiter) = Limiter::new(self.cfg.limit);
        *lock(&self.span) = Span::default();
        let c = &self.counters;
        for counter in [&c.total, &c.accepted, &c.rejected] {
            counter.store(0, Ordering::SeqCst);
        }
        c.max_concurrent
            .store(c.current.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// Counts a request as in flight until dropped, so cancelled handlers
/// (client gone) are uncounted too.
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn enter(c: &'a Counters) -> (Self, usize) {
        let now = c.current.fetch_add(1, Ordering::SeqCst) + 1;
        c.max_concurrent.fetch_max(now, Ordering::SeqCst);
        (Self(c), now)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.current.fetch_sub(1, Ordering::SeqCst);
    }
}

fn full(bytes: impl Into<Bytes>) -> MockBody {
    Full::new(bytes.into()).boxed()
}

fn json_response(status: StatusCode, value: &impl Serialize) -> Response<MockBody> {
    let body = serde_json::to_vec(value).expect("mock types serialize");
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn retry_after_value(format: RetryAfterFormat, wait: Duration) -> Option<String> {
    match format {
        RetryAfterFormat::Seconds => Some(wait.as_secs_f64().ceil().max(0.0).to_string()),
        RetryAfterFormat::Fractional => Some(format!("{:.3}", wait.as_secs_f64())),
        // HTTP-dates have whole seconds: round up, so the date never names
        // a moment before the limit frees up.
        RetryAfterFormat::HttpDate => {
            let at = SystemTime::now() + wait;
            let since = at
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            let up = if since.subsec_nanos() == 0 {
                since
            } else {
                Duration::from_secs(since.as_secs() + 1)
            };
            Some(httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + up))
        }
        RetryAfterFormat::Absent => None,
    }
}

fn refusal(cfg: &MockConfig, wait: Duration, why: &str) -> Response<MockBody> {
    let status = StatusCode::from_u16(cfg.reject_status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let mut response = Response::new(full(format!("{why}\n")));
    *response.status_mut() = status;
    if let Some(value) = retry_after_value(cfg.retry_after, wait) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// A body fed from a channel, for the streaming endpoint.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<MockBody>, Infallible> {
    let path = req.uri().path().to_owned();
    if path == "/__stats" {
        return Ok(json_response(StatusCode::OK, &state.stats()));
    }
    if path == "/__admissions" {
        return Ok(json_response(StatusCode::OK, &state.admissions()));
    }
    if path == "/__reset" && req.method() == Method::POST {
        state.reset();
        return Ok(json_response(StatusCode::OK, &state.stats()));
    }

    let c = &state.counters;
    let (_in_flight, concurrent) = InFlight::enter(c);
    let total = c.total.fetch_add(1, Ordering::SeqCst) + 1;
    let now = Instant::now();
    lock(&state.span).first_request.get_or_insert(now);

    let cfg = &state.cfg;
    let verdict = if total <= u64::from(cfg.fail_first) {
        Err((
            cfg.fail_first_wait,
            "refused: forced failure (--fail-first)",
        ))
    } else if cfg.max_concurrent.is_some_and(|max| concurrent > max) {
        Err((
            Duration::from_millis(100),
            "refused: too many requests in flight",
        ))
    } else {
        lock(&state.limiter)
            .check(now)
            .map_err(|wait| (wait, "refused: rate limit exceeded"))
    };
    // As of after this request: `remaining` counts it.
    let advert = match cfg.advertise {
        Advertise::None => None,
        _ => lock(&state.limiter).advert(now),
    };
    if let Err((wait, why)) = verdict {
        c.rejected.fetch_add(1, Ordering::SeqCst);
        let mut response = refusal(cfg, wait, why);
        advertise(cfg.advertise, advert, response.headers_mut());
        return Ok(response);
    }
    c.accepted.fetch_add(1, Ordering::SeqCst);
    {
        let mut span = lock(&state.span);
        span.first_accept.get_or_insert(now);
        span.last_accept = Some(now);
        span.accepted.push(now);
    }
    let mut response = answer(&state, req).await;
    advertise(cfg.advertise, advert, response.headers_mut());
    Ok(response)
}

/// Adds the headers that advertise the limit, as of the request's arrival.
fn advertise(kind: Advertise, advert: Option<Advert>, headers: &mut http::HeaderMap) {
    let Some(a) = advert else { return };
    let reset = a.reset.as_secs_f64().ceil().max(0.0);
    let pairs: Vec<(&'static str, String)> = match kind {
        Advertise::None => return,
        Advertise::Ietf => vec![
            (
                "ratelimit-policy",
                format!("\"default\";q={};w={}", a.quota, a.window),
            ),
            (
                "ratelimit",
                format!("\"default\";r={};t={reset}", a.remaining),
            ),
        ],
        Advertise::XRateLimit => vec![
            ("x-ratelimit-limit", format!("{}", a.quota)),
            ("x-ratelimit-remaining", a.remaining.to_string()),
            ("x-ratelimit-reset", reset.to_string()),
        ],
    };
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

/// The answer to an accepted API request.
async fn answer(state: &State, req: Request<Incoming>) -> Response<MockBody> {
    let cfg = &state.cfg;
    let path = req.uri().path().to_owned();

    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if !cfg.latency.is_zero() {
        tokio::time::sleep(cfg.latency).await;
    }

    if cfg.app == App::Demo {
        let answer = state
            .demo
            .respond(parts.method.as_str(), &path, parts.uri.query(), &body);
        return json_response(answer.0, &answer.1);
    }

    if let Some(n) = path.strip_prefix("/stream/") {
        let chunks: u32 = n.parse().unwrap_or(1);
        let interval = query_param(parts.uri.query(), "interval_ms")
            .and_then(|v| v.parse().ok())
            .map_or(Duration::ZERO, Duration::from_millis);
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            for i in 0..chunks {
                if i > 0 {
                    tokio::time::sleep(interval).await;
                }
                if tx.send(Bytes::from(format!("chunk {i}\n"))).await.is_err() {
                    return;
                }
            }
        });
        return Response::new(ChannelBody(rx).boxed());
    }

    let mut headers = BTreeMap::<String, String>::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let echo = Echo {
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_owned),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        body_len: body.len(),
    };
    let status = path
        .strip_prefix("/status/")
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    json_response(status, &echo)
}

/// A running mock API. Dropping it stops the server.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MockServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Statistics so far (as `GET /__stats` would answer).
    pub fn stats(&self) -> MockStats {
        self.state.stats()
    }

    /// When each accepted request arrived, in seconds from the first.
    pub fn admissions(&self) -> Vec<f64> {
        self.state.admissions()
    }

    /// Resets the counters, the limit and the admission log.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Stops the server and returns the final statistics.
    pub async fn shutdown(mut self) -> MockStats {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.state.stats()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Starts the mock on `bind` (port 0 for an ephemeral port).
pub async fn start(cfg: MockConfig, bind: SocketAddr) -> std::io::Result<MockServer> {
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(State {
        limiter: Mutex::new(Limiter::new(cfg.limit)),
        cfg,
        counters: Counters::default(),
        span: Mutex::new(Span::default()),
        demo: DemoApi::new(),
    });
    let (stop, mut stopped) = watch::channel(false);
    let served = Arc::clone(&state);
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            while connections.try_join_next().is_some() {}
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                },
                _ = stop_requested(&mut stopped) => break,
            };
            let _ = stream.set_nodelay(true);
            let state = Arc::clone(&served);
            connections.spawn(async move {
                let service = service_fn(move |req| handle(Arc::clone(&state), req));
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
        // The mock is a test tool: stop at once rather than drain.
        connections.abort_all();
    });
    Ok(MockServer {
        addr,
        state,
        stop,
        task: Some(task),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_formats() {
        let wait = Duration::from_millis(1250);
        assert_eq!(
            retry_after_value(RetryAfterFormat::Seconds, wait).unwrap(),
            "2"
        );
        assert_eq!(
            retry_after_value(RetryAfterFormat::Fractional, wait).unwrap(),
            "1.250"
        );
        let date = retry_after_value(RetryAfterFormat::HttpDate, wait).unwrap();
        let at = httpdate::parse_http_date(&date).unwrap();
        assert!(at >= SystemTime::now() + Duration::from_secs(1));
        assert_eq!(retry_after_value(RetryAfterFormat::Absent, wait), None);
    }
}
