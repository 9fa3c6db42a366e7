//! Node answers are authenticated and, without TLS, sealed: a real server on loopback behind
//! the node's signature layer, and the node client. An answer that is unsigned, or signed
//! for another request (a replay), is refused; a check definition's password never crosses
//! the wire readable.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use bearmon::metrics::Metrics;
use bearmon::node::auth::{Answer, HDR_NODE, HDR_NONCE, HDR_SIGNATURE, HDR_TIME};
use bearmon::node::seal::{HDR_SEALED, Way};
use bearmon::node::{AuthLayer, NodeClient, Signer, require_signature, serve};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "answers-secret";
const PASSWORD: &str = "pw-in-transit-7731";

/// Serves `router` on a free loopback port; returns its URL.
async fn start(router: axum::Router, stop: &CancellationToken) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, None, router, stop.clone()));
    url
}

/// A handler answering a check definition with a password, as a sync answer does.
async fn definition(Json(req): Json<Value>) -> Json<Value> {
    Json(json!({ "asked": req, "data": format!("{{\"password\":\"{PASSWORD}\"}}") }))
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_are_signed_for_their_request_and_sealed_without_tls() {
    bearmon::init_crypto();
    let stop = CancellationToken::new();
    let signer = Arc::new(Signer::new(SECRET));
    let auth = Arc::new(AuthLayer { signer: signer.clone(), metrics: Metrics::new(), name: "w2".into() });
    let real = axum::Router::new()
        .route("/cluster/sync", post(definition))
        .route("/cluster/ask", post(|| async { axum::http::StatusCode::NO_CONTENT }))
        .route_layer(axum::middleware::from_fn_with_state(auth, require_signature));
    let real = start(real, &stop).await;
    let client = NodeClient::new("w1", signer.clone(), None).unwrap();

    // Through the client: sealed both ways, signed, opened.
    let got: Value =
        client.post(&real, "/cluster/sync", &json!({"worker": "w1"}), Duration::from_secs(5)).await.unwrap();
    assert_eq!(got["asked"]["worker"], "w1");
    assert!(got["data"].as_str().unwrap().contains(PASSWORD));

    // A 204 (an ask's answer) has no body on the wire, and is still signed for its request.
    let asked =
        client.post::<_, ()>(&real, "/cluster/ask", &json!({"term": 1}), Duration::from_secs(5)).await;
    asked.expect("a signed 204 is accepted");

    // On the wire: the answer is sealed (the password is not in it) and signed for this nonce.
    let body = signer.sealer().seal(Way::Request, "/cluster/sync", br#"{"worker":"w1"}"#);
    let s = signer.sign("w1", "POST", "/cluster/sync", &body);
    let resp = reqwest::Client::new()
        .post(format!("{real}/cluster/sync"))
        .header("content-type", "application/json")
        .header(HDR_NODE, &s.node)
        .header(HDR_TIME, s.time_ms.to_string())
        .header(HDR_NONCE, &s.nonce)
        .header(HDR_SIGNATURE, &s.signature)
        .header(HDR_SEALED, "1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    let raw = resp.bytes().await.unwrap();
    assert!(!raw.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()), "the password crossed readable");
    assert!(headers.contains_key(HDR_SEALED));
    let sig = headers[HDR_SIGNATURE].to_str().unwrap();
    assert_eq!(headers[HDR_NODE], "w2");
    let answer =
        Answer { status: 200, path: "/cluster/sync", responder: "w2", request_nonce: &s.nonce, body: &raw };
    signer.verify_response(&answer, sig).expect("signed for this request");
    let other = Answer { request_nonce: "00000000000000000000000000000000", ..answer };
    assert!(signer.verify_response(&other, sig).is_err(), "bound to its request");

    // A forger without the signature layer: an unsigned answer is refused...
    let forged =
        axum::Router::new().route("/cluster/heartbeat", post(|| async { Json(json!({"term": 99})) }));
    let forged = start(forged, &stop).await;
    let e = client.post::<_, Value>(&forged, "/cluster/heartbeat", &json!({}), Duration::from_secs(5)).await;
    let e = e.expect_err("an unsigned answer");
    assert!(e.to_string().contains("answer refused: unsigned"), "{e}");
    // ...and so is a real signature replayed from another request.
    let replayed = axum::Router::new().route(
        "/cluster/heartbeat",
        post(move || {
            let body = br#"{"term":99}"#.to_vec();
            let nonce = "ab".repeat(16);
            let answer = Answer {
                status: 200,
                path: "/cluster/heartbeat",
                responder: "viewserver",
                request_nonce: &nonce,
                body: &body,
            };
            let sig = Signer::new(SECRET).sign_response(&answer);
            async move { ([(HDR_NODE, "viewserver".to_string()), (HDR_SIGNATURE, sig)], body) }
        }),
    );
    let replayed = start(replayed, &stop).await;
    let e =
        client.post::<_, Value>(&replayed, "/cluster/heartbeat", &json!({}), Duration::from_secs(5)).await;
    assert!(e.expect_err("a replayed answer").to_string().contains("signature does not match"));
    stop.cancel();
}
