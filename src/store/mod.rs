//! The store: every SQL statement of the product. gobearmon's `checks`, `alerts` and
//! `contacts` read into memory ([`Store`], [`Watcher`]); the fenced writes of a controller
//! term ([`fence`]); the outbox of notifications ([`outbox`]); flips, hourly rollups and
//! their retention ([`events`]). It imports nothing from the controller, the alerts or the
//! web room: they call it with the row types of [`model`](self) and get them back.
//!
//! [`Store`] reads rows; [`Watcher`] keeps a [`Snapshot`] current by polling the
//! `bearmon_changes` log that triggers fill on every user insert, update or delete, so a
//! quiet database costs one indexed query per poll however many checks it holds.
//!
//! A bad row never stops a load: it is loaded as far as it can be (a check with a broken
//! type or JSON is kept as *invalid*, never offline) and reported as a [`RowProblem`] naming
//! the table, the row id, the field and the reason.

mod changes;
pub mod events;
pub mod fence;
mod model;
pub mod notices;
pub mod outbox;
pub mod periods;
pub mod policy_rows;
mod rows;
pub mod stalking;
pub mod tokens;
mod watcher;

pub use changes::ChangeCursor;
pub use fence::{Fence, FenceError};
pub use model::{
    AlertLink, AlertWhen, AttemptOutcome, CheckDef, Contact, Delivery, Event, EventRow, FailingContact, Flip,
    NoticeCommit, Rollup, RowProblem, Snapshot, idem_key,
};
pub use rows::{CheckRows, MAX_DATA, Store, default_options};
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
