//! The `timeperiods` table alone, for `bearmon periods` (the controller reads it with the
//! other policy tables, in [`policy_rows`](super::policy_rows)).

use sqlx::Row;

use super::StoreError;
use crate::db::Db;

/// Every timeperiod row as `(name, definition)`, in id order (NULL reads as empty).
///
/// # Errors
/// [`StoreError::Read`] when the table cannot be read (e.g. `bearmon migrate` has not run).
pub async fn load(db: &Db) -> Result<Vec<(String, String)>, StoreError> {
    let sql = db.sql("SELECT name, definition FROM timeperiods ORDER BY id");
    let rows = sqlx::query(sql)
        .fetch_all(db.pool())
        .await
        .map_err(|source| StoreError::Read { table: "timeperiods", source })?;
    Ok(rows
        .iter()
        .map(|r| {
            let text = |i: usize| r.try_get::<Option<String>, _>(i).ok().flatten().unwrap_or_default();
            (text(0), text(1))
        })
        .collect())
}
