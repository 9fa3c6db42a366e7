//! Reading rows of `checks`, `alerts` and `contacts`, whole tables or by id.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;
use super::model::{AlertLink, AlertWhen, CheckDef, Contact, RowProblem, Snapshot};
use crate::check::{CheckSpec, InvalidCheck};
use crate::db::Db;
use crate::decide::Status;
use crate::policy::{self, options::CheckOptions};

/// The largest `checks.data` accepted (gobearmon's column holds 1,024 characters).
pub const MAX_DATA: usize = 64 * 1024;

/// How much of an oversized row's redacted data is kept, to be shown, and how long its
/// strings may be there.
const OVERSIZED_SHOWN: usize = 4096;
const OVERSIZED_STRING: usize = 200;

/// `v` with every string over [`OVERSIZED_STRING`] characters cut; whether any was.
fn shorten(v: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::String(s) if s.chars().count() > OVERSIZED_STRING => {
            let head: String = s.chars().take(OVERSIZED_STRING).collect();
            *s = format!("{head}… ({} bytes)", s.len());
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |cut, i| shorten(i) | cut),
        Value::Object(map) => map.values_mut().fold(false, |cut, i| shorten(i) | cut),
        _ => false,
    }
}

/// What is kept of data over [`MAX_DATA`] (the row is invalid and runs nowhere): a JSON
/// string, for the check page, holding the redacted data with long strings cut and at most
/// [`OVERSIZED_SHOWN`] bytes, with a note saying it was truncated and why the check is
/// invalid; data that is not JSON is withheld (its secrets cannot be found), with the note.
fn oversized_data(data: &str) -> String {
    let why =
        format!("the check is invalid: its data is {} bytes, over the {MAX_DATA}-byte limit", data.len());
    let redacted = crate::check::Redacted::new(data);
    let text = match serde_json::from_str::<serde_json::Value>(redacted.data(data)) {
        Ok(mut v) => {
            let mut cuts = Vec::new();
            if shorten(&mut v) {
                cuts.push(format!("strings over {OVERSIZED_STRING} characters cut"));
            }
            let shown = serde_json::to_string_pretty(&v).unwrap_or_default();
            let mut end = OVERSIZED_SHOWN.min(shown.len());
            while !shown.is_char_boundary(end) {
                end -= 1;
            }
            if end < shown.len() {
                cuts.push(format!("the first {end} of {} bytes shown", shown.len()));
            }
            format!(
                "{}{}\n\n(truncated: {}; {why})",
                &shown[..end],
                if end < shown.len() { "…" } else { "" },
                cuts.join(", ")
            )
        }
        Err(_) => format!("(withheld: not valid JSON, so its secrets cannot be found; {why})"),
    };
    serde_json::Value::String(text).to_string()
}

/// The longest `check_interval` (a day): longer ones are refused, so no interval overflows
/// once turned into milliseconds or added to a time.
pub const MAX_INTERVAL_SECS: i64 = 86_400;
/// The largest `delay`: a flip after more than 100 contrary rounds is no alert at all.
pub const MAX_DELAY: i64 = 100;

/// Ids per `IN (...)` list, well under every backend's parameter limit.
const CHUNK: usize = 500;
/// Checks per page of a whole-table read: fixed statements, two per page.
const PAGE: usize = 2000;
/// How many columns [`Store::check_columns`] selects; the page statement's `enabled` follows.
const CHECK_COLUMNS: usize = 8;

/// Which rows a read takes.
#[derive(Clone, Copy, Debug)]
enum Filter<'a> {
    All,
    /// An `IN (...)` list of ids.
    Ids(&'a [i64]),
    /// Ids in `(after, upto]`: one page of a whole-table read.
    Range(i64, i64),
}

/// One page of [`Store::checks_after`].
#[derive(Debug)]
pub struct CheckRows {
    /// The enabled checks with ids in `(after, next_after]`, every one of them.
    pub checks: BTreeMap<i64, Arc<CheckDef>>,
    /// Where the next page starts; `None` after the last page (which runs to the end).
    pub next_after: Option<i64>,
}

/// Row access over one database.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
}

fn read_err(table: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |source| StoreError::Read { table, source }
}

