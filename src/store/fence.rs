//! Fenced terms: the database decides who may commit.
//!
//! `bearmon_term` holds one row whose `term` only grows. A worker the viewserver elects claims
//! the next term by incrementing it. Every write a controller makes (a flip with its
//! `checks.status` and `check_events` row, a confirmation streak, a lease renewal) runs in a
//! transaction whose first statement is `UPDATE bearmon_term SET commits = commits + 1 WHERE
//! id = 1 AND term = <ours>`. That update changes a row only while our term is the newest,
//! and it locks the row until commit: a claim of a newer term waits for our transaction or
//! runs before it, never in the middle. So once a newer term exists, a deposed controller,
//! however long it was frozen, changes nothing (gobearmon had no fencing at all, bug 2).

use std::collections::HashMap;

use sqlx::Row;

use super::model::{Delivery, Flip, NoticeCommit, Rollup};
use super::{events, outbox};
use crate::db::{Backend, Db, Tx};
use crate::util::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    #[error("term {ours} is no longer current: the database holds term {current} (controller {holder:?})")]
    Deposed { ours: u64, current: u64, holder: String },
    #[error("bearmon_term has no row: run `bearmon migrate`")]
    NoTermRow,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// A claimed term and the database it fences.
#[derive(Debug, Clone)]
pub struct Fence {
    db: Db,
    term: u64,
}

