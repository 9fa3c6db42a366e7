//! `dns` checks against a real dnsmasq (Debian's dnsmasq-base) started on loopback.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bearmon::check::Verdict;
use common::probe;

/// A dnsmasq serving a small `bm.test` zone; killed on drop.
struct Dnsmasq {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free for both TCP and UDP on 127.0.0.1 (dnsmasq listens on both).
fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

async fn dnsmasq() -> Option<Dnsmasq> {
    if Command::new("dnsmasq").arg("--version").output().is_err() {
        assert!(!common::servers_required(), "dnsmasq is not installed but scripts/test.sh requires it");
        eprintln!("skipped: dnsmasq is not installed (run scripts/test.sh)");
        return None;
    }
    // The port can be taken between the probe and dnsmasq's bind: then it exits, and we
    // try another.
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--user=root",
                "--host-record=a.bm.test,10.1.2.3,fd00::3",
                "--cname=www.bm.test,a.bm.test",
                "--mx-host=bm.test,mail.bm.test,10",
                "--txt-record=bm.test,v=spf1 -all",
                "--local=/bm.test/",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--pid-file={}/dnsmasq.pid", dir.path().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start dnsmasq");
        let mut server = Dnsmasq { child, port, _dir: dir };
        // Ready when it answers.
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if query(&server, "a.bm.test", "a", "").await.verdict == Verdict::Online {
                return Some(server);
            }
            if server.child.try_wait().ok().flatten().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("dnsmasq did not start and answer in 5 attempts");
}

async fn query(s: &Dnsmasq, name: &str, rtype: &str, expect: &str) -> bearmon::check::Outcome {
    let data = serde_json::json!({"server": format!("127.0.0.1:{}", s.port), "name": name, "type": rtype,
        "expect": expect, "timeout": 3});
    probe("dns", &data.to_string()).await
}

#[tokio::test]
async fn record_types_match_and_mismatch() {
    let Some(s) = dnsmasq().await else { return };
    for (name, rtype, expect) in [
        ("a.bm.test", "A", "10.1.2.3"),
        ("a.bm.test", "aaaa", "fd00::3"),
        ("www.bm.test", "cname", "a.bm.test"),
        ("bm.test", "MX", "mail.bm.test"),
        ("bm.test", "txt", "v=spf1"),
        ("bm.test", "spf", "v=spf1 -all"),
        // gobearmon users matched miekg's tab-separated presentation form.
        ("a.bm.test", "a", "IN\tA\t10.1.2.3"),
    ] {
        let out = query(&s, name, rtype, expect).await;
        assert_eq!(out.verdict, Verdict::Online, "{rtype} {name} expecting {expect}: {out:?}");
    }
    let out = query(&s, "a.bm.test", "a", "10.9.9.9").await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert!(
        out.message.starts_with("query answer does not contain expected string (answer is "),
        "{}",
        out.message
    );
    assert!(
        out.message.contains("10.1.2.3") && out.message.ends_with("expected 10.9.9.9)"),
        "{}",
        out.message
    );
}

#[tokio::test]
async fn nxdomain_and_empty_answers_are_offline() {
    let Some(s) = dnsmasq().await else { return };
    let out = query(&s, "nope.bm.test", "a", "").await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert!(out.message.contains("NXDOMAIN"), "{}", out.message);
    let out = query(&s, "a.bm.test", "mx", "").await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert_eq!(out.message, "query returned no results");
}

#[tokio::test]
async fn a_server_that_does_not_answer_hits_the_deadline() {
    common::init();
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = Instant::now();
    let data = serde_json::json!({"server": format!("127.0.0.1:{port}"), "name": "a.bm.test", "type": "a", "timeout": 3});
    let out = probe("dns", &data.to_string()).await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    drop(silent);
}
