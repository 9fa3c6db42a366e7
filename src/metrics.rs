//! Prometheus metrics, one [`Metrics`] per node, served as text at `GET /metrics`.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;
/// Labels with a value known only at run time (a contact's id).
type OwnedLabels = Vec<(&'static str, String)>;

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
    /// Checks whose last decided round had fewer confirmations than asked for, because
    /// workers could not run them (controller only).
    pub checks_degraded: Gauge,
    /// Executions run by this worker, by result (`online`, `offline`, `error`).
    pub check_runs: Family<Labels, Counter>,
    /// Flips committed by this node as controller, by new state.
    pub check_flips: Family<Labels, Counter>,
    /// Actual start minus due time of each scheduled execution.
    pub schedule_lag: Histogram,
    /// Wall time of each execution (scheduled or asked), start to outcome: with the lag, it tells a
    /// worker whose thread is behind from checks that are slow (a target dropping SYNs).
    pub check_duration: Histogram,
    /// Scheduled executions skipped because the previous one of the same check still ran.
    pub runs_skipped: Counter,
    /// Checks this worker runs.
    pub checks_assigned: Gauge,
    /// Requests refused by signature or certificate checks.
    pub auth_refused: Counter,
    /// API and page requests refused for a missing, unknown or revoked token.
    pub api_auth_refused: Counter,
    /// Notifications delivered, by contact kind.
    pub alerts_sent: Family<Labels, Counter>,
    /// Failed notification attempts, by contact kind, reason (`retrying`, `permanent`,
    /// `gave_up`, `invalid_contact`, `no_contact`, `own_api`) and contact id: a failing
    /// channel is seen by which contact it is.
    pub alerts_failed: Family<OwnedLabels, Counter>,
    /// Outbox rows not yet delivered or given up (controller only).
    pub outbox_pending: Gauge,
    /// Confirmations answered from a result within the check's `cached_check_horizon`.
    pub cache_hits: Counter,
    /// Confirmations of checks with a horizon that had to run the check.
    pub cache_misses: Counter,
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
        let checks_degraded = Gauge::default();
        r.register(
            "bearmon_checks_degraded",
            "Checks decided on fewer confirmations than asked for: other workers could not run them",
            checks_degraded.clone(),
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
        let check_duration = Histogram::new([
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ]);
        r.register(
            "bearmon_check_duration_seconds",
            "Wall time of check executions, start to outcome",
            check_duration.clone(),
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
        let api_auth_refused = Counter::default();
        r.register(
            "bearmon_api_auth_refused",
            "API and page requests refused for a missing, unknown or revoked token",
            api_auth_refused.clone(),
        );
        let alerts_sent = Family::<Labels, Counter>::default();
        r.register("bearmon_alerts_sent", "Notifications delivered, by contact kind", alerts_sent.clone());
        let alerts_failed = Family::<OwnedLabels, Counter>::default();
        r.register(
            "bearmon_alerts_failed",
            "Failed notification attempts, by contact kind, reason and contact",
            alerts_failed.clone(),
        );
        let outbox_pending = Gauge::default();
        r.register(
            "bearmon_outbox_pending",
            "Notifications not yet delivered or given up",
            outbox_pending.clone(),
        );
        let cache_hits = Counter::default();
        r.register(
            "bearmon_cached_check_hits",
            "Confirmations answered with a result younger than the check's cached_check_horizon",
            cache_hits.clone(),
        );
        let cache_misses = Counter::default();
        r.register(
            "bearmon_cached_check_misses",
            "Confirmations of checks with a cached_check_horizon that ran the check",
            cache_misses.clone(),
        );
        Metrics {
            registry: Arc::new(r),
            cache_hits,
            cache_misses,
            alerts_sent,
            alerts_failed,
            outbox_pending,
            controller_term,
            workers_live,
            degraded,
            checks_degraded,
            check_runs,
            check_flips,
            schedule_lag,
            check_duration,
            runs_skipped,
            checks_assigned,
            auth_refused,
            api_auth_refused,
        }
    }

    /// `GET /metrics`: [`Metrics::render`] with its content type.
    /// Counts one failed notification attempt to `contact`.
    pub fn alert_failed(&self, kind: &'static str, reason: &'static str, contact: i64) {
        let labels = vec![
            ("kind", kind.to_string()),
            ("reason", reason.to_string()),
            ("contact", contact.to_string()),
        ];
        self.alerts_failed.get_or_create(&labels).inc();
    }

    pub fn response(&self) -> axum::response::Response {
        use axum::response::IntoResponse;
        ([("content-type", "text/plain; version=0.0.4; charset=utf-8")], self.render()).into_response()
    }

    /// The Prometheus text exposition, with the process metrics first.
    pub fn render(&self) -> String {
        let mut out = process_metrics();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// `process_*` metrics from /proc/self (Linux), as Prometheus's client libraries name them.
fn process_metrics() -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return out };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return out };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // /proc/[pid]/stat: utime is field 14, stime 15, starttime 22, rss 24 (1-based); `f[0]` is field 3.
    let ticks = 100.0;
    let page = 4096.0;
    let cpu = (num(11) + num(12)) / ticks;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse::<f64>().ok()))
        })
        .unwrap_or(0.0);
    let start = boot + num(19) / ticks;
    let rss = num(21) * page;
    let fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0);
    let _ =
        writeln!(out, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.");
    let _ = writeln!(out, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu}");
    let _ = writeln!(out, "# HELP process_resident_memory_bytes Resident memory size in bytes.");
    let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}");
    let _ = writeln!(out, "# HELP process_open_fds Number of open file descriptors.");
    let _ = writeln!(out, "# TYPE process_open_fds gauge\nprocess_open_fds {fds}");
    let _ = writeln!(
        out,
        "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds."
    );
    let _ = writeln!(out, "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {start}");
    out
}
