//! The benchmark harness behind `scripts/bench.sh`: loads N checks into a database, runs a
//! viewserver and workers as separate processes of the real `bearmon` binary against a
//! target on loopback (nginx), waits one full interval, measures a window, and prints one
//! JSON object (and appends a row to BENCHMARKS.md with `--record`).
//!
//! Measured: executions per second (demanded and done), scheduling lag (from the workers'
//! histograms), missed slots, CPU seconds per 1,000 executions per role and for the
//! database server, RSS and bytes per check, SQL transactions per second, the first status
//! page and `/api/checks?status=offline` latency, and `ab` against the same target.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod peers;

use bearmon::db::Db;
use clap::Parser;
use serde_json::{Value, json};
use sqlx::Row;

#[derive(Debug, Parser)]
#[command(about = "bearmon benchmark harness (see scripts/bench.sh)")]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    checks: usize,
    #[arg(long, default_value_t = 60)]
    interval: u64,
    #[arg(long, default_value_t = 2)]
    confirmations: usize,
    /// The measured window, after one full interval of warm-up.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    /// `icmp` pings the 127.x.y.z addresses themselves (every loopback address answers).
    #[arg(long, default_value = "http", value_parser = ["http", "tcp", "icmp"])]
    kind: String,
    #[arg(long, default_value_t = 3)]
    workers: usize,
    /// An admin URL of a PostgreSQL server (a database is created for the run).
    #[arg(long, env = "BEARMON_TEST_PG")]
    pg: String,
    /// The target's port (nginx on loopback); checks use distinct 127.x.y.z addresses.
    #[arg(long)]
    target_port: u16,
    /// The bearmon binary to run.
    #[arg(long)]
    bin: PathBuf,
    /// Requests for `ab` (0: skip).
    #[arg(long, default_value_t = 20_000)]
    ab_requests: usize,
    /// Append a row to this Markdown file.
    #[arg(long)]
    record: Option<PathBuf>,
    /// A label for the row.
    #[arg(long, default_value = "")]
    label: String,
    /// Extra http checks (delay 1, linked to a webhook) whose target starts failing after the
    /// window: detection overhead = alert − first failed request − delay × interval.
    #[arg(long, default_value_t = 0)]
    detect: usize,
    /// After everything else, `kill -9` the controller and time the new one's first answer.
    #[arg(long)]
    failover: bool,
    /// Then, with bearmon stopped, run a peer against the same targets at the same demanded
    /// rate for the same window: `blackbox` (blackbox_exporter) or `nagios` (Nagios 4 core
    /// with check_http/check_tcp). Repeatable.
    #[arg(long, value_parser = ["blackbox", "nagios"])]
    peer: Vec<String>,
    /// The peers' measured window (default: `--seconds`).
    #[arg(long)]
    peer_seconds: Option<u64>,
    /// After the first window, add checks in steps of an eighth of `--checks` until the
    /// cluster no longer keeps up, then ask for twice the rate last held (see `max_rate`);
    /// reports the highest rate held and the throughput past it.
    #[arg(long)]
    max_rate: bool,
    /// The nodes' dead-node timeout (`[timing] dead_after_secs`, default 3 as the nodes');
    /// heartbeats every third of it, at most 1 s (so the default is the nodes' default).
    #[arg(long, default_value_t = 3.0)]
    dead_after: f64,
}

/// The detection target and webhook receiver, in the harness itself.
#[derive(Clone, Default)]
struct Probe {
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// check index → unix ms of its first request answered with 500.
    first_fail: std::sync::Arc<std::sync::Mutex<HashMap<usize, i64>>>,
    /// check name → unix ms the offline notification arrived.
    alerted: std::sync::Arc<std::sync::Mutex<HashMap<String, i64>>>,
}

use bearmon::util::now_ms;

