//! Measurements taken from outside the nodes: CPU and memory of processes from /proc, the
//! whole machine's busy share and the kernel's TCP counters, PostgreSQL's transaction
//! counters, and HTTP latency and `ab` throughput against a URL. None of these trust the
//! nodes' own figures, so they also cover nginx, PostgreSQL and the kernel.

use std::process::Command;
use std::time::Instant;

use bearmon::db::Db;
use sqlx::Row;

/// utime + stime of a process, seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (n(11) + n(12)) / 100.0
}

pub fn rss_bytes(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// CPU seconds of every process whose command name is `name`.
pub fn cpu_of_named(name: &str) -> f64 {
    let mut total = 0.0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name) {
            total += cpu_secs(pid);
        }
    }
    total
}

/// The TCP counters of [`Window::kernel`](crate::window::Window::kernel), from
/// /proc/net/netstat and /proc/net/snmp.
pub fn kernel_counters() -> Vec<(String, f64)> {
    const WANTED: [&str; 4] = ["ListenOverflows", "ListenDrops", "TCPTimeWaitOverflow", "RetransSegs"];
    let mut out = Vec::new();
    for file in ["/proc/net/netstat", "/proc/net/snmp"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        // Pairs of lines: "Prefix: names..." then "Prefix: values...".
        for pair in lines.chunks(2) {
            let [names, values] = pair else { continue };
            for (n, v) in names.split_whitespace().zip(values.split_whitespace()).skip(1) {
                if WANTED.contains(&n) {
                    out.push((n.to_string(), v.parse().unwrap_or(0.0)));
                }
            }
        }
    }
    out
}

/// (busy, total) jiffies of all cores from /proc/stat: busy is everything but idle and iowait.
pub fn machine_jiffies() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = f.iter().take(8).sum();
    let idle = f.get(3).copied().unwrap_or(0.0) + f.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

/// PostgreSQL's (transactions, rows written) over all databases, so far.
pub async fn pg_stats(db: Db) -> (i64, i64) {
    let row = sqlx::query("SELECT CAST(SUM(xact_commit + xact_rollback) AS BIGINT), CAST(SUM(tup_inserted + tup_updated + tup_deleted) AS BIGINT) FROM pg_stat_database")
        .fetch_one(db.pool())
        .await
        .unwrap();
    (row.try_get::<i64, _>(0).unwrap_or(0), row.try_get::<i64, _>(1).unwrap_or(0))
}

/// The median of three GETs of `url`, milliseconds (NaN when none succeeded).
pub async fn timed_get(url: &str) -> f64 {
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let ok = reqwest::get(url).await.ok().map(|r| r.status().is_success());
        if ok == Some(true) {
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `ab` without keep-alive against the target: requests per second.
pub fn run_ab(n: usize, port: u16) -> Option<f64> {
    let out = Command::new("ab")
        .args(["-q", "-n", &n.to_string(), "-c", "50", &format!("http://127.0.0.1:{port}/")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find(|l| l.starts_with("Requests per second:"))?.split_whitespace().nth(3)?.parse().ok()
}
