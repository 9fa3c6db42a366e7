//! The run's own database: created on the server named by `--db`, loaded with the checks
//! (one webhook contact, an alert per check), and read back for the verdict (the committed
//! flips, the outbox) in SQL that PostgreSQL and MariaDB both accept.

use std::collections::BTreeMap;

use bearmon::db::Db;
use sqlx::Row;

use crate::farm::Receiver;
use crate::options::Args;
use crate::oracle::Flip;

/// Column `i` as an integer (BIGINT or INT, -1 when neither).
pub fn int(row: &sqlx::any::AnyRow, i: usize) -> i64 {
    row.try_get::<i64, _>(i).or_else(|_| row.try_get::<i32, _>(i).map(i64::from)).unwrap_or(-1)
}

/// Creates the database of this run: (backend name, its URL).
pub async fn create(a: &Args) -> Result<(&'static str, String), String> {
    let name = format!("bearmon_chaos_{}", std::process::id());
    let admin = Db::connect(&a.db).await.map_err(|e| format!("connect to {}: {e}", a.db))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .map_err(|e| format!("create database: {e}"))?;
    let base = if a.db.starts_with("postgres") {
        a.db.rsplit_once('/').map_or(&a.db[..], |p| p.0)
    } else {
        a.db.trim_end_matches('/')
    };
    Ok((if a.db.starts_with("postgres") { "postgresql" } else { "mariadb" }, format!("{base}/{name}")))
}

/// Checks, one webhook contact, an alert per check; the oracle's index of each check id.
pub async fn load(
    db: &Db,
    a: &Args,
    farm_port: u16,
    receiver_port: u16,
) -> Result<BTreeMap<i64, usize>, String> {
    for chunk in (0..a.checks).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| {
                format!(
                    "('chaos-{i}', 'http', '{{\"url\":\"http://127.0.0.1:{farm_port}/t/{i}\",\"timeout\":2}}', {}, {})",
                    a.interval, a.delay
                )
            })
            .collect();
        exec(
            db,
            &format!(
                "INSERT INTO checks (name, type, data, check_interval, delay) VALUES {}",
                values.join(",")
            ),
        )
        .await?;
    }
    exec(db, &format!("INSERT INTO contacts (type, data) VALUES ('webhook', '{{\"url\":\"http://127.0.0.1:{receiver_port}/hook\"}}')")).await?;
    exec(db, "INSERT INTO alerts (check_id, contact_id, type) SELECT id, (SELECT MAX(id) FROM contacts), 'both' FROM checks").await?;
    let mut index_of: BTreeMap<i64, usize> = BTreeMap::new();
    for row in
        sqlx::query("SELECT id, name FROM checks").fetch_all(db.pool()).await.map_err(|e| e.to_string())?
    {
        let name: String = row.try_get(1).unwrap_or_default();
        if let Some(i) = name.strip_prefix("chaos-").and_then(|n| n.parse().ok()) {
            index_of.insert(int(&row, 0), i);
        }
    }
    Ok(index_of)
}

/// The committed flips, their times relative to the oracle's origin (`origin_unix`).
pub async fn flips(db: &Db, index_of: &BTreeMap<i64, usize>, origin_unix: i64) -> Result<Vec<Flip>, String> {
    let mut flips = Vec::new();
    for row in sqlx::query("SELECT event_id, check_id, term, to_status, at FROM bearmon_flips")
        .fetch_all(db.pool())
        .await
        .map_err(|e| format!("read flips: {e}"))?
    {
        let status: String = row.try_get(3).unwrap_or_default();
        flips.push(Flip {
            event_id: int(&row, 0),
            check: index_of.get(&int(&row, 1)).copied().unwrap_or(usize::MAX),
            offline: status == "offline",
            at_ms: int(&row, 4) - origin_unix,
            term: int(&row, 2),
        });
    }
    Ok(flips)
}

/// The rows of `check_events` (-1 when it cannot be read).
pub async fn count_events(db: &Db) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM check_events")
        .fetch_one(db.pool())
        .await
        .map(|r| int(&r, 0))
        .unwrap_or(-1)
}

/// True once every check is online, nothing waits in the outbox, and every committed flip
/// has been received.
pub async fn quiet(db: &Db, receiver: &Receiver) -> Result<bool, sqlx::Error> {
    let offline =
        sqlx::query("SELECT COUNT(*) FROM checks WHERE status = 'offline'").fetch_one(db.pool()).await?;
    let pending =
        sqlx::query("SELECT COUNT(*) FROM bearmon_outbox WHERE state <> 'sent'").fetch_one(db.pool()).await?;
    let events = sqlx::query("SELECT event_id FROM bearmon_flips").fetch_all(db.pool()).await?;
    let got: std::collections::HashSet<i64> =
        receiver.notes.lock().unwrap().iter().map(|n| n.event_id).collect();
    let all_notified = events.iter().all(|r| got.contains(&int(r, 0)));
    Ok(int(&offline, 0) == 0 && int(&pending, 0) == 0 && all_notified)
}

async fn exec(db: &Db, sql: &str) -> Result<(), String> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(db.pool())
        .await
        .map(|_| ())
        .map_err(|e| format!("{sql}: {e}"))
}
