//! The cluster as users run it: the real `bearmon` binary as a viewserver and workers, on
//! loopback, against real PostgreSQL and MariaDB, with real signals.

mod common;

use std::time::{Duration, Instant};

use bearmon::db::{Backend, Db};
use common::cluster::{Cluster, Target, get_json, wait_for};
use common::{exec, fresh_db};
use serde_json::Value;
use sqlx::Row;

/// The check tests use: every 2 s, flip after 2 contrary rounds (delay 1).
const INTERVAL: u64 = 2;
const DELAY: u64 = 1;
/// The check's timeout (clamped minimum).
const TIMEOUT: u64 = 3;

async fn events(db: &Db, check_id: i64) -> Vec<String> {
    let sql = db.sql(
        "SELECT CASE WHEN type = 'offline' THEN 'offline' ELSE 'online' END FROM check_events WHERE check_id = ? ORDER BY id",
    );
    let rows = sqlx::query(sql).bind(check_id).fetch_all(db.pool()).await.unwrap();
    rows.iter().map(|r| r.try_get::<String, _>(0).unwrap()).collect()
}

async fn add_tcp_check(db: &Db, target: &Target) -> i64 {
    exec(
        db,
        &format!(
            "INSERT INTO checks (name, type, data, check_interval, delay) VALUES ('port {}', 'tcp', '{}', {INTERVAL}, {DELAY})",
            target.port,
            target.check_json()
        ),
    )
    .await;
    let sql = db.sql(&format!("SELECT {} FROM checks ORDER BY id DESC LIMIT 1", db.int("id")));
    sqlx::query(sql).fetch_one(db.pool()).await.unwrap().try_get(0).unwrap()
}

/// Waits until the API shows the check running with an online result.
async fn wait_running(c: &Cluster, id: i64) {
    let ok = wait_for(Duration::from_secs(20), || async {
        let v = c.check(id).await?;
        (v["status"] == "online" && v["last_result"]["verdict"] == "online").then_some(())
    })
    .await;
    assert!(ok.is_some(), "check {id} never ran online: {:?}", c.check(id).await);
}

async fn wait_status(c: &Cluster, id: i64, status: &str, limit: Duration) -> Instant {
    let at = wait_for(limit, || async { (c.check(id).await?["status"] == status).then(Instant::now) }).await;
    at.unwrap_or_else(|| panic!("check {id} did not become {status} within {limit:?}"))
}

/// SPEC §4: not before delay × interval, not after that + interval + timeout + 2 s.
fn assert_flip_window(took: Duration, what: &str) {
    let earliest = Duration::from_secs(DELAY * INTERVAL);
    // 0.3 s for the test's own polling of the API.
    let latest = Duration::from_secs(DELAY * INTERVAL + INTERVAL + TIMEOUT + 2) + Duration::from_millis(300);
    assert!(took >= earliest, "{what} after {took:?}: earlier than delay × interval ({earliest:?})");
    assert!(took <= latest, "{what} after {took:?}: later than {latest:?}");
}

/// Stops the target, waits for the flip (timed), then checks it was committed once.
async fn outage_flips_once(c: &Cluster, db: &Db, target: &mut Target, id: i64, before: &[&str]) {
    target.stop();
    let t0 = Instant::now();
    let t1 = wait_status(c, id, "offline", Duration::from_secs(25)).await;
    assert_flip_window(t1 - t0, "offline");
    tokio::time::sleep(Duration::from_secs(INTERVAL + 1)).await;
    let mut want: Vec<String> = before.iter().map(|s| s.to_string()).collect();
    want.push("offline".into());
    assert_eq!(events(db, id).await, want, "the outage must be committed exactly once");
}

async fn setup(
    backend: Backend,
    names: &[&str],
    probe_only: &[&str],
    confirmations: usize,
) -> Option<(Db, Cluster, Target, i64)> {
    let (db, url) = fresh_db(backend).await?;
    let target = Target::up().await;
    let id = add_tcp_check(&db, &target).await;
    let c = Cluster::start(&url, names, probe_only, confirmations);
    c.wait_ready(names.len() + probe_only.len()).await;
    wait_running(&c, id).await;
    Some((db, c, target, id))
}

async fn flips_offline_and_online_in_the_allowed_window(backend: Backend) {
    let Some((db, c, mut target, id)) = setup(backend, &["w1", "w2", "w3"], &[], 2).await else { return };
    outage_flips_once(&c, &db, &mut target, id, &[]).await;
    target.start().await;
    let t0 = Instant::now();
    let t1 = wait_status(&c, id, "online", Duration::from_secs(25)).await;
    assert_flip_window(t1 - t0, "online");
    tokio::time::sleep(Duration::from_secs(INTERVAL + 1)).await;
    assert_eq!(events(&db, id).await, vec!["offline", "online"]);
    let v = c.check(id).await.unwrap();
    assert!(v["since"].is_string(), "since is shown after a flip: {v}");
    let cluster = c.cluster().await;
    assert_eq!(cluster["degraded"], false);
    assert_eq!(cluster["workers_live"], 3);
}

