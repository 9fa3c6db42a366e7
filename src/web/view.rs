//! The typed read model: what `/api/*` answers and the status page renders. Every type
//! serializes to the API's JSON and reads back from it, so the viewserver renders the page
//! from the controller's answer as typed values, never by string keys.

use serde::{Deserialize, Serialize};

use crate::check::Verdict;
use crate::store::Rollup;

/// A check's state as shown: its committed state, or `invalid` when its row cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shown {
    Online,
    Offline,
    Invalid,
}

impl Shown {
    pub const ALL: [Shown; 3] = [Shown::Online, Shown::Offline, Shown::Invalid];

    pub fn as_str(self) -> &'static str {
        match self {
            Shown::Online => "online",
            Shown::Offline => "offline",
            Shown::Invalid => "invalid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One check as `GET /api/checks` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckStatus {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: Shown,
    /// Why the check is invalid.
    pub error: Option<String>,
    /// When the state last flipped (RFC 3339), if known.
    pub since: Option<String>,
    pub interval: u64,
    pub delay: u32,
    /// The worker running it now.
    pub worker: Option<String>,
    /// Consecutive contrary rounds so far.
    pub streak: u32,
    /// Set when the last decided round rested on fewer confirmations than asked for,
    /// because other workers could not run the check: says how many.
    pub degraded: Option<String>,
    pub last_result: Option<LastResultView>,
    /// The last results, oldest first, when asked for (`?recent=N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent: Option<Vec<SampleView>>,
    /// Nagios's state: `ok`, `warning`, `critical`, `unknown` (the last result could not be
    /// had: not a vote, `status` stays as it was) or `invalid`. A check held by a failed
    /// parent says so in `unreachable`.
    #[serde(default)]
    pub state: String,
    /// `soft` while contrary rounds are being confirmed, else `hard`.
    #[serde(default)]
    pub state_type: String,
    /// Contrary rounds so far (hard: `max_attempts`).
    #[serde(default)]
    pub attempt: u32,
    /// `delay + 1`: Shinken's `max_check_attempts`.
    #[serde(default)]
    pub max_attempts: u32,
    #[serde(default)]
    pub in_downtime: bool,
    #[serde(default)]
    pub acknowledged: bool,
    /// The parent whose failure makes this check UNREACHABLE (a failed notification
    /// dependency): it pages nobody while that lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<i64>,
    /// Whether flap detection finds the check flapping (PROBLEM and RECOVERY held).
    #[serde(default)]
    pub flapping: bool,
    /// The weighted percent state change of its last 21 results, with flap detection on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent_state_change: Option<f64>,
    /// The open problem's notifications, when the check is in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<NotificationView>,
    /// The last event handler runs (`options.event_handler`, `[policy]
    /// global_event_handler`), oldest first; absent when none ran since the controller started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_handlers: Vec<HandlerRunView>,
}

/// What one event handler run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerRunView {
    /// `global` or `check`.
    pub handler: String,
    pub at: Option<String>,
    pub duration_ms: f64,
    /// The exit code (0 for a URL answering 2xx, else its HTTP status); `null` when it did
    /// not finish or could not start.
    pub exit_code: Option<i32>,
    pub output: String,
    pub timed_out: bool,
}

/// Where a check's open problem stands with its notifications.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NotificationView {
    /// Problem notifications made so far (Nagios's `$NOTIFICATIONNUMBER$`).
    pub number: u32,
    /// When the last one was made (RFC 3339).
    pub last: Option<String>,
    /// When the next one is due (RFC 3339); none: no more unless something changes.
    pub next: Option<String>,
    /// The escalation rows used by the last notification (empty: the check's own alerts).
    pub escalations: Vec<i64>,
    /// Contacts told of the problem.
    pub told: Vec<i64>,
    /// The acknowledgement silencing it.
    pub ack: Option<AckView>,
    /// The scheduled downtimes in effect.
    pub downtimes: Vec<DowntimeView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AckView {
    pub id: i64,
    pub author: String,
    pub comment: String,
    pub sticky: bool,
    pub at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DowntimeView {
    pub id: i64,
    pub start: Option<String>,
    pub end: Option<String>,
    pub fixed: bool,
    pub author: String,
    pub comment: String,
}

/// One notification of a check, as `GET /api/checks/{id}/notifications` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentView {
    /// When it was made (RFC 3339).
    pub at: Option<String>,
    /// `PROBLEM`, `RECOVERY`, `ACKNOWLEDGEMENT`, `DOWNTIMESTART`, `DOWNTIMEEND`,
    /// `DOWNTIMECANCELLED`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The problem's notification number.
    pub number: u32,
    pub contact_id: i64,
    /// `pending`, `sending`, `sent` or `failed`.
    pub state: String,
}

