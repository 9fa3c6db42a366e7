//! The JSON object the harness prints: the main window's figures, each role's CPU and
//! memory, and the results of the extra experiments (max rate, detection, failover, peers).
//! One place that decides the names and units of every reported figure.

use serde_json::{Map, Value, json};

use crate::nodes::Proc;
use crate::options::Args;
use crate::sample::rss_bytes;
use crate::window::{Window, quantile};

/// The main window's figures, as `main` measured them.
pub struct Figures {
    pub secs: f64,
    pub runs: f64,
    pub skipped: f64,
    pub buckets: Vec<(f64, f64)>,
    /// CPU seconds of all nodes over the window.
    pub total_cpu: f64,
    /// PostgreSQL's CPU seconds over the window.
    pub pg_cpu: f64,
    /// PostgreSQL transactions and rows written over the window.
    pub xacts: i64,
    pub rows_written: i64,
    pub page_ms: f64,
    pub offline_ms: f64,
    pub ab: Option<f64>,
    pub ab_alone: Option<f64>,
}

/// CPU seconds per 1,000 of `runs` executions.
pub fn per_k(runs: f64, cpu: f64) -> f64 {
    if runs > 0.0 { cpu / runs * 1000.0 } else { f64::NAN }
}

/// Each node's CPU and memory by role (the controller marked), and the nodes' CPU seconds
/// summed; memory is read now, right after the window.
pub fn roles(
    a: &Args,
    vs: &Proc,
    workers: &[Proc],
    controller: &str,
    w: &Window,
) -> (Map<String, Value>, f64) {
    let (secs, runs) = (w.secs, w.runs);
    let mut roles = Map::new();
    let mut total_cpu = 0.0;
    for (i, p) in std::iter::once(vs).chain(workers).enumerate() {
        let cpu = w.cpu[i];
        total_cpu += cpu;
        let role = if p.role == controller { format!("{} (controller)", p.role) } else { p.role.clone() };
        let rss = rss_bytes(p.child.id());
        roles.insert(
            role,
            json!({"cpu_s": cpu, "cpu_s_per_1000_runs": per_k(runs, cpu), "cpu_share_of_2_cores": cpu / secs / 2.0, "rss_mb": rss as f64 / 1048576.0, "rss_bytes_per_check": rss as f64 / a.checks as f64}),
        );
    }
    (roles, total_cpu)
}

/// The printed result.
pub fn result(
    a: &Args,
    f: &Figures,
    roles: &Map<String, Value>,
    max: &Value,
    peer_results: &Map<String, Value>,
    detection: &Value,
    failover_s: &Value,
) -> Value {
    let (secs, runs, skipped, buckets, total_cpu) = (f.secs, f.runs, f.skipped, &f.buckets, f.total_cpu);
    let (ab, ab_alone) = (f.ab, f.ab_alone);
    json!({
        "max_rate": max,
        "max_rate_over_ab": match (max["max_rate_held_per_s"].as_f64(), ab) { (Some(m), Some(ab)) => json!(m / ab), _ => Value::Null },
        "max_rate_over_ab_alone": match (max["max_rate_held_per_s"].as_f64(), ab_alone) { (Some(m), Some(ab)) => json!(m / ab), _ => Value::Null },
        "peers": peer_results,
        "detection": detection,
        "failover_s": failover_s,
        "dead_after_s": a.dead_after,
        "label": a.label,
        "checks": a.checks, "interval_s": a.interval, "confirmations": a.confirmations, "kind": a.kind, "workers": a.workers,
        "window_s": secs,
        "demanded_per_s": a.checks as f64 / a.interval as f64,
        "executions_per_s": runs / secs,
        "lag_p50_le_s": quantile(buckets, 0.5), "lag_p99_le_s": quantile(buckets, 0.99),
        "lag_max_le_s": quantile(buckets, 1.0),
        "missed_slots": skipped,
        "cluster_cpu_share_of_2_cores": total_cpu / secs / 2.0,
        "cluster_cpu_ms_per_run": if runs > 0.0 { total_cpu / runs * 1000.0 } else { f64::NAN },
        "postgres_cpu_s_per_1000_runs": per_k(runs, f.pg_cpu),
        "sql_transactions_per_s": f.xacts as f64 / secs,
        "sql_rows_written_per_s": f.rows_written as f64 / secs,
        "status_page_ms": f.page_ms, "api_offline_ms": f.offline_ms,
        "ab_requests_per_s": ab,
        "ab_alone_requests_per_s": ab_alone,
        "ratio_to_ab": ab.map(|r| runs / secs / r),
        "roles": roles,
    })
}
