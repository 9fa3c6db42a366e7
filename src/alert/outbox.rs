//! The outbox table: enqueue (inside a flip's transaction), claim, record.

use std::collections::BTreeSet;

use sqlx::Row;

use super::{Delivery, Event, idem_key};
use crate::db::{Backend, Db};
use crate::decide::Status;
use crate::node::auth::now_ms;

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// What a flip must notify, built by the controller from its snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Flip {
    pub check_id: i64,
    pub to: Status,
    pub name: String,
    pub kind: String,
    /// The check's data, secrets redacted.
    pub data: String,
    /// The confirming result's message, secrets scrubbed.
    pub message: String,
    /// Contacts of enabled alerts whose type matches the new state.
    pub contacts: Vec<i64>,
}

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

async fn opt_i64(db: &Db, tx: &mut Tx<'_>, sql: &str, binds: &[i64]) -> Result<Option<i64>, sqlx::Error> {
    let mut q = sqlx::query(db.sql(sql));
    for b in binds {
        q = q.bind(*b);
    }
    let row = q.fetch_one(&mut **tx).await?;
    row.try_get::<Option<i64>, _>(0)
}

/// Writes one outbox row per contact to notify of `flip` (event `event_id`). A recovery goes
/// to the union of the matching alerts and everyone notified of the problem it ends.
///
/// # Errors
/// The database's.
pub async fn enqueue(db: &Db, tx: &mut Tx<'_>, event_id: i64, flip: &Flip) -> Result<usize, sqlx::Error> {
    let now = now_ms();
    let mut contacts: BTreeSet<i64> = flip.contacts.iter().copied().collect();
    let (incident, incident_at) = match flip.to {
        Status::Offline => (event_id, now),
        Status::Online => {
            let problem = opt_i64(
                db,
                tx,
                &format!(
                    "SELECT {} FROM check_events WHERE check_id = ? AND type = 'offline' AND id < ?",
                    cast_max(db, "id")
                ),
                &[flip.check_id, event_id],
            )
            .await?;
            match problem {
                Some(p) => {
                    let sql = db.sql(&format!(
                        "SELECT DISTINCT {} FROM bearmon_outbox WHERE check_id = ? AND event_id = ? AND state <> 'failed'",
                        db.int("contact_id")
                    ));
                    let rows = sqlx::query(sql).bind(flip.check_id).bind(p).fetch_all(&mut **tx).await?;
                    for r in rows {
                        contacts.insert(r.try_get(0)?);
                    }
                    let at = opt_i64(
                        db,
                        tx,
                        &format!(
                            "SELECT {} FROM bearmon_outbox WHERE event_id = ?",
                            cast_max(db, "created_at")
                        ),
                        &[p],
                    )
                    .await?;
                    (p, at.unwrap_or(now))
                }
                None => (event_id, now),
            }
        }
    };
    let sql = || {
        db.sql(
        "INSERT INTO bearmon_outbox (event_id, check_id, contact_id, idem_key, state, to_status, check_name, check_type, \
         check_data, message, incident, incident_at, created_at, next_attempt_at) \
         VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    };
    for c in &contacts {
        sqlx::query(sql())
            .bind(event_id)
            .bind(flip.check_id)
            .bind(*c)
            .bind(idem_key(event_id, *c))
            .bind(flip.to.as_str())
            .bind(flip.name.clone())
            .bind(flip.kind.clone())
            .bind(flip.data.clone())
            .bind(flip.message.clone())
            .bind(incident)
            .bind(incident_at)
            .bind(now)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(contacts.len())
}

fn cast_max(db: &Db, col: &str) -> String {
    db.int(&format!("MAX({col})"))
}

/// Rows that may be claimed now by the controller of `term`, oldest first.
///
/// # Errors
/// The database's.
pub async fn due(db: &Db, term: u64, limit: i64) -> Result<Vec<i64>, sqlx::Error> {
    let now = now_ms();
    let sql = db.sql(&format!(
        "SELECT {} FROM bearmon_outbox WHERE (state = 'pending' OR (state = 'sending' AND (claimed_until < ? OR claim_term < ?))) \
         AND next_attempt_at <= ? ORDER BY bearmon_outbox.id LIMIT ?",
        db.int("id")
    ));
    let rows =
        sqlx::query(sql).bind(now).bind(term as i64).bind(now).bind(limit).fetch_all(db.pool()).await?;
    rows.iter().map(|r| r.try_get(0)).collect()
}

/// Rows not yet delivered or given up.
///
/// # Errors
/// The database's.
pub async fn pending(db: &Db) -> Result<i64, sqlx::Error> {
    let sql = db.sql(&format!(
        "SELECT {} FROM bearmon_outbox WHERE state IN ('pending', 'sending')",
        db.int("COUNT(*)")
    ));
    sqlx::query(sql).fetch_one(db.pool()).await?.try_get(0)
}

/// Claims row `id` for `term` until `lease_until` (the caller runs this after the fence's
/// guard, in the same transaction). Returns the delivery when this call won the row.
///
/// # Errors
/// The database's.
pub async fn claim(
    db: &Db,
    tx: &mut Tx<'_>,
    id: i64,
    term: u64,
    lease_until: i64,
) -> Result<Option<Delivery>, sqlx::Error> {
    let now = now_ms();
    let sql = db.sql(
        "UPDATE bearmon_outbox SET state = 'sending', claim_term = ?, claimed_until = ?, attempts = attempts + 1 \
         WHERE id = ? AND next_attempt_at <= ? \
         AND (state = 'pending' OR (state = 'sending' AND (claimed_until < ? OR claim_term < ?)))",
    );
    let done = sqlx::query(sql)
        .bind(term as i64)
        .bind(lease_until)
        .bind(id)
        .bind(now)
        .bind(now)
        .bind(term as i64)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(None);
    }
    let sql = db.sql(&format!(
        "SELECT {}, {}, {}, idem_key, to_status, check_name, check_type, check_data, message, {}, {}, {}, {} \
         FROM bearmon_outbox WHERE id = ?",
        db.int("event_id"),
        db.int("check_id"),
        db.int("contact_id"),
        db.int("incident"),
        db.int("incident_at"),
        db.int("created_at"),
        db.int("attempts"),
    ));
    let r = sqlx::query(sql).bind(id).fetch_one(&mut **tx).await?;
    let d = Delivery {
        outbox_id: id,
        event_id: r.try_get(0)?,
        contact_id: r.try_get(2)?,
        idem_key: r.try_get(3)?,
        incident: r.try_get(9)?,
        incident_at_ms: r.try_get(10)?,
        at_ms: r.try_get(11)?,
        attempts: u32::try_from(r.try_get::<i64, _>(12)?).unwrap_or(u32::MAX),
        event: Event {
            check_id: r.try_get(1)?,
            status: r.try_get(4)?,
            check_name: r.try_get(5)?,
            check_type: r.try_get(6)?,
            check_data: r.try_get(7)?,
            message: r.try_get(8)?,
        },
    };
    Ok(Some(d))
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Sent {
        charge: Option<(&'static str, String)>,
    },
    /// Try again at this unix ms.
    Retry {
        at_ms: i64,
        error: String,
    },
    Failed {
        error: String,
    },
}

/// Records an attempt of row `id` claimed by `term`: the row's new state and an attempt
/// row, plus the `charges` row of an SMS or call. Conditional on the claim still being
/// ours, so a row another controller took over is left alone.
///
/// # Errors
/// The database's.
pub async fn record(
    db: &Db,
    id: i64,
    check_id: i64,
    term: u64,
    outcome: &Outcome,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let mut tx = db.pool().begin().await?;
    let (state, next, error, label) = match outcome {
        Outcome::Sent { .. } => ("sent", now, None, "sent"),
        Outcome::Retry { at_ms, error } => ("pending", *at_ms, Some(error.clone()), "retry"),
        Outcome::Failed { error } => ("failed", now, Some(error.clone()), "failed"),
    };
    let sent_at = if state == "sent" { now } else { 0 };
    let sql = db.sql(
        "UPDATE bearmon_outbox SET state = ?, next_attempt_at = ?, last_error = ?, sent_at = ?, claimed_until = 0 \
         WHERE id = ? AND claim_term = ? AND state = 'sending'",
    );
    let done = sqlx::query(sql)
        .bind(state)
        .bind(next)
        .bind(error.clone())
        .bind(sent_at)
        .bind(id)
        .bind(term as i64)
        .execute(&mut *tx)
        .await?;
    let sql = db.sql(
        "INSERT INTO bearmon_outbox_attempts (outbox_id, at, term, outcome, error) VALUES (?, ?, ?, ?, ?)",
    );
    sqlx::query(sql).bind(id).bind(now).bind(term as i64).bind(label).bind(error).execute(&mut *tx).await?;
    if let Outcome::Sent { charge: Some((kind, sid)) } = outcome {
        let sql = db.sql("INSERT INTO charges (check_id, type, data) VALUES (?, ?, ?)");
        sqlx::query(sql).bind(check_id).bind(*kind).bind(sid.clone()).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes sent and failed rows older than `days`, with their attempts. Pending rows are
/// never deleted here (they give up after `give_up_after_hours` and become failed first).
///
/// # Errors
/// The database's.
pub async fn prune(db: &Db, days: u32) -> Result<u64, sqlx::Error> {
    let cutoff = now_ms() - i64::from(days) * 86_400_000;
    let mut tx = db.pool().begin().await?;
    let sql = db.sql(
        "DELETE FROM bearmon_outbox_attempts WHERE outbox_id IN \
         (SELECT id FROM bearmon_outbox WHERE state IN ('sent', 'failed') AND created_at < ?)",
    );
    sqlx::query(sql).bind(cutoff).execute(&mut *tx).await?;
    let sql = db.sql("DELETE FROM bearmon_outbox WHERE state IN ('sent', 'failed') AND created_at < ?");
    let n = sqlx::query(sql).bind(cutoff).execute(&mut *tx).await?.rows_affected();
    tx.commit().await?;
    Ok(n)
}
