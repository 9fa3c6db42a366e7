//! The four states end to end (issue 18) with a real plugin: an `exec` check whose script
//! exits 1 is WARNING, shown as such while `status` stays `online`; `delay + 1` WARNING
//! results in a row page the contacts that take `w` with a PROBLEM, an OK result after it
//! sends the RECOVERY; a plugin exiting 3 is UNKNOWN and pages nobody.

mod common;

use std::time::Duration;

use bearmon::db::Backend;
use common::cluster::{Cluster, wait_for};
use common::receivers::{Mode, Receiver};
use common::{exec, fresh_db, last_id};

const FAST: &str = "[alerts]\nretry_first_secs = 0.5\nretry_max_secs = 2\n";

fn types(hooks: &Receiver) -> Vec<String> {
    hooks.notification_types("/ops")
}

async fn a_warning_plugin_pages_once_and_recovers(backend: Backend) {
    let Some((db, url)) = fresh_db(backend).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("code");
    std::fs::write(&code, "1").unwrap();
    let plugin = dir.path().join("check_disk_like");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nc=$(cat {})\ncase $c in 0) echo 'DISK OK - 40% used|used=40%;90;95';; 1) echo 'DISK WARNING - 91% used|used=91%;90;95';; *) echo 'DISK UNKNOWN - cannot stat';; esac\nexit $c\n",
            code.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let hooks = Receiver::start(Mode::Ok).await;
    exec(&db, &format!("INSERT INTO contacts (type, data) VALUES ('http', '{}')", hooks.url("/ops"))).await;
    let ops = last_id(&db, "contacts").await;
    let data = format!(r#"{{"command": ["{}"]}}"#, plugin.display());
    let options = r#"{"notification_options": "w,c,r"}"#;
    exec(&db, &format!("INSERT INTO checks (name, type, data, check_interval, delay, options) VALUES ('disk', 'exec', '{data}', 1, 1, '{options}')")).await;
    let check = last_id(&db, "checks").await;
    exec(&db, &format!("INSERT INTO alerts (check_id, contact_id, type) VALUES ({check}, {ops}, 'both')"))
        .await;
    let c = Cluster::start_with(&url, &["w1", "w2"], &[], 2, FAST, "");
    c.wait_ready(2).await;
    let problem = wait_for(Duration::from_secs(30), || async {
        types(&hooks).contains(&"PROBLEM".into()).then_some(())
    })
    .await;
    assert!(problem.is_some(), "no PROBLEM for a hard WARNING: {}", c.all_logs());
    let v = c.check(check).await.unwrap();
    assert_eq!(
        (v["status"].as_str(), v["state"].as_str(), v["state_type"].as_str()),
        (Some("online"), Some("warning"), Some("hard")),
        "{v}"
    );
    let sent = hooks.seen_at("/ops");
    let form = sent[0].form();
    assert!(form.get("message").is_some_and(|m| m.contains("DISK WARNING - 91% used")), "{form:?}");
    // Still WARNING for a few more runs: nobody is told again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(types(&hooks), ["PROBLEM"]);
    // UNKNOWN neither recovers nor pages.
    std::fs::write(&code, "3").unwrap();
    let unknown = wait_for(Duration::from_secs(10), || async {
        c.check(check).await.filter(|v| v["state"] == "unknown").map(|_| ())
    })
    .await;
    assert!(unknown.is_some(), "{:?}", c.check(check).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(types(&hooks), ["PROBLEM"], "UNKNOWN is no vote and no notification");
    std::fs::write(&code, "0").unwrap();
    let recovered = wait_for(Duration::from_secs(15), || async {
        types(&hooks).contains(&"RECOVERY".into()).then_some(())
    })
    .await;
    assert!(recovered.is_some(), "no RECOVERY after the WARNING ended: {:?}", types(&hooks));
    assert_eq!(c.check(check).await.unwrap()["state"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warning_plugin_on_postgres() {
    a_warning_plugin_pages_once_and_recovers(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warning_plugin_on_mariadb() {
    a_warning_plugin_pages_once_and_recovers(Backend::MySql).await;
}
