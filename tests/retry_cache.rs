//! `retry_interval` and `cached_check_horizon` end to end (issue 18), on a real cluster of
//! two workers with confirmations 2: a check run every 20 s with `delay` 2 needs three
//! rounds to go down, 40 s and more at its interval; with `retry_interval` 1 its contrary
//! results are retried every second and it flips seconds after its first failure. The
//! confirmer answers the later rounds from its cached result (`cached_check_horizon` 60),
//! which its `/metrics` counts.

mod common;

use std::time::{Duration, Instant};

use bearmon::db::Backend;
use common::cluster::{Cluster, Target, get_json, wait_for};
use common::{exec, fresh_db, last_id};

async fn counter(url: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{url}/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_check_flips_in_seconds_and_confirmers_reuse_their_result() {
    let Some((db, url)) = fresh_db(Backend::Postgres).await else { return };
    let mut target = Target::up().await;
    let options = r#"{"retry_interval": 1, "cached_check_horizon": 60}"#;
    exec(&db, &format!("INSERT INTO checks (name, type, data, check_interval, delay, options) VALUES ('slow', 'tcp', '{}', 20, 2, '{options}')", target.check_json())).await;
    let check = last_id(&db, "checks").await;
    let c = Cluster::start(&url, &["w1", "w2"], &[], 2);
    c.wait_ready(2).await;
    let seen = wait_for(Duration::from_secs(40), || async {
        c.check(check).await.filter(|v| v["last_result"]["verdict"] == "online").map(|_| ())
    })
    .await;
    assert!(seen.is_some(), "no first result: {}", c.all_logs());
    target.stop();
    let stopped = Instant::now();
    // The first failure comes at the next slot, up to 20 s away.
    let failed = wait_for(Duration::from_secs(25), || async {
        c.check(check).await.filter(|v| v["last_result"]["verdict"] == "offline").map(|_| Instant::now())
    })
    .await;
    assert!(failed.is_some(), "no failing result within the interval: {}", c.all_logs());
    let flipped = wait_for(Duration::from_secs(30), || async {
        c.check(check).await.filter(|v| v["status"] == "offline").map(|_| Instant::now())
    })
    .await;
    let flipped = flipped.expect("the check never flipped");
    let took = flipped.duration_since(failed.unwrap());
    // Three rounds at the 20 s interval would take 40 s after the first failure.
    assert!(
        took < Duration::from_secs(15),
        "flipped {took:?} after the first failure ({:?} after the stop): not retried",
        flipped.duration_since(stopped)
    );
    let cluster = get_json(&format!("{}/api/cluster", c.vs.url)).await.unwrap();
    let mut hits = 0.0;
    for w in cluster["workers"].as_array().unwrap() {
        hits += counter(w["url"].as_str().unwrap(), "bearmon_cached_check_hits_total").await;
    }
    assert!(hits >= 1.0, "no confirmation answered from the cache: {cluster}");
}
