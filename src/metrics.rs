//! Prometheus metrics, one [`Metrics`] per node, served as text at `GET /metrics`.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

/// The metrics a node exports. Cheap to clone (everything inside is shared).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// The controller term this node serves (0 when not controller).
    pub controller_term: Gauge,
    /// Live workers as this node last heard (the viewserver's or the controller's view).
    pub workers_live: Gauge,
    /// 1 while fewer workers live than `confirmations`.
    pub degraded: Gauge,
    /// Executions run by this worker, by result (`online`, `offline`, `error`).
    pub check_runs: Family<Labels, Counter>,
    /// Flips committed by this node as controller, by new state.
    pub check_flips: Family<Labels, Counter>,
    /// Actual start minus due time of each scheduled execution.
    pub schedule_lag: Histogram,
    /// Scheduled executions skipped because the previous one of the same check still ran.
    pub runs_skipped: Counter,
    /// Checks this worker runs.
    pub checks_assigned: Gauge,
    /// Requests refused by signature or certificate checks.
    pub auth_refused: Counter,
    /// Notifications delivered, by contact kind.
    pub alerts_sent: Family<Labels, Counter>,
    /// Failed notification attempts, by contact kind and reason (`retrying`, `permanent`,
    /// `gave_up`, `invalid_contact`, `no_contact`).
    pub alerts_failed: Family<Labels, Counter>,
    /// Outbox rows not yet delivered or given up (controller only).
    pub outbox_pending: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(..)")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::default();
        let controller_term = Gauge::default();
        r.register(
            "bearmon_controller_term",
            "Controller term this node serves (0: not controller)",
            controller_term.clone(),
        );
        let workers_live = Gauge::default();
        r.register("bearmon_workers_live", "Live workers", workers_live.clone());
        let degraded = Gauge::default();
        r.register(
            "bearmon_cluster_degraded",
            "1 while fewer workers live than confirmations",
            degraded.clone(),
        );
        let check_runs = Family::<Labels, Counter>::default();
        r.register(
            "bearmon_check_runs",
            "Check executions run by this worker, by result",
            check_runs.clone(),
        );
        let check_flips = Family::<Labels, Counter>::default();
        r.register("bearmon_check_flips", "State flips committed, by new state", check_flips.clone());
        let buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
        let schedule_lag = Histogram::new(buckets);
        r.register(
            "bearmon_schedule_lag_seconds",
            "Actual start minus due time of scheduled check executions",
            schedule_lag.clone(),
        );
        let runs_skipped = Counter::default();
        r.register(
            "bearmon_check_runs_skipped",
            "Scheduled runs skipped: the previous run still ran",
            runs_skipped.clone(),
        );
        let checks_assigned = Gauge::default();
        r.register("bearmon_checks_assigned", "Checks this worker runs", checks_assigned.clone());
        let auth_refused = Counter::default();
        r.register("bearmon_auth_refused", "Node requests refused by authentication", auth_refused.clone());
        let alerts_sent = Family::<Labels, Counter>::default();
        r.register("bearmon_alerts_sent", "Notifications delivered, by contact kind", alerts_sent.clone());
        let alerts_failed = Family::<Labels, Counter>::default();
        r.register(
            "bearmon_alerts_failed",
            "Failed notification attempts, by contact kind and reason",
            alerts_failed.clone(),
        );
        let outbox_pending = Gauge::default();
        r.register(
            "bearmon_outbox_pending",
            "Notifications not yet delivered or given up",
            outbox_pending.clone(),
        );
        Metrics {
            registry: Arc::new(r),
            alerts_sent,
            alerts_failed,
            outbox_pending,
            controller_term,
            workers_live,
            degraded,
            check_runs,
            check_flips,
            schedule_lag,
            runs_skipped,
            checks_assigned,
            auth_refused,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
