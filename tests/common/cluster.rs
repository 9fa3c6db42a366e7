//! Real clusters for tests: the `bearmon` binary started as separate processes on loopback,
//! each killed (SIGKILL) when its handle drops, also when a test fails.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::net::TcpListener;

pub const SECRET: &str = "test-cluster-secret";

/// Fast timings so failover tests take seconds.
pub const TIMING: &str =
    "[timing]\nheartbeat_secs = 0.3\ndead_after_secs = 1.5\ndb_poll_secs = 0.5\nresult_flush_secs = 0.1\n";

/// One running `bearmon` process and everything it logged.
pub struct Node {
    pub name: String,
    child: Child,
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
    args: Vec<String>,
}

impl Node {
    /// Starts `bearmon ARGS` and waits for its "listening on URL" line.
    pub fn start(name: &str, args: &[String]) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bearmon"))
            .args(args)
            .env("RUST_LOG", "info,bearmon=debug,sqlx=warn")
            .env_remove("BEARMON_DATABASE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bearmon");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        {
            let log = log.clone();
            let stdout = child.stdout.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line);
                }
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            let name = name.to_string();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(i) = line.find("listening on ") {
                        let url = line[i + 13..].split_whitespace().next().unwrap_or("").to_string();
                        let _ = tx.send(url);
                    }
                    if line.contains(" WARN ") || line.contains(" ERROR ") || line.contains(" INFO ") {
                        eprintln!("[{name}] {line}");
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let url = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                panic!("{name} did not start listening: {:?}", log.lock().unwrap());
            }
        };
        Node { name: name.to_string(), child, url, log, args: args.to_vec() }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([&format!("-{sig}"), &self.pid().to_string()]).status().unwrap();
        assert!(ok.success(), "kill -{sig} {}", self.name);
    }

    /// Waits up to `limit` for the process to exit; its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn args(&self) -> &[String] {
        &self.args
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A stopped process must be continued to die promptly from SIGKILL's reaping view.
        let _ =
            Command::new("kill").args(["-CONT", &self.child.id().to_string()]).stderr(Stdio::null()).status();
        self.kill();
    }
}