/// The body of `GET /api/checks/{id}/notifications`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Notifications {
    pub id: i64,
    /// Newest first.
    pub notifications: Vec<SentView>,
}

/// What `GET /api/checks` filters on.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CheckFilter {
    /// `online`, `offline`, `invalid`, or several comma-separated.
    pub status: Option<String>,
    /// A substring of the name (any case) or of the id.
    pub q: Option<String>,
    pub page: usize,
    pub per_page: usize,
    /// How many recent results to include per check (0: none).
    pub recent: usize,
}

impl Default for CheckFilter {
    fn default() -> Self {
        CheckFilter { status: None, q: None, page: 1, per_page: 100, recent: 0 }
    }
}

impl CheckFilter {
    /// Whether a check in state `s` passes the `status` filter.
    pub fn wants(&self, s: Shown) -> bool {
        self.status.as_deref().is_none_or(|want| want.split(',').any(|w| w == s.as_str()))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusCounts {
    pub online: usize,
    pub offline: usize,
    pub invalid: usize,
}

impl StatusCounts {
    pub fn add(&mut self, s: Shown) {
        match s {
            Shown::Online => self.online += 1,
            Shown::Offline => self.offline += 1,
            Shown::Invalid => self.invalid += 1,
        }
    }
}

/// The body of `GET /api/checks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecksPage {
    pub checks: Vec<CheckStatus>,
    /// Checks matching the filter, over all pages.
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    /// Checks in each state, ignoring the filter.
    pub counts: StatusCounts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub contact_id: i64,
    /// `online`, `offline` or `both`.
    pub when: String,
}

/// The body of `GET /api/checks/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckDetail {
    #[serde(flatten)]
    pub check: CheckStatus,
    /// `checks.data` with secrets replaced by `***`.
    pub data: serde_json::Value,
    pub alerts: Vec<AlertView>,
    /// This hour so far.
    pub hour: Option<Rollup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastResultView {
    pub verdict: Verdict,
    pub message: String,
    pub latency_ms: f64,
    pub at: Option<String>,
    pub worker: String,
}

/// One recent result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleView {
    /// Unix seconds (RFC 3339 in the JSON).
    #[serde(with = "crate::util::when::secs_u32")]
    pub at: u32,
    pub verdict: Verdict,
    pub latency_ms: f32,
}

/// The body of `GET /api/checks/{id}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub id: i64,
    pub recent: Vec<SampleView>,
    pub hourly: Vec<Rollup>,
}

/// One flip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub id: i64,
    pub check_id: i64,
    pub check_name: Option<String>,
    /// `online` or `offline`.
    pub status: String,
    /// Unix seconds (RFC 3339 in the JSON).
    #[serde(default, with = "crate::util::when::secs_opt")]
    pub time: Option<i64>,
}

/// The body of `GET /api/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Events {
    pub events: Vec<EventView>,
}

/// A contact whose notifications fail (given up, refused, or still retrying ten minutes
/// after the flip).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailingContactView {
    pub contact_id: i64,
    /// The contact's `type`, when the row still exists.
    pub kind: Option<String>,
    /// `failed` or `retrying`.
    pub state: String,
    /// When the oldest failing notification's flip happened (RFC 3339).
    pub since: Option<String>,
    pub attempts: i64,
    pub error: String,
}

/// The body of `GET /api/contacts/failing`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailingContacts {
    pub contacts: Vec<FailingContactView>,
}

/// A bad row of the policy tables or an `options` column, as `GET /api/problems` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowProblemView {
    pub table: String,
    pub id: i64,
    pub field: String,
    pub reason: String,
}

/// The body of `GET /api/problems`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowProblems {
    pub problems: Vec<RowProblemView>,
}

/// One stalking event (`GET /api/checks/{id}/stalking`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StalkView {
    /// RFC 3339.
    pub at: Option<String>,
    /// `ok`, `warning`, `critical` or `unknown`.
    pub state: String,
    pub output: String,
}

/// The body of `GET /api/checks/{id}/stalking`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stalking {
    pub id: i64,
    /// Newest first.
    pub events: Vec<StalkView>,
}
