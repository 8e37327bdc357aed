//! The proxy against the real mock API over real HTTP.
//!
//! Time bounds here are deadlock guards (generous timeouts) or lower bounds
//! that prove a wait happened; nothing asserts that something is fast.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pacer_limiter::{
    env_var_name, run_until, start_proxy, start_proxy_with, ProxyError, ProxyHandle, ProxyOptions,
    Quota, RateLimit, UpstreamConfig,
};
use pacer_mockapi::{Echo, Limit, MockConfig, MockServer, RetryAfterFormat};

const DEADLOCK_GUARD: Duration = Duration::from_secs(60);

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

type TestClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn echo(&self) -> Echo {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("not an echo ({e}): {}", String::from_utf8_lossy(&self.body))
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(
    client: &TestClient,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Full::new(body.into())).unwrap();
    let response = tokio::time::timeout(DEADLOCK_GUARD, client.request(req))
        .await
        .expect("no answer within the deadlock guard")
        .expect("the proxy answers");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

async fn get(client: &TestClient, url: &str) -> Answer {
    send(client, Method::GET, url, &[], Bytes::new()).await
}

async fn mock(cfg: MockConfig) -> MockServer {
    pacer_mockapi::start(cfg, loopback()).await.unwrap()
}

/// A config that paces lightly and backs off briefly, so tests run quickly.
fn upstream(url: String) -> UpstreamConfig {
    UpstreamConfig {
        name: "mock".into(),
        url,
        limits: RateLimit {
            rate: Quota::per_second(1000.0),
            burst: 100,
            max_concurrent: 10,
            min_delay: Duration::ZERO,
            max_retries: 3,
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(2),
            ..RateLimit::default()
        },
        ..UpstreamConfig::default()
    }
}

async fn proxy(cfg: UpstreamConfig) -> ProxyHandle {
    start_proxy(cfg, loopback()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_never_exceed_the_in_flight_cap_nor_deadlock() {
    let api = mock(MockConfig {
        latency: Duration::from_millis(5),
        ..MockConfig::default()
    })
    .await;
    let cap = 8;
    let proxy = proxy({
        let base = upstream(api.url());
        UpstreamConfig {
            limits: RateLimit {
                rate: Quota::per_second(5000.0),
                burst: 1000,
                max_concurrent: cap as u32,
                ..base.limits.clone()
            },
            ..base
        }
    })
    .await;
    let client = client();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let (client, url) = (client.clone(), format!("{}/item/{i}", proxy.url()));
        tasks.spawn(async move { get(&client, &url).await.status });
    }
    let all = async {
        let mut ok = 0;
        while let Some(status) = tasks.join_next().await {
            assert_eq!(status.unwrap(), StatusCode::OK);
            ok += 1;
        }
        ok
    };
    let ok = tokio::time::timeout(DEADLOCK_GUARD, all)
        .await
        .expect("1,000 concurrent requests deadlocked");
    assert_eq!(ok, 1000);

    let seen = api.stats();
    assert_eq!(seen.accepted, 1000);
    assert!(
        seen.max_concurrent as usize <= cap,
        "mock saw {} in flight",
        seen.max_concurrent
    );
    assert!(seen.max_concurrent >= 2, "the cap was never used");
    let stats = proxy.shutdown().await;
    assert_eq!(
        (stats.requests, stats.admitted, stats.completed),
        (1000, 1000, 1000)
    );
    assert_eq!((stats.retried, stats.final_failures), (0, 0));
    assert_eq!(stats.success_rate, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_bodies_headers_and_queries_arrive_intact_after_retries() {
    let api = mock(MockConfig {
        fail_first: 2,
        fail_first_wait: Duration::from_millis(20),
        retry_after: RetryAfterFormat::Fractional,
        ..MockConfig::default()
    })
    .await;
    let proxy = proxy(upstream(api.url())).await;
    // 200 kB of varied text, so a lost or reordered chunk would show.
    let body: String = (0..20_000).map(|i| format!("{:09}\n", i * 7919)).collect();
    let answer = send(
        &client(),
        Method::POST,
        &format!("{}/v1/things?b=2&a=x%20y", proxy.url()),
        &[
            ("content-type", "text/plain"),
            ("x-request-id", "abc"),
            ("authorization", "Bearer secret"),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "must not pass"),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let echo = answer.echo();
    assert_eq!(echo.method, "POST");
    assert_eq!(echo.path, "/v1/things");
    assert_eq!(echo.query.as_deref(), Some("b=2&a=x%20y"));
    assert_eq!(echo.body_len, body.len());
    assert!(echo.body == body, "the body changed on the way");
    assert_eq!(echo.headers["x-request-id"], "abc");
    assert_eq!(echo.headers["authorization"], "Bearer secret");
    assert_eq!(
        echo.headers["host"],
        api.addr().to_string(),
        "Host is rewritten"
    );
    assert!(
        !echo.headers.contains_key("x-hop"),
        "hop-by-hop headers are stripped"
    );

    let seen = api.stats();
    assert_eq!(
        (seen.total_requests, seen.rejected, seen.accepted),
        (3, 2, 1)
    );
    let stats = proxy.shutdown().await;
    assert_eq!(
        (
            stats.requests,
            stats.admitted,
            stats.retried,
            stats.seen_429
        ),
        (1, 3, 2, 2)
    );
    assert_eq!(stats.final_failures, 0);
    assert!((stats.retry_rate - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(stats.success_rate, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_in_every_form() {
    // (format, the least the proxy must have waited)
    let cases = [
        (RetryAfterFormat::Fractional, Duration::from_millis(400)),
        // 0.4 s rounded up to whole seconds.
        (RetryAfterFormat::Seconds, Duration::from_secs(1)),
        // now + 1.4 s truncated to a whole second: at least 0.4 s away.
        (RetryAfterFormat::HttpDate, Duration::from_millis(400)),
    ];
    for (format, least) in cases {
        let api = mock(MockConfig {
            fail_first: 1,
            fail_first_wait: Duration::from_millis(400),
            retry_after: format,
            ..MockConfig::default()
        })
        .await;
        let proxy = proxy(upstream(api.url())).await;
        let started = Instant::now();
        let answer = get(&client(), &format!("{}/x", proxy.url())).await;
        let took = started.elapsed();
        assert_eq!(answer.status, StatusCode::OK, "{format:?}");
        // Millisecond slack for the HTTP-date's clock reading.
        let least = least - Duration::from_millis(15);
        assert!(took >= least, "{format:?}: retried after {took:?}");
        let stats = proxy.shutdown().await;
        assert!(
            stats.time_in_backoff >= least.as_secs_f64(),
            "{format:?}: {stats:?}"
        );
        assert_eq!(stats.retried, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_retry_after_full_jitter_backoff_is_used() {
    let api = mock(MockConfig {
        fail_first: 2,
        retry_after: RetryAfterFormat::Absent,
        reject_status: 503,
        ..MockConfig::default()
    })
    .await;
    let proxy = proxy(upstream(api.url())).await;
    let answer = get(&client(), &format!("{}/x", proxy.url())).await;
    assert_eq!(answer.status, StatusCode::OK);
    let stats = proxy.shutdown().await;
    assert_eq!((stats.retried, stats.seen_503, stats.seen_429), (2, 2, 0));
    // base 10 ms: at most 10 ms + 20 ms of backoff.
    assert!(stats.time_in_backoff <= 0.030 + 1e-9, "{stats:?}");
    // 503s do not lower the rate; only 429s do.
    assert_eq!(stats.rate_decreases, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_retries_run_out_the_client_gets_the_last_429_as_it_came() {
    let api = mock(MockConfig {
        fail_first: 100,
        fail_first_wait: Duration::from_millis(10),
        retry_after: RetryAfterFormat::Fractional,
        ..MockConfig::default()
    })
    .await;
    let proxy = proxy({
        let base = upstream(api.url());
        UpstreamConfig {
            limits: RateLimit {
                max_retries: 2,
                ..base.limits.clone()
            },
            ..base
        }
    })
    .await;
    let answer = get(&client(), &format!("{}/x", proxy.url())).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.text(), "refused: forced failure (--fail-first)\n");
    assert_eq!(answer.headers["retry-after"], "0.010");
    assert_eq!(api.stats().total_requests, 3);
    let stats = proxy.shutdown().await;
    assert_eq!(
        (stats.seen_429, stats.retried, stats.final_failures),
        (3, 2, 1)
    );
    assert_eq!(stats.success_rate, 0.0);
    assert!(stats.retry_rate <= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_is_down_gives_a_502_with_a_message() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind(loopback())
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let proxy = proxy(upstream(url.clone())).await;
    let answer = get(&client(), &format!("{}/x", proxy.url())).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    let text = answer.text();
    assert!(
        text.contains(&format!("cannot reach upstream \"mock\" at {url}")),
        "{text}"
    );
    assert!(text.to_lowercase().contains("connect"), "{text}");
    let stats = proxy.shutdown().await;
    assert_eq!(
        (stats.upstream_errors, stats.completed, stats.retried),
        (1, 1, 0)
    );
    assert_eq!(stats.success_rate, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_cap_are_streamed_and_not_retried() {
    let api = mock(MockConfig {
        fail_first: 1,
        fail_first_wait: Duration::from_millis(10),
        ..MockConfig::default()
    })
    .await;
    let mut cfg = upstream(api.url());
    cfg.limits.max_body_bytes = 1024;
    let proxy = proxy(cfg).await;
    let client = client();
    let body = "z".repeat(10_000);
    let url = format!("{}/upload", proxy.url());
    let refused = send(&client, Method::PUT, &url, &[], body.clone()).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    // Issue 11: the lost retry is said, not silent.
    let why = refused.headers["pacer-not-retried"].to_str().unwrap();
    assert!(why.contains("max_body_bytes (1024 bytes)"), "{why}");
    let answer = send(&client, Method::PUT, &url, &[], body.clone()).await;
    assert_eq!(answer.status, StatusCode::OK);
    let echo = answer.echo();
    assert_eq!((echo.method.as_str(), echo.body_len), ("PUT", 10_000));
    assert!(echo.body == body);
    let stats = proxy.shutdown().await;
    assert_eq!(
        (stats.not_replayable, stats.retried, stats.final_failures),
        (1, 0, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_streamed_not_buffered() {
    let api = mock(MockConfig::default()).await;
    let proxy = proxy(upstream(api.url())).await;
    let req = Request::get(format!("{}/stream/3?interval_ms=300", proxy.url()))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = client().request(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut arrivals = Vec::new();
    let mut text = String::new();
    let read = async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                arrivals.push(Instant::now());
                text.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    };
    tokio::time::timeout(DEADLOCK_GUARD, read).await.unwrap();
    assert_eq!(text, "chunk 0\nchunk 1\nchunk 2\n");
    // Buffered, all chunks would arrive together at the end.
    let spread = *arrivals.last().unwrap() - arrivals[0];
    assert!(
        spread >= Duration::from_millis(500),
        "chunks arrived within {spread:?}"
    );
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_statuses_pass_through_untouched_and_unretried() {
    let api = mock(MockConfig::default()).await;
    let proxy = proxy(upstream(api.url())).await;
    let answer = get(&client(), &format!("{}/status/500", proxy.url())).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.echo().path, "/status/500");
    let stats = proxy.shutdown().await;
    assert_eq!(
        (stats.requests, stats.retried, stats.final_failures),
        (1, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_set_too_high_adapts_and_every_request_still_succeeds() {
    // The API allows 100/s; the proxy is told 250/s (2.5x too high).
    let api = mock(MockConfig {
        limit: Limit::TokenBucket {
            rate: 100.0,
            burst: 5,
        },
        retry_after: RetryAfterFormat::Fractional,
        ..MockConfig::default()
    })
    .await;
    let proxy = proxy({
        let base = upstream(api.url());
        UpstreamConfig {
            limits: RateLimit {
                rate: Quota::per_second(250.0),
                burst: 1,
                max_concurrent: 20,
                max_retries: 10,
                ..base.limits.clone()
            },
            ..base
        }
    })
    .await;
    let client = client();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300 {
        let (client, url) = (client.clone(), format!("{}/r/{i}", proxy.url()));
        tasks.spawn(async move { get(&client, &url).await.status });
    }
    let all = async {
        while let Some(status) = tasks.join_next().await {
            assert_eq!(status.unwrap(), StatusCode::OK);
        }
    };
    tokio::time::timeout(DEADLOCK_GUARD, all).await.unwrap();
    let stats = proxy.shutdown().await;
    assert_eq!(stats.final_failures, 0);
    assert!(stats.rate_decreases >= 1, "{stats:?}");
    assert!(stats.current_rate < 250.0, "{stats:?}");
    assert!(stats.retry_rate < 1.0 && stats.success_rate == 1.0);
    eprintln!("{}", stats.summary_line());
}

#[tokio::test]
async fn binding_outside_loopback_needs_the_explicit_option() {
    let cfg = upstream("http://127.0.0.1:9".into());
    let anywhere: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let err = start_proxy(cfg.clone(), anywhere).await.unwrap_err();
    assert!(matches!(err, ProxyError::NonLoopback { .. }));
    assert!(err.to_string().contains("not a loopback address"));
    let opts = ProxyOptions {
        allow_non_loopback: true,
        ..ProxyOptions::default()
    };
    let proxy = start_proxy_with(cfg, anywhere, opts).await.unwrap();
    assert!(proxy.addr().ip().is_unspecified());
    proxy.shutdown().await;
}

#[tokio::test]
async fn proxy_url_is_the_loopback_address() {
    let proxy = proxy(upstream("https://example.com/api".into())).await;
    assert!(proxy.url().starts_with("http://127.0.0.1:"));
    assert_ne!(proxy.addr().port(), 0);
    assert_eq!(env_var_name(proxy.name()), "PACER_UPSTREAM_MOCK");
    proxy.shutdown().await;
}

/// An output sink the test can read while the proxy writes to it.
#[derive(Clone, Default)]
struct SharedOut(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedOut {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_prints_addresses_live_and_final_statistics() {
    let api = mock(MockConfig::default()).await;
    let out = SharedOut::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(run_until(
        vec![upstream(api.url())],
        "127.0.0.1".parse().unwrap(),
        None,
        false,
        out.clone(),
        Duration::from_millis(50),
        async move {
            let _ = stopped.await;
            Ok(())
        },
    ));
    let first_line = tokio::time::timeout(DEADLOCK_GUARD, async {
        loop {
            if let Some(line) = out.text().lines().next() {
                return line.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let proxy_url = first_line.split_whitespace().next().unwrap().to_owned();
    assert!(
        first_line.contains(&format!("-> {}", api.url())),
        "{first_line}"
    );
    assert!(
        first_line.contains("PACER_UPSTREAM_MOCK=http://127.0.0.1:"),
        "{first_line}"
    );
    assert_eq!(
        get(&client(), &format!("{proxy_url}/x")).await.status,
        StatusCode::OK
    );
    tokio::time::timeout(DEADLOCK_GUARD, async {
        while !out.text().contains("mock: 1 requests") {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("a live statistics line");
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
    let text = out.text();
    let (_, tail) = text.split_once("final statistics:\n").expect(&text);
    assert!(tail.starts_with("mock: 1 requests, 0 retried"), "{tail}");
}

/// A local HTTPS server whose certificate (for `localhost`) is signed by a
/// CA made for the test; returns its port and the CA as PEM.
async fn tls_server() -> (u16, String) {
    tls_server_with(false).await
}

/// With `self_signed`, the server's certificate is its own CA, `CA:TRUE`,
/// as `openssl req -x509 -newkey ... -subj /CN=localhost` makes it; the PEM
/// returned is that certificate.
async fn tls_server_with(self_signed: bool) -> (u16, String) {
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "pacer test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = if self_signed {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.self_signed(&server_key).unwrap()
    } else {
        CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca, &ca_key)
            .unwrap()
    };
    let pem = if self_signed {
        server_cert.pem()
    } else {
        ca.pem()
    };

    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![server_cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake (case b) simply ends this connection.
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let body = format!("hello over tls: {}", req.uri().path());
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                        body,
                    ))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (port, pem)
}

/// Issue 17: a self-signed upstream (`CA:TRUE`, as openssl makes it) given
/// as `ca_file` got 502 `CaUsedAsEndEntity` where curl and requests accept it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_pinned_in_ca_file_is_accepted() {
    let (port, cert_pem) = tls_server_with(true).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("self.pem");
    std::fs::write(&ca_file, cert_pem).unwrap();
    let url = format!("https://localhost:{port}");
    let pinned = proxy({
        let base = upstream(url.clone());
        UpstreamConfig {
            limits: RateLimit {
                ca_file: Some(ca_file),
                ..base.limits.clone()
            },
            ..base
        }
    })
    .await;
    let answer = get(&client(), &format!("{}/ping", pinned.url())).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.text(), "hello over tls: /ping");
    pinned.shutdown().await;
    // Not pinned, it is refused as before.
    let unpinned = proxy(upstream(url)).await;
    let answer = get(&client(), &format!("{}/ping", unpinned.url())).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.text());
    unpinned.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstreams_are_checked_against_the_roots_and_the_ca_file() {
    let (port, ca_pem) = tls_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let url = format!("https://localhost:{port}");

    // (a) With the test CA trusted through `ca_file`, the proxy forwards.
    let trusted = proxy({
        let base = upstream(url.clone());
        UpstreamConfig {
            limits: RateLimit {
                ca_file: Some(ca_file.clone()),
                ..base.limits.clone()
            },
            ..base
        }
    })
    .await;
    let answer = get(&client(), &format!("{}/ping", trusted.url())).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.text(), "hello over tls: /ping");
    trusted.shutdown().await;

    // (b) Without it, the certificate is refused: a 502 that says why,
    // never a silent bypass.
    let untrusted = proxy(upstream(url)).await;
    let answer = get(&client(), &format!("{}/ping", untrusted.url())).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.text());
    let text = answer.text();
    assert!(text.contains("certificate"), "{text}");
    assert!(text.contains("UnknownIssuer"), "{text}");
    untrusted.shutdown().await;
}

#[tokio::test]
async fn a_ca_file_that_holds_no_certificate_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    for (path, needle) in [
        (&missing, "readable PEM file"),
        (&empty, "no `-----BEGIN CERTIFICATE-----`"),
    ] {
        let err = start_proxy(
            {
                let base = upstream("https://localhost:9".into());
                UpstreamConfig {
                    limits: RateLimit {
                        ca_file: Some(path.clone()),
                        ..base.limits.clone()
                    },
                    ..base
                }
            },
            loopback(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ProxyError::CaFile { .. }), "{err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
}

/// Issue 11: `http://alice:s3cret@host` was sent as `Host: alice:s3cret@host`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_in_the_url_becomes_basic_auth_never_the_host() {
    let api = mock(MockConfig::default()).await;
    let with_secret = api.url().replace("http://", "http://alice:s3cret@");
    let proxy = proxy(upstream(with_secret)).await;
    let client = client();
    let echo = get(&client, &format!("{}/who", proxy.url())).await.echo();
    assert_eq!(echo.headers["host"], api.addr().to_string());
    // base64("alice:s3cret")
    assert_eq!(echo.headers["authorization"], "Basic YWxpY2U6czNjcmV0");
    // A client's own credentials win.
    let own = send(
        &client,
        Method::GET,
        &format!("{}/who", proxy.url()),
        &[("authorization", "Bearer mine")],
        Bytes::new(),
    )
    .await
    .echo();
    assert_eq!(own.headers["authorization"], "Bearer mine");
    assert!(!format!("{proxy:?}").contains("s3cret"), "{proxy:?}");
    proxy.shutdown().await;
}

/// Issue 11: a hung upstream held its in-flight slot for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_upstream_gets_a_504_and_frees_the_slot() {
    let api = mock(MockConfig {
        latency: Duration::from_secs(600),
        ..MockConfig::default()
    })
    .await;
    let mut cfg = upstream(api.url());
    cfg.limits.upstream_timeout = Duration::from_millis(300);
    cfg.limits.max_concurrent = 1;
    let proxy = proxy(cfg).await;
    let client = client();
    let url = format!("{}/slow", proxy.url());
    // One slot: the second request gets it only if the first gave it back.
    let (a, b) = tokio::join!(get(&client, &url), get(&client, &url));
    for answer in [a, b] {
        assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
        let text = answer.text();
        assert!(
            text.contains("did not answer within 0.3 s (upstream_timeout)"),
            "{text}"
        );
    }
    let stats = proxy.shutdown().await;
    assert_eq!((stats.timeouts, stats.success_rate), (2, 0.0));
}

/// Issue 11: `Retry-After: 3600` meant three silent waits of max_backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_wait_bounds_retries_and_a_long_retry_after_is_announced_once() {
    let api = mock(MockConfig {
        fail_first: 100,
        fail_first_wait: Duration::from_secs(3600),
        ..MockConfig::default()
    })
    .await;
    let mut cfg = upstream(api.url());
    cfg.limits.max_backoff = Duration::from_millis(400);
    cfg.limits.max_retries = 10;
    cfg.limits.max_wait = Duration::from_secs(1);
    let proxy = proxy(cfg).await;
    let client = client();
    let url = format!("{}/busy", proxy.url());
    for _ in 0..2 {
        let answer = get(&client, &url).await;
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
        let why = answer.headers["pacer-not-retried"].to_str().unwrap();
        assert!(why.contains("max_wait (1 s)"), "{why}");
    }
    let stats = proxy.shutdown().await;
    assert_eq!(stats.out_of_budget, 2);
    // At most two 0.4 s backoffs fit in 1 s, never the ten retries allowed.
    assert!(stats.retried <= 4, "{stats:?}");
    assert_eq!(
        stats.notices,
        ["mock: API asked to wait 3600 s, capped at 0.4 s (max_backoff)"]
    );
}

/// Issue 11: `/../../etc/passwd` under a base path was forwarded as is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_may_not_climb_above_the_base_path() {
    let api = mock(MockConfig::default()).await;
    let proxy = proxy(upstream(format!("{}/base", api.url()))).await;
    let client = client();
    let escape = get(&client, &format!("{}/../../etc/passwd", proxy.url())).await;
    assert_eq!(escape.status, StatusCode::BAD_REQUEST, "{}", escape.text());
    assert!(escape.text().contains("climbs above"), "{}", escape.text());
    let inside = get(&client, &format!("{}/a/../b//c", proxy.url())).await;
    assert_eq!(inside.echo().path, "/base/b//c");
    assert_eq!(api.stats().total_requests, 1);
    proxy.shutdown().await;
}

/// Issue 11: queueing counts against `max_wait` too; a request that never
/// gets its turn is answered, not left waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_wait_bounds_the_wait_for_a_slot_and_for_the_answer() {
    let api = mock(MockConfig {
        latency: Duration::from_secs(600),
        ..MockConfig::default()
    })
    .await;
    let mut cfg = upstream(api.url());
    cfg.limits.max_concurrent = 1;
    cfg.limits.max_wait = Duration::from_millis(500);
    let proxy = proxy(cfg).await;
    let client = client();
    let url = format!("{}/slow", proxy.url());
    let first = get(&client, &url);
    let second = async {
        // Queued behind the first, which holds the only slot until its
        // own budget runs out.
        tokio::time::sleep(Duration::from_millis(100)).await;
        get(&client, &url).await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(first.text().contains("(max_wait)"), "{}", first.text());
    assert_eq!(second.status, StatusCode::GATEWAY_TIMEOUT);
    // Its turn comes when the first gives up, with little or no budget left.
    assert!(second.text().contains("max_wait"), "{}", second.text());
    let stats = proxy.shutdown().await;
    assert_eq!(stats.timeouts, 2);
}

/// Issue 17: any local user could reach the upstream, credentials added,
/// through the loopback port. Run as root (as CI is), the request is made as
/// `nobody`; elsewhere nobody else can be impersonated and the test says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_local_user_is_refused_with_403() {
    let api = mock(MockConfig::default()).await;
    let proxy = proxy(upstream(api.url())).await;
    let url = format!("{}/x", proxy.url());
    // This user is served.
    let mine = send(&client(), Method::GET, &url, &[], "").await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text());
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root {
        eprintln!("not root: cannot make a request as another user here");
        proxy.shutdown().await;
        return;
    }
    // bash's /dev/tcp: nothing of this user's (a venv, a pyenv shim) needed.
    let port = proxy.addr().port();
    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port}; printf 'GET /x HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' >&3; cat <&3"
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "/bin/bash",
                "-c",
                &script,
            ])
            .output()
            .expect("setpriv runs (util-linux)")
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.starts_with("HTTP/1.1 403")
            && printed.contains("pacer's proxy serves only the user who started it (this connection is uid 65534's)"),
        "{printed}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The mock saw only this user's request.
    assert_eq!(api.stats().total_requests, 1);
    proxy.shutdown().await;
}

/// Issue 17: `..%2f`, `%2e%2e%5c`, `..;` hid a `..` from the proxy that a
/// server decoding more would resolve above the base path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dot_dot_hidden_by_encoding_is_refused_with_400() {
    let api = mock(MockConfig::default()).await;
    let proxy = proxy(upstream(format!("{}/base", api.url()))).await;
    for path in [
        "/a/..%2f..%2fadmin",
        "/a/%2e%2e%2fadmin",
        "/a/..%5cadmin",
        "/a/..;/admin",
    ] {
        let answer = send(
            &client(),
            Method::GET,
            &format!("{}{path}", proxy.url()),
            &[],
            "",
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            answer.text()
        );
    }
    let fine = send(
        &client(),
        Method::GET,
        &format!("{}/group%2Fproject", proxy.url()),
        &[],
        "",
    )
    .await;
    assert_eq!(fine.status, StatusCode::OK, "{}", fine.text());
    proxy.shutdown().await;
}