impl Store {
    pub fn new(db: Db) -> Self {
        Store { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Loads every enabled check with its enabled alerts, and every contact.
    ///
    /// # Errors
    /// [`StoreError`] when the database cannot be read; bad rows are problems, not errors.
    pub async fn load_all(&self) -> Result<Snapshot, StoreError> {
        let contacts = self.all_contacts().await?;
        let mut checks = BTreeMap::new();
        let mut after = i64::MIN;
        loop {
            let page = self.checks_after(after, &contacts).await?;
            checks.extend(page.checks);
            match page.next_after {
                Some(next) => after = next,
                None => break,
            }
        }
        Ok(Snapshot { checks, contacts })
    }

    /// Every contact.
    ///
    /// # Errors
    /// [`StoreError`] when the database cannot be read.
    pub async fn all_contacts(&self) -> Result<BTreeMap<i64, Arc<Contact>>, StoreError> {
        self.contacts(Filter::All).await
    }

    /// The next page of enabled checks with ids above `after`, in id order.
    ///
    /// Whole tables are read a page at a time so that a load or a resync of 100,000 checks
    /// never holds every row twice: a whole-table read held ~0.6 KB per check of rows and
    /// parsed definitions at once, and the heap kept it (BENCHMARKS.md, controller memory).
    /// Two fixed statements per page: the page's rows, and the alerts of its id range.
    ///
    /// # Errors
    /// [`StoreError`] when the database cannot be read.
    pub async fn checks_after(
        &self,
        after: i64,
        contacts: &BTreeMap<i64, Arc<Contact>>,
    ) -> Result<CheckRows, StoreError> {
        let sql = self.page_statement();
        let mut rows = sqlx::query(self.db.sql(&sql))
            .bind(after)
            .fetch_all(self.db.pool())
            .await
            .map_err(read_err("checks"))?;
        let next_after = match rows.last() {
            Some(last) if rows.len() == PAGE => Some(last.try_get(0).map_err(read_err("checks"))?),
            _ => None,
        };
        // `enabled`, filtered here rather than in the statement.
        rows.retain(|row| row.try_get::<Option<i64>, _>(CHECK_COLUMNS).is_ok_and(|e| e == Some(1)));
        let alerts = self.alerts(Filter::Range(after, next_after.unwrap_or(i64::MAX))).await?;
        Ok(CheckRows { checks: parse_checks(&rows, alerts, contacts)?, next_after })
    }

    /// The statement of a page of [`Self::checks_after`], with a `?` for the id it starts after.
    ///
    /// A page must come off the primary key in order; a plan that sorts instead reads the
    /// rest of the table for every page (150–200 ms a page at 1,000,000 checks, 40–60 s to
    /// load them, where reading the key in order takes 3.6 s). Two things made PostgreSQL sort:
    /// - it names the output column `CAST(id AS BIGINT)` "id", so a bare `ORDER BY id` sorted
    ///   by that expression, which no index holds: the statement orders by `checks.id`;
    /// - on a table loaded just now, before autovacuum's statistics, it guesses that 0.5 % of
    ///   the rows have `enabled = 1`, too few to fill a page early, and picks a scan and a
    ///   sort: the statement takes every row and [`Self::checks_after`] drops disabled ones.
    ///
    /// Public so that a test can ask each backend how it plans it.
    pub fn page_statement(&self) -> String {
        format!(
            "SELECT {}, {} FROM checks WHERE id > ? ORDER BY checks.id LIMIT {PAGE}",
            self.check_columns(),
            self.db.int("enabled")
        )
    }

    /// Loads the enabled checks among `ids` (with their alerts); a missing id means the check
    /// was deleted or disabled.
    pub async fn checks_by_id(
        &self,
        ids: &[i64],
        contacts: &BTreeMap<i64, Arc<Contact>>,
    ) -> Result<BTreeMap<i64, Arc<CheckDef>>, StoreError> {
        let mut out = BTreeMap::new();
        for chunk in ids.chunks(CHUNK) {
            let alerts = self.alerts(Filter::Ids(chunk)).await?;
            out.extend(self.checks(chunk, alerts, contacts).await?);
        }
        Ok(out)
    }

    /// Loads the contacts among `ids`.
    pub async fn contacts_by_id(&self, ids: &[i64]) -> Result<BTreeMap<i64, Arc<Contact>>, StoreError> {
        let mut out = BTreeMap::new();
        for chunk in ids.chunks(CHUNK) {
            out.extend(self.contacts(Filter::Ids(chunk)).await?);
        }
        Ok(out)
    }

    async fn fetch(
        &self,
        table: &'static str,
        sql: String,
        rows: Filter<'_>,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let sql = self.db.sql(&sql);
        // An id list makes a text of its own for each length: not worth a prepared
        // statement in every connection's cache.
        let mut q = sqlx::query(sql).persistent(!matches!(rows, Filter::Ids(_)));
        match rows {
            Filter::All => {}
            Filter::Ids(ids) => {
                for id in ids {
                    q = q.bind(*id);
                }
            }
            Filter::Range(after, upto) => q = q.bind(after).bind(upto),
        }
        q.fetch_all(self.db.pool()).await.map_err(read_err(table))
    }

    fn filter(column: &str, rows: Filter<'_>) -> String {
        match rows {
            Filter::All => String::new(),
            Filter::Ids(ids) => format!(" AND {column} IN ({})", Db::placeholders(ids.len())),
            Filter::Range(..) => format!(" AND {column} > ? AND {column} <= ?"),
        }
    }

    async fn contacts(&self, rows: Filter<'_>) -> Result<BTreeMap<i64, Arc<Contact>>, StoreError> {
        let filter = Self::filter("id", rows);
        let sql =
            format!("SELECT {}, type, data, options FROM contacts WHERE 1 = 1{filter}", self.db.int("id"));
        let mut out = BTreeMap::new();
        for row in self.fetch("contacts", sql, rows).await? {
            let id: i64 = row.try_get(0).map_err(read_err("contacts"))?;
            let kind: String = row.try_get(1).unwrap_or_default();
            let data: String = row.try_get(2).unwrap_or_default();
            let options: Option<String> = row.try_get(3).unwrap_or(None);
            out.insert(id, Arc::new(Contact { id, kind, data, options }));
        }
        Ok(out)
    }

    /// Enabled alerts grouped by check id, with the problems of their rows.
    async fn alerts(&self, rows: Filter<'_>) -> Result<BTreeMap<i64, Vec<AlertRow>>, StoreError> {
        let filter = Self::filter("check_id", rows);
        let sql = format!(
            "SELECT {}, {}, {}, type FROM alerts WHERE enabled = 1{filter} ORDER BY alerts.id",
            self.db.int("id"),
            self.db.int("check_id"),
            self.db.int("contact_id"),
        );
        let mut out: BTreeMap<i64, Vec<AlertRow>> = BTreeMap::new();
        for row in self.fetch("alerts", sql, rows).await? {
            let alert_id: i64 = row.try_get(0).map_err(read_err("alerts"))?;
            let check_id: i64 = row.try_get(1).map_err(read_err("alerts"))?;
            let contact_id: i64 = row.try_get(2).map_err(read_err("alerts"))?;
            let kind: Option<String> = row.try_get(3).unwrap_or(None);
            let when = kind.as_deref().and_then(AlertWhen::parse).ok_or_else(|| RowProblem {
                table: "alerts",
                id: alert_id,
                field: "type".into(),
                reason: format!("{kind:?} is not online, offline or both; this alert is skipped"),
            });
            out.entry(check_id).or_default().push(AlertRow { alert_id, contact_id, when });
        }
        Ok(out)
    }

    async fn checks(
        &self,
        ids: &[i64],
        alerts: BTreeMap<i64, Vec<AlertRow>>,
        contacts: &BTreeMap<i64, Arc<Contact>>,
    ) -> Result<BTreeMap<i64, Arc<CheckDef>>, StoreError> {
        let filter = Self::filter("id", Filter::Ids(ids));
        let sql = format!("SELECT {} FROM checks WHERE enabled = 1{filter}", self.check_columns());
        parse_checks(&self.fetch("checks", sql, Filter::Ids(ids)).await?, alerts, contacts)
    }

    /// The [`CHECK_COLUMNS`] columns [`parse_check`] reads, in its order.
    fn check_columns(&self) -> String {
        format!(
            "{}, name, type, data, {}, {}, status, options",
            self.db.int("id"),
            self.db.int("check_interval"),
            self.db.int("delay"),
        )
    }
}

/// `checks` rows (with their alerts) as definitions; a bad row becomes an invalid check.
fn parse_checks(
    rows: &[AnyRow],
    mut alerts: BTreeMap<i64, Vec<AlertRow>>,
    contacts: &BTreeMap<i64, Arc<Contact>>,
) -> Result<BTreeMap<i64, Arc<CheckDef>>, StoreError> {
    let mut out = BTreeMap::new();
    for row in rows {
        let id: i64 = row.try_get(0).map_err(read_err("checks"))?;
        let def = parse_check(row, id, alerts.remove(&id).unwrap_or_default(), contacts);
        log_problems(&def.problems);
        out.insert(id, Arc::new(def));
    }
    Ok(out)
}

struct AlertRow {
    alert_id: i64,
    contact_id: i64,
    when: Result<AlertWhen, RowProblem>,
}

fn parse_check(
    row: &AnyRow,
    id: i64,
    alerts: Vec<AlertRow>,
    contacts: &BTreeMap<i64, Arc<Contact>>,
) -> CheckDef {
    let mut problems = Vec::new();
    let mut problem = |field: &str, reason: String| {
        problems.push(RowProblem { table: "checks", id, field: field.into(), reason });
    };
    let name: String = row.try_get(1).unwrap_or_default();
    let kind: String = row.try_get(2).unwrap_or_default();
    let data: String = row.try_get(3).unwrap_or_default();
    let interval: i64 = row.try_get(4).unwrap_or(60);
    let delay: i64 = row.try_get(5).unwrap_or(1);
    let status: Option<String> = row.try_get(6).unwrap_or(None);
    let status = match status.as_deref() {
        Some("online") => Status::Online,
        Some("offline") => Status::Offline,
        other => {
            problem("status", format!("{other:?} is not online or offline; taken as online"));
            Status::Online
        }
    };
    // gobearmon's column holds 1,024 characters; SQLite does not enforce it. A bound keeps a
    // pasted file from being parsed, held and sent to workers (the row stays invalid).
    let oversized = data.len() > MAX_DATA;
    let mut spec = if oversized {
        Err(InvalidCheck::new(id, "data", format!("{} bytes, over the {MAX_DATA}-byte limit", data.len())))
    } else {
        CheckSpec::parse(id, &kind, &data).map(|parsed| {
            for w in parsed.warnings {
                tracing::warn!(check_id = id, "{w}");
            }
            parsed.spec
        })
    };
    let data = if oversized { oversized_data(&data) } else { data };
    let options_text: Option<String> = row.try_get(7).unwrap_or(None);
    let options = match options_text.as_deref().map(str::trim).filter(|t| !t.is_empty() && *t != "null") {
        None => DEFAULT_OPTIONS.clone(),
        Some(text) => match policy::options::check_options(Some(text)) {
            Ok(parsed) => {
                for w in parsed.warnings {
                    tracing::warn!(check_id = id, "{w}");
                }
                Arc::new(parsed.options)
            }
            Err(e) => {
                if spec.is_ok() {
                    spec = Err(InvalidCheck::new(id, e.field.clone(), e.reason.clone()));
                }
                DEFAULT_OPTIONS.clone()
            }
        },
    };
    if !(1..=MAX_INTERVAL_SECS).contains(&interval) {
        spec = Err(InvalidCheck::new(
            id,
            "check_interval",
            format!("{interval} is not a number of seconds from 1 to {MAX_INTERVAL_SECS} (a day)"),
        ));
    } else if !(0..=MAX_DELAY).contains(&delay) {
        spec = Err(InvalidCheck::new(id, "delay", format!("{delay} is not from 0 to {MAX_DELAY}")));
    }
    if let Err(e) = &spec {
        problems.push(RowProblem::from(e));
    }
    let mut links = Vec::new();
    for a in alerts {
        match a.when {
            Ok(when) => {
                // Kept even while its contact is missing: rows come in any order, and the
                // contact inserted next is told of the next flip (the controller skips a
                // contact it does not know when it flips).
                if !contacts.contains_key(&a.contact_id) {
                    problems.push(RowProblem::new(
                        "alerts",
                        a.alert_id,
                        "contact_id",
                        format!(
                            "contact {} does not exist; nobody is told through this alert until it does",
                            a.contact_id
                        ),
                    ));
                }
                links.push(AlertLink { alert_id: a.alert_id, contact_id: a.contact_id, when });
            }
            Err(p) => problems.push(p),
        }
    }
    CheckDef {
        id,
        name,
        kind,
        data,
        interval: Duration::from_secs(interval.clamp(1, MAX_INTERVAL_SECS) as u64),
        delay: delay.clamp(0, MAX_DELAY) as u32,
        status,
        spec,
        alerts: links,
        options,
        problems,
    }
}

/// The options of every check without any: one allocation for all of them.
static DEFAULT_OPTIONS: std::sync::LazyLock<Arc<CheckOptions>> =
    std::sync::LazyLock::new(|| Arc::new(CheckOptions::default()));

/// The shared default options (for definitions built outside the store, e.g. in tests).
pub fn default_options() -> Arc<CheckOptions> {
    DEFAULT_OPTIONS.clone()
}

fn log_problems(problems: &[RowProblem]) {
    for p in problems {
        tracing::warn!(table = p.table, id = p.id, field = %p.field, "bad row: {p}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_data_is_shown_redacted_and_cut_with_why() {
        let keys: Vec<String> = (0..9000).map(|i| format!("\"z{i}\":{i}")).collect();
        let data = format!("{{\"password\":\"hunter2-x\",{}}}", keys.join(","));
        let shown: String = serde_json::from_str(&oversized_data(&data)).unwrap();
        assert!(!shown.contains("hunter2-x") && shown.contains("\"password\": \"***\""), "{shown:.200}");
        let note = &shown[shown.rfind("\n\n(").unwrap()..];
        assert!(note.starts_with("\n\n(truncated: the first 4096 of "), "{note}");
        assert!(note.ends_with(&format!("over the {MAX_DATA}-byte limit)")), "{note}");
        let bad: String = serde_json::from_str(&oversized_data(&"{".repeat(70_000))).unwrap();
        assert!(bad.starts_with("(withheld: not valid JSON, so its secrets cannot be found; the check is invalid: its data is 70000 bytes"), "{bad}");
    }
}
