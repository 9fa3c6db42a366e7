//! The outbox table (`bearmon_outbox`, `bearmon_outbox_attempts`): enqueue inside a flip's
//! transaction, due rows, claim under the fence, record each attempt, prune.

use sqlx::Row;

use super::model::{AttemptOutcome, Delivery, Event, FailingContact, Flip, NoticeCommit, idem_key};
use crate::db::{Db, Tx};
use crate::decide::Status;
use crate::policy::notify::Notice;
use crate::util::now_ms;

async fn opt_i64(db: &Db, tx: &mut Tx<'_>, sql: &str, binds: &[i64]) -> Result<Option<i64>, sqlx::Error> {
    let mut q = sqlx::query(db.sql(sql));
    for b in binds {
        q = q.bind(*b);
    }
    let row = q.fetch_one(&mut **tx).await?;
    row.try_get::<Option<i64>, _>(0)
}

/// Writes one outbox row per contact the policy chose for `flip` (event `event_id`). A
/// recovery's rows belong to the incident its problem opened (the last `offline` event).
///
/// # Errors
/// The database's.
pub async fn enqueue(db: &Db, tx: &mut Tx<'_>, event_id: i64, flip: &Flip) -> Result<usize, sqlx::Error> {
    let Some(notice) = &flip.notice else { return Ok(0) };
    let now = now_ms();
    let (incident, incident_at) = match flip.to {
        Status::Offline => (event_id, now),
        Status::Online => incident_of(db, tx, flip.check_id, event_id, now).await?,
    };
    let row = Row_ {
        event_id,
        check_id: flip.check_id,
        status: flip.to,
        name: &flip.name,
        kind: &flip.kind,
        data: &flip.data,
        message: &flip.message,
        incident,
        incident_at,
    };
    // The first notifications of a flip keep gobearmon-era keys (`bm-<event>-<contact>`).
    insert_rows(db, tx, &row, notice, |c| idem_key(event_id, c)).await
}

/// The incident a notification made at `event_id`'s time belongs to: the last `offline`
/// event before it, and when its first notification was made.
async fn incident_of(
    db: &Db,
    tx: &mut Tx<'_>,
    check_id: i64,
    event_id: i64,
    now: i64,
) -> Result<(i64, i64), sqlx::Error> {
    let problem = opt_i64(
        db,
        tx,
        &format!(
            "SELECT {} FROM check_events WHERE check_id = ? AND type = 'offline' AND id <= ?",
            cast_max(db, "id")
        ),
        &[check_id, event_id],
    )
    .await?;
    let Some(p) = problem else { return Ok((event_id, now)) };
    let at = opt_i64(
        db,
        tx,
        &format!("SELECT {} FROM bearmon_outbox WHERE event_id = ?", cast_max(db, "created_at")),
        &[p],
    )
    .await?;
    Ok((p, at.unwrap_or(now)))
}

/// What every row of one notification shares.
struct Row_<'a> {
    event_id: i64,
    check_id: i64,
    status: Status,
    name: &'a str,
    kind: &'a str,
    data: &'a str,
    message: &'a str,
    incident: i64,
    incident_at: i64,
}

