//! The chaos harness (scripts/chaos.sh drives it): a viewserver and 3–5 workers as separate
//! processes on PostgreSQL or MariaDB, a few hundred http checks against a target farm whose
//! up/down timeline is drawn from a printed seed (the oracle), a webhook receiver recording
//! every notification, and faults injected one after another for a bounded time: `kill -9`
//! of the controller, a worker or the viewserver, a SIGSTOPped controller, the database
//! stopped, a worker blinded from the targets, the receiver down. At the end it compares
//! the committed flips and the notifications with the oracle, prints one verdict line per
//! invariant and a summary, and exits 0 only when every invariant holds.

mod farm;
mod faults;
mod oracle;
mod procs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bearmon::db::Db;
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sqlx::Row;

use farm::{Origin, Receiver};
use faults::{Fault, Firewall, Plan, secs};
use oracle::{Flip, Timeline};
use procs::{Proc, Spec};

#[derive(Debug, Parser)]
#[command(about = "bearmon chaos harness (see scripts/chaos.sh)")]
struct Args {
    /// How long faults are injected (then the cluster is left to settle).
    #[arg(long, default_value_t = 5.0)]
    minutes: f64,
    /// The seed of the timelines and the faults; random (and printed) when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// An admin URL of the database server (postgres://… or mysql://…); a database is
    /// created for the run.
    #[arg(long)]
    db: String,
    /// A shell command that stops the database server.
    #[arg(long)]
    db_down: String,
    /// A shell command that starts it again (and returns once it accepts connections).
    #[arg(long)]
    db_up: String,
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(3..=5))]
    workers: u16,
    #[arg(long, default_value_t = 300)]
    checks: usize,
    #[arg(long, default_value_t = 2)]
    interval: i64,
    #[arg(long, default_value_t = 2)]
    delay: i64,
    #[arg(long, default_value_t = 2)]
    confirmations: usize,
    /// The bearmon binary.
    #[arg(long)]
    bin: PathBuf,
    /// Where the nodes' logs go.
    #[arg(long, default_value = "target/chaos")]
    logs: PathBuf,
    /// Write the figures as JSON here.
    #[arg(long)]
    report: Option<PathBuf>,
}

const SECRET: &str = "chaos-secret-0123456789";
const DEAD_AFTER_SECS: f64 = 2.5;

fn s(v: impl Into<String>) -> String {
    v.into()
}

fn int(row: &sqlx::any::AnyRow, i: usize) -> i64 {
    row.try_get::<i64, _>(i).or_else(|_| row.try_get::<i32, _>(i).map(i64::from)).unwrap_or(-1)
}

/// The cluster under test.
struct Cluster {
    bin: PathBuf,
    vs: Proc,
    vs_url: String,
    workers: Vec<Proc>,
    http: reqwest::Client,
}

impl Cluster {
    /// The viewserver's view: (controller, term), `None` while it does not answer.
    async fn view(&self) -> Option<(Option<String>, u64)> {
        let r = self.http.get(format!("{}/api/cluster", self.vs_url)).send().await.ok()?;
        let v: Value = r.json().await.ok()?;
        Some((v["controller"].as_str().map(str::to_string), v["term"].as_u64().unwrap_or(0)))
    }

    async fn live(&self) -> usize {
        let Ok(r) = self.http.get(format!("{}/api/cluster", self.vs_url)).send().await else { return 0 };
        r.json::<Value>().await.ok().and_then(|v| v["workers_live"].as_u64()).unwrap_or(0) as usize
    }

    fn worker(&mut self, name: &str) -> Option<&mut Proc> {
        self.workers.iter_mut().find(|w| w.spec.name == name)
    }

