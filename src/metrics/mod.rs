//! Prometheus metrics, one [`Metrics`] per node, served as text at `GET /metrics` in the
//! format the scraper asks for ([`expose`]); the nodes of one process (`bearmon up`) share a
//! [`Hub`] so that one address serves the whole cluster's series.

mod expose;
mod process;

use std::sync::{Arc, Mutex};

use expose::Merged;
pub use expose::{Format, escape_label};
use prometheus_client::encoding::text::encode_registry;
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
    /// The process's nodes, when this node is one of several in one process.
    hub: Option<Hub>,
    /// Series this node adds at each scrape beyond its registry.
    extra: ExtraSlot,
}

/// Series a node computes at each scrape (the controller's per-check series): gauge families
/// only, whose text reads the same in both formats, so that a node alone in its process
/// appends them as they are; `None` when it has none now (it is not the controller).
pub type Extra = Arc<dyn Fn() -> Option<String> + Send + Sync>;
type ExtraSlot = Arc<Mutex<Option<Extra>>>;

/// The nodes of one process (`bearmon up`): each node's `/metrics` serves all of them, each
/// series labelled with `node="NAME"`, so one scrape sees the whole cluster.
#[derive(Clone, Default)]
pub struct Hub(Arc<Mutex<Vec<Member>>>);

/// A node of a [`Hub`]: its name, its registry and its extra series.
type Member = (String, Arc<Registry>, ExtraSlot);

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub(..)")
    }
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
    /// The metrics of a node that is one of several in this process: registered in `hub`
    /// under `node`.
    pub fn in_hub(hub: &Hub, node: &str) -> Self {
        let mut m = Self::new();
        let member = (node.to_string(), m.registry.clone(), m.extra.clone());
        hub.0.lock().unwrap_or_else(|e| e.into_inner()).push(member);
        m.hub = Some(hub.clone());
        m
    }

    /// The metrics of a node alone in its process.
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
            hub: None,
            extra: ExtraSlot::default(),
        }
    }

    /// Adds `extra`'s series to every scrape of this node.
    pub fn set_extra(&self, extra: Extra) {
        *self.extra.lock().unwrap_or_else(|e| e.into_inner()) = Some(extra);
    }

    /// Counts one failed notification attempt to `contact`.
    pub fn alert_failed(&self, kind: &'static str, reason: &'static str, contact: i64) {
        let labels = vec![
            ("kind", kind.to_string()),
            ("reason", reason.to_string()),
            ("contact", contact.to_string()),
        ];
        self.alerts_failed.get_or_create(&labels).inc();
    }

    /// `GET /metrics`: [`Metrics::render`] in the format `Accept` asks for, with its content
    /// type.
    ///
    /// Rendered on tokio's blocking pool: with `[metrics] per_check` at 100,000 checks a
    /// scrape is 12 MB of text, which must not hold the node's runtime thread (one by
    /// default) and with it the checks due meanwhile.
    pub async fn response(&self, headers: &axum::http::HeaderMap) -> axum::response::Response {
        use axum::response::IntoResponse;
        let accept = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok());
        let format = Format::from_accept(accept);
        let me = self.clone();
        match tokio::task::spawn_blocking(move || me.render(format)).await {
            Ok(text) => ([("content-type", format.content_type())], text).into_response(),
            Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        }
    }

    /// The exposition text, the process metrics first; with a [`Hub`], every node's series
    /// labelled with its name.
    pub fn render(&self, format: Format) -> String {
        let mut merged = Merged::default();
        merged.add(&process::openmetrics(), None);
        let encode = |r: &Registry| {
            let mut text = String::new();
            // Writing into a String cannot fail.
            let _ = encode_registry(&mut text, r);
            text
        };
        let extra = |slot: &ExtraSlot| {
            let f = slot.lock().unwrap_or_else(|e| e.into_inner()).clone();
            f.and_then(|f| f()).unwrap_or_default()
        };
        match &self.hub {
            None => {
                merged.add(&encode(&self.registry), None);
                merged.render(format, &extra(&self.extra))
            }
            Some(hub) => {
                let nodes = hub.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
                for (node, registry, slot) in &nodes {
                    merged.add(&(encode(registry) + &extra(slot)), Some(node));
                }
                merged.render(format, "")
            }
        }
    }
}
