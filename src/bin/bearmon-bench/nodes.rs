//! The cluster under test as processes of the real `bearmon` binary: starting the
//! viewserver and the workers (each node's log in a temporary directory), waiting until
//! every check is assigned, and `--failover`'s `kill -9` of the controller. A node is
//! killed when its [`Proc`] is dropped, so no run leaves processes behind.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::options::Args;

pub struct Proc {
    pub role: String,
    pub child: Child,
    pub url: String,
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

pub fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("bearmon-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    eprintln!("node logs in {}", d.display());
    d
}

/// Starts the viewserver and `--workers` workers on `db_url`, with the node timing under
/// test written to `dir`.
pub fn start(a: &Args, dir: &std::path::Path, db_url: &str) -> (Proc, Vec<Proc>) {
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
    // The workers' file: the timing, and `[metrics]` under `--per-check-metrics`.
    let worker_toml = dir.join("worker.toml");
    let metrics = if a.per_check_metrics { "[metrics]\nper_check = true\n" } else { "" };
    let timing_text = std::fs::read_to_string(&timing).unwrap();
    std::fs::write(&worker_toml, format!("{timing_text}{metrics}")).unwrap();
    let worker_config = [s("--config"), worker_toml.display().to_string()];
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
            db_url.to_string(),
            s("--confirmations"),
            a.confirmations.to_string(),
        ];
        let args = [&args[..], &worker_config[..]].concat();
        workers.push(spawn(&a.bin, &format!("w{i}"), &args, &dir.join(format!("w{i}.log"))));
    }
    (vs, workers)
}

/// Waits (up to 180 s) until `total` checks are assigned; the controller's name.
pub async fn wait_assigned(vs_url: &str, total: usize) -> String {
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

/// `--failover` under load: `kill -9` of the controller, then seconds until a new one (a
/// higher term, another worker) answers `/api/checks`; null when none did within 60 s.
pub async fn failover(vs_url: &str, workers: &mut [Proc], controller: &str) -> Value {
    let mut failover_s = Value::Null;
    if let Some(p) = workers.iter_mut().find(|p| p.role == controller) {
        let old_term = reqwest::get(format!("{vs_url}/api/cluster")).await.ok();
        let old_term = match old_term {
            Some(r) => r.json::<Value>().await.unwrap_or_default()["term"].as_u64().unwrap_or(0),
            None => 0,
        };
        let _ = p.child.kill();
        let killed = Instant::now();
        while killed.elapsed() < Duration::from_secs(60) {
            let v: Value = match reqwest::get(format!("{vs_url}/api/cluster")).await {
                Ok(r) => r.json().await.unwrap_or_default(),
                Err(_) => Value::Null,
            };
            let moved =
                v["term"].as_u64().unwrap_or(0) > old_term && v["controller"].as_str() != Some(controller);
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
    failover_s
}
