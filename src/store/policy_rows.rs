//! The tables of Shinken's notification logic (SPEC §10): `timeperiods`, `escalations`,
//! `downtimes`, `acknowledgements`, read whole (they are small beside `checks`) into the
//! pure types of `policy`, bad rows named; and the writes of the API's downtime and
//! acknowledgement routes.

use std::collections::BTreeSet;
use std::sync::Arc;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;
use super::model::RowProblem;
use crate::db::{Backend, Db};
use crate::policy::depend::{Criteria, Dependency};
use crate::policy::downtime::Downtime;
use crate::policy::notify::Escalation;
use crate::policy::options::Letters;

/// Downtimes that ended longer ago than this are not read (they can change nothing).
const DOWNTIME_PAST_SECS: i64 = 2 * 86_400;

/// One row of `acknowledgements`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub id: i64,
    pub check_id: i64,
    pub author: String,
    pub comment: String,
    pub sticky: bool,
    pub notify: bool,
    pub created_ms: i64,
}

/// Everything the policy tables hold, parsed.
#[derive(Debug, Clone, Default)]
pub struct PolicyRows {
    /// `(id, name, definition)`: parsed by `policy::period::Periods::build`, which names bad
    /// ones.
    pub periods: Vec<(i64, String, String)>,
    pub escalations: Vec<Arc<Escalation>>,
    pub downtimes: Vec<Downtime>,
    /// `dependencies` rows.
    pub dependencies: Vec<Dependency>,
    /// The newest acknowledgement of each check (only the newest is read: the table keeps
    /// every acknowledgement ever made).
    pub acks: Vec<Ack>,
    pub problems: Vec<RowProblem>,
}

fn err(table: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |source| StoreError::Read { table, source }
}

fn int(row: &AnyRow, i: usize) -> Option<i64> {
    row.try_get::<Option<i64>, _>(i).ok().flatten()
}

fn text(row: &AnyRow, i: usize) -> Option<String> {
    row.try_get::<Option<String>, _>(i).ok().flatten()
}

/// Reads the four tables. `checks` and `contacts` are the ids that exist: a row naming
/// another is a problem (shown, used by nobody).
///
/// # Errors
/// [`StoreError`] when a table cannot be read.
pub async fn load(
    db: &Db,
    checks: &BTreeSet<i64>,
    contacts: &BTreeSet<i64>,
    now_s: i64,
) -> Result<PolicyRows, StoreError> {
    let mut out = PolicyRows::default();
    let sql = db.sql(&format!("SELECT {}, name, definition FROM timeperiods ORDER BY id", db.int("id")));
    for row in sqlx::query(sql).fetch_all(db.pool()).await.map_err(err("timeperiods"))? {
        out.periods.push((
            int(&row, 0).unwrap_or_default(),
            text(&row, 1).unwrap_or_default(),
            text(&row, 2).unwrap_or_default(),
        ));
    }
    let sql = db.sql(&format!(
        "SELECT {}, {}, {}, {}, {}, {}, {}, {}, escalation_period, escalation_options FROM escalations ORDER BY id",
        db.int("id"),
        db.int("check_id"),
        db.int("contact_id"),
        db.int("first_notification"),
        db.int("last_notification"),
        db.int("first_notification_time"),
        db.int("last_notification_time"),
        db.int("notification_interval"),
    ));
    for row in sqlx::query(sql).fetch_all(db.pool()).await.map_err(err("escalations"))? {
        match escalation(&row, checks, contacts) {
            Ok(e) => out.escalations.push(Arc::new(e)),
            Err(p) => out.problems.push(p),
        }
    }
    let sql = db.sql(&format!(
        "SELECT {}, {}, {}, {}, {}, {}, {}, author, comment, {} FROM downtimes WHERE {} > ? ORDER BY id",
        db.int("id"),
        db.int("check_id"),
        db.epoch("start_time"),
        db.epoch("end_time"),
        db.int("fixed"),
        db.int("duration"),
        db.int("trigger_id"),
        db.int("cancelled"),
        db.epoch("end_time"),
    ));
    let rows = sqlx::query(sql)
        .bind(now_s - DOWNTIME_PAST_SECS)
        .fetch_all(db.pool())
        .await
        .map_err(err("downtimes"))?;
    let ids: BTreeSet<i64> = rows.iter().filter_map(|r| int(r, 0)).collect();
    for row in rows {
        match downtime(&row, checks, &ids) {
            Ok(d) => out.downtimes.push(d),
            Err(p) => out.problems.push(p),
        }
    }
    let sql = db.sql(&format!(
        "SELECT {}, {}, author, comment, {}, {}, {} FROM acknowledgements a \
         WHERE a.id = (SELECT MAX(b.id) FROM acknowledgements b WHERE b.check_id = a.check_id) ORDER BY a.id",
        db.int("a.id"),
        db.int("a.check_id"),
        db.int("a.sticky"),
        db.int("a.notify"),
        db.epoch("a.created_at"),
    ));
    let mut newest = std::collections::BTreeMap::new();
    for row in sqlx::query(sql).fetch_all(db.pool()).await.map_err(err("acknowledgements"))? {
        let id = int(&row, 0).unwrap_or_default();
        let check_id = int(&row, 1).unwrap_or_default();
        if !checks.contains(&check_id) {
            out.problems.push(RowProblem::new(
                "acknowledgements",
                id,
                "check_id",
                format!("check {check_id} does not exist (or is disabled)"),
            ));
            continue;
        }
        newest.insert(
            check_id,
            Ack {
                id,
                check_id,
                author: text(&row, 2).unwrap_or_default(),
                comment: text(&row, 3).unwrap_or_default(),
                sticky: int(&row, 4).unwrap_or(0) != 0,
                notify: int(&row, 5).unwrap_or(1) != 0,
                created_ms: int(&row, 6).unwrap_or(0) * 1000,
            },
        );
    }
    out.acks = newest.into_values().collect();
    let sql = db.sql(&format!(
        "SELECT {}, {}, {}, execution_failure_criteria, notification_failure_criteria, {}, dependency_period \
         FROM dependencies ORDER BY id",
        db.int("id"),
        db.int("check_id"),
        db.int("parent_id"),
        db.int("inherits_parent"),
    ));
    for row in sqlx::query(sql).fetch_all(db.pool()).await.map_err(err("dependencies"))? {
        match dependency(&row, checks) {
            Ok(d) => out.dependencies.push(d),
            Err(p) => out.problems.push(p),
        }
    }
    for p in &out.problems {
        tracing::warn!(table = p.table, id = p.id, field = %p.field, "bad row: {p}");
    }
    Ok(out)
}

