//! Keeping a [`Snapshot`] current: poll the change log, reload what changed, emit deltas.
//!
//! A quiet database costs one indexed query per poll. As a safety net (a user who dropped
//! the triggers, a change log pruned while this node was away) a full reload every
//! [`FULL_RESYNC`] compares everything and emits the differences.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::Row;

use super::model::{CheckDef, Snapshot};
use super::{ChangeCursor, Store, StoreError};
use crate::db::Backend;

/// Rows read per poll; a poll that fills it reads again at once.
const BATCH: i64 = 5000;
/// How often the whole tables are re-read and compared.
pub const FULL_RESYNC: Duration = Duration::from_secs(600);
/// How often change-log rows older than a day are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// A change the watcher saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    /// A check was added or changed (its alerts included).
    Upserted(Arc<CheckDef>),
    /// A check was deleted or disabled.
    Removed(i64),
    /// A contact was added, changed or deleted.
    Contact(i64),
    /// A row of `timeperiods`, `escalations`, `downtimes`, `acknowledgements` or
    /// `dependencies` changed:
    /// those tables are read again whole (`store::policy_rows`).
    Policy,
}

/// The tables whose changes are a [`Delta::Policy`].
const POLICY_TABLES: [&str; 5] =
    ["timeperiods", "escalations", "downtimes", "acknowledgements", "dependencies"];

/// The loaded tables plus the position in the change log.
pub struct Watcher {
    store: Store,
    snapshot: Snapshot,
    cursor: ChangeCursor,
    last_full: Instant,
    last_prune: Instant,
}

