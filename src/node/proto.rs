//! The messages nodes exchange, as JSON over HTTP. Every `/cluster/*` request is signed
//! (see [`super::auth`]).
//!
//! - worker → viewserver `POST /cluster/heartbeat`: [`Heartbeat`] → [`ClusterView`]
//! - worker → controller `POST /cluster/sync`: [`SyncRequest`] (a batch of results) →
//!   [`SyncResponse`] (assignment changes)
//! - controller → worker `POST /cluster/ask`: [`AskRequest`] (run these now, for these
//!   confirmation rounds) → `204`

use serde::{Deserialize, Serialize};

use crate::check::{State, Verdict};

/// A worker telling the viewserver it is alive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The worker's configured, stable name.
    pub name: String,
    /// Where the worker's cluster server listens (`http://host:port` or `https://`).
    pub url: String,
    /// Whether the worker has a database (a controller candidate) or is probe-only.
    pub has_db: bool,
    /// The term this worker holds as controller, if it believes it is controller.
    pub controlling: Option<u64>,
    /// The cluster-wide confirmations setting, when controlling.
    #[serde(default)]
    pub confirmations: Option<usize>,
    /// Checks this worker currently runs on its schedule.
    pub checks_assigned: usize,
    /// Asked to take over, and still claiming its term and loading the checks (1,000,000
    /// of them take seconds): the viewserver waits for it rather than asking another
    /// worker, whose claim would depose this one and start the same long load again.
    #[serde(default)]
    pub taking_over: bool,
}

/// One worker as the viewserver sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerView {
    pub name: String,
    pub url: String,
    pub alive: bool,
    /// Unix milliseconds of the last heartbeat (RFC 3339 in the JSON; older nodes sent
    /// `last_heartbeat_ms`, a number).
    #[serde(with = "crate::util::when::millis", alias = "last_heartbeat_ms")]
    pub last_heartbeat: i64,
    pub checks_assigned: usize,
    pub probe_only: bool,
    /// Where it serves its Prometheus metrics: a cluster is scraped node by node.
    #[serde(default)]
    pub metrics_url: String,
}

/// The viewserver's answer to a heartbeat, and the body of `GET /api/cluster`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterView {
    /// The newest controller term known (0 before the first election).
    pub term: u64,
    /// The controller's name, when there is one.
    pub controller: Option<String>,
    pub controller_url: Option<String>,
    pub workers: Vec<WorkerView>,
    pub workers_live: usize,
    pub confirmations: Option<usize>,
    /// Fewer live workers than `confirmations`: checks still flip, with fewer confirmers.
    pub degraded: bool,
    /// Set only in the answer to the worker the viewserver wants as the next controller.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lead: bool,
}

/// One check definition as a worker needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckMsg {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: String,
    pub interval_secs: u64,
    /// When to run it first (unix ms), if the controller knows when it last ran.
    #[serde(default)]
    pub due_ms: Option<i64>,
    /// How the worker runs it beyond the interval, when the check's `options` say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunOptions>,
}

/// A check's `retry_interval` and `cached_check_horizon`, as the worker needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunOptions {
    /// Seconds between runs while the results contradict the state they had settled on,
    /// until `attempts` of them in a row (Nagios's soft state); 0: the interval.
    #[serde(default)]
    pub retry_secs: u64,
    /// `delay + 1`: Nagios's `max_check_attempts`.
    #[serde(default)]
    pub attempts: u32,
    /// A confirmation may be answered with a result of this check at most this many seconds
    /// old instead of a new run; 0: never.
    #[serde(default)]
    pub cache_secs: u64,
}

/// One execution's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultMsg {
    pub check_id: i64,
    /// The confirmation round this answers; `None` for a scheduled run.
    #[serde(default)]
    pub round: Option<u64>,
    /// The controller term that asked for this run (0 for a scheduled run).
    #[serde(default)]
    pub term: u64,
    pub verdict: Verdict,
    /// The Nagios state when the verdict alone does not say it (WARNING is an `online`
    /// vote); `None` means [`State::of`] the verdict. Kept off the wire otherwise, so a
    /// gobearmon kind's result costs nothing more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    #[serde(default)]
    pub message: String,
    pub latency_ms: f64,
    /// Unix ms when the run started.
    pub started_ms: i64,
    /// An answer to an ask taken from an earlier run (`cached_check_horizon`): it counts in
    /// the round but is not a new sample for the charts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
}

impl ResultMsg {
    /// The result's Nagios state.
    pub fn state(&self) -> State {
        self.state.unwrap_or_else(|| State::of(self.verdict))
    }
}

/// A worker's batch of results, and where its copy of the assignment stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    pub worker: String,
    pub url: String,
    /// The controller term the worker is talking to.
    pub term: u64,
    /// The assignment version the worker holds (0: none), within that term.
    pub version: u64,
    pub results: Vec<ResultMsg>,
    /// Event handlers this worker ran since its last sync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handled: Vec<HandledMsg>,
}

/// Changes to a worker's assignment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignmentMsg {
    pub version: u64,
    /// The worker must drop every check not listed in `upserts`.
    pub full: bool,
    pub upserts: Vec<CheckMsg>,
    pub removes: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncResponse {
    pub term: u64,
    /// `None` when the worker's copy is current.
    pub assignment: Option<AssignmentMsg>,
    /// Event handlers to run now, for checks this worker holds, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<HandlerMsg>,
}

/// One event handler to run: a command line (its words' `$MACRO$`s are replaced by the
/// worker) or an `https://` URL (POSTed the macros as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerMsg {
    pub check_id: i64,
    /// Numbers the controller's handler runs, so an answer finds its request.
    pub seq: u64,
    /// `global` or `check`.
    pub label: String,
    pub command: String,
    /// Nagios's macros, without their `$`s; also exported as `NAGIOS_<NAME>`.
    pub macros: Vec<(String, String)>,
    pub timeout_secs: u64,
}

/// What an event handler run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandledMsg {
    pub check_id: i64,
    pub seq: u64,
    pub label: String,
    /// Unix ms when it started.
    pub started_ms: i64,
    pub duration_ms: f64,
    /// The exit code (a command) or HTTP status (a URL); `None` when it did not finish.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Its output, bounded; or why it could not run.
    #[serde(default)]
    pub output: String,
    #[serde(default)]
    pub timed_out: bool,
}

/// One confirmation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AskMsg {
    pub check: CheckMsg,
    pub round: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    pub term: u64,
    pub asks: Vec<AskMsg>,
}

/// Every error body the nodes return.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}
