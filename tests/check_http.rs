//! `http` checks against a real axum target on loopback, over HTTP and HTTPS.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{any, get};
use bearmon::check::Verdict;
use common::{TlsListener, probe, tls_acceptor};
use tokio::net::TcpListener;

fn target() -> Router {
    Router::new()
        .route("/ok", get(|| async { "hello bearmon" }))
        .route(
            "/status/{code}",
            get(|axum::extract::Path(code): axum::extract::Path<u16>| async move {
                StatusCode::from_u16(code).unwrap()
            }),
        )
        .route("/redirect", get(|| async { Redirect::temporary("/ok") }))
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route(
            "/headers",
            get(|h: HeaderMap| async move {
                let ok = h.get("x-test").is_some_and(|v| v == "yes")
                    && h.get("host").is_some_and(|v| v == "example.test")
                    && h.get("user-agent").is_some_and(|v| v == "bearmon");
                if ok { StatusCode::OK } else { StatusCode::BAD_REQUEST }
            }),
        )
        .route(
            "/auth",
            get(|h: HeaderMap| async move {
                // "alice:s3cret" in base64.
                if h.get("authorization").is_some_and(|v| v == "Basic YWxpY2U6czNjcmV0") {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }),
        )
        .route(
            "/post",
            any(|m: axum::http::Method, h: HeaderMap, body: String| async move {
                let ok = m == "POST" && body == "ping" && h.get("content-length").is_some_and(|v| v == "4");
                if ok { StatusCode::OK } else { StatusCode::BAD_REQUEST }
            }),
        )
        .route(
            "/never",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "late"
            }),
        )
        .route(
            "/big",
            get(|| async {
                // 8 MiB of filler, then the needle: past what a check reads.
                let chunks = (0..128)
                    .map(|_| Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024]))
                    .chain(std::iter::once(Ok(b"NEEDLE".to_vec())));
                Body::from_stream(futures_util::stream::iter(chunks)).into_response()
            }),
        )
}

async fn serve_http() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, target()).await.unwrap() });
    addr
}

async fn serve_https() -> SocketAddr {
    let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = inner.local_addr().unwrap();
    let l = TlsListener { inner, acceptor: tls_acceptor(30) };
    tokio::spawn(async move { axum::serve(l, target()).await.unwrap() });
    addr
}

async fn http(data: serde_json::Value) -> bearmon::check::Outcome {
    probe("http", &data.to_string()).await
}

#[tokio::test]
async fn status_match_and_mismatch() {
    let a = serve_http().await;
    let out = http(serde_json::json!({"url": format!("http://{a}/ok"), "expect_status": 200})).await;
    assert_eq!(out.verdict, Verdict::Online, "{out:?}");
    let out = http(serde_json::json!({"url": format!("http://{a}/status/404"), "expect_status": 200})).await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert_eq!(out.message, "status mismatch, got 404 but expected 200");
    let out = http(serde_json::json!({"url": format!("http://{a}/status/404"), "expect_status": 404})).await;
    assert_eq!(out.verdict, Verdict::Online, "{out:?}");
}

#[tokio::test]
async fn server_error_without_expect_status_is_offline() {
    let a = serve_http().await;
    let out = http(serde_json::json!({"url": format!("http://{a}/status/503")})).await;
    assert_eq!(out.verdict, Verdict::Offline, "gobearmon passed a 503");
    assert!(out.message.contains("503"), "{}", out.message);
    let out = http(serde_json::json!({"url": format!("http://{a}/status/204")})).await;
    assert_eq!(out.verdict, Verdict::Online);
}

#[tokio::test]
async fn redirects_are_followed_but_not_forever() {
    let a = serve_http().await;
    let out = http(serde_json::json!({"url": format!("http://{a}/redirect"), "expect_status": 200,
        "expect_substring": "hello"}))
    .await;
    assert_eq!(out.verdict, Verdict::Online, "{out:?}");
    let out = http(serde_json::json!({"url": format!("http://{a}/loop")})).await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert!(out.message.contains("redirect"), "{}", out.message);
}

#[tokio::test]
async fn substring_found_and_missing() {
    let a = serve_http().await;
    let out = http(serde_json::json!({"url": format!("http://{a}/ok"), "expect_substring": "bearmon"})).await;
    assert_eq!(out.verdict, Verdict::Online, "{out:?}");
    let out = http(serde_json::json!({"url": format!("http://{a}/ok"), "expect_substring": "grizzly"})).await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert_eq!(out.message, "expected substring [grizzly] was not found in the response body");
}

#[tokio::test]
async fn headers_host_basic_auth_and_body() {
    let a = serve_http().await;
    let out = http(serde_json::json!({"url": format!("http://{a}/headers"),
        "headers": {"X-Test": "yes", "Host": "example.test"}, "expect_status": 200}))
    .await;
    assert_eq!(out.verdict, Verdict::Online, "{out:?}");
    let out = http(serde_json::json!({"url": format!("http://{a}/auth"), "username": "alice",
        "password": "s3cret", "expect_status": 200}))
    .await;
    assert_eq!(out.verdict, Verdict::Online, "{out:?}");
    let out = http(serde_json::json!({"url": format!("http://{a}/auth"), "username": "alice",
        "password": "wrong", "expect_status": 200}))
    .await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert!(!out.message.contains("wrong"), "the password leaked: {}", out.message);
    let out =
        http(serde_json::json!({"url": format!("http://{a}/post"), "body": "ping", "expect_status": 200}))
            .await;
    assert_eq!(out.verdict, Verdict::Online, "a body means POST with a Content-Length: {out:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_hits_the_deadline() {
    let a = serve_http().await;
    let started = std::time::Instant::now();
    let out = http(serde_json::json!({"url": format!("http://{a}/never"), "timeout": 3})).await;
    let took = started.elapsed();
    assert_eq!(out.verdict, Verdict::Offline);
    assert!(took >= Duration::from_secs(3) && took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test]
async fn an_oversized_body_is_read_only_up_to_the_bound() {
    let a = serve_http().await;
    let out = http(serde_json::json!({"url": format!("http://{a}/big"), "expect_substring": "NEEDLE"})).await;
    assert_eq!(out.verdict, Verdict::Offline, "the needle is past the 1 MiB bound");
    assert!(out.message.contains("first 1048576 bytes"), "{}", out.message);
    let out = http(serde_json::json!({"url": format!("http://{a}/big"), "expect_substring": "xxxx"})).await;
    assert_eq!(out.verdict, Verdict::Online);
}

#[tokio::test]
async fn connection_refused_is_offline() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    let out = http(serde_json::json!({"url": format!("http://{a}/")})).await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert!(out.message.starts_with("error performing HTTP request"), "{}", out.message);
    assert!(out.message.to_lowercase().contains("refused"), "{}", out.message);
}

#[tokio::test]
async fn https_verifies_unless_insecure() {
    let a = serve_https().await;
    let url = format!("https://localhost:{}/ok", a.port());
    let out = http(serde_json::json!({"url": url, "expect_substring": "hello"})).await;
    assert_eq!(out.verdict, Verdict::Offline, "a self-signed certificate is not trusted");
    assert!(out.message.to_lowercase().contains("certificate"), "{}", out.message);
    let out = http(serde_json::json!({"url": url, "insecure": true, "expect_substring": "hello"})).await;
    assert_eq!(out.verdict, Verdict::Online, "{out:?}");
}