mod flips {
    use super::*;
    #[tokio::test(flavor = "multi_thread")]
    async fn postgres() {
        flips_offline_and_online_in_the_allowed_window(Backend::Postgres).await
    }
    #[tokio::test(flavor = "multi_thread")]
    async fn mariadb() {
        flips_offline_and_online_in_the_allowed_window(Backend::MySql).await
    }
}

async fn controller_and_term(c: &Cluster) -> (String, u64) {
    let v = c.cluster().await;
    (v["controller"].as_str().unwrap_or_default().to_string(), v["term"].as_u64().unwrap_or(0))
}

/// Waits for a controller other than `old` with a newer term that answers `/api/checks`.
async fn wait_new_controller(c: &Cluster, old: &str, old_term: u64, limit: Duration) -> (String, u64) {
    let found = wait_for(limit, || async {
        let v = c.cluster().await;
        let name = v["controller"].as_str()?.to_string();
        let term = v["term"].as_u64()?;
        let url = v["controller_url"].as_str()?.to_string();
        if name == old || term <= old_term {
            return None;
        }
        get_json(&format!("{url}/api/checks")).await?;
        Some((name, term))
    })
    .await;
    found.unwrap_or_else(|| panic!("no new controller within {limit:?}: {}", "see logs"))
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_controller_fails_over_and_later_outages_flip_once() {
    let Some((db, mut c, mut target, id)) = setup(Backend::Postgres, &["w1", "w2", "w3"], &[], 2).await
    else {
        return;
    };
    let (old, term) = controller_and_term(&c).await;
    c.worker(&old).kill();
    let t0 = Instant::now();
    let (new, new_term) = wait_new_controller(&c, &old, term, Duration::from_secs(10)).await;
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(5), "new controller {new} (term {new_term}) served after {took:?}");
    wait_running(&c, id).await;
    outage_flips_once(&c, &db, &mut target, id, &[]).await;
    let v = c.cluster().await;
    let dead: Vec<&Value> = v["workers"].as_array().unwrap().iter().filter(|w| w["alive"] == false).collect();
    assert_eq!(dead.len(), 1, "{v}");
    assert_eq!(dead[0]["name"], old.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_controller_is_fenced_when_it_wakes() {
    let Some((db, mut c, mut target, id)) = setup(Backend::MySql, &["w1", "w2", "w3"], &[], 2).await else {
        return;
    };
    let (old, term) = controller_and_term(&c).await;
    c.worker(&old).signal("STOP");
    let (new, new_term) = wait_new_controller(&c, &old, term, Duration::from_secs(10)).await;
    c.worker(&old).signal("CONT");
    let node = c.workers.iter().find(|w| w.name == old).unwrap();
    let refused = wait_for(Duration::from_secs(10), || async {
        node.logged("refused this controller's write").then_some(())
    })
    .await;
    assert!(
        refused.is_some(),
        "the woken controller's write was not refused:\n{}",
        c.worker(&old).log_text()
    );
    let (now, now_term) = controller_and_term(&c).await;
    assert_eq!((now.as_str(), now_term), (new.as_str(), new_term), "the woken node took control back");
    let metrics =
        reqwest::get(format!("{}/metrics", c.worker(&old).url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("bearmon_controller_term 0"), "{metrics}");
    let row = sqlx::query(db.sql(&format!("SELECT {} FROM bearmon_term", db.int("term"))))
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(row.try_get::<i64, _>(0).unwrap() as u64, new_term);
    wait_running(&c, id).await;
    outage_flips_once(&c, &db, &mut target, id, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_viewserver_keeps_the_controller() {
    let Some((_db, mut c, _target, _id)) = setup(Backend::Postgres, &["w1", "w2", "w3"], &[], 2).await else {
        return;
    };
    let before = controller_and_term(&c).await;
    c.restart_viewserver();
    let after = wait_for(Duration::from_secs(10), || async {
        let v = c.cluster().await;
        v["controller"].as_str().map(|n| (n.to_string(), v["term"].as_u64().unwrap_or(0)))
    })
    .await
    .expect("the restarted viewserver learns a controller");
    assert_eq!(after, before);
    // Still the same well after the election grace period.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(controller_and_term(&c).await, before);
    assert_eq!(c.cluster().await["workers_live"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_worker_flips_checks_and_reports_degraded() {
    let Some((db, c, mut target, id)) = setup(Backend::Postgres, &["solo"], &[], 2).await else { return };
    outage_flips_once(&c, &db, &mut target, id, &[]).await;
    let v = c.cluster().await;
    assert_eq!(v["degraded"], true, "{v}");
    assert!(
        c.workers[0].logged("cluster degraded"),
        "degraded is logged:
{}",
        c.workers[0].log_text()
    );
    let metrics = reqwest::get(format!("{}/metrics", c.vs.url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("bearmon_cluster_degraded 1"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fewer_live_workers_than_confirmations_still_flip() {
    let Some((db, c, mut target, id)) = setup(Backend::Postgres, &["w1", "w2"], &[], 3).await else { return };
    outage_flips_once(&c, &db, &mut target, id, &[]).await;
    let v = c.cluster().await;
    assert_eq!(v["degraded"], true, "{v}");
    assert_eq!(v["confirmations"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_only_worker_runs_checks_and_votes() {
    // Two live workers and confirmations 2: no flip without the probe-only worker's vote.
    let Some((db, c, mut target, id)) = setup(Backend::Postgres, &["w1"], &["p1"], 2).await else { return };
    let v = c.cluster().await;
    let p1 = v["workers"].as_array().unwrap().iter().find(|w| w["name"] == "p1").unwrap().clone();
    assert_eq!(p1["probe_only"], true);
    assert_eq!(v["degraded"], false);
    outage_flips_once(&c, &db, &mut target, id, &[]).await;
    let p1_url = p1["url"].as_str().unwrap();
    let metrics = reqwest::get(format!("{p1_url}/metrics")).await.unwrap().text().await.unwrap();
    let ran = metrics.lines().any(|l| l.starts_with("bearmon_check_runs_total{result=\"offline\"}"));
    assert!(ran, "the probe-only worker never ran the failing check:\n{metrics}");
    // Its run times are there too, one observation per run (scheduled or asked).
    let value = |name: &str| -> f64 {
        metrics.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0.0)
    };
    let runs: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("bearmon_check_runs_total{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum();
    let timed = value("bearmon_check_duration_seconds_count");
    // Within one: a scrape may fall between a run's two updates.
    assert!(timed >= 1.0 && (timed - runs).abs() <= 1.0, "{timed} run times for {runs} runs:\n{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn checks_added_disabled_and_deleted_by_sql_take_effect_within_5s() {
    let Some((db, c, mut target, first)) = setup(Backend::Postgres, &["w1", "w2"], &[], 2).await else {
        return;
    };
    let limit = Duration::from_secs(5);
    // Added: shown and run.
    let other = Target::up().await;
    let t0 = Instant::now();
    let id = add_tcp_check(&db, &other).await;
    let seen = wait_for(limit, || async {
        let v = c.check(id).await?;
        (v["last_result"]["verdict"] == "online").then_some(())
    })
    .await;
    assert!(seen.is_some(), "an added check was not run within 5 s");
    eprintln!("added check ran after {:?}", t0.elapsed());
    // Disabled: gone from the API and from every worker's schedule.
    exec(&db, &format!("UPDATE checks SET enabled = 0 WHERE id = {id}")).await;
    let gone = wait_for(limit, || async {
        let all = get_json(&format!("{}/api/checks", c.vs.url)).await?;
        let listed = all["checks"].as_array()?.iter().any(|v| v["id"] == id);
        let assigned: u64 = c.cluster().await["workers"]
            .as_array()?
            .iter()
            .map(|w| w["checks_assigned"].as_u64().unwrap_or(0))
            .sum();
        (!listed && assigned == 1).then_some(())
    })
    .await;
    assert!(gone.is_some(), "a disabled check still listed or assigned after 5 s: {}", c.cluster().await);
    // Deleted: gone too, and its outage pages nobody.
    exec(&db, &format!("DELETE FROM checks WHERE id = {first}")).await;
    target.stop();
    let gone = wait_for(limit, || async { c.check(first).await.is_none().then_some(()) }).await;
    assert!(gone.is_some(), "a deleted check is still listed after 5 s");
    tokio::time::sleep(Duration::from_secs(DELAY * INTERVAL + INTERVAL + 1)).await;
    assert!(events(&db, first).await.is_empty(), "a deleted check flipped");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_check_pages_when_its_worker_dies() {
    let Some((db, mut c, _target, _id)) = setup(Backend::Postgres, &["w1", "w2", "w3"], &[], 2).await else {
        return;
    };
    let (ctrl, _) = controller_and_term(&c).await;
    let victim = ["w1", "w2", "w3"].into_iter().find(|w| *w != ctrl).unwrap();
    exec(
        &db,
        &format!(
            "INSERT INTO checks (name, type, data, check_interval, delay) VALUES ('worker {victim}', 'worker', '{{\"name\":\"{victim}\"}}', 1, 0)"
        ),
    )
    .await;
    let id: i64 = sqlx::query(db.sql(&format!("SELECT {} FROM checks WHERE type = 'worker'", db.int("id"))))
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    let ok = wait_for(Duration::from_secs(10), || async {
        let v = c.check(id).await?;
        (v["status"] == "online" && v["last_result"]["verdict"] == "online").then_some(())
    })
    .await;
    assert!(ok.is_some(), "the worker check never evaluated: {:?}", c.check(id).await);
    c.worker(victim).kill();
    wait_status(&c, id, "offline", Duration::from_secs(10)).await;
    let v = c.check(id).await.unwrap();
    assert!(v["last_result"]["message"].as_str().unwrap().contains(victim), "{v}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(events(&db, id).await, vec!["offline"]);
}
