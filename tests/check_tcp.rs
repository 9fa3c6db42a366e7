//! `tcp` checks against real TCP servers on loopback.

mod common;

use std::time::{Duration, Instant};

use bearmon::check::Verdict;
use common::probe;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A server that reads one line and answers `pong <line>\n`; every received line is sent
/// to the returned channel.
async fn pong_server() -> (String, mpsc::UnboundedReceiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(s);
                let mut line = String::new();
                if r.read_line(&mut line).await.unwrap_or(0) > 0 {
                    let _ = tx.send(line.clone());
                    let _ = r.get_mut().write_all(format!("pong {line}").as_bytes()).await;
                }
            });
        }
    });
    (addr, rx)
}

fn json(v: serde_json::Value) -> String {
    v.to_string()
}

#[tokio::test]
async fn connect_only() {
    let (addr, _) = pong_server().await;
    let out = probe("tcp", &json(serde_json::json!({"address": addr}))).await;
    assert_eq!(out.verdict, Verdict::Online, "{out:?}");
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = l.local_addr().unwrap().to_string();
    drop(l);
    let out = probe("tcp", &json(serde_json::json!({"address": closed}))).await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert!(out.message.starts_with("TCP connection error"), "{}", out.message);
}

#[tokio::test]
async fn payload_and_expect_match_and_mismatch() {
    let (addr, mut rx) = pong_server().await;
    let out =
        probe("tcp", &json(serde_json::json!({"address": addr, "payload": "PING", "expect": "pong PING"})))
            .await;
    assert_eq!(out.verdict, Verdict::Online, "{out:?}");
    assert_eq!(rx.recv().await.unwrap(), "PING\n");
    let out =
        probe("tcp", &json(serde_json::json!({"address": addr, "payload": "PING", "expect": "hello"}))).await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert_eq!(out.message, "response mismatch, expected [hello] but got [pong PING]");
}

#[tokio::test]
async fn payload_is_sent_without_expect() {
    let (addr, mut rx) = pong_server().await;
    let out = probe("tcp", &json(serde_json::json!({"address": addr, "payload": "HELLO"}))).await;
    assert_eq!(out.verdict, Verdict::Online);
    let got = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await.expect("payload arrived");
    assert_eq!(got.unwrap(), "HELLO\n", "gobearmon sent nothing without expect");
}

#[tokio::test]
async fn a_server_that_never_sends_a_newline_hits_the_deadline() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (closed_tx, mut closed_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            let closed_tx = closed_tx.clone();
            tokio::spawn(async move {
                s.write_all(b"partial answer without newline").await.unwrap();
                let mut buf = [0u8; 64];
                // Hold the connection until the client goes away.
                while s.read(&mut buf).await.unwrap_or(0) > 0 {}
                let _ = closed_tx.send(());
            });
        }
    });
    let started = Instant::now();
    let out = probe("tcp", &json(serde_json::json!({"address": addr, "expect": "ok", "timeout": 3}))).await;
    let took = started.elapsed();
    assert_eq!(out.verdict, Verdict::Offline);
    assert!(out.message.contains("timed out"), "{}", out.message);
    assert!(took < Duration::from_secs(4), "the run returned after {took:?}");
    // The worker's socket is closed, not leaked.
    tokio::time::timeout(Duration::from_secs(2), closed_rx.recv()).await.expect("connection closed");
}

#[tokio::test]
async fn force_ip_6_on_an_ipv4_address_is_offline() {
    let (addr, _) = pong_server().await;
    let out = probe("tcp", &json(serde_json::json!({"address": addr, "force_ip": 6}))).await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert!(out.message.contains("no IPv6 address"), "{}", out.message);
}
