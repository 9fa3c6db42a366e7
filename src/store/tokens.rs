//! `bearmon_tokens`: API tokens by the SHA-256 of their text (the text itself is shown once,
//! by `bearmon token create`, and never stored).

use sqlx::Row;

use crate::db::Db;
use crate::util::now_ms;

/// One token as listed: never its text, which is not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub name: String,
    pub scope: String,
    pub created_ms: i64,
    /// 0 when never used (updated at most once a minute per token).
    pub last_used_ms: i64,
    /// 0 while valid.
    pub revoked_ms: i64,
}

/// Stores a new token's hash under `name`.
///
/// # Errors
/// The database's (a name or hash already taken is a unique-key error).
pub async fn create(db: &Db, name: &str, scope: &str, hash: &str) -> Result<(), sqlx::Error> {
    let sql = db.sql("INSERT INTO bearmon_tokens (name, scope, token_hash, created_at) VALUES (?, ?, ?, ?)");
    sqlx::query(sql).bind(name).bind(scope).bind(hash).bind(now_ms()).execute(db.pool()).await?;
    Ok(())
}

/// Every token, oldest first.
///
/// # Errors
/// The database's.
pub async fn list(db: &Db) -> Result<Vec<TokenRow>, sqlx::Error> {
    let sql = db.sql(&format!(
        "SELECT name, scope, {}, {}, {} FROM bearmon_tokens ORDER BY id",
        db.int("created_at"),
        db.int("last_used_at"),
        db.int("revoked_at")
    ));
    let rows = sqlx::query(sql).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(TokenRow {
                name: r.try_get(0)?,
                scope: r.try_get(1)?,
                created_ms: r.try_get(2)?,
                last_used_ms: r.try_get(3)?,
                revoked_ms: r.try_get(4)?,
            })
        })
        .collect()
}

/// Revokes the token `name`; false when there is no such valid token.
///
/// # Errors
/// The database's.
pub async fn revoke(db: &Db, name: &str) -> Result<bool, sqlx::Error> {
    let sql = db.sql("UPDATE bearmon_tokens SET revoked_at = ? WHERE name = ? AND revoked_at = 0");
    Ok(sqlx::query(sql).bind(now_ms()).bind(name).execute(db.pool()).await?.rows_affected() == 1)
}

/// The (name, scope) of the valid token with this hash, and records its use.
///
/// # Errors
/// The database's.
pub async fn find(db: &Db, hash: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    let sql = db.sql("SELECT name, scope FROM bearmon_tokens WHERE token_hash = ? AND revoked_at = 0");
    let Some(row) = sqlx::query(sql).bind(hash).fetch_optional(db.pool()).await? else { return Ok(None) };
    let now = now_ms();
    let sql = db.sql("UPDATE bearmon_tokens SET last_used_at = ? WHERE token_hash = ? AND last_used_at < ?");
    sqlx::query(sql).bind(now).bind(hash).bind(now - 60_000).execute(db.pool()).await?;
    Ok(Some((row.try_get(0)?, row.try_get(1)?)))
}
