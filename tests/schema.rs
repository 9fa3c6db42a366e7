//! gobearmon's SQL, typed as a user types it, on MariaDB, PostgreSQL and SQLite; then the
//! store loads what it inserted.

mod common;

use bearmon::check::CheckSpec;
use bearmon::db::{self, Backend};
use bearmon::decide::Status;
use bearmon::store::{AlertWhen, Store};
use common::{exec, fresh_db};

/// SPEC §2, verbatim.
const SPEC_STATEMENTS: &[&str] = &[
    r#"INSERT INTO checks (name, type, data) VALUES ('ping ipv6', 'icmp', '{"target":"example.com","force_ip":6}')"#,
    r#"INSERT INTO checks (name, type, data, check_interval, delay) VALUES ('my http check', 'http', '{"url":"https:\/\/example.com","method":"GET","expect_status":200,"timeout":15}', 120, 5)"#,
    "INSERT INTO contacts (type, data) VALUES ('email', 'oncall@example.com')",
    "INSERT INTO alerts (check_id, contact_id, type) VALUES (1, 1, 'both')",
    "UPDATE checks SET enabled = 0 WHERE id = 1",
];

async fn spec_statements_then_load(backend: Backend) {
    let Some((db, _)) = fresh_db(backend).await else { return };
    // Migrating again applies nothing and fails nothing.
    let again = db::migrate(&db).await.unwrap();
    assert!(again.applied.is_empty(), "second migrate applied {:?}", again.applied);
    assert_eq!(again.already, common::migration_count());

    let store = Store::new(db.clone());
    for sql in &SPEC_STATEMENTS[..4] {
        exec(&db, sql).await;
    }
    let snap = store.load_all().await.unwrap();
    assert_eq!(snap.checks.len(), 2, "{backend:?}");
    let ping = &snap.checks[&1];
    assert_eq!(ping.name, "ping ipv6");
    assert_eq!((ping.interval.as_secs(), ping.delay), (60, 1), "gobearmon's defaults");
    assert_eq!(ping.status, Status::Online);
    assert!(matches!(&ping.spec, Ok(CheckSpec::Icmp(p)) if p.force_ip == 6 && p.target == "example.com"));
    assert_eq!(ping.alerts.len(), 1);
    assert_eq!(ping.alerts[0].when, AlertWhen::Both);
    let http = &snap.checks[&2];
    assert_eq!((http.interval.as_secs(), http.delay), (120, 5));
    match &http.spec {
        Ok(CheckSpec::Http(p)) => {
            assert_eq!(p.url, "https://example.com", "the JSON escape \\/ is a slash");
            assert_eq!((p.expect_status, p.timeout, p.method.as_str()), (200, 15, "GET"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(snap.contacts[&1].kind, "email");
    assert_eq!(snap.contacts[&1].data, "oncall@example.com");
    assert!(snap.problems().is_empty(), "{:?}", snap.problems());

    // Disabling (gobearmon's flag update) hides the check; status values round-trip.
    exec(&db, SPEC_STATEMENTS[4]).await;
    exec(&db, "UPDATE checks SET status = 'offline' WHERE id = 2").await;
    exec(&db, "UPDATE alerts SET enabled = 0 WHERE id = 1").await;
    let snap = store.load_all().await.unwrap();
    assert_eq!(snap.checks.keys().copied().collect::<Vec<_>>(), vec![2]);
    assert_eq!(snap.checks[&2].status, Status::Offline);
    exec(&db, "UPDATE checks SET enabled = 1 WHERE id = 1").await;
    let snap = store.load_all().await.unwrap();
    assert!(snap.checks[&1].alerts.is_empty(), "a disabled alert is not loaded");

    // gobearmon's own write paths still work on our schema.
    exec(&db, "INSERT INTO check_events (check_id, type) VALUES (2, 'offline')").await;
    exec(&db, "INSERT INTO charges (check_id, type, data) VALUES (2, 'sms', 'SM123')").await;
}
on_every_backend!(spec_statements_then_load);

/// MySQL commits each DDL statement on its own: a `bearmon migrate` by a user without the
/// TRIGGER privilege fails half way through migration 2. Once the privilege is granted, the
/// same command finishes it and the rest (it used to refuse for ever: "dirty" migration),
/// and the change log it creates works.
#[tokio::test(flavor = "multi_thread")]
async fn a_migration_that_failed_half_way_on_mysql_is_finished_by_the_next_run() {
    common::init();
    let Ok(base) = std::env::var("BEARMON_TEST_MYSQL") else {
        assert!(!common::servers_required(), "BEARMON_TEST_MYSQL is not set but scripts/test.sh requires it");
        return;
    };
    let name = format!("bm_{}_{}", std::process::id(), rand::random::<u32>());
    let user = format!("u{}", rand::random::<u32>());
    let admin = db::Db::connect(&base).await.unwrap();
    for sql in [
        format!("CREATE DATABASE {name}"),
        format!("CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'pw'"),
        format!("GRANT ALL PRIVILEGES ON {name}.* TO '{user}'@'127.0.0.1'"),
        format!("REVOKE TRIGGER ON {name}.* FROM '{user}'@'127.0.0.1'"),
    ] {
        exec(&admin, &sql).await;
    }
    let (_, hostport) = base.trim_end_matches('/').rsplit_once('@').unwrap();
    let url = format!("mysql://{user}:pw@{hostport}/{name}");
    let db = db::Db::connect(&url).await.unwrap();
    let e = db::migrate(&db).await.expect_err("no TRIGGER privilege");
    assert!(e.to_string().contains("TRIGGER"), "{e}");
    exec(&admin, &format!("GRANT TRIGGER ON {name}.* TO '{user}'@'127.0.0.1'")).await;
    let db = db::Db::connect(&url).await.unwrap();
    let report = db::migrate(&db).await.expect("the second run finishes what the first began");
    let all: Vec<(i64, i64)> =
        sqlx::query_as("SELECT version, CAST(success AS SIGNED) FROM _sqlx_migrations ORDER BY version")
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(all.len(), common::migration_count(), "{all:?} {report:?}");
    assert!(all.iter().all(|(_, ok)| *ok == 1), "{all:?}");
    exec(&db, r#"INSERT INTO checks (name, type, data) VALUES ('a', 'tcp', '{"address":"127.0.0.1:1"}')"#)
        .await;
    let (logged,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM bearmon_changes WHERE tbl = 'checks'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(logged, 1, "the triggers of the finished migration log changes");
    exec(&admin, &format!("DROP USER '{user}'@'127.0.0.1'")).await;
}
