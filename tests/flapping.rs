//! Flap detection end to end (issue 18): a real cluster on PostgreSQL and MariaDB, a target
//! that changes its answer every interval: FLAPPINGSTART, then no PROBLEM or RECOVERY while
//! it flaps, then FLAPPINGSTOP once it settles; the API shows it flapping with its percent.

mod common;

use std::time::{Duration, Instant};

use bearmon::db::Backend;
use common::cluster::{Cluster, wait_for};
use common::receivers::{Mode, Receiver};
use common::{exec, fresh_db, last_id};

const FAST: &str = "[alerts]\nretry_first_secs = 0.5\nretry_max_secs = 2\n";

fn types(hooks: &Receiver) -> Vec<String> {
    hooks.notification_types("/ops")
}

async fn a_flapping_target_gives_flappingstart_and_no_storm(backend: Backend) {
    let Some((db, url)) = fresh_db(backend).await else { return };
    let hooks = Receiver::start(Mode::Ok).await;
    let target = Receiver::start(Mode::Ok).await;
    exec(&db, &format!("INSERT INTO contacts (type, data) VALUES ('http', '{}')", hooks.url("/ops"))).await;
    let ops = last_id(&db, "contacts").await;
    let data = format!(r#"{{"url":"{}","timeout":1}}"#, target.url("/health"));
    let options = r#"{"flap_detection_enabled": true, "notification_options": "c,r,f"}"#;
    exec(&db, &format!("INSERT INTO checks (name, type, data, check_interval, delay, options) VALUES ('flappy', 'http', '{data}', 1, 0, '{options}')")).await;
    let check = last_id(&db, "checks").await;
    exec(&db, &format!("INSERT INTO alerts (check_id, contact_id, type) VALUES ({check}, {ops}, 'both')"))
        .await;
    let c = Cluster::start_with(&url, &["w1", "w2"], &[], 1, FAST, "");
    c.wait_ready(2).await;
    // The target changes its answer every interval for up to 60 s, until FLAPPINGSTART.
    let began = Instant::now();
    let mut down = false;
    while began.elapsed() < Duration::from_secs(60) && !types(&hooks).iter().any(|t| t == "FLAPPINGSTART") {
        down = !down;
        target.set_mode(if down { Mode::Status(503) } else { Mode::Ok });
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    let at_start = types(&hooks);
    let start = at_start.iter().position(|t| t == "FLAPPINGSTART");
    assert!(start.is_some(), "no FLAPPINGSTART within 60 s: {at_start:?}");
    let v = c.check(check).await.unwrap();
    assert_eq!(v["flapping"], true, "{v}");
    assert!(v["percent_state_change"].as_f64().unwrap_or(0.0) >= 30.0, "{v}");
    // Still flapping for 8 more intervals: no PROBLEM or RECOVERY goes out.
    for _ in 0..8 {
        down = !down;
        target.set_mode(if down { Mode::Status(503) } else { Mode::Ok });
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    let during = types(&hooks);
    let since_start = &during[start.unwrap() + 1..];
    assert!(
        since_start.iter().all(|t| t != "PROBLEM" && t != "RECOVERY"),
        "notifications while flapping: {during:?}"
    );
    // It settles (answers OK): FLAPPINGSTOP once the percent falls below the low threshold.
    target.set_mode(Mode::Ok);
    let stopped = wait_for(Duration::from_secs(40), || async {
        types(&hooks).iter().any(|t| t == "FLAPPINGSTOP").then_some(())
    })
    .await;
    assert!(stopped.is_some(), "no FLAPPINGSTOP after it settled: {:?}", types(&hooks));
    let v = c.check(check).await.unwrap();
    assert_eq!(v["flapping"], false, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flapping_target_on_postgres() {
    a_flapping_target_gives_flappingstart_and_no_storm(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flapping_target_on_mariadb() {
    a_flapping_target_gives_flappingstart_and_no_storm(Backend::MySql).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flapping_target_on_sqlite() {
    a_flapping_target_gives_flappingstart_and_no_storm(Backend::Sqlite).await;
}
