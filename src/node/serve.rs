//! The one HTTP server every node runs (cluster routes, API, metrics), plain or with mutual
//! TLS. Each connection is handled in its own task, so a slow TLS handshake or a client that
//! never finishes its headers holds only itself (gobearmon's viewserver had no deadlines at
//! all, bug 11): handshakes and request headers have deadlines, and the number of open
//! connections is capped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::tls::cert_names;

/// Time allowed for a TLS handshake and for a request's headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections per listening port; more are closed at once.
const MAX_CONNECTIONS: usize = 4096;
/// Open connections from one address. One client opening thousands of connections (10,000
/// in tests/edges.rs) fills only its own share, so the other nodes and the operator's
/// browser are still served while its idle connections wait out the header deadline.
const MAX_PER_PEER: usize = 512;

/// Counts open connections per peer address.
#[derive(Default)]
struct PeerSlots(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

/// One connection's place in [`PeerSlots`], given back when the connection ends.
struct PeerSlot {
    slots: Arc<PeerSlots>,
    ip: std::net::IpAddr,
}

impl PeerSlots {
    fn take(self: &Arc<Self>, ip: std::net::IpAddr) -> Option<PeerSlot> {
        let mut m = crate::util::lock(&self.0);
        let n = m.entry(ip).or_default();
        if *n >= MAX_PER_PEER {
            return None;
        }
        *n += 1;
        Some(PeerSlot { slots: self.clone(), ip })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut m = crate::util::lock(&self.slots.0);
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Refused connections, logged at most once a second with a count, so a flood of them
/// cannot flood the log too.
struct Refusals {
    count: std::sync::atomic::AtomicU64,
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Refusals {
    fn new() -> Self {
        Refusals { count: std::sync::atomic::AtomicU64::new(0), last: std::sync::Mutex::new(None) }
    }

    fn refuse(&self, addr: SocketAddr, why: &'static str, limit: usize) {
        let n = self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let mut last = crate::util::lock(&self.last);
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            *last = Some(std::time::Instant::now());
            self.count.store(0, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(peer = %addr, limit, refused = n, "{why}; closing new connections (count since the last report)");
        }
    }
}

/// Who is on the other end of a connection; handlers read it as an `Extension`.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    /// With TLS: the names the client certificate vouches for. `None` on plain HTTP.
    pub cert_names: Option<Vec<String>>,
}

/// Serves `router` on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    router: Router,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let per_peer = Arc::new(PeerSlots::default());
    let refusals = Refusals::new();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = stop.cancelled() => return,
        };
        let (tcp, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(peer_slot) = per_peer.take(addr.ip()) else {
            refusals.refuse(addr, "too many open connections from one address", MAX_PER_PEER);
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refusals.refuse(addr, "too many open connections", MAX_CONNECTIONS);
            continue;
        };
        let router = router.clone();
        let acceptor = acceptor.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let _slots = (slot, peer_slot);
            let _ = tcp.set_nodelay(true);
            match acceptor {
                None => {
                    // hyper's header deadline starts with the first byte: a client that
                    // connects and sends nothing would be held for ever without this.
                    // (`readable()` may wake spuriously; `peek` waits for a byte or the end.)
                    let mut first = [0u8; 1];
                    if tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.peek(&mut first)).await.is_err() {
                        tracing::debug!(peer = %addr, "no request within the deadline; closing");
                        return;
                    }
                    let peer = Peer { addr, cert_names: None };
                    connection(tcp, router, peer, stop).await;
                }
                Some(acceptor) => {
                    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => {
                            tracing::warn!(peer = %addr, error = %e, "TLS handshake refused");
                            return;
                        }
                        Err(_) => {
                            tracing::warn!(peer = %addr, "TLS handshake timed out");
                            return;
                        }
                    };
                    let names = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(cert_names)
                        .unwrap_or_default();
                    let peer = Peer { addr, cert_names: Some(names) };
                    connection(tls, router, peer, stop).await;
                }
            }
        });
    }
}

async fn connection<I>(io: I, router: Router, peer: Peer, stop: CancellationToken)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let addr = peer.addr;
    let service = TowerToHyperService::new(router.layer(Extension(peer)));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HANDSHAKE_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(peer = %addr, error = %e, "connection ended with an error");
            }
        }
        () = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}
