//! What people and scripts read: the JSON API ([`api`]), the status page ([`page`] renders,
//! [`status`] serves), and the typed read model both show ([`view`]).
//!
//! The controller holds the data; this room knows it only as a [`ReadModel`], so it imports
//! nothing from `controller/`. Every other node forwards `/api/*` to the controller, and the
//! viewserver renders the page from the controller's JSON read back into the same types.

pub mod api;
pub mod auth;
mod charts;
pub mod page;
mod page_notify;
mod params;
pub mod status;
pub mod view;
pub mod write;

use std::future::Future;

use crate::store::Rollup;
use view::{CheckDetail, CheckFilter, ChecksPage, EventView, FailingContactView, SentView};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("reading {what}: {reason}")]
    Read { what: &'static str, reason: String },
}

/// What the API reads, answered by the controller from memory and, for history and events,
/// from the database.
pub trait ReadModel: Send + Sync {
    /// One page of checks matching `f`, with the counts of every state.
    fn checks_page(&self, f: &CheckFilter) -> ChecksPage;
    /// One enabled check in full; `None` when there is none with that id.
    fn check_detail(&self, id: i64) -> Option<CheckDetail>;
    /// A check's finished hours since `since_hour` (unix seconds), oldest first.
    fn rollups(&self, id: i64, since_hour: i64)
    -> impl Future<Output = Result<Vec<Rollup>, WebError>> + Send;
    /// Flips, newest first, with ids below `before`.
    fn events(
        &self,
        limit: i64,
        before: Option<i64>,
    ) -> impl Future<Output = Result<Vec<EventView>, WebError>> + Send;
    /// A check's last `limit` notifications, newest first.
    fn notifications(
        &self,
        id: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<SentView>, WebError>> + Send;
    /// A check's last `limit` stalking events, newest first.
    fn stalking(
        &self,
        id: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<view::StalkView>, WebError>> + Send;
    /// Contacts whose notifications fail now.
    fn failing_contacts(&self) -> impl Future<Output = Result<Vec<FailingContactView>, WebError>> + Send;
    /// The bad rows of the policy tables and `options` columns (they page nobody).
    fn row_problems(&self) -> Vec<view::RowProblemView>;
    /// The database the write routes insert into (the controller's).
    fn database(&self) -> &crate::db::Db;
}