    /// Waits for a controller with a term above `above` other than `not`; seconds taken.
    async fn new_controller(&self, above: u64, not: &str, since: Instant, limit: Duration) -> Option<f64> {
        while since.elapsed() < limit {
            if let Some((Some(c), term)) = self.view().await
                && term > above
                && c != not
            {
                return Some(since.elapsed().as_secs_f64());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    async fn wait_live(&self, n: usize, limit: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < limit {
            if self.live().await >= n && matches!(self.view().await, Some((Some(_), _))) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }
}

/// What happened during the run, for the report.
#[derive(Default)]
struct Log {
    injected: BTreeMap<Fault, usize>,
    failovers: Vec<f64>,
    /// Controller deaths after which no new controller served within 30 s.
    failovers_missing: usize,
    events: Vec<String>,
    problems: Vec<String>,
    skipped: Vec<String>,
}

impl Log {
    fn note(&mut self, origin: &Origin, what: String) {
        let t = origin.ms().unwrap_or(0) as f64 / 1000.0;
        eprintln!("chaos: t={t:7.1}s {what}");
        self.events.push(format!("t={t:.1}s {what}"));
    }
}

#[tokio::main]
async fn main() {
    bearmon::init_crypto();
    let a = Args::parse();
    let seed = a.seed.unwrap_or_else(|| rand::rng().random());
    println!(
        "chaos: seed {seed} (replay with --seed {seed}), {} min, {} workers, {} checks",
        a.minutes, a.workers, a.checks
    );
    match run(&a, seed).await {
        Ok(true) => std::process::exit(0),
        Ok(false) => std::process::exit(1),
        Err(e) => {
            println!("chaos: harness error: {e}");
            std::process::exit(2);
        }
    }
}

async fn run(a: &Args, seed: u64) -> Result<bool, String> {
    let window_ms = (a.minutes * 60_000.0) as i64;
    let mut rng = StdRng::seed_from_u64(seed);
    let timelines: Arc<Vec<Timeline>> = Arc::new(
        (0..a.checks).map(|_| Timeline::draw(&mut rng, a.interval * 1000, a.delay, window_ms)).collect(),
    );
    let mut fault_rng = StdRng::seed_from_u64(seed ^ 0x0063_6861_6f73);

    // The database of this run.
    let (backend_name, db_url) = {
        let name = format!("bearmon_chaos_{}", std::process::id());
        let admin = Db::connect(&a.db).await.map_err(|e| format!("connect to {}: {e}", a.db))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(admin.pool())
            .await
            .map_err(|e| format!("create database: {e}"))?;
        let base = if a.db.starts_with("postgres") {
            a.db.rsplit_once('/').map_or(&a.db[..], |p| p.0)
        } else {
            a.db.trim_end_matches('/')
        };
        (if a.db.starts_with("postgres") { "postgresql" } else { "mariadb" }, format!("{base}/{name}"))
    };
    let db = Db::connect(&db_url).await.map_err(|e| format!("connect: {e}"))?;
    bearmon::db::migrate(&db).await.map_err(|e| format!("migrate: {e}"))?;

    let origin = Origin::default();
    let farm_port =
        farm::start_farm(origin.clone(), timelines.clone()).await.map_err(|e| format!("farm: {e}"))?;
    let mut receiver = Receiver::start().await.map_err(|e| format!("receiver: {e}"))?;

    // Checks, one webhook contact, an alert per check.
    for chunk in (0..a.checks).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| {
                format!(
                    "('chaos-{i}', 'http', '{{\"url\":\"http://127.0.0.1:{farm_port}/t/{i}\",\"timeout\":2}}', {}, {})",
                    a.interval, a.delay
                )
            })
            .collect();
        exec(
            &db,
            &format!(
                "INSERT INTO checks (name, type, data, check_interval, delay) VALUES {}",
                values.join(",")
            ),
        )
        .await?;
    }
    exec(&db, &format!("INSERT INTO contacts (type, data) VALUES ('webhook', '{{\"url\":\"http://127.0.0.1:{}/hook\"}}')", receiver.port)).await?;
    exec(&db, "INSERT INTO alerts (check_id, contact_id, type) SELECT id, (SELECT MAX(id) FROM contacts), 'both' FROM checks").await?;
    let mut index_of: BTreeMap<i64, usize> = BTreeMap::new();
    for row in
        sqlx::query("SELECT id, name FROM checks").fetch_all(db.pool()).await.map_err(|e| e.to_string())?
    {
        let name: String = row.try_get(1).unwrap_or_default();
        if let Some(i) = name.strip_prefix("chaos-").and_then(|n| n.parse().ok()) {
            index_of.insert(int(&row, 0), i);
        }
    }

    // Per-worker users and the firewall need root; without them there is no blinding.
    let root = nix_is_root();
    let uids = if root { procs::worker_users(a.workers as usize)? } else { Vec::new() };
    let firewall = if root { Firewall::new(farm_port) } else { None };
    let mut kinds: Vec<Fault> = Fault::ALL.to_vec();
    let mut log = Log::default();
    if firewall.is_none() {
        kinds.retain(|k| *k != Fault::BlindWorker);
        log.skipped.push("blind_worker: needs root and nft".into());
    }

    // Files the workers' users can read: the binary and the config.
    let logs = a.logs.join(seed.to_string());
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let share = std::env::temp_dir().join(format!("bearmon-chaos-{}", std::process::id()));
    std::fs::create_dir_all(&share).map_err(|e| e.to_string())?;
    let bin = share.join("bearmon");
    std::fs::copy(&a.bin, &bin).map_err(|e| format!("copy {}: {e}", a.bin.display()))?;
    let config = share.join("node.toml");
    std::fs::write(
        &config,
        format!(
            "[timing]\nheartbeat_secs = 0.5\ndead_after_secs = {DEAD_AFTER_SECS}\ndb_poll_secs = 1.0\nresult_flush_secs = 0.1\n\
             [alerts]\nwebhook_timeout_secs = 3.0\nretry_first_secs = 0.5\nretry_max_secs = 3.0\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let vs_config = share.join("viewserver.toml");
    std::fs::write(
        &vs_config,
        format!("[timing]\nheartbeat_secs = 0.5\ndead_after_secs = {DEAD_AFTER_SECS}\n"),
    )
    .map_err(|e| e.to_string())?;
    set_mode(&share, 0o755);
    set_mode(&bin, 0o755);
    set_mode(&config, 0o644);

    let vs_port = free_port().await?;
    let vs_url = format!("http://127.0.0.1:{vs_port}");
    let vs = Proc::start(
        &bin,
        Spec {
            name: s("viewserver"),
            args: vec![
                s("viewserver"),
                s("--listen"),
                format!("127.0.0.1:{vs_port}"),
                s("--secret"),
                s(SECRET),
                s("--config"),
                vs_config.display().to_string(),
            ],
            uid: None,
            log: logs.join("viewserver.log"),
        },
    )?;
    let mut workers = Vec::new();
    for i in 1..=a.workers as usize {
        let name = format!("w{i}");
        workers.push(Proc::start(
            &bin,
            Spec {
                name: name.clone(),
                args: vec![
                    s("worker"),
                    s("--name"),
                    name.clone(),
                    s("--listen"),
                    s("127.0.0.1:0"),
                    s("--viewserver"),
                    vs_url.clone(),
                    s("--secret"),
                    s(SECRET),
                    s("--confirmations"),
                    a.confirmations.to_string(),
                    s("--database"),
                    db_url.clone(),
                    s("--config"),
                    config.display().to_string(),
                ],
                uid: uids.get(i - 1).copied(),
                log: logs.join(format!("{name}.log")),
            },
        )?);
    }
    let http =
        reqwest::Client::builder().timeout(Duration::from_secs(2)).build().map_err(|e| e.to_string())?;
    let mut cluster = Cluster { bin: bin.clone(), vs, vs_url, workers, http };
    if !cluster.wait_live(a.workers as usize, Duration::from_secs(60)).await {
        return Err(format!("the cluster did not come up; logs in {}", logs.display()));
    }
    // Let every check be assigned and run a few times before the oracle's clock starts.
    tokio::time::sleep(Duration::from_secs(8)).await;
    origin.start();
    let started = Instant::now();
    // Short runs hold each fault shorter, so a 2-minute run still sees every kind.
    let cap = (a.minutes * 60.0 / 12.0).max(10.0);
    log.note(&origin, format!("origin; {backend_name} at {db_url}; logs in {}", logs.display()));

    let mut plan = Plan::new(kinds);
    let window = Duration::from_millis(window_ms as u64);
    // Leave room at the end for the last fault to heal inside the window.
    while started.elapsed() + Duration::from_secs(20) < window {
        let gap = secs(&mut fault_rng, 3.0, 15.0, cap / 2.0);
        tokio::time::sleep(Duration::from_secs_f64(gap)).await;
        let Some(fault) = plan.next(&mut fault_rng) else { break };
        inject(
            fault,
            &mut cluster,
            &mut receiver,
            firewall.as_ref(),
            &uids,
            a,
            &db_url,
            cap,
            &mut fault_rng,
            &origin,
            &mut log,
        )
        .await;
        *log.injected.entry(fault).or_default() += 1;
    }
    while started.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    log.note(&origin, s("faults over; waiting for the cluster to settle"));

    // Settle: every check online again, the outbox drained, every commit notified.
    let settle = Instant::now();
    let mut settled = false;
    while settle.elapsed() < Duration::from_secs(180) {
        if let Ok(true) = quiet(&db, &receiver).await {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if !settled {
        log.problems
            .push(s("the cluster did not settle within 180 s (checks offline or notifications pending)"));
    }
    log.note(&origin, format!("settled in {:.1} s", settle.elapsed().as_secs_f64()));

    // The verdict.
    let origin_unix = bearmon::util::now_ms() - origin.ms().unwrap_or(0);
    let mut flips = Vec::new();
    for row in sqlx::query("SELECT event_id, check_id, term, to_status, at FROM bearmon_flips")
        .fetch_all(db.pool())
        .await
        .map_err(|e| format!("read flips: {e}"))?
    {
        let status: String = row.try_get(3).unwrap_or_default();
        flips.push(Flip {
            event_id: int(&row, 0),
            check: index_of.get(&int(&row, 1)).copied().unwrap_or(usize::MAX),
            offline: status == "offline",
            at_ms: int(&row, 4) - origin_unix,
            term: int(&row, 2),
        });
    }
    let events = sqlx::query("SELECT COUNT(*) FROM check_events")
        .fetch_one(db.pool())
        .await
        .map(|r| int(&r, 0))
        .unwrap_or(-1);
    if events != flips.len() as i64 {
        log.problems.push(format!("check_events has {events} rows but bearmon_flips {}", flips.len()));
    }
    let notes = receiver.notes.lock().unwrap().clone();
    let v = oracle::judge(&timelines, &flips, &notes);
    let refused: usize =
        cluster.workers.iter().map(|w| procs::count_in_log(&w.spec.log, "stepping down")).sum();
    let mut fo = log.failovers.clone();
    fo.sort_by(f64::total_cmp);
    let median = fo.get(fo.len() / 2).copied();
    let max = fo.last().copied();

    println!(
        "chaos: {} faults injected: {}",
        log.injected.values().sum::<usize>(),
        fmt_counts(&log.injected)
    );
    for sk in &log.skipped {
        println!("chaos: skipped {sk}");
    }
    println!(
        "chaos: oracle: {} outages (must flip), {} flap bursts (must not), {} flips expected, {} committed, {} notifications received",
        v.must_episodes,
        v.must_not_episodes,
        v.expected_flips,
        flips.len(),
        v.notifications
    );
    let line = |ok: bool, text: String| println!("{} {text}", if ok { "PASS" } else { "FAIL" });
    line(
        v.lost() == 0,
        format!(
            "lost = {} (flips never committed {}, committed flips never notified {})",
            v.lost(),
            v.lost_flips,
            v.lost_notifications
        ),
    );
    line(
        v.false_count() == 0,
        format!(
            "false = {} (flips the oracle does not imply {}, notifications of no flip {})",
            v.false_count(),
            v.false_flips,
            v.phantom_notifications
        ),
    );
    line(
        v.duplicates_unexplained == 0,
        format!(
            "duplicates: {} repeats of the same idempotency key (reported); unexplained duplicates = {}",
            v.duplicates_same_key, v.duplicates_unexplained
        ),
    );
    line(
        v.split_brain_commits == 0,
        format!(
            "split-brain commits = {} (stale writes refused by the fence: {refused})",
            v.split_brain_commits
        ),
    );
    let fo_ok = log.failovers_missing == 0;
    line(
        fo_ok,
        format!(
            "failover: {} controller deaths, new controller serving after median {} s, max {} s",
            fo.len(),
            fmt_s(median),
            fmt_s(max)
        ),
    );
    line(
        settled,
        format!(
            "settled: every check back online and every notification delivered ({:.1} s)",
            settle.elapsed().as_secs_f64()
        ),
    );
    for p in v.problems.iter().chain(&log.problems).take(40) {
        println!("  problem: {p}");
    }
    let ok = v.holds() && log.problems.is_empty();
    println!(
        "chaos: {} seed={seed} backend={backend_name} minutes={} lost={} false={} duplicates={} unexplained={} split_brain={} failover_max_s={}",
        if ok { "PASS" } else { "FAIL" },
        a.minutes,
        v.lost(),
        v.false_count(),
        v.duplicates_same_key,
        v.duplicates_unexplained,
        v.split_brain_commits,
        fmt_s(max)
    );
    if let Some(path) = &a.report {
        let report = json!({
            "seed": seed, "backend": backend_name, "minutes": a.minutes, "workers": a.workers,
            "checks": a.checks, "interval": a.interval, "delay": a.delay, "confirmations": a.confirmations,
            "injected": log.injected, "skipped": log.skipped, "verdict": v, "flips_committed": flips.len(),
            "failover_s": fo, "failover_median_s": median, "failover_max_s": max,
            "stale_writes_refused": refused, "settled": settled, "problems": log.problems, "events": log.events, "pass": ok,
        });
        let _ = std::fs::write(path, serde_json::to_string_pretty(&report).unwrap_or_default());
    }
    if ok {
        let _ = std::fs::remove_dir_all(&share);
    } else {
        println!("chaos: node logs kept in {}", logs.display());
    }
    drop(cluster);
    Ok(ok)
}

#[allow(clippy::too_many_arguments)]
async fn inject(
    fault: Fault,
    c: &mut Cluster,
    receiver: &mut Receiver,
    fw: Option<&Firewall>,
    uids: &[u32],
    a: &Args,
    db_url: &str,
    cap: f64,
    rng: &mut StdRng,
    origin: &Origin,
    log: &mut Log,
) {
    let dead = Duration::from_secs_f64(DEAD_AFTER_SECS);
    match fault {
        Fault::KillController | Fault::ZombieController => {
            let Some((Some(name), term)) = c.view().await else {
                log.note(origin, format!("{fault:?}: no controller known; skipped"));
                return;
            };
            let zombie = fault == Fault::ZombieController;
            let t0 = Instant::now();
            let Some(w) = c.worker(&name) else { return };
            if zombie {
                w.signal("STOP")
            } else {
                w.kill()
            }
            log.note(
                origin,
                format!("{} controller {name} (term {term})", if zombie { "SIGSTOP" } else { "kill -9" }),
            );
            match c.new_controller(term, &name, t0, Duration::from_secs(30)).await {
                Some(took) => {
                    log.failovers.push(took);
                    log.note(origin, format!("new controller serving after {took:.2} s"));
                }
                None => {
                    log.failovers_missing += 1;
                    log.problems.push(format!("no new controller within 30 s after {fault:?} of {name}"));
                }
            }
            if zombie {
                let extra = secs(rng, 1.0, 4.0, 4.0);
                tokio::time::sleep((dead + Duration::from_secs_f64(extra)).saturating_sub(t0.elapsed()))
                    .await;
                if let Some(w) = c.worker(&name) {
                    w.signal("CONT");
                }
                log.note(origin, format!("SIGCONT {name} after {:.1} s", t0.elapsed().as_secs_f64()));
            } else {
                tokio::time::sleep(Duration::from_secs_f64(secs(rng, 0.5, 2.0, 2.0))).await;
                restart(c, &name, origin, log).await;
            }
        }
        Fault::KillWorker => {
            let controller = c.view().await.and_then(|v| v.0).unwrap_or_default();
            let names: Vec<String> =
                c.workers.iter().map(|w| w.spec.name.clone()).filter(|n| *n != controller).collect();
            let name = names[rng.random_range(0..names.len())].clone();
            if let Some(w) = c.worker(&name) {
                w.kill();
            }
            log.note(origin, format!("kill -9 worker {name}"));
            tokio::time::sleep(Duration::from_secs_f64(secs(rng, 1.0, 5.0, 5.0))).await;
            restart(c, &name, origin, log).await;
        }
        Fault::KillViewserver => {
            c.vs.kill();
            log.note(origin, s("kill -9 viewserver"));
            tokio::time::sleep(Duration::from_secs_f64(secs(rng, 1.0, 3.0, 3.0))).await;
            match c.vs.restart(&c.bin) {
                Ok(()) => log.note(origin, s("viewserver restarted")),
                Err(e) => log.problems.push(format!("viewserver restart: {e}")),
            }
            if !c.wait_live(a.workers as usize, Duration::from_secs(30)).await {
                log.problems
                    .push(s("after the viewserver restart the cluster did not come back within 30 s"));
            }
        }
        Fault::DatabaseDown => {
            let hold = secs(rng, 10.0, 60.0, cap);
            if !shell(&a.db_down).await {
                log.problems.push(format!("db-down command failed: {}", a.db_down));
                return;
            }
            log.note(origin, format!("database stopped for {hold:.0} s"));
            tokio::time::sleep(Duration::from_secs_f64(hold)).await;
            if !shell(&a.db_up).await {
                log.problems.push(format!("db-up command failed: {}", a.db_up));
            }
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(60) {
                if let Ok(db) = Db::connect(db_url).await
                    && sqlx::query("SELECT 1").fetch_one(db.pool()).await.is_ok()
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            log.note(origin, s("database started"));
        }
        Fault::BlindWorker => {
            let Some(fw) = fw else { return };
            let i = rng.random_range(0..c.workers.len());
            let name = c.workers[i].spec.name.clone();
            let Some(&uid) = uids.get(i) else { return };
            let hold = secs(rng, 15.0, 40.0, cap);
            if !fw.blind(uid) {
                log.problems.push(format!("nft refused to blind {name}"));
                return;
            }
            log.note(origin, format!("worker {name} blinded from the targets for {hold:.0} s"));
            tokio::time::sleep(Duration::from_secs_f64(hold)).await;
            fw.unblind();
            log.note(origin, format!("worker {name} sees the targets again"));
        }
        Fault::ReceiverDown => {
            let hold = secs(rng, 10.0, 40.0, cap);
            receiver.down();
            log.note(origin, format!("webhook receiver down for {hold:.0} s"));
            tokio::time::sleep(Duration::from_secs_f64(hold)).await;
            if let Err(e) = receiver.up().await {
                log.problems.push(format!("receiver could not listen again: {e}"));
            }
            log.note(origin, s("webhook receiver up"));
        }
    }
}

async fn restart(c: &mut Cluster, name: &str, origin: &Origin, log: &mut Log) {
    let bin = c.bin.clone();
    let r = match c.worker(name) {
        Some(w) => w.restart(&bin),
        None => return,
    };
    match r {
        Ok(()) => log.note(origin, format!("{name} restarted")),
        Err(e) => log.problems.push(format!("restart {name}: {e}")),
    }
}

/// True once every check is online, nothing waits in the outbox, and every committed flip
/// has been received.
async fn quiet(db: &Db, receiver: &Receiver) -> Result<bool, sqlx::Error> {
    let offline =
        sqlx::query("SELECT COUNT(*) FROM checks WHERE status = 'offline'").fetch_one(db.pool()).await?;
    let pending =
        sqlx::query("SELECT COUNT(*) FROM bearmon_outbox WHERE state <> 'sent'").fetch_one(db.pool()).await?;
    let events = sqlx::query("SELECT event_id FROM bearmon_flips").fetch_all(db.pool()).await?;
    let got: std::collections::HashSet<i64> =
        receiver.notes.lock().unwrap().iter().map(|n| n.event_id).collect();
    let all_notified = events.iter().all(|r| got.contains(&int(r, 0)));
    Ok(int(&offline, 0) == 0 && int(&pending, 0) == 0 && all_notified)
}

async fn exec(db: &Db, sql: &str) -> Result<(), String> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(db.pool())
        .await
        .map(|_| ())
        .map_err(|e| format!("{sql}: {e}"))
}

async fn shell(cmd: &str) -> bool {
    tokio::process::Command::new("bash").args(["-c", cmd]).status().await.is_ok_and(|s| s.success())
}

async fn free_port() -> Result<u16, String> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}

fn fmt_counts(m: &BTreeMap<Fault, usize>) -> String {
    m.iter()
        .map(|(k, n)| {
            format!(
                "{}×{n}",
                serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn fmt_s(v: Option<f64>) -> String {
    v.map_or_else(|| s("-"), |x| format!("{x:.2}"))
}
