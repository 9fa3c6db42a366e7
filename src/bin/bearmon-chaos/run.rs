//! One chaos run from seed to verdict: draws the timelines, sets up the database, the
//! target farm, the receiver and the cluster, injects faults for `--minutes`, waits for the
//! cluster to settle, then judges what was committed and notified against the oracle.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bearmon::db::Db;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::cluster::{self, nix_is_root};
use crate::database::{self, quiet};
use crate::farm::{self, Origin, Receiver};
use crate::faults::{Fault, Firewall, Plan, secs};
use crate::inject::inject;
use crate::options::Args;
use crate::oracle::{self, Timeline};
use crate::procs;
use crate::report::{self, Log, Outcome};
use crate::s;

/// The run of `seed`: Ok(true) when every invariant held, Err when the harness itself
/// could not run.
pub async fn run(a: &Args, seed: u64) -> Result<bool, String> {
    let window_ms = (a.minutes * 60_000.0) as i64;
    let mut rng = StdRng::seed_from_u64(seed);
    let timelines: Arc<Vec<Timeline>> = Arc::new(
        (0..a.checks).map(|_| Timeline::draw(&mut rng, a.interval * 1000, a.delay, window_ms)).collect(),
    );
    let mut fault_rng = StdRng::seed_from_u64(seed ^ 0x0063_6861_6f73);

    // The database of this run.
    let (backend_name, db_url) = database::create(a).await?;
    let db = Db::connect(&db_url).await.map_err(|e| format!("connect: {e}"))?;
    bearmon::db::migrate(&db).await.map_err(|e| format!("migrate: {e}"))?;

    let origin = Origin::default();
    let farm_port =
        farm::start_farm(origin.clone(), timelines.clone()).await.map_err(|e| format!("farm: {e}"))?;
    let mut receiver = Receiver::start().await.map_err(|e| format!("receiver: {e}"))?;

    // Checks, one webhook contact, an alert per check.
    let index_of = database::load(&db, a, farm_port, receiver.port).await?;

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

    // The nodes' logs, then the cluster.
    let logs = a.logs.join(seed.to_string());
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let (share, mut cluster) = cluster::start(a, &logs, &uids, &db_url).await?;
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
    let flips = database::flips(&db, &index_of, origin_unix).await?;
    let events = database::count_events(&db).await;
    if events != flips.len() as i64 {
        log.problems.push(format!("check_events has {events} rows but bearmon_flips {}", flips.len()));
    }
    let notes = receiver.notes.lock().unwrap().clone();
    let v = oracle::judge(&timelines, &flips, &notes);
    let refused: usize =
        cluster.workers.iter().map(|w| procs::count_in_log(&w.spec.log, "stepping down")).sum();
    let outcome =
        Outcome { seed, backend: backend_name, verdict: v, flips: flips.len(), refused, settled, settle };
    let ok = report::report(a, &outcome, &log);
    if ok {
        let _ = std::fs::remove_dir_all(&share);
    } else {
        println!("chaos: node logs kept in {}", logs.display());
    }
    drop(cluster);
    Ok(ok)
}
