//! `ssl_expire` against real TLS servers with certificates made by rcgen.

mod common;

use std::time::Duration;

use bearmon::check::Verdict;
use common::{probe, tls_acceptor};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A TLS server whose certificate expires in `days`; reports each connection's end.
async fn tls_server(days: i64) -> (u16, mpsc::UnboundedReceiver<&'static str>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let acceptor = tls_acceptor(days);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else { return };
                let mut buf = [0u8; 64];
                let end = match tokio::time::timeout(Duration::from_secs(30), tls.read(&mut buf)).await {
                    Ok(Ok(0)) => "closed",
                    Ok(Ok(_)) => "data",
                    Ok(Err(_)) => "closed",
                    Err(_) => "left open",
                };
                let _ = tx.send(end);
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn expiring_soon_is_offline_and_far_is_online() {
    let (soon, mut soon_end) = tls_server(5).await;
    let out = probe("ssl_expire", &format!(r#"{{"address":"localhost:{soon}","days":10}}"#)).await;
    assert_eq!(out.verdict, Verdict::Offline, "{out:?}");
    // 5 days from the moment the certificate was made, truncated to whole days as gobearmon did.
    assert!(
        ["certificate (bearmon test) expires in 4 days", "certificate (bearmon test) expires in 5 days"]
            .contains(&out.message.as_str()),
        "{}",
        out.message
    );

    let (far, mut far_end) = tls_server(60).await;
    let out = probe("ssl_expire", &format!(r#"{{"address":"127.0.0.1:{far}","days":10}}"#)).await;
    assert_eq!(out.verdict, Verdict::Online, "{out:?}");

    // Both connections were closed by the check (gobearmon leaked them).
    for end in [&mut soon_end, &mut far_end] {
        let got = tokio::time::timeout(Duration::from_secs(5), end.recv()).await.expect("connection ended");
        assert_eq!(got, Some("closed"));
    }
}

#[tokio::test]
async fn verify_rejects_an_untrusted_chain() {
    let (port, _) = tls_server(60).await;
    let out =
        probe("ssl_expire", &format!(r#"{{"address":"localhost:{port}","days":10,"verify":true}}"#)).await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert!(out.message.contains("TLS handshake failed"), "{}", out.message);
}

#[tokio::test]
async fn a_plain_tcp_server_is_offline() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            drop(s);
        }
    });
    let out =
        probe("ssl_expire", &format!(r#"{{"address":"127.0.0.1:{port}","days":10,"timeout":3}}"#)).await;
    assert_eq!(out.verdict, Verdict::Offline, "{out:?}");
}
