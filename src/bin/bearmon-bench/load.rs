//! The benchmark's checks in the run's database: `c0`..`c{n}`, each against its own
//! 127.x.y.z address of the target, inserted in batches (and removed again when
//! `--max-rate` shrinks them), plus `--detect`'s checks with their webhook alert.

use bearmon::db::Db;

use crate::options::Args;

/// The loopback address of check `i`: a distinct 127.x.y.z per check.
pub fn target_host(i: usize) -> String {
    format!("127.{}.{}.{}", 1 + i / 62_500, (i / 250) % 250, 1 + i % 250)
}

/// Inserts checks `range` (one target address each) in batches of 1,000.
pub async fn load_checks(db: &Db, range: std::ops::Range<usize>, kind: &str, interval: u64, port: u16) {
    for chunk in range.collect::<Vec<_>>().chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| {
                let data = match kind {
                    "tcp" => format!(r#"{{"address":"{}:{port}","timeout":5}}"#, target_host(*i)),
                    "icmp" => format!(r#"{{"target":"{}","timeout":5}}"#, target_host(*i)),
                    _ => format!(r#"{{"url":"http://{}:{port}/","timeout":5}}"#, target_host(*i)),
                };
                format!("('c{i}', '{kind}', '{data}', {interval}, 1)")
            })
            .collect();
        let sql = format!(
            "INSERT INTO checks (name, type, data, check_interval, delay) VALUES {}",
            values.join(",")
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(db.pool()).await.unwrap();
    }
}

/// Grows or shrinks the benchmark's checks (`c0`..`c{n}`) from `from` to `to`.
pub async fn set_checks(a: &Args, db: &Db, from: usize, to: usize) {
    if to > from {
        load_checks(db, from..to, &a.kind, a.interval, a.target_port).await;
    } else {
        let sql = format!(
            "DELETE FROM checks WHERE name LIKE 'c%' AND CAST(SUBSTRING(name FROM 2) AS INTEGER) >= {to}"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(db.pool()).await.unwrap();
    }
}

/// `--detect`'s http checks (delay 1) against the probe on `probe_port`, and a webhook
/// contact at the probe alerted when any of them goes offline.
pub async fn add_detect(db: &Db, detect: usize, interval: u64, probe_port: u16) {
    let values: Vec<String> = (0..detect)
        .map(|i| format!("('detect{i}', 'http', '{{\"url\":\"http://127.0.0.1:{probe_port}/d/{i}\",\"timeout\":5}}', {interval}, 1)"))
        .collect();
    let sql =
        format!("INSERT INTO checks (name, type, data, check_interval, delay) VALUES {}", values.join(","));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(db.pool()).await.unwrap();
    let hook = format!("{{\"url\":\"http://127.0.0.1:{probe_port}/hook\"}}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO contacts (type, data) VALUES ('webhook', '{hook}')"
    )))
    .execute(db.pool())
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(
        "INSERT INTO alerts (check_id, contact_id, type) SELECT id, (SELECT MAX(id) FROM contacts), 'offline' FROM checks WHERE name LIKE 'detect%'".to_string(),
    ))
    .execute(db.pool())
    .await
    .unwrap();
}