async fn start_probe() -> (Probe, u16) {
    use axum::extract::{Path, State};
    use axum::routing::{get, post};
    let probe = Probe::default();
    let app = axum::Router::new()
        .route(
            "/d/{i}",
            get(|State(p): State<Probe>, Path(i): Path<usize>| async move {
                if p.failing.load(std::sync::atomic::Ordering::SeqCst) {
                    p.first_fail.lock().unwrap().entry(i).or_insert_with(now_ms);
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }),
        )
        .route(
            "/hook",
            post(|State(p): State<Probe>, body: axum::body::Bytes| async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                if v["status"] == "offline" {
                    let name = v["check"]["name"].as_str().unwrap_or("").to_string();
                    p.alerted.lock().unwrap().entry(name).or_insert_with(now_ms);
                }
                axum::http::StatusCode::OK
            }),
        )
        .with_state(probe.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (probe, port)
}

fn percentile(mut v: Vec<f64>, q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    Some(v[i])
}

struct Proc {
    role: String,
    child: Child,
    url: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(bin: &PathBuf, role: &str, args: &[String], log: &std::path::Path) -> Proc {
    let mut child = Command::new(bin)
        .args(args)
        .env("RUST_LOG", "warn,bearmon::viewserver=info,bearmon::worker=info,bearmon::controller=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bearmon");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut file = std::fs::File::create(log).unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(i) = line.find("listening on ") {
                let _ = tx.send(line[i + 13..].split_whitespace().next().unwrap_or("").to_string());
            }
            let _ = writeln!(file, "{line}");
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{role} did not start; see {}", log.display()));
    Proc { role: role.into(), child, url }
}

/// utime + stime of a process, seconds.
fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (n(11) + n(12)) / 100.0
}

fn rss_bytes(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// CPU seconds of every process whose command name is `name`.
fn cpu_of_named(name: &str) -> f64 {
    let mut total = 0.0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name) {
            total += cpu_secs(pid);
        }
    }
    total
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

fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    buckets.iter().find(|(_, c)| *c >= q * total).map(|(le, _)| *le)
}

