//! What the outbox remembers of notifications, read back: the open problems a new
//! controller goes on from, and the last notifications of a check for the API.

use std::collections::HashMap;

use sqlx::Row;

use crate::db::Db;

/// What the outbox says of a check's open problem, for a new controller to go on from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenProblem {
    /// Problem notifications made so far (the highest number).
    pub number: u32,
    /// When the last of them was made (unix ms).
    pub last_ms: Option<i64>,
    /// Everyone told of it.
    pub told: Vec<i64>,
    /// The acknowledgement notices made for it.
    pub acked: bool,
}

/// The open problems of the checks that are offline now: per check, from the outbox rows of
/// its last `offline` event.
///
/// # Errors
/// The database's.
pub async fn open_problems(db: &Db) -> Result<HashMap<i64, OpenProblem>, sqlx::Error> {
    let sql = db.sql(&format!(
        "SELECT {}, {}, {}, notification_type, {}, {} FROM bearmon_outbox o \
         WHERE o.state <> 'failed' AND o.incident = (SELECT MAX(e.id) FROM check_events e \
         WHERE e.check_id = o.check_id AND e.type = 'offline') \
         AND EXISTS (SELECT 1 FROM checks c WHERE c.id = o.check_id AND c.status = 'offline')",
        db.int("o.check_id"),
        db.int("o.incident"),
        db.int("o.contact_id"),
        db.int("o.notification_number"),
        db.int("o.created_at"),
    ));
    let rows = sqlx::query(sql).fetch_all(db.pool()).await?;
    let mut out: HashMap<i64, OpenProblem> = std::collections::HashMap::new();
    for r in rows {
        let check: i64 = r.try_get(0)?;
        let contact: i64 = r.try_get(2)?;
        let kind: String = r.try_get(3).unwrap_or_default();
        let number: i64 = r.try_get(4)?;
        let at: i64 = r.try_get(5)?;
        let p = out.entry(check).or_default();
        match kind.as_str() {
            "PROBLEM" | "" => {
                p.number = p.number.max(u32::try_from(number.max(1)).unwrap_or(u32::MAX));
                p.last_ms = Some(p.last_ms.map_or(at, |l| l.max(at)));
                if !p.told.contains(&contact) {
                    p.told.push(contact);
                }
            }
            "ACKNOWLEDGEMENT" => p.acked = true,
            _ => {}
        }
    }
    Ok(out)
}

/// The last notifications of a check, newest first, for `/checks/ID`: (unix ms, type,
/// number, contact, state).
///
/// # Errors
/// The database's.
pub async fn recent_for_check(db: &Db, check_id: i64, limit: i64) -> Result<Vec<SentRow>, sqlx::Error> {
    let sql = db.sql(&format!(
        "SELECT {}, notification_type, {}, {}, state, to_status FROM bearmon_outbox WHERE check_id = ? \
         ORDER BY id DESC LIMIT ?",
        db.int("created_at"),
        db.int("notification_number"),
        db.int("contact_id"),
    ));
    let rows = sqlx::query(sql).bind(check_id).bind(limit).fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let status: String = r.try_get(5).unwrap_or_default();
        let mut kind: String = r.try_get(1).unwrap_or_default();
        if kind.is_empty() {
            kind = if status == "offline" { "PROBLEM" } else { "RECOVERY" }.into();
        }
        out.push(SentRow {
            at_ms: r.try_get(0)?,
            notification_type: kind,
            number: u32::try_from(r.try_get::<i64, _>(2)?.max(1)).unwrap_or(1),
            contact_id: r.try_get(3)?,
            state: r.try_get(4).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// One notification row as `/checks/ID` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRow {
    pub at_ms: i64,
    pub notification_type: String,
    pub number: u32,
    pub contact_id: i64,
    /// `pending`, `sending`, `sent` or `failed`.
    pub state: String,
}
