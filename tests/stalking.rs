//! State stalking end to end (issue 18): a real cluster; a failing target whose answer
//! changes while the check stays offline: each change of output is kept, listed by the API
//! and shown on the check's page, and nobody is paged for it.

mod common;

use std::time::Duration;

use bearmon::db::Backend;
use common::cluster::{Cluster, get_json, wait_for};
use common::receivers::{Mode, Receiver};
use common::{exec, fresh_db, last_id};

async fn output_changes_are_kept(backend: Backend) {
    let Some((db, url)) = fresh_db(backend).await else { return };
    let hooks = Receiver::start(Mode::Ok).await;
    let target = Receiver::start(Mode::Ok).await;
    exec(&db, &format!("INSERT INTO contacts (type, data) VALUES ('http', '{}')", hooks.url("/ops"))).await;
    let ops = last_id(&db, "contacts").await;
    let data = format!(r#"{{"url":"{}","timeout":2}}"#, target.url("/health"));
    let options = r#"{"stalking_options": "c"}"#;
    exec(&db, &format!("INSERT INTO checks (name, type, data, check_interval, delay, options) VALUES ('raid', 'http', '{data}', 1, 0, '{options}')")).await;
    let check = last_id(&db, "checks").await;
    exec(&db, &format!("INSERT INTO alerts (check_id, contact_id, type) VALUES ({check}, {ops}, 'both')"))
        .await;
    let c = Cluster::start_with(&url, &["w1", "w2"], &[], 2, "", "");
    c.wait_ready(2).await;
    target.set_mode(Mode::Status(503));
    let down = wait_for(Duration::from_secs(30), || async {
        c.check(check).await.filter(|v| v["status"] == "offline")
    })
    .await;
    assert!(down.is_some(), "the check did not go offline");
    target.set_mode(Mode::Status(500));
    let api = format!("{}/api/checks/{check}/stalking", c.vs.url);
    let kept = wait_for(Duration::from_secs(20), || async {
        let v = get_json(&api).await?;
        let events = v["events"].as_array()?.clone();
        events
            .iter()
            .any(|e| e["output"].as_str().unwrap_or_default().contains("500") && e["state"] == "critical")
            .then_some(events)
    })
    .await;
    assert!(kept.is_some(), "the change of output was not kept: {:?}", get_json(&api).await);
    let page = reqwest::get(format!("{}/checks/{check}", c.vs.url)).await.unwrap().text().await.unwrap();
    assert!(page.contains("state stalking") && page.contains("status 500"), "the page shows it");
    let problems = hooks.seen_at("/ops").len();
    assert_eq!(problems, 1, "one PROBLEM, no notification for the change of output");
}

#[tokio::test(flavor = "multi_thread")]
async fn output_changes_are_kept_on_postgres() {
    output_changes_are_kept(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn output_changes_are_kept_on_mariadb() {
    output_changes_are_kept(Backend::MySql).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn output_changes_are_kept_on_sqlite() {
    output_changes_are_kept(Backend::Sqlite).await;
}
