//! What an operator sees of a check's notifications (issue 17), end to end on a real
//! cluster: `GET /api/checks/{id}/notifications` asked of the viewserver lists the outbox's
//! rows newest first with their type, number, contact and delivery state, and the status
//! page `/checks/{id}` shows them.

mod common;

use std::time::Duration;

use bearmon::db::Backend;
use common::cluster::{Cluster, get_json, wait_for};
use common::receivers::{Mode, Receiver};
use common::{exec, fresh_db, last_id};
use serde_json::Value;

const FAST: &str = "[alerts]\nretry_first_secs = 0.5\nretry_max_secs = 2\n";

/// (status, body) of a GET.
async fn get(url: &str) -> (u16, String) {
    let r = reqwest::Client::new().get(url).timeout(Duration::from_secs(5)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The rows of `GET /api/checks/{id}/notifications` once `want` holds of them.
async fn rows_when(base: &str, check: i64, want: impl Fn(&[Value]) -> bool, what: &str) -> Vec<Value> {
    let url = format!("{base}/api/checks/{check}/notifications");
    let found = wait_for(Duration::from_secs(30), || async {
        let v = get_json(&url).await?;
        assert_eq!(v["id"], check, "{v}");
        let rows = v["notifications"].as_array()?.clone();
        want(&rows).then_some(rows)
    })
    .await;
    match found {
        Some(rows) => rows,
        None => panic!("{what} not listed within 30 s: {:?}", get_json(&url).await),
    }
}

fn is(row: &Value, kind: &str, number: u64, contact: i64, state: &str) -> bool {
    row["type"] == kind && row["number"] == number && row["contact_id"] == contact && row["state"] == state
}

async fn notifications_are_listed(backend: Backend) {
    let Some((db, url)) = fresh_db(backend).await else { return };
    let hooks = Receiver::start(Mode::Ok).await;
    let target = Receiver::start(Mode::Ok).await;
    let data = format!(r#"{{"url":"{}","timeout":2}}"#, target.url("/health"));
    exec(
        &db,
        &format!(
            "INSERT INTO checks (name, type, data, check_interval, delay) VALUES ('shop <&>', 'http', '{data}', 1, 0)"
        ),
    )
    .await;
    let check = last_id(&db, "checks").await;
    exec(&db, &format!("INSERT INTO contacts (type, data) VALUES ('http', '{}')", hooks.url("/ops"))).await;
    let contact = last_id(&db, "contacts").await;
    exec(
        &db,
        &format!("INSERT INTO alerts (check_id, contact_id, type) VALUES ({check}, {contact}, 'both')"),
    )
    .await;
    let c = Cluster::start_with(&url, &["w1", "w2"], &[], 2, FAST, "");
    c.wait_ready(2).await;
    let base = c.vs.url.clone();

    // Nothing sent yet: an empty list, not an error.
    let v = get_json(&format!("{base}/api/checks/{check}/notifications")).await.expect("the route answers");
    assert_eq!(v["notifications"], serde_json::json!([]), "{v}");

    tokio::time::sleep(Duration::from_secs(2)).await;
    target.set_mode(Mode::Status(503));
    let rows =
        rows_when(&base, check, |r| r.iter().any(|r| is(r, "PROBLEM", 1, contact, "sent")), "PROBLEM #1")
            .await;
    assert!(rows[0]["at"].as_str().is_some_and(|t| t.ends_with('Z')), "{rows:?}");

    // The page lists it, with the check's name escaped.
    let (code, page) = get(&format!("{base}/checks/{check}")).await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("Last notifications") && page.contains("<td>PROBLEM</td><td>1</td>"), "{page}");
    assert!(page.contains(&format!("<td>contact {contact}</td>")), "{page}");
    assert!(page.contains("shop &lt;&amp;&gt;") && !page.contains("shop <&>"), "{page}");
    assert!(page.contains("State type <b>hard</b>"), "{page}");

    // The recovery comes first: newest first.
    target.set_mode(Mode::Ok);
    let rows =
        rows_when(&base, check, |r| r.first().is_some_and(|r| r["type"] == "RECOVERY"), "RECOVERY").await;
    assert!(rows.iter().skip(1).any(|r| is(r, "PROBLEM", 1, contact, "sent")), "{rows:?}");
    assert_eq!(rows[0]["contact_id"], contact, "{rows:?}");

    // `limit` bounds the list (1..500, as /api/openapi.json says); one out of bounds, not a
    // number, or an unknown check is an error.
    let one = get_json(&format!("{base}/api/checks/{check}/notifications?limit=1")).await.unwrap();
    assert_eq!(one["notifications"].as_array().map(Vec::len), Some(1), "{one}");
    for bad in ["0", "501", "many"] {
        let (code, body) = get(&format!("{base}/api/checks/{check}/notifications?limit={bad}")).await;
        assert_eq!(code, 400, "{body}");
        let error = serde_json::from_str::<Value>(&body).unwrap()["error"].as_str().unwrap_or("").to_string();
        assert!(error.contains("limit") && error.contains("from 1 to 500"), "{body}");
    }
    for path in ["/api/checks/999999/notifications", "/api/checks/abc/notifications"] {
        let (code, body) = get(&format!("{base}{path}")).await;
        assert_eq!(code, 404, "{path}: {body}");
    }

    // Any node answers it: a worker forwards to the controller.
    for w in &c.workers {
        let v = get_json(&format!("{}/api/checks/{check}/notifications?limit=5", w.url)).await;
        assert!(v.is_some_and(|v| v["notifications"].as_array().is_some_and(|r| r.len() >= 2)), "{}", w.name);
    }

    // The API's description names the route and the write routes' token.
    let spec = get_json(&format!("{base}/api/openapi.json")).await.unwrap();
    assert!(spec["paths"]["/api/checks/{id}/notifications"]["get"].is_object(), "{spec}");
    assert_eq!(spec["paths"]["/api/checks/{id}/ack"]["post"]["security"][0]["bearer"], serde_json::json!([]));
    assert!(spec["components"]["schemas"]["Check"]["properties"]["notification"].is_object());
}

on_every_backend!(notifications_are_listed);
