//! Node traffic is authenticated: unsigned, forged and replayed requests are refused, and
//! with TLS on, a node whose certificate comes from another CA cannot join.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bearmon::node::Signer;
use bearmon::node::auth::{HDR_NODE, HDR_NONCE, HDR_SIGNATURE, HDR_TIME, Signed};
use common::cluster::{Node, SECRET, Scratch, TIMING, get_json, viewserver_args, wait_for, worker_args};

fn heartbeat(name: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "name": name, "url": "http://127.0.0.1:9", "has_db": false, "controlling": null, "checks_assigned": 0
    }))
    .unwrap()
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &[u8],
    s: Option<&Signed>,
) -> reqwest::Result<(u16, String)> {
    let mut req =
        client.post(format!("{url}/cluster/heartbeat")).body(body.to_vec()).timeout(Duration::from_secs(5));
    if let Some(s) = s {
        req = req
            .header(HDR_NODE, &s.node)
            .header(HDR_TIME, s.time_ms.to_string())
            .header(HDR_NONCE, &s.nonce)
            .header(HDR_SIGNATURE, &s.signature);
    }
    let resp = req.send().await?;
    Ok((resp.status().as_u16(), resp.text().await.unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_replayed_and_unsigned_requests_are_refused() {
    common::init();
    let scratch = Scratch::new("");
    let vs = Node::start("viewserver", &viewserver_args(&scratch.config(), "127.0.0.1:0"));
    let client = reqwest::Client::new();
    let body = heartbeat("w9");

    let (status, text) = post(&client, &vs.url, &body, None).await.unwrap();
    assert_eq!(status, 401, "unsigned: {text}");
    assert!(text.contains("missing header"), "{text}");

    let forged = Signer::new("not-the-secret").sign("w9", "POST", "/cluster/heartbeat", &body);
    let (status, text) = post(&client, &vs.url, &body, Some(&forged)).await.unwrap();
    assert_eq!(status, 401, "forged: {text}");
    assert!(text.contains("signature does not match"), "{text}");

    let good = Signer::new(SECRET).sign("w9", "POST", "/cluster/heartbeat", &body);
    let (status, text) = post(&client, &vs.url, &heartbeat("w8"), Some(&good)).await.unwrap();
    assert_eq!(status, 401, "a signature over another body: {text}");

    let good = Signer::new(SECRET).sign("w9", "POST", "/cluster/heartbeat", &body);
    let (status, text) = post(&client, &vs.url, &body, Some(&good)).await.unwrap();
    assert_eq!(status, 200, "signed: {text}");
    let (status, text) = post(&client, &vs.url, &body, Some(&good)).await.unwrap();
    assert_eq!(status, 401, "replayed: {text}");
    assert!(text.contains("replayed"), "{text}");

    assert!(vs.logged("unauthenticated node request refused"), "{}", vs.log_text());
    assert!(vs.logged("peer=127.0.0.1:"), "refusals name the peer address:\n{}", vs.log_text());
    let metrics = reqwest::get(format!("{}/metrics", vs.url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("bearmon_auth_refused_total 4"), "{metrics}");

    // An unsigned request is refused on its headers: the server does not wait for a body it
    // announced (16 MB here, never sent).
    let addr = vs.url.trim_start_matches("http://").to_string();
    let answer = tokio::time::timeout(Duration::from_secs(5), async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /cluster/heartbeat HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 16000000\r\n\r\n{{"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .expect("an unsigned request's answer must not wait for its body");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    // A real worker with the wrong secret never joins.
    let mut args = worker_args(&scratch.config(), "intruder", &vs.url, None, 2);
    let pos = args.iter().position(|a| a == SECRET).unwrap();
    args[pos] = "the-wrong-secret".into();
    let intruder = Node::start("intruder", &args);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let view = get_json(&format!("{}/api/cluster", vs.url)).await.unwrap();
    let names: Vec<&str> =
        view["workers"].as_array().unwrap().iter().filter_map(|w| w["name"].as_str()).collect();
    assert_eq!(names, vec!["w9"], "{view}");
    assert!(intruder.logged("401"), "{}", intruder.log_text());
}

fn bearmon(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_bearmon")).args(args).output().unwrap();
    assert!(out.status.success(), "bearmon {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn tls_config(dir: &Path, ca: &Path, node: &str) -> String {
    format!(
        "[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n",
        ca.join("ca.pem").display(),
        dir.join(format!("{node}.pem")).display(),
        dir.join(format!("{node}-key.pem")).display()
    )
}

fn https_client(ca: &Path, identity: Option<(&Path, &str)>) -> reqwest::Client {
    let mut files = None;
    if let Some((dir, node)) = identity {
        files = Some(bearmon::node::TlsFiles {
            ca: ca.join("ca.pem"),
            cert: dir.join(format!("{node}.pem")),
            key: dir.join(format!("{node}-key.pem")),
        });
    }
    match files {
        Some(f) => {
            let tls = bearmon::node::NodeTls::load(&f).unwrap();
            reqwest::Client::builder().tls_backend_preconfigured(tls.client).build().unwrap()
        }
        None => {
            let pem = std::fs::read(ca.join("ca.pem")).unwrap();
            let cert = reqwest::Certificate::from_pem(&pem).unwrap();
            reqwest::Client::builder().tls_certs_only([cert]).build().unwrap()
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_tls_only_nodes_of_the_cluster_ca_join() {
    common::init();
    let Some((_db, db_url)) = common::fresh_db(bearmon::db::Backend::Postgres).await else { return };
    let scratch = Scratch::new("");
    let certs = scratch.path().join("certs");
    let other = scratch.path().join("other-ca");
    let (c, o) = (certs.to_str().unwrap(), other.to_str().unwrap());
    bearmon(&["certs", "init", "--dir", c]);
    for n in ["viewserver", "w1", "w2"] {
        bearmon(&["certs", "issue", n, "--dir", c, "--host", "127.0.0.1"]);
    }
    bearmon(&["certs", "init", "--dir", o]);
    bearmon(&["certs", "issue", "w3", "--dir", o, "--host", "127.0.0.1"]);
    let write = |node: &str, ca: &Path, dir: &Path| {
        let p = scratch.path().join(format!("{node}.toml"));
        std::fs::write(&p, format!("{}\n{TIMING}", tls_config(dir, ca, node))).unwrap();
        p
    };
    let vs = Node::start("viewserver", &viewserver_args(&write("viewserver", &certs, &certs), "127.0.0.1:0"));
    assert!(vs.url.starts_with("https://"), "{}", vs.url);
    let _w1 = Node::start("w1", &worker_args(&write("w1", &certs, &certs), "w1", &vs.url, Some(&db_url), 2));
    let _w2 = Node::start("w2", &worker_args(&write("w2", &certs, &certs), "w2", &vs.url, None, 2));
    let w3 = Node::start("w3", &worker_args(&write("w3", &other, &other), "w3", &vs.url, None, 2));

    // The API answers over TLS without a client certificate; the cluster forms.
    let reader = https_client(&certs, None);
    let view = wait_for(Duration::from_secs(20), || async {
        let v: serde_json::Value =
            reader.get(format!("{}/api/cluster", vs.url)).send().await.ok()?.json().await.ok()?;
        (v["workers_live"] == 2 && v["controller"] == "w1").then_some(v)
    })
    .await;
    let view = view.expect("w1 and w2 join over mutual TLS");
    let names: Vec<&str> =
        view["workers"].as_array().unwrap().iter().filter_map(|w| w["name"].as_str()).collect();
    assert_eq!(names, vec!["w1", "w2"], "the node from another CA must not join: {view}");
    assert!(vs.logged("TLS handshake refused"), "{}", vs.log_text());
    let checks = reader.get(format!("{}/api/checks", vs.url)).send().await.unwrap();
    assert_eq!(checks.status(), 200, "the viewserver reaches the controller over TLS");
    assert!(!w3.logged("viewserver reachable again"));

    // A client with a certificate from another CA is refused in the handshake.
    let foreign = https_client(&certs, Some((&other, "w3")));
    let body = heartbeat("w3");
    let s = Signer::new(SECRET).sign("w3", "POST", "/cluster/heartbeat", &body);
    assert!(post(&foreign, &vs.url, &body, Some(&s)).await.is_err(), "a foreign certificate got through");

    // A valid certificate cannot sign as another node; no certificate, no cluster route.
    let w2_client = https_client(&certs, Some((&certs, "w2")));
    let body = heartbeat("w1");
    let s = Signer::new(SECRET).sign("w1", "POST", "/cluster/heartbeat", &body);
    let (status, text) = post(&w2_client, &vs.url, &body, Some(&s)).await.unwrap();
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("does not name node"), "{text}");
    let s = Signer::new(SECRET).sign("w1", "POST", "/cluster/heartbeat", &body);
    let (status, _) = post(&reader, &vs.url, &body, Some(&s)).await.unwrap();
    assert_eq!(status, 401, "a signed request without a client certificate");
}

/// A confirmation request is run only for the current term and from its controller: a
/// deposed controller (an older term) or another signed node naming the current term is
/// refused with 409, and the refusal is logged.
#[tokio::test(flavor = "multi_thread")]
async fn asks_are_run_only_for_the_current_term_from_its_controller() {
    let Some((_db, url)) = common::fresh_db(bearmon::db::Backend::Postgres).await else { return };
    let c = common::cluster::Cluster::start(&url, &["w1", "w2"], &[], 2);
    let ctrl = c.wait_ready(2).await;
    // Every worker hears of the term with its next heartbeat.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let view = c.cluster().await;
    let term = view["term"].as_u64().unwrap();
    let other = c.workers.iter().find(|w| w.name != ctrl).unwrap();
    let client = reqwest::Client::new();
    let ask = |t: u64| serde_json::to_vec(&serde_json::json!({ "term": t, "asks": [] })).unwrap();
    let send = |from: &str, body: Vec<u8>| {
        let s = Signer::new(SECRET).sign(from, "POST", "/cluster/ask", &body);
        let req = client
            .post(format!("{}/cluster/ask", other.url))
            .body(body)
            .header(HDR_NODE, &s.node)
            .header(HDR_TIME, s.time_ms.to_string())
            .header(HDR_NONCE, &s.nonce)
            .header(HDR_SIGNATURE, &s.signature)
            .timeout(Duration::from_secs(5));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(send(&ctrl, ask(term - 1)).await, 409, "an older term's ask was run");
    assert_eq!(send("w9", ask(term)).await, 409, "an ask for the current term from another node was run");
    assert_eq!(send(&ctrl, ask(term)).await, 204, "the controller's ask was refused");
    assert!(other.logged("confirmation request refused"), "{}", other.log_text());
}
