//! One measured window over the cluster: the workers' Prometheus metrics scraped before and
//! after (runs, missed slots, the lag and run-time histograms), the nodes' CPU, and the
//! machine around them. Also the quantile helpers the figures are read with.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::nodes::Proc;
use crate::sample::{cpu_of_named, cpu_secs, kernel_counters, machine_jiffies};

pub fn percentile(mut v: Vec<f64>, q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    Some(v[i])
}

/// Parses Prometheus text into (name{labels} → value).
fn scrape(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

async fn metrics(url: &str) -> HashMap<String, f64> {
    let text = reqwest::get(format!("{url}/metrics")).await.ok().map(|r| r.text());
    match text {
        Some(t) => scrape(&t.await.unwrap_or_default()),
        None => HashMap::new(),
    }
}

fn sum_prefix(m: &HashMap<String, f64>, prefix: &str) -> f64 {
    m.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).sum()
}

/// Lag histogram: (upper bound, cumulative count) deltas summed over workers.
fn lag_buckets(before: &[HashMap<String, f64>], after: &[HashMap<String, f64>]) -> Vec<(f64, f64)> {
    buckets_of("bearmon_schedule_lag_seconds_bucket", before, after)
}

/// A histogram's (upper bound, cumulative count) deltas summed over workers.
fn buckets_of(
    name: &str,
    before: &[HashMap<String, f64>],
    after: &[HashMap<String, f64>],
) -> Vec<(f64, f64)> {
    let mut acc: HashMap<String, f64> = HashMap::new();
    for (b, a) in before.iter().zip(after) {
        for (k, v) in a.iter().filter(|(k, _)| k.starts_with(name)) {
            *acc.entry(k.clone()).or_default() += v - b.get(k).copied().unwrap_or(0.0);
        }
    }
    let mut out: Vec<(f64, f64)> = acc
        .into_iter()
        .filter_map(|(k, v)| {
            let le = k.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, v))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

pub fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    buckets.iter().find(|(_, c)| *c >= q * total).map(|(le, _)| *le)
}

/// One measured window over the cluster's processes.
pub struct Window {
    pub secs: f64,
    pub runs: f64,
    pub skipped: f64,
    pub buckets: Vec<(f64, f64)>,
    /// CPU seconds per process, viewserver first.
    pub cpu: Vec<f64>,
    /// Each worker's own lag p99 bucket, in the order of `workers`: which process runs late.
    pub worker_p99: Vec<Option<f64>>,
    /// Each worker's p99 bucket of execution wall time: slow checks (a SYN dropped and sent
    /// again after 1 s) rather than a late thread.
    pub worker_duration_p99: Vec<Option<f64>>,
    /// The kernel's TCP counters over the window (TcpExt ListenOverflows, ListenDrops,
    /// TCPTimeWaitOverflow; Tcp RetransSegs).
    pub kernel: Vec<(String, f64)>,
    /// The whole machine's busy share of all its cores (nginx, PostgreSQL and the kernel's
    /// network work included), and nginx's own CPU seconds.
    pub machine_busy: f64,
    pub nginx_cpu: f64,
}

impl Window {
    pub async fn measure(vs: &Proc, workers: &[Proc], seconds: u64) -> Window {
        let cpu_before: Vec<f64> =
            std::iter::once(vs).chain(workers).map(|p| cpu_secs(p.child.id())).collect();
        let m_before: Vec<HashMap<String, f64>> =
            futures_util::future::join_all(workers.iter().map(|w| metrics(&w.url))).await;
        let (busy_before, total_before) = machine_jiffies();
        let nginx_before = cpu_of_named("nginx");
        let kernel_before = kernel_counters();
        let window = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let secs = window.elapsed().as_secs_f64();
        let (busy_after, total_after) = machine_jiffies();
        let nginx_cpu = cpu_of_named("nginx") - nginx_before;
        let kernel = kernel_counters()
            .into_iter()
            .zip(kernel_before)
            .map(|((name, after), (_, before))| (name, after - before))
            .collect();
        let m_after: Vec<HashMap<String, f64>> =
            futures_util::future::join_all(workers.iter().map(|w| metrics(&w.url))).await;
        let cpu: Vec<f64> = std::iter::once(vs)
            .chain(workers)
            .zip(&cpu_before)
            .map(|(p, b)| cpu_secs(p.child.id()) - b)
            .collect();
        let delta = |name: &str| -> f64 {
            m_before.iter().zip(&m_after).map(|(b, a)| sum_prefix(a, name) - sum_prefix(b, name)).sum()
        };
        Window {
            secs,
            runs: delta("bearmon_check_runs_total"),
            skipped: delta("bearmon_check_runs_skipped_total"),
            buckets: lag_buckets(&m_before, &m_after),
            cpu,
            worker_p99: (0..workers.len())
                .map(|i| quantile(&lag_buckets(&m_before[i..=i], &m_after[i..=i]), 0.99))
                .collect(),
            worker_duration_p99: (0..workers.len())
                .map(|i| {
                    let b = buckets_of(
                        "bearmon_check_duration_seconds_bucket",
                        &m_before[i..=i],
                        &m_after[i..=i],
                    );
                    quantile(&b, 0.99)
                })
                .collect(),
            kernel,
            machine_busy: (busy_after - busy_before) / (total_after - total_before).max(1.0),
            nginx_cpu,
        }
    }

    pub fn total_cpu(&self) -> f64 {
        self.cpu.iter().sum()
    }
}
