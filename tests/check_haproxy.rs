//! The `haproxy` check kind and `bearmon haproxy-report` against two real HAProxy
//! processes (Debian's `haproxy`, run in the foreground by the test), each with its own
//! admin socket and stats page, balancing over loopback HTTP servers the test starts and
//! stops. The Graphite and statsd receivers are the test's own sockets.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bearmon::check::{Outcome, Verdict};
use common::probe;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

const HAPROXY: &str = "/usr/sbin/haproxy";

/// A port the kernel just handed out (bound to port 0, then released for HAProxy).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A loopback HTTP server answering 200 to everything; dropping it (or `stop`) closes
/// its port, which HAProxy's health check then sees refused.
struct Backend {
    port: u16,
    task: Option<JoinHandle<()>>,
}

impl Backend {
    async fn start() -> Backend {
        let mut b = Backend { port: 0, task: None };
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        b.port = l.local_addr().unwrap().port();
        b.task = Some(tokio::spawn(serve(l)));
        b
    }

    fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    async fn restart(&mut self) {
        let l = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.task = Some(tokio::spawn(serve(l)));
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(l: TcpListener) {
    loop {
        let Ok((mut s, _)) = l.accept().await else { return };
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
            let _ = s.shutdown().await;
        });
    }
}

/// One HAProxy process in the foreground (`-db`), killed and reaped on drop, also when
/// the test fails.
struct Haproxy {
    child: Child,
    socket: PathBuf,
    stats_port: u16,
    front_port: u16,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    async fn start(n: usize, servers: &[&Backend]) -> Haproxy {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join(format!("admin{n}.sock"));
        let stats_port = free_port();
        let front_port = free_port();
        let mut cfg = format!(
            "global\n    stats socket {} mode 600 level admin\n\
             defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             listen stats\n    bind 127.0.0.1:{stats_port}\n    stats enable\n    stats uri /stats\n\
             frontend web\n    bind 127.0.0.1:{front_port}\n    default_backend app\n\
             backend app\n    option httpchk GET /\n",
            socket.display()
        );
        for (i, b) in servers.iter().enumerate() {
            cfg += &format!("    server s{} 127.0.0.1:{} check inter 200ms fall 1 rise 1\n", i + 1, b.port);
        }
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, cfg).unwrap();
        let child = Command::new(HAPROXY)
            .arg("-f")
            .arg(&path)
            .arg("-db")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("haproxy (apt-get install haproxy; scripts/services.sh installs it)");
        let h = Haproxy { child, socket, stats_port, front_port, _dir: dir };
        let until = Instant::now() + Duration::from_secs(10);
        while !h.socket.exists() || std::os::unix::net::UnixStream::connect(&h.socket).is_err() {
            assert!(Instant::now() < until, "haproxy {n} did not open its socket");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        h
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sockets_data(hs: &[&Haproxy], extra: serde_json::Value) -> String {
    let mut v =
        serde_json::json!({"sockets": hs.iter().map(|h| h.socket.display().to_string()).collect::<Vec<_>>()});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v.to_string()
}

/// Runs the check until `want` (HAProxy's health checks take a few hundred ms to notice).
async fn until(data: &str, want: Verdict) -> Outcome {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let out = probe("haproxy", data).await;
        if out.verdict == want || Instant::now() > end {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn check_follows_the_pool() {
    let (mut b1, mut b2) = (Backend::start().await, Backend::start().await);
    let h1 = Haproxy::start(1, &[&b1, &b2]).await;
    let h2 = Haproxy::start(2, &[&b1, &b2]).await;
    let both = sockets_data(&[&h1, &h2], serde_json::json!({"backends": ["app"]}));

    let out = until(&both, Verdict::Online).await;
    assert_eq!(out.verdict, Verdict::Online, "{out:?}");
    assert_eq!(out.message, "backend app: 2 of 2 servers up", "{out:?}");
    let perf = out.perfdata.as_deref().unwrap_or_default();
    for label in ["app/s1/scur", "app/s2/scur", "app/BACKEND/scur", "web/FRONTEND/scur", "app/s1/stot"] {
        assert!(perf.iter().any(|p| p.label == label), "{label} in {perf:?}");
    }

    // The stats page's CSV, with a password that never shows.
    let url = format!("http://127.0.0.1:{}/stats;csv", h1.stats_port);
    let data = serde_json::json!({"url": url, "username": "u", "password": "pw-hidden-1"}).to_string();
    let out = probe("haproxy", &data).await;
    assert_eq!((out.verdict, out.message.as_str()), (Verdict::Online, "backend app: 2 of 2 servers up"));
    assert!(!bearmon::check::Redacted::new(&data).data(&data).contains("pw-hidden-1"));

    b1.stop();
    b2.stop();
    let out = until(&both, Verdict::Offline).await;
    assert_eq!(out.verdict, Verdict::Offline, "{out:?}");
    assert!(out.message.starts_with("backend app: 0 of 2 servers up (s1 DOWN"), "{}", out.message);
    assert!(out.message.contains("s2 DOWN"), "{}", out.message);
    let any = sockets_data(&[&h1], serde_json::json!({}));
    assert_eq!(probe("haproxy", &any).await.verdict, Verdict::Offline, "every backend by default");

    b2.restart().await;
    let out = until(&both, Verdict::Online).await;
    assert_eq!((out.verdict, out.message.as_str()), (Verdict::Online, "backend app: 1 of 2 servers up"));
    let named = sockets_data(&[&h1, &h2], serde_json::json!({"servers": ["app/s1"]}));
    let out = probe("haproxy", &named).await;
    assert_eq!(out.verdict, Verdict::Offline, "{out:?}");
    assert!(out.message.contains("server app/s1: DOWN"), "{}", out.message);

    let gone = sockets_data(&[&h1], serde_json::json!({"sockets": ["/nonexistent/admin9.sock"]}));
    let out = probe("haproxy", &gone).await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert!(out.message.contains("/nonexistent/admin9.sock"), "{}", out.message);
    let closed =
        serde_json::json!({"url": format!("http://127.0.0.1:{}/stats;csv", free_port())}).to_string();
    let out = probe("haproxy", &closed).await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert!(out.message.contains("/stats;csv"), "{}", out.message);
}

/// Runs `bearmon haproxy-report ARGS`; (exit success, stdout, stderr).
async fn report(args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_bearmon"))
        .arg("haproxy-report")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// Every line that arrives on `socket` until it has been quiet for a moment.
async fn udp_lines(socket: &UdpSocket) -> Vec<String> {
    let mut lines = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(500), socket.recv(&mut buf)).await {
        lines.extend(String::from_utf8_lossy(&buf[..n]).lines().map(str::to_string));
    }
    lines
}

fn path_of(p: &Path) -> String {
    p.display().to_string()
}

#[tokio::test]
async fn report_sends_graphite_and_statsd() {
    let (b1, b2) = (Backend::start().await, Backend::start().await);
    let h1 = Haproxy::start(1, &[&b1, &b2]).await;
    let h2 = Haproxy::start(2, &[&b1, &b2]).await;
    until(&sockets_data(&[&h1, &h2], serde_json::json!({})), Verdict::Online).await;
    let (s1, s2) = (path_of(&h1.socket), path_of(&h2.socket));

    // `bearmon probe` knows the kind.
    let data = sockets_data(&[&h1], serde_json::json!({"backends": ["app"]}));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_bearmon"))
        .args(["probe", "--type", "haproxy", "--data", &data])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("backend app: 2 of 2 servers up"), "{stdout}");

    // One request through the first process only: the processes' counters differ.
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", h1.front_port)).await.unwrap();
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");

    // Graphite over UDP.
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let backend = format!("{}::hap.test", udp.local_addr().unwrap());
    let (ok, stdout, stderr) =
        report(&["--backend", &backend, "--type", "G", "--sockets", &s1, &s2, "--verbose"]).await;
    assert!(ok, "{stderr}");
    let lines = udp_lines(&udp).await;
    let scur: Vec<&String> = lines.iter().filter(|l| l.starts_with("hap.test.app.s1.scur ")).collect();
    assert_eq!(scur.len(), 1, "{lines:?}");
    let parts: Vec<&str> = scur[0].split(' ').collect();
    assert_eq!(parts.len(), 3, "{}", scur[0]);
    assert!(parts[1].parse::<f64>().is_ok() && parts[2].parse::<u64>().is_ok(), "{}", scur[0]);
    for path in [
        "hap.test.app.s2.scur ",
        "hap.test.app.s1.status.UP 1 ",
        "hap.test.app.BACKEND.stot ",
        "hap.test.web.FRONTEND.scur ",
    ] {
        assert!(lines.iter().any(|l| l.starts_with(path)), "{path} in {lines:?}");
    }
    assert!(stdout.lines().any(|l| l.starts_with("hap.test.app.s1.scur ")), "--verbose prints: {stdout}");
    // Merged (summed) and, as the processes differ, each process's own.
    let value = |path: &str| -> f64 {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{path} ")))
            .unwrap_or_else(|| panic!("{path} in {lines:?}"));
        line.split(' ').nth(1).unwrap().parse().unwrap()
    };
    let (p1, p2) = (value("hap.test.proc1.app.BACKEND.stot"), value("hap.test.proc2.app.BACKEND.stot"));
    assert_eq!((p1, p2), (1.0, 0.0));
    assert_eq!(value("hap.test.app.BACKEND.stot"), p1 + p2);

    // Graphite over TCP.
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = format!("{}::hap.test", tcp.local_addr().unwrap());
    let accept = tokio::spawn(async move {
        let (mut s, _) = tcp.accept().await.unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).await.unwrap();
        text
    });
    let (ok, _, stderr) =
        report(&["--backend", &backend, "--type", "G", "--tcp", "--sockets", &s1, &s2]).await;
    assert!(ok, "{stderr}");
    let text = tokio::time::timeout(Duration::from_secs(10), accept).await.unwrap().unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("hap.test.app.s2.scur ") && l.split(' ').count() == 3),
        "{text}"
    );

    // statsd.
    let (ok, _, stderr) =
        report(&["--backend", &udp.local_addr().unwrap().to_string(), "--type", "S", "--sockets", &s1]).await;
    assert!(ok, "{stderr}");
    let lines = udp_lines(&udp).await;
    assert!(lines.iter().any(|l| l.starts_with("haproxy.app.s1.scur:") && l.ends_with("|g")), "{lines:?}");
    assert!(lines.iter().all(|l| !l.contains(".proc")), "one socket: no per-process paths");

    // What cannot be reached is an error.
    let (ok, _, stderr) =
        report(&["--backend", &backend, "--type", "G", "--sockets", &s1, "/nonexistent/admin9.sock"]).await;
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/admin9.sock"), "{stderr}");
    let closed = format!("127.0.0.1:{}", free_port());
    let (ok, _, stderr) = report(&["--backend", &closed, "--type", "G", "--tcp", "--sockets", &s1]).await;
    assert!(!ok);
    assert!(stderr.contains(&closed), "{stderr}");
}
