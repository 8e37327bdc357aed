//! The demo app (`App::Demo`, `--app demo`) over real HTTP: the calls
//! `examples/demo`'s client makes, behind the same limit as the echo app.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pacer_mockapi::{App, Limit, MockConfig, MockServer, RetryAfterFormat};
use serde_json::{json, Value};

type TestClient = Client<HttpConnector, Full<Bytes>>;

async fn demo(limit: Limit) -> MockServer {
    let cfg = MockConfig {
        app: App::Demo,
        limit,
        retry_after: RetryAfterFormat::Fractional,
        ..MockConfig::default()
    };
    pacer_mockapi::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Status, `Retry-After` and body (as JSON when it is) of one call.
async fn call(
    client: &TestClient,
    method: Method,
    url: String,
    body: String,
) -> (StatusCode, Option<String>, Value) {
    let req = Request::builder()
        .method(method)
        .uri(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("an answer within 30 s")
        .expect("the mock answers");
    let status = answer.status();
    let retry_after = answer
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = answer.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, retry_after, value)
}

#[tokio::test]
async fn the_demo_clients_calls() {
    let api = demo(Limit::None).await;
    let client: TestClient = Client::builder(TokioExecutor::new()).build_http();
    let url = |path: &str| format!("{}{path}", api.url());
    let get = |path: &str| call(&client, Method::GET, url(path), String::new());

    assert_eq!(get("/health").await.2, json!({ "status": "ok" }));

    let mut ids = Vec::new();
    for offset in [0, 10, 20] {
        let (status, _, page) = get(&format!("/resources?limit=10&offset={offset}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["total"], 25);
        ids.extend(page["items"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(ids.len(), 25);
    assert_eq!(ids[0]["id"], "tech_01");

    let (status, _, resource) = get("/resources/tech_07").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resource, ids[6]);
    let (status, _, missing) = get("/resources/nobody_here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"], "no resource nobody_here");

    let activity = json!({
        "resource_id": "tech_01",
        "type": "inspection",
        "day": "2024-06-01",
        "duration_minutes": 45,
    });
    let post = |body: String| call(&client, Method::POST, url("/activities"), body);
    let (status, _, created) = post(activity.to_string()).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut expected = activity.clone();
    expected["id"] = json!(1);
    assert_eq!(created, expected);
    assert_eq!(get("/activities/1").await, (StatusCode::OK, None, expected));
    assert_eq!(get("/activities/2").await.0, StatusCode::NOT_FOUND);

    let mut unknown = activity;
    unknown["resource_id"] = json!("nobody_here");
    let (status, _, refused) = post(unknown.to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["error"], "unknown resource nobody_here");

    assert_eq!(get("/status/500").await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.stats().accepted, api.stats().total_requests);
}

#[tokio::test]
async fn the_demo_app_is_rate_limited_like_the_echo_app() {
    let api = demo(Limit::TokenBucket {
        rate: 0.1,
        burst: 2,
    })
    .await;
    let client: TestClient = Client::builder(TokioExecutor::new()).build_http();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..3 {
        let (status, wait, _) =
            call(&client, Method::GET, api.url() + "/health", String::new()).await;
        statuses.push(status);
        retry_after = retry_after.or(wait);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let wait: f64 = retry_after.expect("a Retry-After").parse().unwrap();
    assert!(wait > 0.0 && wait <= 10.0, "{wait}");
    let stats = api.stats();
    assert_eq!((stats.accepted, stats.rejected), (2, 1));
}

#[test]
fn the_binary_serves_it_with_app_demo() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pacer-mockapi"))
        .args(["--app", "demo", "--port", "0", "--limit", "none"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET /resources/tech_24 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains(r#""name":"Technician 24""#), "{answer}");
    assert!(answer.contains(r#""status":"inactive""#), "{answer}");
}
