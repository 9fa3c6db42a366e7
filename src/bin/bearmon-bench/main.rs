//! The benchmark harness behind `scripts/bench.sh`: loads N checks into a database, runs a
//! viewserver and workers as separate processes of the real `bearmon` binary against a
//! target on loopback (nginx), waits one full interval, measures a window, and prints one
//! JSON object (and appends a row to BENCHMARKS.md with `--record`).
//!
//! Measured: executions per second (demanded and done), scheduling lag (from the workers'
//! histograms), missed slots, CPU seconds per 1,000 executions per role and for the
//! database server, RSS and bytes per check, SQL transactions per second, the first status
//! page and `/api/checks?status=offline` latency, and `ab` against the same target.
//!
//! The run is driven from here, in the order the figures are taken; the modules each do one
//! job: `options` (the command line), `load` (the checks in the database), `policy` (issue
//! 17's timeperiods, escalations and options, `--timeperiods`/`--escalations`), `nodes` (the
//! cluster's processes, failover), `probe` (`--detect`), `window` and `sample` (what is
//! measured, from the nodes' metrics and from /proc), `max_rate`, `compare` and `peers`
//! (the peers), `report` (the printed JSON) and `record` (BENCHMARKS.md).

mod compare;
mod load;
mod max_rate;
mod nodes;
mod options;
mod peers;
mod policy;
mod probe;
mod record;
mod report;
mod sample;
mod scrape;
mod states;
mod window;

use std::time::{Duration, Instant};

use bearmon::db::Db;
use clap::Parser;
use serde_json::Value;

use options::Args;
use report::Figures;
use sample::{cpu_of_named, pg_stats, run_ab, timed_get};
use window::Window;

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
    load::load_checks(&db, 0..a.checks, &a.kind, a.interval, a.target_port).await;
    eprintln!("loaded {} checks in {:.1} s", a.checks, t.elapsed().as_secs_f64());
    let policy_rows =
        if a.timeperiods + a.escalations > 0 { policy::load(&db, &a).await } else { Value::Null };
    let state_policy =
        if a.flap_detection || a.dependencies { states::load(&db, &a).await } else { Value::Null };
    let (probe, probe_port) = probe::start_probe().await;
    if a.detect > 0 {
        load::add_detect(&db, a.detect, a.interval, probe_port).await;
    }
    let total_checks = a.checks + a.detect;

    let dir = nodes::tempfile_dir();
    let (vs, mut workers) = nodes::start(&a, &dir, &db_url);

    // Wait until every check is assigned, then one full interval.
    let controller = nodes::wait_assigned(&vs.url, total_checks).await;
    eprintln!(
        "all checks assigned after {:.1} s; warming up for one interval",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(a.interval + 1)).await;

    let pg_cpu_before = cpu_of_named("postgres");
    let (x0, t0) = pg_stats(db.clone()).await;
    let scraper = if a.per_check_metrics { Some(scrape::Scraper::start(&vs.url).await) } else { None };
    let w = Window::measure(&vs, &workers, a.seconds).await;
    let per_check_metrics = scraper.map_or(Value::Null, scrape::Scraper::finish);
    let pg_cpu = cpu_of_named("postgres") - pg_cpu_before;
    let (x1, t1) = pg_stats(db.clone()).await;
    let (secs, runs, skipped, buckets) = (w.secs, w.runs, w.skipped, w.buckets.clone());
    let (roles, total_cpu) = report::roles(&a, &vs, &workers, &controller, &w);
    let page_ms = timed_get(&format!("{}/", vs.url)).await;
    let offline_ms = timed_get(&format!("{}/api/checks?status=offline", vs.url)).await;
    let ab = if a.ab_requests > 0 { run_ab(a.ab_requests, a.target_port) } else { None };
    let max =
        if a.max_rate { max_rate::max_rate(&a, &db, &vs, &workers, &controller).await } else { Value::Null };

    // Detection overhead: the probe's targets start failing now.
    let detection = if a.detect > 0 { probe.detection(a.detect, a.interval).await } else { Value::Null };
    // Failover under load.
    let failover_s =
        if a.failover { nodes::failover(&vs.url, &mut workers, &controller).await } else { Value::Null };
    // The peers, with bearmon stopped so they have the machine to themselves.
    drop(workers);
    drop(vs);
    let demanded = a.checks as f64 / a.interval as f64;
    let bearmon_ms = if runs > 0.0 { total_cpu / runs * 1000.0 } else { f64::NAN };
    let peer_results = compare::run_peers(&a, &dir, demanded, bearmon_ms).await;

    let figures = Figures {
        secs,
        runs,
        skipped,
        buckets,
        total_cpu,
        pg_cpu,
        xacts: x1 - x0,
        rows_written: t1 - t0,
        page_ms,
        offline_ms,
        ab,
        ab_alone,
    };
    let mut result = report::result(&a, &figures, &roles, &max, &peer_results, &detection, &failover_s);
    result["policy_rows"] = policy_rows;
    result["state_policy"] = state_policy;
    result["per_check_metrics"] = per_check_metrics;
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    if let Some(path) = &a.record {
        record::append(path, &a, &figures, &result, &peer_results, demanded);
    }
    db.pool().close().await;
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(admin.pool())
        .await;
}
