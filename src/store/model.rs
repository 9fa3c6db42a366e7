//! What the store loads: checks with their alert links, contacts, and problems found.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::check::{CheckSpec, InvalidCheck};
use crate::decide::Status;

/// A bad value in a row: reported, logged, and skipped or worked around.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub table: &'static str,
    pub id: i64,
    pub field: String,
    pub reason: String,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} row {}: field {}: {}", self.table, self.id, self.field, self.reason)
    }
}

impl From<&InvalidCheck> for RowProblem {
    fn from(e: &InvalidCheck) -> Self {
        RowProblem { table: "checks", id: e.check_id, field: e.field.clone(), reason: e.reason.clone() }
    }
}

/// When an alert fires (`alerts.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertWhen {
    Online,
    Offline,
    Both,
}

impl AlertWhen {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "online" => Some(AlertWhen::Online),
            "offline" => Some(AlertWhen::Offline),
            "both" => Some(AlertWhen::Both),
            _ => None,
        }
    }

    /// Whether a flip to `to` notifies through this alert.
    pub fn matches(self, to: Status) -> bool {
        matches!(
            (self, to),
            (AlertWhen::Both, _)
                | (AlertWhen::Online, Status::Online)
                | (AlertWhen::Offline, Status::Offline)
        )
    }
}

/// One enabled row of `alerts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertLink {
    pub alert_id: i64,
    pub contact_id: i64,
    pub when: AlertWhen,
}

/// One enabled row of `checks`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckDef {
    pub id: i64,
    pub name: String,
    /// `checks.type` as written.
    pub kind: String,
    /// `checks.data` as written.
    pub data: String,
    pub interval: Duration,
    pub delay: u32,
    /// The state last committed to `checks.status`.
    pub status: Status,
    /// The runnable definition, or why the check is invalid.
    pub spec: Result<CheckSpec, InvalidCheck>,
    pub alerts: Vec<AlertLink>,
    /// Everything wrong with this row and its alert rows (the invalid reason included).
    pub problems: Vec<RowProblem>,
}

impl CheckDef {
    pub fn is_valid(&self) -> bool {
        self.spec.is_ok()
    }
}

/// One row of `contacts`. Its data is checked by the notifier of its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: i64,
    pub kind: String,
    pub data: String,
    pub problems: Vec<RowProblem>,
}

/// Everything loaded, keyed by row id.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub checks: BTreeMap<i64, Arc<CheckDef>>,
    pub contacts: BTreeMap<i64, Arc<Contact>>,
}

impl Snapshot {
    /// Every problem of every loaded row.
    pub fn problems(&self) -> Vec<RowProblem> {
        let checks = self.checks.values().flat_map(|c| c.problems.iter().cloned());
        let contacts = self.contacts.values().flat_map(|c| c.problems.iter().cloned());
        checks.chain(contacts).collect()
    }
}
