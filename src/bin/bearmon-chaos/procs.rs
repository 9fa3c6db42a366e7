//! The cluster's processes: the real `bearmon` binary, one process per node, each worker
//! under a user of its own (so a firewall rule on its uid can blind it), logs appended to a
//! file per node across restarts, and every process killed when the harness ends.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How to start one node again after it was killed.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    pub args: Vec<String>,
    /// Run under this uid/gid (root only).
    pub uid: Option<u32>,
    pub log: PathBuf,
}

pub struct Proc {
    pub spec: Spec,
    child: Option<Child>,
    pub stopped: bool,
}

impl Proc {
    /// Starts the node and waits (up to 30 s) for its "listening on" line.
    pub fn start(bin: &Path, spec: Spec) -> Result<Proc, String> {
        let mut cmd = Command::new(bin);
        cmd.args(&spec.args)
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(uid) = spec.uid {
            cmd.uid(uid).gid(uid);
        }
        let mut child = cmd.spawn().map_err(|e| format!("start {}: {e}", spec.name))?;
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .map_err(|e| format!("{}: {e}", spec.log.display()))?;
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on ") {
                    let _ = tx.send(());
                }
                let _ = writeln!(file, "{line}");
            }
        });
        let mut p = Proc { spec, child: Some(child), stopped: false };
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            p.kill();
            return Err(format!("{} did not start; see {}", p.spec.name, p.spec.log.display()));
        }
        Ok(p)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn signal(&mut self, sig: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status();
            self.stopped = sig == "STOP";
        }
    }

    /// `kill -9` and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.stopped = false;
    }

    /// Restarts a killed node with the same arguments.
    pub fn restart(&mut self, bin: &Path) -> Result<(), String> {
        self.kill();
        let fresh = Proc::start(bin, self.spec.clone())?;
        *self = fresh;
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.stopped {
            self.signal("CONT");
        }
        self.kill();
    }
}

/// Makes (or reuses) a system user per worker; their uids.
pub fn worker_users(n: usize) -> Result<Vec<u32>, String> {
    (1..=n)
        .map(|i| {
            let name = format!("bmchaos{i}");
            if uid_of(&name).is_none() {
                let ok = Command::new("useradd")
                    .args([
                        "--system",
                        "--no-create-home",
                        "--user-group",
                        "--shell",
                        "/usr/sbin/nologin",
                        &name,
                    ])
                    .status()
                    .map_err(|e| format!("useradd: {e}"))?;
                if !ok.success() {
                    return Err(format!("useradd {name} failed"));
                }
            }
            uid_of(&name).ok_or_else(|| format!("no uid for {name}"))
        })
        .collect()
}

fn uid_of(name: &str) -> Option<u32> {
    let out = Command::new("id").args(["-u", name]).stderr(Stdio::null()).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Counts the lines of a node's log that contain `needle`.
pub fn count_in_log(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path).map(|s| s.lines().filter(|l| l.contains(needle)).count()).unwrap_or(0)
}