impl Watcher {
    /// Loads everything. The change-log position is read *before* the tables, so a change
    /// made during the load is seen again by the first poll rather than missed.
    ///
    /// # Errors
    /// [`StoreError`] when the database cannot be read.
    pub async fn start(store: Store) -> Result<Self, StoreError> {
        let head = head_seq(&store).await?;
        let snapshot = store.load_all().await?;
        tracing::info!(
            checks = snapshot.checks.len(),
            contacts = snapshot.contacts.len(),
            problems = snapshot.problems().len(),
            "store loaded"
        );
        Ok(Watcher {
            store,
            snapshot,
            cursor: ChangeCursor::at(head),
            last_full: Instant::now(),
            last_prune: Instant::now(),
        })
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Applies what changed since the last poll and returns it.
    ///
    /// # Errors
    /// [`StoreError`] when the database cannot be read; the snapshot is then unchanged and the
    /// next poll retries from the same position.
    pub async fn poll(&mut self) -> Result<Vec<Delta>, StoreError> {
        if self.last_full.elapsed() >= FULL_RESYNC {
            return self.resync().await;
        }
        if self.last_prune.elapsed() >= PRUNE_EVERY {
            self.last_prune = Instant::now();
            if let Err(e) = prune(&self.store).await {
                tracing::warn!(error = %e, "pruning the change log failed");
            }
        }
        let mut check_ids = BTreeSet::new();
        let mut contact_ids = BTreeSet::new();
        let mut policy = false;
        let mut cursor = self.cursor.clone();
        loop {
            let db = self.store.db();
            let sql =
                db.sql("SELECT seq, tbl, row_id FROM bearmon_changes WHERE seq > ? ORDER BY seq LIMIT ?");
            let rows = sqlx::query(sql)
                .bind(cursor.low())
                .bind(BATCH)
                .fetch_all(db.pool())
                .await
                .map_err(|source| StoreError::Read { table: "bearmon_changes", source })?;
            let mut entries = Vec::with_capacity(rows.len());
            for row in &rows {
                let seq: i64 =
                    row.try_get(0).map_err(|source| StoreError::Read { table: "bearmon_changes", source })?;
                let tbl: String = row.try_get(1).unwrap_or_default();
                let id: i64 = row.try_get(2).unwrap_or_default();
                entries.push((seq, tbl, id));
            }
            let seqs: Vec<i64> = entries.iter().map(|e| e.0).collect();
            let before = cursor.low();
            let fresh: BTreeSet<i64> = cursor.accept(&seqs, Instant::now()).into_iter().collect();
            for (seq, tbl, id) in entries {
                if !fresh.contains(&seq) {
                    continue;
                }
                if tbl == "contacts" {
                    contact_ids.insert(id);
                } else if POLICY_TABLES.contains(&tbl.as_str()) {
                    policy = true;
                } else {
                    check_ids.insert(id);
                }
            }
            if (rows.len() as i64) < BATCH || cursor.low() == before {
                break;
            }
        }
        let mut deltas = self.apply(check_ids, contact_ids).await?;
        if policy {
            deltas.push(Delta::Policy);
        }
        self.cursor = cursor;
        Ok(deltas)
    }

    async fn apply(
        &mut self,
        check_ids: BTreeSet<i64>,
        contact_ids: BTreeSet<i64>,
    ) -> Result<Vec<Delta>, StoreError> {
        let mut deltas = Vec::new();
        if !contact_ids.is_empty() {
            let ids: Vec<i64> = contact_ids.iter().copied().collect();
            let fresh = self.store.contacts_by_id(&ids).await?;
            for id in ids {
                match fresh.get(&id) {
                    Some(c) => self.snapshot.contacts.insert(id, c.clone()),
                    None => self.snapshot.contacts.remove(&id),
                };
                deltas.push(Delta::Contact(id));
            }
        }
        if !check_ids.is_empty() {
            let ids: Vec<i64> = check_ids.iter().copied().collect();
            let fresh = self.store.checks_by_id(&ids, &self.snapshot.contacts).await?;
            for id in ids {
                self.put_check(id, fresh.get(&id).cloned(), &mut deltas);
            }
        }
        Ok(deltas)
    }

    fn put_check(&mut self, id: i64, fresh: Option<Arc<CheckDef>>, deltas: &mut Vec<Delta>) {
        match fresh {
            Some(def) => {
                if self.snapshot.checks.get(&id) != Some(&def) {
                    self.snapshot.checks.insert(id, def.clone());
                    deltas.push(Delta::Upserted(def));
                }
            }
            None => {
                if self.snapshot.checks.remove(&id).is_some() {
                    deltas.push(Delta::Removed(id));
                }
            }
        }
    }

    /// Re-reads everything and emits the differences, a page of checks at a time (so the
    /// whole table is never held twice); the snapshot changes only once every page has
    /// been read, so a failed resync leaves it as it was and the next poll tries again.
    pub async fn resync(&mut self) -> Result<Vec<Delta>, StoreError> {
        let head = head_seq(&self.store).await?;
        let contacts = self.store.all_contacts().await?;
        let mut deltas = Vec::new();
        let contact_ids: BTreeSet<i64> =
            contacts.keys().chain(self.snapshot.contacts.keys()).copied().collect();
        for id in contact_ids {
            if contacts.get(&id) != self.snapshot.contacts.get(&id) {
                deltas.push(Delta::Contact(id));
            }
        }
        let mut changes: Vec<(i64, Option<Arc<CheckDef>>)> = Vec::new();
        let mut after = i64::MIN;
        loop {
            let page = self.store.checks_after(after, &contacts).await?;
            let upto = page.next_after.unwrap_or(i64::MAX);
            // Known checks of this id range that the page no longer has: deleted or disabled.
            let range = (std::ops::Bound::Excluded(after), std::ops::Bound::Included(upto));
            for (id, _) in self.snapshot.checks.range(range) {
                if !page.checks.contains_key(id) {
                    changes.push((*id, None));
                }
            }
            for (id, def) in page.checks {
                if self.snapshot.checks.get(&id) != Some(&def) {
                    changes.push((id, Some(def)));
                }
            }
            match page.next_after {
                Some(next) => after = next,
                None => break,
            }
        }
        self.snapshot.contacts = contacts;
        for (id, def) in changes {
            self.put_check(id, def, &mut deltas);
        }
        self.cursor = ChangeCursor::at(head);
        self.last_full = Instant::now();
        // The policy tables are small: read again with every resync.
        deltas.push(Delta::Policy);
        Ok(deltas)
    }
}

async fn head_seq(store: &Store) -> Result<i64, StoreError> {
    let db = store.db();
    let sql = db.sql(&format!("SELECT COALESCE(MAX({}), 0) FROM bearmon_changes", db.int("seq")));
    let row = sqlx::query(sql)
        .fetch_one(db.pool())
        .await
        .map_err(|source| StoreError::Read { table: "bearmon_changes", source })?;
    row.try_get(0).map_err(|source| StoreError::Read { table: "bearmon_changes", source })
}

/// Deletes change-log rows older than a day: every watcher has read them long ago, and one
/// that was away longer starts with a full load anyway.
async fn prune(store: &Store) -> Result<(), sqlx::Error> {
    let db = store.db();
    let cutoff = match db.backend() {
        Backend::MySql => "NOW() - INTERVAL 1 DAY",
        Backend::Postgres => "NOW() - INTERVAL '1 day'",
        Backend::Sqlite => "datetime('now', '-1 day')",
    };
    let sql = db.sql(&format!("DELETE FROM bearmon_changes WHERE changed_at < {cutoff}"));
    let done = sqlx::query(sql).execute(db.pool()).await?;
    tracing::debug!(rows = done.rows_affected(), "pruned the change log");
    Ok(())
}
