//! The store: gobearmon's `checks`, `alerts` and `contacts` tables read into memory.
//!
//! [`Store`] reads rows; [`Watcher`] keeps a [`Snapshot`] current by polling the
//! `bearmon_changes` log that triggers fill on every user insert, update or delete, so a
//! quiet database costs one indexed query per poll however many checks it holds.
//!
//! A bad row never stops a load: it is loaded as far as it can be (a check with a broken
//! type or JSON is kept as *invalid*, never offline) and reported as a [`RowProblem`] naming
//! the table, the row id, the field and the reason.

mod changes;
mod model;
mod rows;
mod watcher;

pub use changes::ChangeCursor;
pub use model::{AlertLink, AlertWhen, CheckDef, Contact, RowProblem, Snapshot};
pub use rows::{ChecksPage, Store};
pub use watcher::{Delta, Watcher};

use crate::db::DbError;

/// Errors of the store. Bad rows are not errors: they are [`RowProblem`]s.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("reading {table} failed: {source}")]
    Read { table: &'static str, source: sqlx::Error },
}
