//! The cluster under test: a viewserver and the workers as processes of a copy of the
//! `bearmon` binary that the per-worker users can run, with their config files, and the
//! viewserver's view of them (controller, term, live workers) that the faults wait on.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::options::{Args, DEAD_AFTER_SECS, SECRET};
use crate::procs::{Proc, Spec};
use crate::s;

/// The cluster under test.
pub struct Cluster {
    pub bin: PathBuf,
    pub vs: Proc,
    pub vs_url: String,
    pub workers: Vec<Proc>,
    pub http: reqwest::Client,
}

impl Cluster {
    /// The viewserver's view: (controller, term), `None` while it does not answer.
    pub async fn view(&self) -> Option<(Option<String>, u64)> {
        let r = self.http.get(format!("{}/api/cluster", self.vs_url)).send().await.ok()?;
        let v: Value = r.json().await.ok()?;
        Some((v["controller"].as_str().map(str::to_string), v["term"].as_u64().unwrap_or(0)))
    }

    pub async fn live(&self) -> usize {
        let Ok(r) = self.http.get(format!("{}/api/cluster", self.vs_url)).send().await else { return 0 };
        r.json::<Value>().await.ok().and_then(|v| v["workers_live"].as_u64()).unwrap_or(0) as usize
    }

    pub fn worker(&mut self, name: &str) -> Option<&mut Proc> {
        self.workers.iter_mut().find(|w| w.spec.name == name)
    }

    /// Waits for a controller with a term above `above` other than `not`; seconds taken.
    pub async fn new_controller(
        &self,
        above: u64,
        not: &str,
        since: Instant,
        limit: Duration,
    ) -> Option<f64> {
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

    pub async fn wait_live(&self, n: usize, limit: Duration) -> bool {
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

/// Starts the viewserver and `--workers` workers (worker `i` as `uids[i - 1]` when there
/// is one), logging to `logs`; the binary and the config files go to a directory of their
/// own, returned so it can be removed after a passing run.
pub async fn start(a: &Args, logs: &Path, uids: &[u32], db_url: &str) -> Result<(PathBuf, Cluster), String> {
    // Files the workers' users can read: the binary and the config.
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
                    db_url.to_string(),
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
    let cluster = Cluster { bin: bin.clone(), vs, vs_url, workers, http };
    Ok((share, cluster))
}

async fn free_port() -> Result<u16, String> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Whether the harness runs as root (per-worker users and the firewall need it).
pub fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}