/// Inserts a row per contact of `notice`, skipping a key already there (a notice committed
/// again by a retry or a new controller is written once).
async fn insert_rows(
    db: &Db,
    tx: &mut Tx<'_>,
    r: &Row_<'_>,
    notice: &Notice,
    key: impl Fn(i64) -> String,
) -> Result<usize, sqlx::Error> {
    let now = now_ms();
    let exists = || db.sql("SELECT 1 FROM bearmon_outbox WHERE idem_key = ?");
    let insert = || {
        db.sql(
        "INSERT INTO bearmon_outbox (event_id, check_id, contact_id, idem_key, state, to_status, check_name, check_type, \
         check_data, message, incident, incident_at, created_at, next_attempt_at, notification_type, notification_number) \
         VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
    };
    let mut n = 0;
    for c in &notice.contacts {
        let k = key(*c);
        if sqlx::query(exists()).bind(k.clone()).fetch_optional(&mut **tx).await?.is_some() {
            continue;
        }
        sqlx::query(insert())
            .bind(r.event_id)
            .bind(r.check_id)
            .bind(*c)
            .bind(k)
            .bind(r.status.as_str())
            .bind(r.name.to_string())
            .bind(r.kind.to_string())
            .bind(r.data.to_string())
            .bind(r.message.to_string())
            .bind(r.incident)
            .bind(r.incident_at)
            .bind(now)
            .bind(now)
            .bind(notice.kind.as_str())
            .bind(i64::from(notice.number))
            .execute(&mut **tx)
            .await?;
        n += 1;
    }
    Ok(n)
}

/// Writes a notice that is not a flip (re-notification, acknowledgement, downtime): its rows
/// belong to the check's latest event (for a problem, the flip that opened it); keys name
/// the notice's tag, so committing it twice writes it once. Returns the rows written.
///
/// # Errors
/// The database's.
pub async fn enqueue_notice(db: &Db, tx: &mut Tx<'_>, n: &NoticeCommit) -> Result<usize, sqlx::Error> {
    let now = now_ms();
    let event = opt_i64(
        db,
        tx,
        &format!("SELECT {} FROM check_events WHERE check_id = ?", cast_max(db, "id")),
        &[n.check_id],
    )
    .await?
    .unwrap_or(0);
    let (incident, incident_at) = incident_of(db, tx, n.check_id, event, now).await?;
    let row = Row_ {
        event_id: event,
        check_id: n.check_id,
        status: n.status,
        name: &n.name,
        kind: &n.kind,
        data: &n.data,
        message: &n.message,
        incident,
        incident_at,
    };
    let tag = &n.notice.tag;
    let check = n.check_id;
    insert_rows(db, tx, &row, &n.notice, |c| format!("bm-{event}-{c}-{tag}-c{check}")).await
}

fn cast_max(db: &Db, col: &str) -> String {
    db.int(&format!("MAX({col})"))
}

/// Rows that may be claimed now by the controller of `term`, oldest first. A row waits while
/// an earlier row of the same check and contact is not yet delivered or given up, so a
/// recovery never overtakes the problem it ends (a receiver that was down gets them in order).
///
/// # Errors
/// The database's.
pub async fn due(db: &Db, term: u64, limit: i64) -> Result<Vec<i64>, sqlx::Error> {
    let now = now_ms();
    let sql = db.sql(&format!(
        "SELECT {} FROM bearmon_outbox WHERE (state = 'pending' OR (state = 'sending' AND (claimed_until < ? OR claim_term < ?))) \
         AND next_attempt_at <= ? \
         AND NOT EXISTS (SELECT 1 FROM bearmon_outbox earlier WHERE earlier.check_id = bearmon_outbox.check_id \
         AND earlier.contact_id = bearmon_outbox.contact_id AND earlier.id < bearmon_outbox.id \
         AND earlier.state IN ('pending', 'sending')) \
         ORDER BY bearmon_outbox.id LIMIT ?",
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

/// Rows not yet delivered or given up that may be sent by `until_ms` (unix ms): the ones a
/// stopping node can still hope to deliver.
///
/// # Errors
/// The database's.
pub async fn pending_by(db: &Db, until_ms: i64) -> Result<i64, sqlx::Error> {
    let sql = db.sql(&format!(
        "SELECT {} FROM bearmon_outbox WHERE state IN ('pending', 'sending') AND next_attempt_at <= ?",
        db.int("COUNT(*)")
    ));
    sqlx::query(sql).bind(until_ms).fetch_one(db.pool()).await?.try_get(0)
}

/// Makes every row waiting for a later attempt due now: at start, what the last run left
/// pending goes out at once, not at the backoff it had reached. Returns how many rows.
///
/// # Errors
/// The database's.
pub async fn due_now(db: &Db) -> Result<u64, sqlx::Error> {
    let now = now_ms();
    let sql = db
        .sql("UPDATE bearmon_outbox SET next_attempt_at = ? WHERE state = 'pending' AND next_attempt_at > ?");
    Ok(sqlx::query(sql).bind(now).bind(now).execute(db.pool()).await?.rows_affected())
}

/// Contacts whose notifications fail: their newest row that was delivered or given up in
/// the last `window_ms` was given up (or refused), or a row of theirs still retries
/// `retrying_after_ms` after its flip. Newest error first per contact; at most 1,000 rows
/// are read.
///
/// # Errors
/// The database's.
pub async fn failing(
    db: &Db,
    window_ms: i64,
    retrying_after_ms: i64,
) -> Result<Vec<FailingContact>, sqlx::Error> {
    let now = now_ms();
    let sql = db.sql(&format!(
        "SELECT {}, state, {}, {}, COALESCE(last_error, '') FROM bearmon_outbox o WHERE          (state = 'failed' AND created_at >= ? AND NOT EXISTS (SELECT 1 FROM bearmon_outbox later            WHERE later.contact_id = o.contact_id AND later.id > o.id AND later.state = 'sent'))          OR (state IN ('pending', 'sending') AND attempts > 0 AND created_at <= ?)          ORDER BY o.id DESC LIMIT 1000",
        db.int("o.contact_id"),
        db.int("o.created_at"),
        db.int("o.attempts"),
    ));
    let rows =
        sqlx::query(sql).bind(now - window_ms).bind(now - retrying_after_ms).fetch_all(db.pool()).await?;
    let mut out: Vec<FailingContact> = Vec::new();
    for r in &rows {
        let contact_id: i64 = r.try_get(0)?;
        let state: String = r.try_get(1)?;
        let created: i64 = r.try_get(2)?;
        match out.iter_mut().find(|f| f.contact_id == contact_id) {
            // Rows come newest first: an older one only moves `since` back.
            Some(f) => f.since_ms = f.since_ms.min(created),
            None => out.push(FailingContact {
                contact_id,
                state: if state == "failed" { "failed" } else { "retrying" },
                since_ms: created,
                attempts: r.try_get(3)?,
                error: r.try_get(4)?,
            }),
        }
    }
    out.sort_by_key(|f| f.contact_id);
    Ok(out)
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
        "SELECT {}, {}, {}, idem_key, to_status, check_name, check_type, check_data, message, {}, {}, {}, {}, \
         notification_type, {} FROM bearmon_outbox WHERE id = ?",
        db.int("event_id"),
        db.int("check_id"),
        db.int("contact_id"),
        db.int("incident"),
        db.int("incident_at"),
        db.int("created_at"),
        db.int("attempts"),
        db.int("notification_number"),
    ));
    let (
        event_id,
        check_id,
        contact_id,
        idem_key,
        status,
        check_name,
        check_type,
        check_data,
        message,
        incident,
        incident_at_ms,
        at_ms,
        attempts,
        mut notification_type,
        number,
    ): ClaimedRow = sqlx::query_as(sql).bind(id).fetch_one(&mut **tx).await?;
    if notification_type.is_empty() {
        // A row from before notification types: gobearmon's two kinds.
        notification_type = if status == "offline" { "PROBLEM" } else { "RECOVERY" }.into();
    }
    let notification_number = u32::try_from(number.max(1)).unwrap_or(u32::MAX);
    let event = Event {
        check_id,
        status,
        check_name,
        check_type,
        check_data,
        message,
        notification_type,
        notification_number,
    };
    let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
    Ok(Some(Delivery {
        outbox_id: id,
        event_id,
        contact_id,
        idem_key,
        incident,
        incident_at_ms,
        at_ms,
        attempts,
        event,
    }))
}

/// The columns [`claim`] reads back, in its `SELECT`'s order.
type ClaimedRow =
    (i64, i64, i64, String, String, String, String, String, String, i64, i64, i64, i64, String, i64);

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
    outcome: &AttemptOutcome,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let mut tx = db.pool().begin().await?;
    let (state, next, error, label) = match outcome {
        AttemptOutcome::Sent { .. } => ("sent", now, None, "sent"),
        AttemptOutcome::Retry { at_ms, error } => ("pending", *at_ms, Some(error.clone()), "retry"),
        AttemptOutcome::Failed { error } => ("failed", now, Some(error.clone()), "failed"),
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
    if let AttemptOutcome::Sent { charge: Some((kind, sid)) } = outcome {
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
