//! `--max-rate`: after the first window, grows the checks step by step until the cluster no
//! longer keeps up, then asks for twice the rate last held. Its own module because it is
//! its own experiment: a loop of windows with its own verdict per step.

use std::collections::HashMap;
use std::time::Duration;

use bearmon::db::Db;
use serde_json::{Value, json};

use crate::load::set_checks;
use crate::nodes::{Proc, wait_assigned};
use crate::options::Args;
use crate::window::{Window, quantile};

/// `--max-rate`: adds an eighth of the starting checks per step until lag p99 passes 1 s or
/// fewer than 95 % of the demanded runs happen; the step before is the highest rate held.
/// Then one step asks for twice that rate: the throughput under overload. Steps only grow
/// (except the last), so no step measures a cluster recovering from an overload.
pub async fn max_rate(a: &Args, db: &Db, vs: &Proc, workers: &[Proc], controller: &str) -> Value {
    let mut steps = Vec::new();
    let mut checks = a.checks;
    let names: Vec<&str> = workers.iter().map(|p| p.role.as_str()).collect();
    let (mut held_checks, mut held, mut overload): (Option<usize>, Option<f64>, Option<f64>) =
        (None, None, None);
    loop {
        let w = Window::measure(vs, workers, a.seconds).await;
        let demanded = checks as f64 / a.interval as f64;
        let rate = w.runs / w.secs;
        let p99 = quantile(&w.buckets, 0.99);
        let ok = p99.is_some_and(|p| p <= 1.0) && rate >= 0.95 * demanded;
        let worker_cpu: Vec<f64> = w.cpu[1..].iter().map(|c| c / w.secs).collect();
        eprintln!(
            "max-rate: demanded {demanded:.0}/s, executed {rate:.0}/s, lag p99 ≤ {p99:?} s \
             (per worker {names:?}, controller {controller}: lag p99 {:?}, run time p99 {:?}, \
             CPU {worker_cpu:.2?} cores; nginx {:.2} cores, machine busy {:.0} %; kernel {:?}): {}",
            w.worker_p99,
            w.worker_duration_p99,
            w.nginx_cpu / w.secs,
            w.machine_busy * 100.0,
            w.kernel,
            if ok { "held" } else { "not held" }
        );
        steps.push(json!({
            "checks": checks, "demanded_per_s": demanded, "executions_per_s": rate, "lag_p99_le_s": p99,
            "missed_slots": w.skipped, "cluster_cpu_share_of_2_cores": w.total_cpu() / w.secs / 2.0, "held": ok,
            "worker_lag_p99_le_s": w.worker_p99, "worker_run_time_p99_le_s": w.worker_duration_p99,
            "worker_cpu_cores": worker_cpu, "kernel_tcp": w.kernel.iter().cloned().collect::<HashMap<_, _>>(),
            "nginx_cpu_cores": w.nginx_cpu / w.secs, "machine_busy_share": w.machine_busy,
        }));
        if overload.is_none() && held_checks.is_some_and(|h| checks == 2 * h) {
            overload = Some(rate);
            break;
        }
        let next = match (ok, held_checks) {
            (true, _) if steps.len() < 16 => checks + a.checks / 8,
            (false, Some(h)) => 2 * h,
            _ => break,
        };
        if ok {
            held_checks = Some(checks);
            held = Some(rate);
        }
        set_checks(a, db, checks, next).await;
        checks = next;
        wait_assigned(&vs.url, checks + a.detect).await;
        // Checks added to a running cluster (and the ones rendezvous hashing moves) make
        // their first runs over the next syncs: with a short interval, one interval of
        // settling put those first runs in the window (lag p99 2.5 s at 10,000/s, where a
        // cluster started with the same checks holds p99 ≤ 5 ms).
        tokio::time::sleep(Duration::from_secs((a.interval + 1).max(30))).await;
    }
    json!({
        "max_rate_held_per_s": held,
        "max_rate_held_checks": held_checks,
        "overload_executions_per_s": overload,
        "overload_over_max": match (overload, held) { (Some(o), Some(h)) => json!(o / h), _ => Value::Null },
        "steps": steps,
    })
}