impl Fence {
    /// Claims the next term for `holder`.
    ///
    /// # Errors
    /// [`FenceError::Db`] when the database is unreachable.
    pub async fn claim(db: &Db, holder: &str) -> Result<Fence, FenceError> {
        if db.backend() != Backend::MySql {
            return Self::claim_once(db, holder).await;
        }
        // MySQL 8 never ends a session idle inside a transaction: a controller frozen in
        // one holds the term row until the server's wait_timeout (8 h). The claim waits at
        // most CLAIM_LOCK_WAIT_SECS for the row, then ends the connection holding it.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::claim_once(db, holder).await {
                Err(FenceError::Db(e)) if attempt < 3 && is_lock_wait_timeout(&e) => {
                    end_frozen_holder(db).await?;
                }
                other => return other,
            }
        }
    }

    async fn claim_once(db: &Db, holder: &str) -> Result<Fence, FenceError> {
        let mut conn = db.pool().acquire().await?;
        if db.backend() == Backend::MySql {
            let sql = format!("SET SESSION innodb_lock_wait_timeout = {CLAIM_LOCK_WAIT_SECS}");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await?;
        }
        let claimed = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let sql =
                db.sql("UPDATE bearmon_term SET term = term + 1, holder = ?, renewed_at = ? WHERE id = 1");
            let done = sqlx::query(sql).bind(holder.to_string()).bind(now_ms()).execute(&mut *tx).await?;
            if done.rows_affected() != 1 {
                return Err(FenceError::NoTermRow);
            }
            let (term, _) = read_term(db, &mut tx).await?;
            tx.commit().await?;
            Ok(term)
        }
        .await;
        if db.backend() == Backend::MySql {
            // The pooled connection goes back with the server's default.
            sqlx::raw_sql("SET SESSION innodb_lock_wait_timeout = DEFAULT").execute(&mut *conn).await?;
        }
        let term = claimed?;
        tracing::info!(term, holder, "claimed controller term");
        Ok(Fence { db: db.clone(), term })
    }

    pub fn term(&self) -> u64 {
        self.term
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The first statement of every fenced transaction.
    async fn guard(&self, tx: &mut Tx<'_>) -> Result<(), FenceError> {
        // On MySQL the statement also names its connection, for a claimant that finds this
        // transaction frozen (see `end_frozen_holder`).
        let sql = if self.db.backend() == Backend::MySql {
            self.db.sql(
                "UPDATE bearmon_term SET commits = commits + 1, holder_conn = CONNECTION_ID() WHERE id = 1 AND term = ?",
            )
        } else {
            self.db.sql("UPDATE bearmon_term SET commits = commits + 1 WHERE id = 1 AND term = ?")
        };
        let done = sqlx::query(sql).bind(self.term as i64).execute(&mut **tx).await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let (current, holder) = read_term(&self.db, tx).await?;
        Err(FenceError::Deposed { ours: self.term, current, holder })
    }

    /// Proves the term is still current (a write, so a deposed controller hears it).
    ///
    /// # Errors
    /// [`FenceError::Deposed`] once a newer term exists.
    pub async fn renew(&self) -> Result<(), FenceError> {
        let mut tx = self.db.pool().begin().await?;
        self.guard(&mut tx).await?;
        let sql = self.db.sql("UPDATE bearmon_term SET renewed_at = ? WHERE id = 1");
        sqlx::query(sql).bind(now_ms()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Commits a flip: the new `checks.status`, its `check_events` row, one outbox row per
    /// contact to notify and the reset streak, all or nothing, and only under a current term.
    /// Returns the event id and how many notifications were queued. A flip whose key is
    /// already committed (an earlier attempt's COMMIT went through but its answer was lost)
    /// changes nothing: its event id and 0 are returned.
    ///
    /// # Errors
    /// [`FenceError::Deposed`] (nothing written) or [`FenceError::Db`].
    pub async fn commit_flip(&self, flip: &Flip) -> Result<(i64, usize), FenceError> {
        let mut tx = self.db.pool().begin().await?;
        self.guard(&mut tx).await?;
        let sql = self
            .db
            .sql(&format!("SELECT {} FROM bearmon_flip_keys WHERE flip_key = ?", self.db.int("event_id")));
        if let Some(row) = sqlx::query(sql).bind(flip.key.clone()).fetch_optional(&mut *tx).await? {
            let event: i64 = row.try_get(0)?;
            tracing::info!(check = flip.check_id, key = %flip.key, event, "flip already committed; not written again");
            return Ok((event, 0));
        }
        let sql = self.db.sql("UPDATE checks SET status = ? WHERE id = ?");
        sqlx::query(sql).bind(flip.to.as_str()).bind(flip.check_id).execute(&mut *tx).await?;
        let event = events::insert_event(&self.db, &mut tx, flip.check_id, flip.to).await?;
        let queued = outbox::enqueue(&self.db, &mut tx, event, flip).await?;
        let sql = self.db.sql(
            "INSERT INTO bearmon_flips (event_id, check_id, term, to_status, at) VALUES (?, ?, ?, ?, ?)",
        );
        sqlx::query(sql)
            .bind(event)
            .bind(flip.check_id)
            .bind(self.term as i64)
            .bind(flip.to.as_str())
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        let sql = self.db.sql("INSERT INTO bearmon_flip_keys (flip_key, event_id) VALUES (?, ?)");
        sqlx::query(sql).bind(flip.key.clone()).bind(event).execute(&mut *tx).await?;
        self.write_streak(&mut tx, flip.check_id, 0).await?;
        tx.commit().await?;
        Ok((event, queued))
    }

    /// Commits a notification that is not a flip: its outbox rows, under the fence. A notice
    /// committed again (its acknowledgement was lost) writes nothing more. Returns the rows
    /// written.
    ///
    /// # Errors
    /// [`FenceError::Deposed`] (nothing written) or [`FenceError::Db`].
    pub async fn commit_notice(&self, n: &NoticeCommit) -> Result<usize, FenceError> {
        let mut tx = self.db.pool().begin().await?;
        self.guard(&mut tx).await?;
        let queued = outbox::enqueue_notice(&self.db, &mut tx, n).await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// Writes state stalking's events under the fence.
    ///
    /// # Errors
    /// [`FenceError::Deposed`] (nothing written) or [`FenceError::Db`].
    pub async fn write_stalks(&self, rows: &[super::stalking::Stalk]) -> Result<(), FenceError> {
        let mut tx = self.db.pool().begin().await?;
        self.guard(&mut tx).await?;
        super::stalking::insert(&self.db, &mut tx, rows).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims outbox row `id` for this term until `lease_until` (unix ms); `None` when
    /// another claim won or the row is not due.
    ///
    /// # Errors
    /// [`FenceError::Deposed`] (nothing claimed) or [`FenceError::Db`].
    pub async fn claim_outbox(&self, id: i64, lease_until: i64) -> Result<Option<Delivery>, FenceError> {
        let mut tx = self.db.pool().begin().await?;
        self.guard(&mut tx).await?;
        let d = outbox::claim(&self.db, &mut tx, id, self.term, lease_until).await?;
        tx.commit().await?;
        Ok(d)
    }

    /// Records a check's confirmation streak, so a new controller continues it.
    ///
    /// # Errors
    /// As [`Fence::commit_flip`].
    pub async fn save_streak(&self, check_id: i64, streak: u32) -> Result<(), FenceError> {
        let mut tx = self.db.pool().begin().await?;
        self.guard(&mut tx).await?;
        self.write_streak(&mut tx, check_id, streak).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes finished hours (replacing rows of the same check and hour) in one
    /// transaction: one `DELETE` per hour present and one multi-row `INSERT`.
    ///
    /// # Errors
    /// As [`Fence::commit_flip`].
    pub async fn write_rollups(&self, rows: &[Rollup]) -> Result<(), FenceError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.pool().begin().await?;
        self.guard(&mut tx).await?;
        let mut hours: Vec<i64> = rows.iter().map(|r| r.hour).collect();
        hours.sort_unstable();
        hours.dedup();
        for hour in hours {
            let ids: Vec<i64> = rows.iter().filter(|r| r.hour == hour).map(|r| r.check_id).collect();
            let sql = self.db.sql(&format!(
                "DELETE FROM bearmon_rollups WHERE hour = ? AND check_id IN ({})",
                Db::placeholders(ids.len())
            ));
            // Not kept prepared: the text changes with the batch's size, and each size
            // would sit in every connection's statement cache with its 4,000 parameters.
            let mut q = sqlx::query(sql).persistent(false).bind(hour);
            for id in ids {
                q = q.bind(id);
            }
            q.execute(&mut *tx).await?;
        }
        let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; rows.len()].join(", ");
        let sql = self.db.sql(&format!(
            "INSERT INTO bearmon_rollups (check_id, hour, runs, failures, latency_avg_ms, latency_p50_ms, latency_p95_ms, latency_max_ms) VALUES {values}"
        ));
        let mut q = sqlx::query(sql).persistent(false);
        for r in rows {
            q = q
                .bind(r.check_id)
                .bind(r.hour)
                .bind(i64::from(r.runs))
                .bind(i64::from(r.failures))
                .bind(r.latency_avg_ms)
                .bind(r.latency_p50_ms)
                .bind(r.latency_p95_ms)
                .bind(r.latency_max_ms);
        }
        q.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn write_streak(&self, tx: &mut Tx<'_>, check_id: i64, streak: u32) -> Result<(), FenceError> {
        let sql = self.db.sql("DELETE FROM bearmon_check_state WHERE check_id = ?");
        sqlx::query(sql).bind(check_id).execute(&mut **tx).await?;
        if streak > 0 {
            let sql = self.db.sql(
                "INSERT INTO bearmon_check_state (check_id, streak, term, updated_at) VALUES (?, ?, ?, ?)",
            );
            sqlx::query(sql)
                .bind(check_id)
                .bind(i64::from(streak))
                .bind(self.term as i64)
                .bind(now_ms())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

/// How long a MySQL claim waits for the term row before it ends the connection holding it.
pub const CLAIM_LOCK_WAIT_SECS: u64 = 3;

/// MySQL's "Lock wait timeout exceeded" (1205).
fn is_lock_wait_timeout(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .map_or_else(|| d.message().contains("Lock wait timeout"), |m| m.number() == 1205),
        _ => false,
    }
}

/// Ends the connection whose transaction holds the term row: its first statement wrote
/// `holder_conn = CONNECTION_ID()`, uncommitted, which a READ UNCOMMITTED read sees. Its
/// transaction is rolled back by the server (nothing of a frozen controller commits, as the
/// fence promises anyway). Ending a connection of the same database user needs no privilege.
async fn end_frozen_holder(db: &Db) -> Result<(), FenceError> {
    let mut conn = db.pool().acquire().await?;
    sqlx::raw_sql("SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED").execute(&mut *conn).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let sql = format!(
        "SELECT {}, {}, holder FROM bearmon_term WHERE id = 1",
        db.int("holder_conn"),
        db.int("CONNECTION_ID()")
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    let (holder_conn, own, holder): (i64, i64, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    if holder_conn == 0 || holder_conn == own {
        return Ok(());
    }
    tracing::warn!(
        connection = holder_conn,
        holder = %holder,
        wait_secs = CLAIM_LOCK_WAIT_SECS,
        "the term row is held by a transaction that does not finish (a frozen controller?); ending its connection"
    );
    match sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL CONNECTION {holder_conn}")))
        .execute(&mut *conn)
        .await
    {
        Ok(_) => Ok(()),
        // Already gone, or not ours to end: the next attempt says what still blocks.
        Err(e) => {
            tracing::warn!(connection = holder_conn, error = %e, "could not end the connection holding the term row");
            Ok(())
        }
    }
}

async fn read_term(db: &Db, tx: &mut Tx<'_>) -> Result<(u64, String), FenceError> {
    let sql = db.sql(&format!("SELECT {}, holder FROM bearmon_term WHERE id = 1", db.int("term")));
    let row = sqlx::query(sql).fetch_optional(&mut **tx).await?.ok_or(FenceError::NoTermRow)?;
    let term: i64 = row.try_get(0)?;
    Ok((term as u64, row.try_get(1)?))
}

/// The term currently in the database and its holder.
///
/// # Errors
/// [`FenceError::Db`] or [`FenceError::NoTermRow`].
pub async fn current_term(db: &Db) -> Result<(u64, String), FenceError> {
    let mut tx = db.pool().begin().await?;
    let t = read_term(db, &mut tx).await?;
    tx.commit().await?;
    Ok(t)
}

/// Streaks saved by earlier controllers.
///
/// # Errors
/// [`FenceError::Db`].
pub async fn load_streaks(db: &Db) -> Result<HashMap<i64, u32>, FenceError> {
    let sql =
        db.sql(&format!("SELECT {}, {} FROM bearmon_check_state", db.int("check_id"), db.int("streak")));
    let rows = sqlx::query(sql).fetch_all(db.pool()).await?;
    let mut out = HashMap::new();
    for r in rows {
        let id: i64 = r.try_get(0)?;
        let streak: i64 = r.try_get(1)?;
        out.insert(id, u32::try_from(streak).unwrap_or(0));
    }
    Ok(out)
}
