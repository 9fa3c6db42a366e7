//! Who is told, and when, end to end (issue 17): a real cluster on PostgreSQL and MariaDB,
//! second-scale intervals, real receivers. Re-notification every few seconds reaches an
//! escalation's contact at notification 2 and stops at an acknowledgement made through the
//! API; a downtime inserted by SQL silences a real outage and its end notifies; a contact
//! outside its notification period is not told.

mod common;

use std::process::Command;
use std::time::Duration;

use bearmon::db::{Backend, Db};
use common::cluster::{Cluster, wait_for};
use common::receivers::{Mode, Receiver};
use common::{exec, fresh_db, last_id};

const FAST: &str = "[alerts]\nretry_first_secs = 0.5\nretry_max_secs = 2\n";

/// An http check of `target`, every second, flipping on the first contrary round.
async fn add_check(db: &Db, target: &Receiver, options: &str) -> i64 {
    let data = format!(r#"{{"url":"{}","timeout":2}}"#, target.url("/health"));
    exec(
        db,
        &format!(
            "INSERT INTO checks (name, type, data, check_interval, delay, options) VALUES ('api', 'http', '{data}', 1, 0, '{options}')"
        ),
    )
    .await;
    last_id(db, "checks").await
}

async fn add_contact(db: &Db, url: &str, options: &str) -> i64 {
    exec(db, &format!("INSERT INTO contacts (type, data, options) VALUES ('http', '{url}', '{options}')"))
        .await;
    last_id(db, "contacts").await
}

/// (notification_type, notification_number) of every form POST `hooks` got at `path`.
fn told(hooks: &Receiver, path: &str) -> Vec<(String, String)> {
    hooks
        .seen_at(path)
        .iter()
        .map(|s| {
            let f = s.form();
            (
                f.get("notification_type").cloned().unwrap_or_default(),
                f.get("notification_number").cloned().unwrap_or_default(),
            )
        })
        .collect()
}

async fn wait_told(hooks: &Receiver, path: &str, want: (&str, &str), secs: u64) {
    let ok = wait_for(Duration::from_secs(secs), || async {
        told(hooks, path).iter().any(|(t, n)| t == want.0 && n == want.1).then_some(())
    })
    .await;
    assert!(ok.is_some(), "{path} was not told {want:?} within {secs} s: {:?}", told(hooks, path));
}

async fn renotify_escalate_and_ack(backend: Backend) {
    let Some((db, url)) = fresh_db(backend).await else { return };
    let hooks = Receiver::start(Mode::Ok).await;
    let target = Receiver::start(Mode::Ok).await;
    let check = add_check(&db, &target, r#"{"notification_interval": 2}"#).await;
    let first = add_contact(&db, &hooks.url("/first"), "").await;
    let second = add_contact(&db, &hooks.url("/second"), "").await;
    exec(&db, &format!("INSERT INTO alerts (check_id, contact_id, type) VALUES ({check}, {first}, 'both')"))
        .await;
    // From the second notification on, the second contact joins (one row per contact).
    for c in [first, second] {
        exec(
            &db,
            &format!(
                "INSERT INTO escalations (check_id, contact_id, first_notification, last_notification) VALUES ({check}, {c}, 2, 0)"
            ),
        )
        .await;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_bearmon"))
        .args(["token", "create", "ops", "--scope", "write", "--database", &url])
        .output()
        .unwrap();
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let c = Cluster::start_with(&url, &["w1", "w2"], &[], 2, FAST, "");
    c.wait_ready(2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    target.set_mode(Mode::Status(503));
    wait_told(&hooks, "/first", ("PROBLEM", "1"), 30).await;
    assert!(told(&hooks, "/second").is_empty(), "the second contact was told before notification 2");
    wait_told(&hooks, "/second", ("PROBLEM", "2"), 15).await;
    wait_told(&hooks, "/first", ("PROBLEM", "2"), 5).await;
    let v = c.check(check).await.unwrap();
    assert!(v["notification"]["number"].as_u64().unwrap_or(0) >= 2, "{v}");

    // An acknowledgement through the API: a read-only caller is refused, a write token is not.
    let http = reqwest::Client::new();
    let ack_url = format!("{}/api/checks/{check}/ack", c.vs.url);
    let r = http.post(&ack_url).body("{}").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = http
        .post(&ack_url)
        .bearer_auth(&token)
        .body(r#"{"author":"ann","comment":"on it"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{:?}", r.text().await);
    wait_told(&hooks, "/second", ("ACKNOWLEDGEMENT", "2"), 15).await;
    let acked = wait_for(Duration::from_secs(10), || async {
        c.check(check).await.filter(|v| v["acknowledged"] == true)
    })
    .await
    .expect("the API shows the acknowledgement");
    assert_eq!(acked["notification"]["ack"]["author"], "ann", "{acked}");
    let problems = |h: &Receiver| told(h, "/first").iter().filter(|(t, _)| t == "PROBLEM").count();
    let before = problems(&hooks);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(problems(&hooks), before, "re-notification went on after the acknowledgement");
    // The recovery reaches everyone told of the problem.
    target.set_mode(Mode::Ok);
    wait_told(&hooks, "/second", ("RECOVERY", &(before + 1).to_string()), 30).await;
}

async fn downtime_and_periods(backend: Backend) {
    let Some((db, url)) = fresh_db(backend).await else { return };
    let hooks = Receiver::start(Mode::Ok).await;
    let target = Receiver::start(Mode::Ok).await;
    exec(&db, "INSERT INTO timeperiods (name, definition) VALUES ('never', '; nobody is on call')").await;
    let check = add_check(&db, &target, "").await;
    let on_call = add_contact(&db, &hooks.url("/on-call"), "").await;
    let off_duty = add_contact(&db, &hooks.url("/off-duty"), r#"{"notification_period": "never"}"#).await;
    for c in [on_call, off_duty] {
        exec(&db, &format!("INSERT INTO alerts (check_id, contact_id, type) VALUES ({check}, {c}, 'both')"))
            .await;
    }
    let c = Cluster::start_with(&url, &["w1", "w2"], &[], 2, FAST, "");
    c.wait_ready(2).await;
    // A fixed downtime for the next 8 seconds, by SQL.
    let end = match backend {
        Backend::Postgres => "CURRENT_TIMESTAMP + INTERVAL '8 seconds'",
        Backend::MySql => "CURRENT_TIMESTAMP + INTERVAL 8 SECOND",
        Backend::Sqlite => "datetime('now', '+8 seconds')",
    };
    exec(&db, &format!("INSERT INTO downtimes (check_id, start_time, end_time, author) VALUES ({check}, CURRENT_TIMESTAMP, {end}, 'ops')")).await;
    let in_dt = wait_for(Duration::from_secs(10), || async {
        c.check(check).await.filter(|v| v["in_downtime"] == true)
    })
    .await;
    assert!(in_dt.is_some(), "the downtime inserted by SQL did not take effect: {:?}", c.check(check).await);
    target.set_mode(Mode::Status(503));
    let offline = wait_for(Duration::from_secs(20), || async {
        c.check(check).await.filter(|v| v["status"] == "offline")
    })
    .await;
    assert!(offline.is_some());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(told(&hooks, "/on-call").is_empty(), "told of a problem during its downtime");
    // The downtime ends with the problem still there: it is told then, once.
    wait_told(&hooks, "/on-call", ("PROBLEM", "1"), 20).await;
    assert!(told(&hooks, "/off-duty").is_empty(), "a contact outside its period was told");
    let v = c.check(check).await.unwrap();
    assert_eq!(v["in_downtime"], false, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn renotification_escalation_and_ack_on_postgres() {
    renotify_escalate_and_ack(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn renotification_escalation_and_ack_on_mariadb() {
    renotify_escalate_and_ack(Backend::MySql).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn downtime_and_periods_on_postgres() {
    downtime_and_periods(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn downtime_and_periods_on_mariadb() {
    downtime_and_periods(Backend::MySql).await;
}

/// A new controller goes on from the outbox: the next re-notification of a problem its
/// predecessor notified carries the next number, and the first is never sent again.
async fn renotification_survives_a_failover(backend: Backend) {
    let Some((db, url)) = fresh_db(backend).await else { return };
    let hooks = Receiver::start(Mode::Ok).await;
    let target = Receiver::start(Mode::Ok).await;
    let check = add_check(&db, &target, r#"{"notification_interval": 4}"#).await;
    let ops = add_contact(&db, &hooks.url("/ops"), "").await;
    exec(&db, &format!("INSERT INTO alerts (check_id, contact_id, type) VALUES ({check}, {ops}, 'both')"))
        .await;
    let mut c = Cluster::start_with(&url, &["w1", "w2", "w3"], &[], 2, FAST, "");
    let first = c.wait_ready(3).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    target.set_mode(Mode::Status(503));
    wait_told(&hooks, "/ops", ("PROBLEM", "1"), 30).await;
    c.worker(&first).kill();
    let next = wait_for(Duration::from_secs(20), || async {
        let name = c.cluster().await["controller"].as_str().map(str::to_string)?;
        (name != first).then_some(name)
    })
    .await;
    assert!(next.is_some(), "no new controller after {first} was killed");
    wait_told(&hooks, "/ops", ("PROBLEM", "2"), 20).await;
    let firsts = told(&hooks, "/ops").iter().filter(|(t, n)| t == "PROBLEM" && n == "1").count();
    assert_eq!(firsts, 1, "the first notification was sent again: {:?}", told(&hooks, "/ops"));
}

#[tokio::test(flavor = "multi_thread")]
async fn renotification_survives_a_failover_on_postgres() {
    renotification_survives_a_failover(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn renotification_survives_a_failover_on_mariadb() {
    renotification_survives_a_failover(Backend::MySql).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn renotification_escalation_and_ack_on_sqlite() {
    renotify_escalate_and_ack(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn downtime_and_periods_on_sqlite() {
    downtime_and_periods(Backend::Sqlite).await;
}
