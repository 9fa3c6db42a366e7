//! `bearmon_stalking`: state stalking's events (a check's output changed while its state
//! stayed one of its `stalking_options`), written under the fence, read for the API, pruned.

use sqlx::Row;

use crate::db::{Db, Tx};
use crate::util::now_ms;

/// One change of output in a stalked state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stalk {
    pub check_id: i64,
    pub at_ms: i64,
    /// `ok`, `critical` or `unknown`.
    pub state: String,
    /// The new output, secrets scrubbed.
    pub output: String,
}

/// Inserts stalking events (in the caller's fenced transaction).
///
/// # Errors
/// The database's.
pub async fn insert(db: &Db, tx: &mut Tx<'_>, rows: &[Stalk]) -> Result<(), sqlx::Error> {
    let sql = || db.sql("INSERT INTO bearmon_stalking (check_id, at, state, output) VALUES (?, ?, ?, ?)");
    for r in rows {
        sqlx::query(sql())
            .bind(r.check_id)
            .bind(r.at_ms)
            .bind(r.state.clone())
            .bind(r.output.clone())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A check's last stalking events, newest first.
///
/// # Errors
/// The database's.
pub async fn recent(db: &Db, check_id: i64, limit: i64) -> Result<Vec<Stalk>, sqlx::Error> {
    let sql = db.sql(&format!(
        "SELECT {}, {}, state, output FROM bearmon_stalking WHERE check_id = ? ORDER BY bearmon_stalking.id DESC LIMIT ?",
        db.int("check_id"),
        db.int("at"),
    ));
    let rows = sqlx::query(sql).bind(check_id).bind(limit).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(Stalk {
                check_id: r.try_get(0)?,
                at_ms: r.try_get(1)?,
                state: r.try_get(2)?,
                output: r.try_get(3)?,
            })
        })
        .collect()
}

/// Deletes events older than `days`.
///
/// # Errors
/// The database's.
pub async fn prune(db: &Db, days: u32) -> Result<u64, sqlx::Error> {
    let cutoff = now_ms() - i64::from(days) * 86_400_000;
    let sql = db.sql("DELETE FROM bearmon_stalking WHERE at < ?");
    Ok(sqlx::query(sql).bind(cutoff).execute(db.pool()).await?.rows_affected())
}
