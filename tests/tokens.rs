//! API tokens end to end: `bearmon token create|list|revoke` against a real database, and a
//! real cluster with `[http] public = false` that refuses the page and the API without a
//! read token, on every node (the viewserver and a probe-only worker check tokens through
//! the controller), counts and rate-limits refusals, and stops accepting a revoked token.

mod common;

use std::process::Command;
use std::time::Duration;

use bearmon::db::Backend;
use common::cluster::{Cluster, wait_for};
use common::fresh_db;
use serde_json::Value;
use sqlx::Row;

fn bearmon(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bearmon")).args(args).output().expect("run bearmon");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// (status, JSON body) of a GET with an optional bearer token.
async fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(url).timeout(Duration::from_secs(5));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_cluster_asks_every_read_for_a_token() {
    let Some((db, url)) = fresh_db(Backend::Postgres).await else { return };
    let (code, token, err) = bearmon(&["token", "create", "ops", "--scope", "read", "--database", &url]);
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_string();
    assert!(token.starts_with("bm_") && err.contains("shown this once"), "{token} / {err}");
    let (code, _, err) = bearmon(&["token", "create", "ops", "--database", &url]);
    assert_ne!(code, 0);
    assert!(err.contains("exists already"), "{err}");
    // Only the hash is stored; the list never shows a token.
    let rows = sqlx::query(db.sql("SELECT name, scope, token_hash FROM bearmon_tokens"))
        .fetch_all(db.pool())
        .await
        .unwrap();
    for r in &rows {
        for i in 0..3 {
            let v: String = r.try_get(i).unwrap();
            assert!(!v.contains(&token[3..]), "column {i} holds the token");
        }
    }
    let (_, list, _) = bearmon(&["token", "list", "--database", &url]);
    assert!(list.contains("ops") && list.contains("read") && !list.contains(&token[3..]), "{list}");

    let private = "[http]\npublic = false\n";
    let c = Cluster::start_with(&url, &["w1", "w2"], &["p1"], 2, private, private);
    let t = Some(token.as_str());
    let ready = wait_for(Duration::from_secs(30), || async {
        let (_, v) = get(&format!("{}/api/cluster", c.vs.url), t).await;
        (v["controller"].is_string() && v["workers_live"].as_u64() == Some(3)).then_some(v)
    })
    .await;
    let view = ready.expect("the cluster never became ready (asked with the token)");
    let controller = view["controller_url"].as_str().unwrap().to_string();
    let probe = c.workers.iter().find(|w| w.name == "p1").unwrap().url.clone();

    for base in [&c.vs.url, &controller, &probe] {
        let (status, body) = get(&format!("{base}/api/checks"), None).await;
        assert_eq!(status, 401, "{base} without a token: {body}");
        assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
        let (status, body) = get(&format!("{base}/api/checks"), Some("bm_wrong")).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("unknown or revoked token")), "{base}");
        let checks = wait_for(Duration::from_secs(10), || async {
            let (status, body) = get(&format!("{base}/api/checks"), t).await;
            (status == 200).then_some(body)
        })
        .await;
        assert!(checks.is_some_and(|b| b["checks"].is_array()), "{base} with the token");
    }
    let (status, who) = get(&format!("{probe}/api/whoami"), t).await;
    assert_eq!(
        (status, who["name"].as_str(), who["scope"].as_str()),
        (200, Some("ops"), Some("read")),
        "{who}"
    );
    let page = reqwest::Client::new().get(format!("{}/", c.vs.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("<h1>"));
    let (status, _) = get(&format!("{}/", c.vs.url), None).await;
    assert_eq!(status, 401, "the page is private too");
    // bearmon status takes the token.
    let (code, out, err) = bearmon(&["status", "--url", &c.vs.url, "--token", &token]);
    assert!(out.contains("cluster: controller"), "{code} {out} {err}");
    let (_, metrics) = get(&format!("{}/metrics", c.vs.url), None).await;
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(
        metrics.contains("bearmon_api_auth_refused_total 3"),
        "metrics stay open and count refusals:\n{metrics}"
    );

    // Revoked: refused within the cache's 10 s.
    let (code, out, _) = bearmon(&["token", "revoke", "ops", "--database", &url]);
    assert_eq!(code, 0, "{out}");
    let refused = wait_for(Duration::from_secs(15), || async {
        let (status, _) = get(&format!("{}/api/checks", c.vs.url), t).await;
        (status == 401).then_some(())
    })
    .await;
    assert!(refused.is_some(), "a revoked token still reads");

    // An address that keeps failing is refused outright for a while.
    let w2 = c.workers.iter().find(|w| w.name == "w2").unwrap().url.clone();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(get(&format!("{w2}/api/checks"), Some("bm_guess")).await.0);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 10, "{statuses:?}");
    assert_eq!(&statuses[10..], &[429, 429], "{statuses:?}");
}