fn escalation(
    row: &AnyRow,
    checks: &BTreeSet<i64>,
    contacts: &BTreeSet<i64>,
) -> Result<Escalation, RowProblem> {
    let id = int(row, 0).unwrap_or_default();
    let bad = |field: &str, reason: String| RowProblem::new("escalations", id, field, reason);
    let check_id = int(row, 1);
    if let Some(c) = check_id
        && !checks.contains(&c)
    {
        return Err(bad("check_id", format!("check {c} does not exist (or is disabled)")));
    }
    let contact_id = int(row, 2).unwrap_or_default();
    if !contacts.contains(&contact_id) {
        return Err(bad("contact_id", format!("contact {contact_id} does not exist")));
    }
    let count = |i: usize, field: &str| -> Result<u64, RowProblem> {
        let v = int(row, i).unwrap_or(0);
        u64::try_from(v).map_err(|_| bad(field, format!("{v} is negative")))
    };
    let first_notification = count(3, "first_notification")? as u32;
    let last_notification = count(4, "last_notification")? as u32;
    let first_time = count(5, "first_notification_time")?;
    let last_time = count(6, "last_notification_time")?;
    if (first_time > 0 || last_time > 0) && (first_notification > 0 || last_notification > 0) {
        return Err(bad(
            "first_notification_time",
            "a row is either time-based or number-based (the seed: \"You cannot have in the same escalation time \
             and number escalation rules\")"
                .into(),
        ));
    }
    let interval = match int(row, 7) {
        None => None,
        Some(v) => {
            Some(u64::try_from(v).map_err(|_| bad("notification_interval", format!("{v} is negative")))?)
        }
    };
    let period = text(row, 8).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).map(Arc::from);
    let options = match text(row, 9).filter(|s| !s.trim().is_empty()) {
        None => Letters::ALL,
        Some(s) => Letters::parse(&s).map_err(|r| bad("escalation_options", r))?,
    };
    Ok(Escalation {
        id,
        check_id,
        contact_id,
        first_notification,
        last_notification,
        first_time,
        last_time,
        interval,
        period,
        options,
    })
}

fn dependency(row: &AnyRow, checks: &BTreeSet<i64>) -> Result<Dependency, RowProblem> {
    let id = int(row, 0).unwrap_or_default();
    let bad = |field: &str, reason: String| RowProblem::new("dependencies", id, field, reason);
    let check_id = int(row, 1).unwrap_or_default();
    if !checks.contains(&check_id) {
        return Err(bad("check_id", format!("check {check_id} does not exist (or is disabled)")));
    }
    let parent_id = int(row, 2).unwrap_or_default();
    if !checks.contains(&parent_id) {
        return Err(bad("parent_id", format!("check {parent_id} does not exist (or is disabled)")));
    }
    let criteria =
        |i: usize, field: &str, default: Criteria| match text(row, i).filter(|s| !s.trim().is_empty()) {
            None => Ok(default),
            Some(s) => Criteria::parse(&s).map_err(|r| bad(field, r)),
        };
    Ok(Dependency {
        id,
        check_id,
        parent_id,
        execution: criteria(3, "execution_failure_criteria", Criteria::NONE)?,
        notification: criteria(4, "notification_failure_criteria", Criteria::CRITICAL)?,
        inherits_parent: int(row, 5).unwrap_or(0) != 0,
        period: text(row, 6).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).map(Arc::from),
    })
}