async fn timed_get(url: &str) -> f64 {
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

fn target_host(i: usize) -> String {
    format!("127.{}.{}.{}", 1 + i / 62_500, (i / 250) % 250, 1 + i % 250)
}

#[tokio::main]
async fn main() {
    bearmon::init_crypto();
    let a = Args::parse();
    let started = Instant::now();
    let name = format!("bench_{}", std::process::id());
    let admin = Db::connect(&a.pg).await.expect("connect to PostgreSQL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .unwrap();
    let db_url = format!("{}/{name}", a.pg.rsplit_once('/').unwrap().0);
    let db = Db::connect(&db_url).await.unwrap();
    // `ab` against nginx alone, before any bearmon process runs; again under load below.
    let ab_alone = if a.ab_requests > 0 { run_ab(a.ab_requests, a.target_port) } else { None };
    bearmon::db::migrate(&db).await.unwrap();

    // Load the checks in batches.
    let t = Instant::now();
    load_checks(&db, 0..a.checks, &a.kind, a.interval, a.target_port).await;
    eprintln!("loaded {} checks in {:.1} s", a.checks, t.elapsed().as_secs_f64());
    let (probe, probe_port) = start_probe().await;
    if a.detect > 0 {
        let values: Vec<String> = (0..a.detect)
            .map(|i| format!("('detect{i}', 'http', '{{\"url\":\"http://127.0.0.1:{probe_port}/d/{i}\",\"timeout\":5}}', {}, 1)", a.interval))
            .collect();
        let sql = format!(
            "INSERT INTO checks (name, type, data, check_interval, delay) VALUES {}",
            values.join(",")
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(db.pool()).await.unwrap();
        let hook = format!("{{\"url\":\"http://127.0.0.1:{probe_port}/hook\"}}");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "INSERT INTO contacts (type, data) VALUES ('webhook', '{hook}')"
        )))
        .execute(db.pool())
        .await
        .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(
            "INSERT INTO alerts (check_id, contact_id, type) SELECT id, (SELECT MAX(id) FROM contacts), 'offline' FROM checks WHERE name LIKE 'detect%'".to_string(),
        ))
        .execute(db.pool())
        .await
        .unwrap();
    }
    let total_checks = a.checks + a.detect;

    let dir = tempfile_dir();
    let secret = "bench-secret-123456".to_string();
    let s = |v: &str| v.to_string();
    // The node timing under test (`--dead-after`); the defaults otherwise.
    let timing = dir.join("timing.toml");
    let heartbeat = (a.dead_after / 3.0).min(1.0);
    std::fs::write(
        &timing,
        format!("[timing]\nheartbeat_secs = {heartbeat}\ndead_after_secs = {}\n", a.dead_after),
    )
    .unwrap();
    let config = [s("--config"), timing.display().to_string()];
    let vs_args = [s("viewserver"), s("--listen"), s("127.0.0.1:0"), s("--secret"), secret.clone()];
    let vs = spawn(&a.bin, "viewserver", &[&vs_args[..], &config[..]].concat(), &dir.join("viewserver.log"));
    let mut workers: Vec<Proc> = Vec::new();
    for i in 1..=a.workers {
        let args = vec![
            s("worker"),
            s("--name"),
            format!("w{i}"),
            s("--listen"),
            s("127.0.0.1:0"),
            s("--viewserver"),
            vs.url.clone(),
            s("--secret"),
            secret.clone(),
            s("--database"),
            db_url.clone(),
            s("--confirmations"),
            a.confirmations.to_string(),
        ];
        let args = [&args[..], &config[..]].concat();
        workers.push(spawn(&a.bin, &format!("w{i}"), &args, &dir.join(format!("w{i}.log"))));
    }

    // Wait until every check is assigned, then one full interval.
    let controller = wait_assigned(&vs.url, total_checks).await;
    eprintln!(
        "all checks assigned after {:.1} s; warming up for one interval",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(a.interval + 1)).await;

    let pg_stats = |db: Db| async move {
        let row = sqlx::query("SELECT CAST(SUM(xact_commit + xact_rollback) AS BIGINT), CAST(SUM(tup_inserted + tup_updated + tup_deleted) AS BIGINT) FROM pg_stat_database")
            .fetch_one(db.pool())
            .await
            .unwrap();
        (row.try_get::<i64, _>(0).unwrap_or(0), row.try_get::<i64, _>(1).unwrap_or(0))
    };
    let pg_cpu_before = cpu_of_named("postgres");
    let (x0, t0) = pg_stats(db.clone()).await;
    let w = Window::measure(&vs, &workers, a.seconds).await;
    let pg_cpu = cpu_of_named("postgres") - pg_cpu_before;
    let (x1, t1) = pg_stats(db.clone()).await;
    let (secs, runs, skipped, buckets) = (w.secs, w.runs, w.skipped, w.buckets.clone());
    let per_k = |cpu: f64| if runs > 0.0 { cpu / runs * 1000.0 } else { f64::NAN };
    let mut roles = serde_json::Map::new();
    let mut total_cpu = 0.0;
    for (i, p) in std::iter::once(&vs).chain(&workers).enumerate() {
        let cpu = w.cpu[i];
        total_cpu += cpu;
        let role = if p.role == controller { format!("{} (controller)", p.role) } else { p.role.clone() };
        let rss = rss_bytes(p.child.id());
        roles.insert(
            role,
            json!({"cpu_s": cpu, "cpu_s_per_1000_runs": per_k(cpu), "cpu_share_of_2_cores": cpu / secs / 2.0, "rss_mb": rss as f64 / 1048576.0, "rss_bytes_per_check": rss as f64 / a.checks as f64}),
        );
    }
    let page_ms = timed_get(&format!("{}/", vs.url)).await;
    let offline_ms = timed_get(&format!("{}/api/checks?status=offline", vs.url)).await;
    let ab = if a.ab_requests > 0 { run_ab(a.ab_requests, a.target_port) } else { None };
    let max = if a.max_rate { max_rate(&a, &db, &vs, &workers, &controller).await } else { Value::Null };

    // Detection overhead: the probe's targets start failing now.
    let mut detection = Value::Null;
    if a.detect > 0 {
        probe.failing.store(true, std::sync::atomic::Ordering::SeqCst);
        let limit = Instant::now() + Duration::from_secs(3 * a.interval + 60);
        while probe.alerted.lock().unwrap().len() < a.detect && Instant::now() < limit {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let fails = probe.first_fail.lock().unwrap().clone();
        let alerts = probe.alerted.lock().unwrap().clone();
        let overheads: Vec<f64> = (0..a.detect)
            .filter_map(|i| {
                let f = fails.get(&i)?;
                let al = alerts.get(&format!("detect{i}"))?;
                Some((al - f) as f64 / 1000.0 - a.interval as f64)
            })
            .collect();
        detection = json!({
            "checks": a.detect, "alerted": alerts.len(),
            "overhead_p50_s": percentile(overheads.clone(), 0.5), "overhead_p99_s": percentile(overheads.clone(), 0.99),
            "overhead_max_s": percentile(overheads, 1.0),
        });
    }
    // Failover under load.
    let mut failover_s = Value::Null;
    if a.failover
        && let Some(p) = workers.iter_mut().find(|p| p.role == controller)
    {
        let old_term = reqwest::get(format!("{}/api/cluster", vs.url)).await.ok();
        let old_term = match old_term {
            Some(r) => r.json::<Value>().await.unwrap_or_default()["term"].as_u64().unwrap_or(0),
            None => 0,
        };
        let _ = p.child.kill();
        let killed = Instant::now();
        while killed.elapsed() < Duration::from_secs(60) {
            let v: Value = match reqwest::get(format!("{}/api/cluster", vs.url)).await {
                Ok(r) => r.json().await.unwrap_or_default(),
                Err(_) => Value::Null,
            };
            let moved =
                v["term"].as_u64().unwrap_or(0) > old_term && v["controller"].as_str() != Some(&controller);
            if moved
                && let Some(u) = v["controller_url"].as_str()
                && reqwest::get(format!("{u}/api/checks?per_page=1"))
                    .await
                    .is_ok_and(|r| r.status().is_success())
            {
                failover_s = json!(killed.elapsed().as_secs_f64());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // The peers, with bearmon stopped so they have the machine to themselves.
    drop(workers);
    drop(vs);
    let demanded = a.checks as f64 / a.interval as f64;
    let bearmon_ms = if runs > 0.0 { total_cpu / runs * 1000.0 } else { f64::NAN };
    let mut peer_results = serde_json::Map::new();
    for peer in &a.peer {
        let hosts: Vec<String> = (0..a.checks).map(target_host).collect();
        let peer_seconds = a.peer_seconds.unwrap_or(a.seconds);
        eprintln!("running peer {peer} for {peer_seconds} s");
        let figures = match peer.as_str() {
            "blackbox" => {
                let targets: Vec<String> = hosts
                    .iter()
                    .map(|h| match a.kind.as_str() {
                        "tcp" => format!("{h}:{}", a.target_port),
                        "icmp" => h.clone(),
                        _ => format!("http://{h}:{}/", a.target_port),
                    })
                    .collect();
                peers::blackbox(&dir, &targets, &a.kind, a.interval, peer_seconds).await
            }
            _ => peers::nagios(&dir, &hosts, a.target_port, &a.kind, a.interval, peer_seconds).await,
        };
        let v = match figures {
            Ok(f) => {
                let mut v = f.json(demanded);
                v["bearmon_cpu_per_run_ratio"] =
                    json!(bearmon_ms / v["cpu_ms_per_run"].as_f64().unwrap_or(f64::NAN));
                v
            }
            Err(e) => json!({"error": e}),
        };
        peer_results.insert(peer.clone(), v);
    }

    let result = json!({
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
        "lag_p50_le_s": quantile(&buckets, 0.5), "lag_p99_le_s": quantile(&buckets, 0.99),
        "lag_max_le_s": quantile(&buckets, 1.0),
        "missed_slots": skipped,
        "cluster_cpu_share_of_2_cores": total_cpu / secs / 2.0,
        "cluster_cpu_ms_per_run": if runs > 0.0 { total_cpu / runs * 1000.0 } else { f64::NAN },
        "postgres_cpu_s_per_1000_runs": per_k(pg_cpu),
        "sql_transactions_per_s": (x1 - x0) as f64 / secs,
        "sql_rows_written_per_s": (t1 - t0) as f64 / secs,
        "status_page_ms": page_ms, "api_offline_ms": offline_ms,
        "ab_requests_per_s": ab,
        "ab_alone_requests_per_s": ab_alone,
        "ratio_to_ab": ab.map(|r| runs / secs / r),
        "roles": roles,
    });
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    if let Some(path) = a.record {
        let row = format!(
            "| {} | {} | {} | {}s | {:.0} | {:.0} | {} | {} | {} | {:.1} % | {:.3} | {:.2} | {:.0} | {:.0} | {:.0} | {} |\n",
            time_now(),
            if a.label.is_empty() { "bearmon" } else { &a.label },
            a.checks,
            a.interval,
            a.checks as f64 / a.interval as f64,
            runs / secs,
            fmt_opt(quantile(&buckets, 0.5)),
            fmt_opt(quantile(&buckets, 0.99)),
            skipped,
            total_cpu / secs / 2.0 * 100.0,
            if runs > 0.0 { total_cpu / runs * 1000.0 } else { f64::NAN },
            (x1 - x0) as f64 / secs,
            page_ms,
            offline_ms,
            ab.unwrap_or(f64::NAN),
            result["roles"]
                .as_object()
                .map(|r| r
                    .iter()
                    .map(|(k, v)| format!(
                        "{k}: {:.0} B/check",
                        v["rss_bytes_per_check"].as_f64().unwrap_or(0.0)
                    ))
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
        );
        let mut rows = row;
        for (peer, v) in &peer_results {
            let label = if peer == "blackbox" {
                "blackbox_exporter (same run)"
            } else {
                "Nagios 4 + check_http (same run)"
            };
            let row = format!(
                "| {} | {label} | {} | {}s | {:.0} | {:.0} | - | - | - | {:.1} % | {:.3} | - | - | - | - | bearmon/peer CPU per run: {:.3} |\n",
                time_now(),
                a.checks,
                a.interval,
                demanded,
                v["executions_per_s"].as_f64().unwrap_or(f64::NAN),
                v["cpu_share_of_2_cores"].as_f64().unwrap_or(f64::NAN) * 100.0,
                v["cpu_ms_per_run"].as_f64().unwrap_or(f64::NAN),
                v["bearmon_cpu_per_run_ratio"].as_f64().unwrap_or(f64::NAN),
            );
            rows.push_str(&row);
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, insert_rows(&text, &rows)).unwrap();
    }
    db.pool().close().await;
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(admin.pool())
        .await;
}

/// `text` with `rows` added at the end of the table under `## Runs` (at the end of the
/// text when there is none), so recorded rows stay in the table, not after the prose.
fn insert_rows(text: &str, rows: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some(heading) = lines.iter().position(|l| l.trim() == "## Runs") else {
        return format!("{text}{rows}");
    };
    let Some(first) = (heading..lines.len()).find(|&i| lines[i].starts_with('|')) else {
        return format!("{text}{rows}");
    };
    let end = (first..lines.len()).find(|&i| !lines[i].starts_with('|')).unwrap_or(lines.len());
    let mut out: String = lines[..end].iter().map(|l| format!("{l}\n")).collect();
    out.push_str(rows);
    out.extend(lines[end..].iter().map(|l| format!("{l}\n")));
    out
}

/// Inserts checks `range` (one target address each) in batches of 1,000.
async fn load_checks(db: &Db, range: std::ops::Range<usize>, kind: &str, interval: u64, port: u16) {
    for chunk in range.collect::<Vec<_>>().chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| {
                let data = match kind {
                    "tcp" => format!(r#"{{"address":"{}:{port}","timeout":5}}"#, target_host(*i)),
                    "icmp" => format!(r#"{{"target":"{}","timeout":5}}"#, target_host(*i)),
                    _ => format!(r#"{{"url":"http://{}:{port}/","timeout":5}}"#, target_host(*i)),
                };
                format!("('c{i}', '{kind}', '{data}', {interval}, 1)")
            })
            .collect();
        let sql = format!(
            "INSERT INTO checks (name, type, data, check_interval, delay) VALUES {}",
            values.join(",")
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(db.pool()).await.unwrap();
    }
}

/// Waits (up to 180 s) until `total` checks are assigned; the controller's name.
async fn wait_assigned(vs_url: &str, total: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let v: Value = match reqwest::get(format!("{vs_url}/api/cluster")).await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => Value::Null,
        };
        let assigned: u64 = v["workers"]
            .as_array()
            .map_or(0, |ws| ws.iter().map(|w| w["checks_assigned"].as_u64().unwrap_or(0)).sum());
        // Equal, not at least: after checks are deleted the count must come down too.
        if assigned as usize == total && v["controller"].is_string() {
            return v["controller"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "checks not assigned within 180 s: {v}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One measured window over the cluster's processes.
struct Window {
    secs: f64,
    runs: f64,
    skipped: f64,
    buckets: Vec<(f64, f64)>,
    /// CPU seconds per process, viewserver first.
    cpu: Vec<f64>,
    /// Each worker's own lag p99 bucket, in the order of `workers`: which process runs late.
    worker_p99: Vec<Option<f64>>,
    /// Each worker's p99 bucket of execution wall time: slow checks (a SYN dropped and sent
    /// again after 1 s) rather than a late thread.
    worker_duration_p99: Vec<Option<f64>>,
    /// The kernel's TCP counters over the window (TcpExt ListenOverflows, ListenDrops,
    /// TCPTimeWaitOverflow; Tcp RetransSegs).
    kernel: Vec<(String, f64)>,
    /// The whole machine's busy share of all its cores (nginx, PostgreSQL and the kernel's
    /// network work included), and nginx's own CPU seconds.
    machine_busy: f64,
    nginx_cpu: f64,
}

/// The TCP counters of [`Window::kernel`], from /proc/net/netstat and /proc/net/snmp.
fn kernel_counters() -> Vec<(String, f64)> {
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
fn machine_jiffies() -> (f64, f64) {
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

impl Window {
    async fn measure(vs: &Proc, workers: &[Proc], seconds: u64) -> Window {
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

    fn total_cpu(&self) -> f64 {
        self.cpu.iter().sum()
    }
}

/// `--max-rate`: adds an eighth of the starting checks per step until lag p99 passes 1 s or
/// fewer than 95 % of the demanded runs happen; the step before is the highest rate held.
/// Then one step asks for twice that rate: the throughput under overload. Steps only grow
/// (except the last), so no step measures a cluster recovering from an overload.
async fn max_rate(a: &Args, db: &Db, vs: &Proc, workers: &[Proc], controller: &str) -> Value {
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

/// Grows or shrinks the benchmark's checks (`c0`..`c{n}`) from `from` to `to`.
async fn set_checks(a: &Args, db: &Db, from: usize, to: usize) {
    if to > from {
        load_checks(db, from..to, &a.kind, a.interval, a.target_port).await;
    } else {
        let sql = format!(
            "DELETE FROM checks WHERE name LIKE 'c%' AND CAST(SUBSTRING(name FROM 2) AS INTEGER) >= {to}"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(db.pool()).await.unwrap();
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("≤ {v} s"))
}

fn time_now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
        [..16]
        .to_string()
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("bearmon-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    eprintln!("node logs in {}", d.display());
    d
}

/// `ab` without keep-alive against the target: requests per second.
fn run_ab(n: usize, port: u16) -> Option<f64> {
    let out = Command::new("ab")
        .args(["-q", "-n", &n.to_string(), "-c", "50", &format!("http://127.0.0.1:{port}/")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find(|l| l.starts_with("Requests per second:"))?.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::insert_rows;

    #[test]
    fn recorded_rows_go_into_the_runs_table_not_after_the_prose() {
        let text = "# B\n\n## Runs\n\n| a |\n|---|\n| 1 |\n\nProse.\n";
        assert_eq!(insert_rows(text, "| 2 |\n"), "# B\n\n## Runs\n\n| a |\n|---|\n| 1 |\n| 2 |\n\nProse.\n");
        assert_eq!(insert_rows("no table\n", "| 2 |\n"), "no table\n| 2 |\n");
    }
}
