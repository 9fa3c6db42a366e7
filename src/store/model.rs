//! What the store loads: checks with their alert links, contacts, and problems found.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::check::{CheckSpec, InvalidCheck};
use crate::decide::Status;
pub use crate::policy::AlertWhen;
use crate::policy::notify::Notice;
use crate::policy::options::CheckOptions;

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

impl RowProblem {
    pub fn new(table: &'static str, id: i64, field: impl Into<String>, reason: impl Into<String>) -> Self {
        RowProblem { table, id, field: field.into(), reason: reason.into() }
    }
}

impl From<&InvalidCheck> for RowProblem {
    fn from(e: &InvalidCheck) -> Self {
        RowProblem { table: "checks", id: e.check_id, field: e.field.clone(), reason: e.reason.clone() }
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
    /// `checks.options` (NULL: gobearmon's behaviour, one shared default).
    pub options: Arc<CheckOptions>,
    /// Everything wrong with this row and its alert rows (the invalid reason included).
    pub problems: Vec<RowProblem>,
}

impl CheckDef {
    pub fn is_valid(&self) -> bool {
        self.spec.is_ok()
    }
}

/// One row of `contacts`, as written. Its data means something only to the notifier of its
/// kind, which checks it (`alert::contact`): the store does not know the kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: i64,
    pub kind: String,
    pub data: String,
    /// `contacts.options` as written (parsed by the controller: `policy::options`).
    pub options: Option<String>,
}

/// Everything loaded, keyed by row id.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub checks: BTreeMap<i64, Arc<CheckDef>>,
    pub contacts: BTreeMap<i64, Arc<Contact>>,
}

impl Snapshot {
    /// Every problem of every loaded check and alert row (contacts are checked by their
    /// notifier: `alert::contact::problems`).
    pub fn problems(&self) -> Vec<RowProblem> {
        self.checks.values().flat_map(|c| c.problems.iter().cloned()).collect()
    }
}

/// What a flip must notify, built by the controller from its snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Flip {
    /// Unique among every flip ever committed (`t<term>-f<sequence within the term>`): a retry
    /// of a commit whose acknowledgement was lost finds it and writes nothing again.
    pub key: String,
    pub check_id: i64,
    pub to: Status,
    pub name: String,
    pub kind: String,
    /// The check's data, secrets redacted.
    pub data: String,
    /// The confirming result's message, secrets scrubbed.
    pub message: String,
    /// What the policy decided to send with the flip (`None`: nobody is told).
    pub notice: Option<Notice>,
}

/// A notification that is not a flip (re-notification, escalation, acknowledgement,
/// downtime), built by the controller and committed through the fence.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeCommit {
    pub check_id: i64,
    /// The check's state now.
    pub status: Status,
    pub name: String,
    pub kind: String,
    /// The check's data, secrets redacted.
    pub data: String,
    /// The last result's message, scrubbed.
    pub message: String,
    pub notice: Notice,
}

/// What a notification is about: one flip of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub check_id: i64,
    pub check_name: String,
    pub check_type: String,
    /// The check's data, redacted.
    pub check_data: String,
    /// `online` or `offline`: the check's state when the notification was made.
    pub status: String,
    /// The result message that confirmed the flip, scrubbed.
    pub message: String,
    /// Nagios's `$NOTIFICATIONTYPE$` (`PROBLEM`, `RECOVERY`, `ACKNOWLEDGEMENT`, ...).
    pub notification_type: String,
    /// Nagios's `$NOTIFICATIONNUMBER$`: the n-th notification of the problem.
    pub notification_number: u32,
}

impl Event {
    /// A problem or recovery notification (gobearmon's two kinds), as opposed to an
    /// acknowledgement, downtime or flapping notice.
    pub fn is_state_change(&self) -> bool {
        matches!(self.notification_type.as_str(), "PROBLEM" | "RECOVERY" | "")
    }
}

/// A contact whose notifications fail: its newest delivered-or-given-up row failed, or a row
/// has been retrying since long ago. Read for the page, the API and `bearmon status`.
#[derive(Debug, Clone, PartialEq)]
pub struct FailingContact {
    pub contact_id: i64,
    /// `failed` (given up or refused) or `retrying`.
    pub state: &'static str,
    /// Unix ms of the oldest failing notification's flip.
    pub since_ms: i64,
    /// Attempts of the newest failing row.
    pub attempts: i64,
    pub error: String,
}

/// One notification to send: an outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub outbox_id: i64,
    pub event_id: i64,
    pub contact_id: i64,
    pub idem_key: String,
    /// The event id of the offline flip that opened this incident.
    pub incident: i64,
    pub incident_at_ms: i64,
    /// When the flip was committed (unix ms).
    pub at_ms: i64,
    /// Attempts so far, this one included.
    pub attempts: u32,
    pub event: Event,
}

/// The idempotency key of (event, contact).
pub fn idem_key(event_id: i64, contact_id: i64) -> String {
    format!("bm-{event_id}-{contact_id}")
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
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

/// A finished hour, as written to `bearmon_rollups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    pub check_id: i64,
    /// Unix seconds of the hour's start (RFC 3339 in the API's JSON).
    #[serde(with = "crate::util::when::secs")]
    pub hour: i64,
    pub runs: u32,
    pub failures: u32,
    pub latency_avg_ms: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_max_ms: f64,
}

/// One `check_events` row as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: i64,
    pub check_id: i64,
    /// `online` or `offline`.
    pub status: String,
    /// Unix seconds.
    pub time: Option<i64>,
}
