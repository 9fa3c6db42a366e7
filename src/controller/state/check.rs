//! One check's state in the controller's memory: its definition, its decision core, the
//! round being confirmed and its recent results. Kept small: the controller holds one per
//! check, 100,000 and more (BENCHMARKS.md has the budget).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::check::{CheckSpec, Redacted, State, Verdict};
use crate::controller::history::{HourAcc, Recent};
use crate::decide::Decider;
use crate::node::proto::{CheckMsg, RunOptions};
use crate::store::CheckDef;

/// The latest result of a check, for the API.
#[derive(Debug, Clone)]
pub struct LastResult {
    pub verdict: Verdict,
    /// Nagios's state (WARNING is an `online` verdict).
    pub state: State,
    pub message: String,
    pub latency_ms: f64,
    pub at_ms: i64,
    /// Shared with the member entry: one allocation per worker, not per check.
    pub worker: Arc<str>,
}

#[derive(Debug)]
pub struct CheckState {
    pub def: Arc<CheckDef>,
    /// The data with its secrets replaced, and the scrubber for messages.
    pub redacted: Redacted,
    pub decider: Decider,
    pub(super) next_round: u64,
    pub(super) round_opened: Option<Instant>,
    /// Confirmers asked in `wait_round` that have not answered yet.
    pub(super) waiting: BTreeSet<String>,
    pub(super) wait_round: u64,
    pub(super) wait_deadline: Instant,
    pub last: Option<LastResult>,
    /// Unix ms of the last flip.
    pub since_ms: Option<i64>,
    /// The last results (for the charts).
    pub recent: Recent,
    /// This hour's results so far.
    pub hour: Option<HourAcc>,
    /// Unix ms when the last scheduled run started.
    pub(super) last_run_ms: Option<i64>,
    /// When a worker that never ran it should first run it (unix ms); `None`: spread.
    pub(super) first_due_ms: Option<i64>,
    pub(super) next_eval: Instant,
}

impl CheckState {
    pub(super) fn new(
        def: Arc<CheckDef>,
        streak: u32,
        since_ms: Option<i64>,
        first_due_ms: Option<i64>,
        now: Instant,
    ) -> Self {
        CheckState {
            decider: Decider::new(def.id, def.status).with_streak(streak),
            redacted: Redacted::new(&def.data),
            def,
            next_round: 1,
            round_opened: None,
            waiting: BTreeSet::new(),
            wait_round: 0,
            wait_deadline: now,
            last: None,
            since_ms,
            recent: Recent::default(),
            hour: None,
            last_run_ms: None,
            first_due_ms,
            next_eval: now,
        }
    }

    /// Whether workers run it (a valid check that is not a `worker` pseudo-check).
    pub fn assignable(&self) -> bool {
        matches!(&self.def.spec, Ok(s) if !matches!(s, CheckSpec::Worker(_)))
    }

    pub fn msg(&self) -> CheckMsg {
        let interval_ms = self.def.interval.as_millis() as i64;
        CheckMsg {
            id: self.def.id,
            name: self.def.name.clone(),
            kind: self.def.kind.clone(),
            data: self.def.data.clone(),
            interval_secs: self.def.interval.as_secs(),
            due_ms: self.last_run_ms.map(|t| t + interval_ms).or(self.first_due_ms),
            run: self.run_options(),
        }
    }

    /// `retry_interval` and `cached_check_horizon` for the worker; `None` when neither is set.
    fn run_options(&self) -> Option<RunOptions> {
        let o = &self.def.options;
        let retry = o.retry_interval.min(self.def.interval.as_secs());
        (retry > 0 || o.cached_check_horizon > 0).then(|| RunOptions {
            retry_secs: retry,
            attempts: self.def.delay.saturating_add(1),
            cache_secs: o.cached_check_horizon,
        })
    }

    /// How far apart the check's scheduled results may come: its interval, or its
    /// `retry_interval` when shorter (results contradicting its state come that often).
    pub(super) fn spacing(&self) -> Duration {
        match self.def.options.retry_interval {
            0 => self.def.interval,
            r => self.def.interval.min(Duration::from_secs(r)),
        }
    }

    pub(super) fn timeout(&self) -> Duration {
        self.def.spec.as_ref().map(CheckSpec::timeout).unwrap_or(Duration::from_secs(10))
    }
}
