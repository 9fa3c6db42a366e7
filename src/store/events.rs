//! `check_events` and `bearmon_rollups`: the flips as gobearmon records them, and the hourly
//! history, with their retention.

use std::collections::HashMap;

use sqlx::Row;

use super::model::{EventRow, Rollup};
use crate::db::{Backend, Db, Tx};
use crate::decide::Status;
use crate::util::now_ms;

/// Inserts a `check_events` row and returns its id.
///
/// # Errors
/// The database's.
pub async fn insert_event(db: &Db, tx: &mut Tx<'_>, check_id: i64, to: Status) -> Result<i64, sqlx::Error> {
    // RETURNING on PostgreSQL and SQLite; MySQL has only LAST_INSERT_ID().
    if db.backend() != Backend::MySql {
        let sql = db.sql(&format!(
            "INSERT INTO check_events (check_id, type) VALUES (?, ?) RETURNING {}",
            db.int("id")
        ));
        let row = sqlx::query(sql).bind(check_id).bind(to.as_str()).fetch_one(&mut **tx).await?;
        return row.try_get(0);
    }
    let sql = db.sql("INSERT INTO check_events (check_id, type) VALUES (?, ?)");
    let done = sqlx::query(sql).bind(check_id).bind(to.as_str()).execute(&mut **tx).await?;
    done.last_insert_id().ok_or_else(|| sqlx::Error::Protocol("no id for the new check_events row".into()))
}

/// When each check last flipped (unix ms), from `check_events`.
///
/// # Errors
/// The database's.
pub async fn load_since(db: &Db) -> Result<HashMap<i64, i64>, sqlx::Error> {
    let sql = db.sql(&format!(
        "SELECT {}, {} FROM check_events GROUP BY check_id",
        db.int("check_id"),
        db.epoch("MAX(time)")
    ));
    let rows = sqlx::query(sql).fetch_all(db.pool()).await?;
    let mut out = HashMap::new();
    for r in rows {
        let id: i64 = r.try_get(0)?;
        if let Ok(Some(secs)) = r.try_get::<Option<i64>, _>(1) {
            out.insert(id, secs * 1000);
        }
    }
    Ok(out)
}

/// A check's hourly rollups since `since_hour` (unix seconds), oldest first.
///
/// # Errors
/// The database's.
pub async fn load_rollups(db: &Db, check_id: i64, since_hour: i64) -> Result<Vec<Rollup>, sqlx::Error> {
    let sql = db.sql(&format!(
        "SELECT {}, {}, {}, latency_avg_ms, latency_p50_ms, latency_p95_ms, latency_max_ms FROM bearmon_rollups \
         WHERE check_id = ? AND hour >= ? ORDER BY bearmon_rollups.hour",
        db.int("hour"),
        db.int("runs"),
        db.int("failures")
    ));
    let rows = sqlx::query(sql).bind(check_id).bind(since_hour).fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(Rollup {
            check_id,
            hour: r.try_get(0)?,
            runs: u32::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0),
            failures: u32::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0),
            latency_avg_ms: r.try_get(3)?,
            latency_p50_ms: r.try_get(4)?,
            latency_p95_ms: r.try_get(5)?,
            latency_max_ms: r.try_get(6)?,
        });
    }
    Ok(out)
}

/// Deletes rollups older than `days` (not fenced: any controller may prune).
///
/// # Errors
/// The database's.
pub async fn prune_rollups(db: &Db, days: u32) -> Result<u64, sqlx::Error> {
    let cutoff = now_ms() / 1000 - i64::from(days) * 86_400;
    let sql = db.sql("DELETE FROM bearmon_rollups WHERE hour < ?");
    Ok(sqlx::query(sql).bind(cutoff).execute(db.pool()).await?.rows_affected())
}

/// Flips, newest first, with ids below `before`.
///
/// # Errors
/// The database's.
pub async fn recent(db: &Db, limit: i64, before: Option<i64>) -> Result<Vec<EventRow>, sqlx::Error> {
    let sql = db.sql(&format!(
        "SELECT {}, {}, CASE WHEN type = 'offline' THEN 'offline' ELSE 'online' END, {} FROM check_events \
         WHERE id < ? ORDER BY check_events.id DESC LIMIT ?",
        db.int("id"),
        db.int("check_id"),
        db.epoch("time"),
    ));
    let rows = sqlx::query(sql).bind(before.unwrap_or(i64::MAX)).bind(limit).fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(EventRow {
            id: r.try_get(0)?,
            check_id: r.try_get(1)?,
            status: r.try_get(2)?,
            time: r.try_get(3).ok(),
        });
    }
    Ok(out)
}
