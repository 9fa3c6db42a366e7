//! Dependencies end to end (issue 18): a real cluster on PostgreSQL and MariaDB, a parent
//! and ten children behind the same dead target: one page, the children shown UNREACHABLE;
//! a cycle of dependency rows is named and breaks nothing.

mod common;

use std::time::Duration;

use bearmon::db::Backend;
use common::cluster::{Cluster, get_json, wait_for};
use common::receivers::{Mode, Receiver};
use common::{exec, fresh_db, last_id};

const FAST: &str = "[alerts]\nretry_first_secs = 0.5\nretry_max_secs = 2\n";

/// (check_id, notification_type) of every form POST `hooks` got.
fn pages(hooks: &Receiver) -> Vec<(String, String)> {
    hooks
        .seen_at("/ops")
        .iter()
        .map(|s| {
            let f = s.form();
            (
                f.get("check_id").cloned().unwrap_or_default(),
                f.get("notification_type").cloned().unwrap_or_default(),
            )
        })
        .collect()
}

async fn one_dead_router_gives_one_page(backend: Backend) {
    let Some((db, url)) = fresh_db(backend).await else { return };
    let hooks = Receiver::start(Mode::Ok).await;
    let target = Receiver::start(Mode::Ok).await;
    exec(&db, &format!("INSERT INTO contacts (type, data) VALUES ('http', '{}')", hooks.url("/ops"))).await;
    let ops = last_id(&db, "contacts").await;
    let data = format!(r#"{{"url":"{}","timeout":2}}"#, target.url("/health"));
    let mut ids = Vec::new();
    for n in 0..11 {
        exec(&db, &format!("INSERT INTO checks (name, type, data, check_interval, delay) VALUES ('c{n}', 'http', '{data}', 1, 0)")).await;
        let id = last_id(&db, "checks").await;
        exec(&db, &format!("INSERT INTO alerts (check_id, contact_id, type) VALUES ({id}, {ops}, 'both')"))
            .await;
        ids.push(id);
    }
    let (router, children) = (ids[0], &ids[1..]);
    for c in children {
        // gobearmon-style parent: no criteria given.
        exec(&db, &format!("INSERT INTO dependencies (check_id, parent_id) VALUES ({c}, {router})")).await;
    }
    // A cycle (router -> child 1 -> router) is a row problem; the rest works.
    exec(&db, &format!("INSERT INTO dependencies (check_id, parent_id) VALUES ({router}, {})", children[0]))
        .await;
    let c = Cluster::start_with(&url, &["w1", "w2"], &[], 2, FAST, "");
    c.wait_ready(2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    target.set_mode(Mode::Status(503));
    let all_down = wait_for(Duration::from_secs(30), || async {
        let page = get_json(&format!("{}/api/checks?per_page=100", c.vs.url)).await?;
        (page["counts"]["offline"] == 11).then_some(())
    })
    .await;
    assert!(all_down.is_some(), "not every check went offline");
    // Time for any child's held notification to be looked at again, twice.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let problems: Vec<(String, String)> = pages(&hooks).into_iter().filter(|(_, t)| t == "PROBLEM").collect();
    assert_eq!(problems, vec![(router.to_string(), "PROBLEM".to_string())], "one dead router, one page");
    for id in children {
        let v = c.check(*id).await.unwrap();
        assert_eq!(v["unreachable"], router, "check {id} is shown UNREACHABLE: {v}");
    }
    target.set_mode(Mode::Ok);
    let back = wait_for(Duration::from_secs(30), || async {
        pages(&hooks).iter().any(|(id, t)| *id == router.to_string() && t == "RECOVERY").then_some(())
    })
    .await;
    assert!(back.is_some(), "the router's recovery was not told: {:?}", pages(&hooks));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let recoveries = pages(&hooks).iter().filter(|(_, t)| t == "RECOVERY").count();
    assert_eq!(recoveries, 1, "children nobody heard of get no recovery: {:?}", pages(&hooks));
    assert!(c.all_logs().contains("closes a cycle of dependencies"), "the cycle is named in the log");
    let problems = get_json(&format!("{}/api/problems", c.vs.url)).await.unwrap();
    let named = problems["problems"].as_array().unwrap().iter().any(|p| {
        p["table"] == "dependencies" && p["reason"].as_str().unwrap_or_default().contains("closes a cycle")
    });
    assert!(named, "the API lists the cycle: {problems}");
    let page = reqwest::get(format!("{}/", c.vs.url)).await.unwrap().text().await.unwrap();
    assert!(page.contains("Rows that page nobody") && page.contains("closes a cycle"), "the page shows it");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_dead_router_gives_one_page_on_postgres() {
    one_dead_router_gives_one_page(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_dead_router_gives_one_page_on_mariadb() {
    one_dead_router_gives_one_page(Backend::MySql).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_dead_router_gives_one_page_on_sqlite() {
    one_dead_router_gives_one_page(Backend::Sqlite).await;
}