/// A scratch directory with the timing config.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new(extra: &str) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("node.toml"), format!("{extra}\n{TIMING}")).unwrap();
        Scratch { dir }
    }
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("node.toml")
    }
    pub fn vs_config(&self) -> PathBuf {
        self.dir.path().join("viewserver.toml")
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn s(v: &str) -> String {
    v.to_string()
}

pub fn viewserver_args(config: &Path, listen: &str) -> Vec<String> {
    vec![
        s("viewserver"),
        s("--listen"),
        s(listen),
        s("--secret"),
        s(SECRET),
        s("--config"),
        config.display().to_string(),
    ]
}

pub fn worker_args(
    config: &Path,
    name: &str,
    vs: &str,
    db: Option<&str>,
    confirmations: usize,
) -> Vec<String> {
    let mut a = vec![
        s("worker"),
        s("--name"),
        s(name),
        s("--listen"),
        s("127.0.0.1:0"),
        s("--viewserver"),
        s(vs),
        s("--secret"),
        s(SECRET),
        s("--confirmations"),
        confirmations.to_string(),
        s("--config"),
        config.display().to_string(),
    ];
    if let Some(db) = db {
        a.extend([s("--database"), s(db)]);
    }
    a
}

/// A viewserver plus workers.
pub struct Cluster {
    pub scratch: Scratch,
    pub vs: Node,
    pub workers: Vec<Node>,
    pub db_url: String,
    pub confirmations: usize,
}

impl Cluster {
    /// `names` with a database (controller candidates), `probe_only` without.
    pub fn start(db_url: &str, names: &[&str], probe_only: &[&str], confirmations: usize) -> Cluster {
        Self::start_with(db_url, names, probe_only, confirmations, "", "")
    }

    /// As [`Cluster::start`], with extra TOML for the workers' and the viewserver's configs.
    pub fn start_with(
        db_url: &str,
        names: &[&str],
        probe_only: &[&str],
        confirmations: usize,
        worker_extra: &str,
        vs_extra: &str,
    ) -> Cluster {
        let scratch = Scratch::new(worker_extra);
        std::fs::write(scratch.vs_config(), format!("{vs_extra}\n{TIMING}")).unwrap();
        let vs = Node::start("viewserver", &viewserver_args(&scratch.vs_config(), "127.0.0.1:0"));
        let mut workers = Vec::new();
        for n in names {
            workers.push(Node::start(
                n,
                &worker_args(&scratch.config(), n, &vs.url, Some(db_url), confirmations),
            ));
        }
        for n in probe_only {
            workers.push(Node::start(n, &worker_args(&scratch.config(), n, &vs.url, None, confirmations)));
        }
        Cluster { scratch, vs, workers, db_url: db_url.to_string(), confirmations }
    }

    /// Every node's log, for checking what was never logged.
    pub fn all_logs(&self) -> String {
        let mut s = self.vs.log_text();
        for w in &self.workers {
            s.push_str(&w.log_text());
        }
        s
    }

    pub fn worker(&mut self, name: &str) -> &mut Node {
        self.workers.iter_mut().find(|w| w.name == name).unwrap()
    }

    /// Restarts the viewserver on the same address.
    pub fn restart_viewserver(&mut self) {
        self.vs.kill();
        let addr = self.vs.url.trim_start_matches("http://").to_string();
        let args = viewserver_args(&self.scratch.vs_config(), &addr);
        self.vs = Node::start("viewserver", &args);
    }

    pub async fn cluster(&self) -> Value {
        get_json(&format!("{}/api/cluster", self.vs.url)).await.unwrap_or(Value::Null)
    }

    /// Waits until a controller serves and every listed worker is alive; returns its name.
    pub async fn wait_ready(&self, workers: usize) -> String {
        let found = wait_for(Duration::from_secs(20), || async {
            let c = self.cluster().await;
            let live = c["workers_live"].as_u64().unwrap_or(0) as usize;
            let name = c["controller"].as_str()?.to_string();
            let checks = get_json(&format!("{}/api/checks", self.vs.url)).await?;
            (live >= workers && checks["checks"].is_array()).then_some(name)
        })
        .await;
        match found {
            Some(name) => name,
            None => panic!("cluster not ready within 20 s: {}", self.cluster().await),
        }
    }

    /// The check's entry in `/api/checks`, asked of the viewserver.
    pub async fn check(&self, id: i64) -> Option<Value> {
        let all = get_json(&format!("{}/api/checks", self.vs.url)).await?;
        all["checks"].as_array()?.iter().find(|c| c["id"] == id).cloned()
    }
}

pub async fn get_json(url: &str) -> Option<Value> {
    let resp = reqwest::Client::new().get(url).timeout(Duration::from_secs(3)).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

/// Polls `f` every 100 ms until it gives `Some`, or `limit` passes.
pub async fn wait_for<T, F, Fut>(limit: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A TCP service a `tcp` check watches, that the test stops and starts on one port.
pub struct Target {
    pub port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Target {
    pub async fn up() -> Target {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let mut t = Target { port, task: None };
        t.serve(l);
        t
    }

    fn serve(&mut self, l: TcpListener) {
        self.task = Some(tokio::spawn(async move {
            while let Ok((conn, _)) = l.accept().await {
                drop(conn);
            }
        }));
    }

    /// Closes the port: connections are refused.
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub async fn start(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => return self.serve(l),
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("rebinding port {}: {e}", self.port),
            }
        }
    }

    pub fn check_json(&self) -> String {
        format!(r#"{{"address":"127.0.0.1:{}","timeout":3}}"#, self.port)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.stop();
    }
}
