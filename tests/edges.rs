//! Bad input at the edges, for real: an oversized check row, an oversized node request, a
//! client that never finishes its headers, 10,000 connections held open. Each is refused or bounded, and the node keeps
//! serving.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use bearmon::db::Backend;
use bearmon::node::Signer;
use bearmon::node::auth::{HDR_NODE, HDR_NONCE, HDR_SIGNATURE, HDR_TIME};
use bearmon::store::Store;
use common::cluster::{Node, SECRET, Scratch, get_json, viewserver_args};

#[tokio::test(flavor = "multi_thread")]
async fn a_check_row_with_1mb_of_json_is_invalid_and_named() {
    // SQLite does not enforce gobearmon's VARCHAR(1024); MariaDB and PostgreSQL refuse it.
    let Some((db, _)) = common::fresh_db(Backend::Sqlite).await else { return };
    let pad = "a".repeat(1 << 20);
    common::exec(&db, &format!(r#"INSERT INTO checks (name, type, data) VALUES ('huge', 'http', '{{"url":"http://127.0.0.1:1/","pad":"{pad}"}}')"#)).await;
    common::exec(
        &db,
        r#"INSERT INTO checks (name, type, data) VALUES ('fine', 'tcp', '{"address":"127.0.0.1:1"}')"#,
    )
    .await;
    let snap = Store::new(db).load_all().await.unwrap();
    let huge = &snap.checks[&1];
    let e = huge.spec.as_ref().unwrap_err();
    assert_eq!((e.check_id, e.field.as_str()), (1, "data"));
    assert!(e.to_string().contains("over the 65536-byte limit"), "{e}");
    // The megabyte is not kept in memory: only its redacted start, with a note for the page.
    assert!(huge.data.len() < 1000, "{} bytes kept", huge.data.len());
    let shown: String = serde_json::from_str(&huge.data).unwrap();
    assert!(shown.contains(r#""url": "http://127.0.0.1:1/""#), "{shown}");
    assert!(shown.contains(&format!(r#""pad": "{}… (1048576 bytes)""#, "a".repeat(200))), "{shown}");
    assert!(
        shown.ends_with("\n\n(truncated: strings over 200 characters cut; the check is invalid: its data is 1048614 bytes, over the 65536-byte limit)"),
        "{shown}"
    );
    assert!(snap.checks[&2].is_valid(), "the other check is unaffected");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_100mb_node_request_is_refused_and_the_node_keeps_serving() {
    common::init();
    let scratch = Scratch::new("");
    let vs = Node::start("viewserver", &viewserver_args(&scratch.config(), "127.0.0.1:0"));
    // Signature headers that pass the checks made before the body is read (an unsigned
    // request is refused on its headers alone: tests/cluster_auth.rs).
    let s = Signer::new(SECRET).sign("w9", "POST", "/cluster/heartbeat", b"");
    let body = vec![b'x'; 100 << 20];
    let sent = reqwest::Client::new()
        .post(format!("{}/cluster/heartbeat", vs.url))
        .header(HDR_NODE, &s.node)
        .header(HDR_TIME, s.time_ms.to_string())
        .header(HDR_NONCE, &s.nonce)
        .header(HDR_SIGNATURE, &s.signature)
        .body(body)
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    match sent {
        Ok(r) => assert_eq!(r.status().as_u16(), 413),
        // The server may answer and close before the client finished sending.
        Err(e) => eprintln!("client saw: {e}"),
    }
    let logged = common::cluster::wait_for(Duration::from_secs(5), || async {
        vs.logged("node request too large").then_some(())
    })
    .await;
    assert!(logged.is_some(), "{}", vs.log_text());
    assert!(get_json(&format!("{}/api/cluster", vs.url)).await.is_some(), "the node still serves");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_finishes_its_headers_is_dropped() {
    common::init();
    let scratch = Scratch::new("");
    let vs = Node::start("viewserver", &viewserver_args(&scratch.config(), "127.0.0.1:0"));
    let addr = vs.url.trim_start_matches("http://").to_string();
    let slow = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(b"GET /api/cluster HTTP/1.1\r\nHost: x\r\n").unwrap();
        let started = Instant::now();
        // A header line every 2 s, never the blank line that ends them.
        let mut buf = [0u8; 256];
        loop {
            std::thread::sleep(Duration::from_secs(2));
            if s.write_all(b"X-Slow: 1\r\n").is_err() {
                break;
            }
            s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => break,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => break,
            }
            if started.elapsed() > Duration::from_secs(40) {
                break;
            }
        }
        started.elapsed()
    });
    // Meanwhile the node answers everyone else at once.
    for _ in 0..5 {
        let t = Instant::now();
        assert!(get_json(&format!("{}/api/cluster", vs.url)).await.is_some());
        assert!(t.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let held = tokio::task::spawn_blocking(move || slow.join().unwrap()).await.unwrap();
    assert!(held < Duration::from_secs(20), "the slow client was held for {held:?}");
}

/// The soft limit on open files of this process.
fn open_file_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_held_connections_are_bounded_and_the_node_keeps_serving() {
    common::init();
    const N: usize = 10_000;
    let limit = open_file_limit();
    assert!(limit >= 12_000, "open-file limit {limit}: run under `ulimit -n 65536` (scripts/test.sh does)");
    let scratch = Scratch::new("");
    let vs = Node::start("viewserver", &viewserver_args(&scratch.config(), "127.0.0.1:0"));
    let addr: std::net::SocketAddr = vs.url.trim_start_matches("http://").parse().unwrap();

    // One client on another loopback address opens N connections and sends nothing.
    let mut held = Vec::with_capacity(N);
    for _ in 0..N {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        match tokio::time::timeout(Duration::from_secs(5), sock.connect(addr)).await {
            Ok(Ok(s)) => held.push(s),
            other => panic!("connect {} failed: {other:?}", held.len()),
        }
    }
    // Everyone else is served at once while they are held.
    for _ in 0..10 {
        let t = Instant::now();
        assert!(get_json(&format!("{}/api/cluster", vs.url)).await.is_some(), "the node stopped serving");
        assert!(t.elapsed() < Duration::from_secs(1), "a request took {:?}", t.elapsed());
    }
    let fds = std::fs::read_dir(format!("/proc/{}/fd", vs.pid())).unwrap().count();
    assert!(fds < 1_000, "the node holds {fds} descriptors for {N} connections");

    // Closed by the node: at once beyond the per-address share, the rest at the header deadline.
    let closed = |held: &[tokio::net::TcpStream]| {
        let mut buf = [0u8; 512];
        let mut open = |s: &tokio::net::TcpStream| matches!(s.try_read(&mut buf), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock);
        held.iter().filter(|s| !open(s)).count()
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let early = closed(&held);
    assert!(early >= N - 600, "only {early} of {N} closed at once");
    let all =
        common::cluster::wait_for(Duration::from_secs(20), || async { (closed(&held) == N).then_some(()) })
            .await;
    assert!(all.is_some(), "{} of {N} still open after the header deadline", N - closed(&held));
    assert!(vs.logged("too many open connections from one address"), "{}", vs.log_text());
    assert!(get_json(&format!("{}/api/cluster", vs.url)).await.is_some());
}