fn downtime(row: &AnyRow, checks: &BTreeSet<i64>, ids: &BTreeSet<i64>) -> Result<Downtime, RowProblem> {
    let id = int(row, 0).unwrap_or_default();
    let bad = |field: &str, reason: String| RowProblem::new("downtimes", id, field, reason);
    let check_id = int(row, 1).unwrap_or_default();
    if !checks.contains(&check_id) {
        return Err(bad("check_id", format!("check {check_id} does not exist (or is disabled)")));
    }
    let start = int(row, 2).ok_or_else(|| bad("start_time", "is not a time".into()))?;
    let end = int(row, 3).ok_or_else(|| bad("end_time", "is not a time".into()))?;
    if end <= start {
        return Err(bad("end_time", "is not after start_time".into()));
    }
    let fixed = int(row, 4).unwrap_or(1) != 0;
    let duration = int(row, 5).unwrap_or(0);
    if !fixed && duration <= 0 {
        return Err(bad("duration", format!("{duration}: a flexible downtime needs a duration in seconds")));
    }
    let trigger_id = int(row, 6);
    if let Some(t) = trigger_id
        && !ids.contains(&t)
    {
        return Err(bad("trigger_id", format!("downtime {t} does not exist (or ended long ago)")));
    }
    Ok(Downtime {
        id,
        check_id,
        start_ms: start * 1000,
        end_ms: end * 1000,
        fixed,
        duration_ms: duration.clamp(0, 366 * 86_400) * 1000,
        trigger_id,
        cancelled: int(row, 9).unwrap_or(0) != 0,
        author: text(row, 7).unwrap_or_default(),
        comment: text(row, 8).unwrap_or_default(),
    })
}

/// A downtime to schedule (`POST /api/downtimes`); times in unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDowntime {
    pub check_id: i64,
    pub start_s: i64,
    pub end_s: i64,
    pub fixed: bool,
    pub duration_s: i64,
    pub trigger_id: Option<i64>,
    pub author: String,
    pub comment: String,
}

async fn insert_returning_id(db: &Db, sql: &str, binds: Vec<Bind>) -> Result<i64, sqlx::Error> {
    let returning = db.backend() != Backend::MySql;
    let text = if returning { format!("{sql} RETURNING {}", db.int("id")) } else { sql.to_string() };
    let mut q = sqlx::query(db.sql(&text));
    for b in binds {
        q = match b {
            Bind::Int(i) => q.bind(i),
            Bind::OptInt(i) => q.bind(i),
            Bind::Text(s) => q.bind(s),
        };
    }
    if returning {
        return q.fetch_one(db.pool()).await?.try_get(0);
    }
    let done = q.execute(db.pool()).await?;
    done.last_insert_id().ok_or_else(|| sqlx::Error::Protocol("no id for the new row".into()))
}

enum Bind {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
}

/// Inserts a downtime row and returns its id.
///
/// # Errors
/// The database's.
pub async fn insert_downtime(db: &Db, d: &NewDowntime) -> Result<i64, sqlx::Error> {
    let t = db.from_epoch();
    let sql = format!(
        "INSERT INTO downtimes (check_id, start_time, end_time, fixed, duration, trigger_id, author, comment) \
         VALUES (?, {t}, {t}, ?, ?, ?, ?, ?)"
    );
    insert_returning_id(
        db,
        &sql,
        vec![
            Bind::Int(d.check_id),
            Bind::Int(d.start_s),
            Bind::Int(d.end_s),
            Bind::Int(i64::from(d.fixed)),
            Bind::Int(d.duration_s),
            Bind::OptInt(d.trigger_id),
            Bind::Text(d.author.clone()),
            Bind::Text(d.comment.clone()),
        ],
    )
    .await
}

/// Cancels a downtime; false when there is no such row.
///
/// # Errors
/// The database's.
pub async fn cancel_downtime(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    let sql = db.sql("UPDATE downtimes SET cancelled = 1 WHERE id = ?");
    let done = sqlx::query(sql).bind(id).execute(db.pool()).await?;
    if done.rows_affected() > 0 {
        return Ok(true);
    }
    // MySQL counts changed rows only: an already cancelled row is still there.
    let sql = db.sql(&format!("SELECT {} FROM downtimes WHERE id = ?", db.int("COUNT(*)")));
    let n: i64 = sqlx::query(sql).bind(id).fetch_one(db.pool()).await?.try_get(0)?;
    Ok(n > 0)
}

/// Inserts an acknowledgement (now) and returns its id.
///
/// # Errors
/// The database's.
pub async fn insert_ack(
    db: &Db,
    check_id: i64,
    author: &str,
    comment: &str,
    sticky: bool,
    notify: bool,
) -> Result<i64, sqlx::Error> {
    insert_returning_id(
        db,
        "INSERT INTO acknowledgements (check_id, author, comment, sticky, notify) VALUES (?, ?, ?, ?, ?)",
        vec![
            Bind::Int(check_id),
            Bind::Text(author.to_string()),
            Bind::Text(comment.to_string()),
            Bind::Int(i64::from(sticky)),
            Bind::Int(i64::from(notify)),
        ],
    )
    .await
}
