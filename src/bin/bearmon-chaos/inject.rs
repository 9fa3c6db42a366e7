//! One fault injected into the running cluster and healed again: what each kind of fault
//! does (kill, SIGSTOP, database down, blinding, receiver down), how long it holds, and
//! what it waits for before the next one (a new controller, the node restarted).

use std::time::{Duration, Instant};

use bearmon::db::Db;
use rand::Rng;
use rand::rngs::StdRng;

use crate::cluster::Cluster;
use crate::farm::{Origin, Receiver};
use crate::faults::{Fault, Firewall, secs};
use crate::options::{Args, DEAD_AFTER_SECS};
use crate::report::Log;
use crate::s;

#[allow(clippy::too_many_arguments)]
pub async fn inject(
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

async fn shell(cmd: &str) -> bool {
    tokio::process::Command::new("bash").args(["-c", cmd]).status().await.is_ok_and(|s| s.success())
}
