//! Starting a node's server, the one way the viewserver and the worker both do it: TLS from
//! the config, the request signer and its nonce memory, the metrics, the signed client, the
//! signature layer on `/cluster/*` routes, and the server with its connection limits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{
    AuthLayer, ClientError, NodeClient, NodeTls, Signer, TlsFiles, require_signature, tls::TlsError,
};
use crate::metrics::{Hub, Metrics};

/// How often replayed-nonce memory older than the replay window is dropped.
const FORGET_EVERY: Duration = Duration::from_secs(10);

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Alert(#[from] crate::alert::AlertError),
}

/// What every node runs with.
#[derive(Debug)]
pub struct NodeBase {
    pub signer: Arc<Signer>,
    pub metrics: Metrics,
    /// Signed requests to other nodes, as `name`.
    pub client: NodeClient,
    tls: Option<NodeTls>,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl NodeBase {
    /// A node named `name` (the signing identity), listening on `listener` (bound to the
    /// configured `listen`); with `hub`, its metrics join those of the process's other nodes.
    ///
    /// # Errors
    /// [`NodeError`] when the TLS files cannot be loaded, the client cannot be built or the
    /// listener has no address.
    pub fn new(
        name: &str,
        secret: &str,
        tls: Option<&TlsFiles>,
        listener: &TcpListener,
        listen: SocketAddr,
        hub: Option<&Hub>,
    ) -> Result<Self, NodeError> {
        let tls = tls.map(NodeTls::load).transpose()?;
        let signer = Arc::new(Signer::new(secret));
        let client = NodeClient::new(name, signer.clone(), tls.as_ref())?;
        let addr = listener.local_addr().map_err(|source| NodeError::Listen { addr: listen, source })?;
        let metrics = hub.map_or_else(Metrics::new, |h| Metrics::in_hub(h, name));
        Ok(NodeBase { signer, metrics, client, tls, addr })
    }

    /// `https` with TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// `routes` behind the signature check (and, with TLS, the client certificate's name).
    pub fn signed<S: Clone + Send + Sync + 'static>(&self, routes: Router<S>) -> Router<S> {
        let auth = Arc::new(AuthLayer {
            signer: self.signer.clone(),
            metrics: self.metrics.clone(),
            name: self.client.name().to_string(),
        });
        routes.route_layer(axum::middleware::from_fn_with_state(auth, require_signature))
    }

    /// Serves `router` until `stop` is cancelled, forgetting old nonces meanwhile.
    pub async fn serve(self, listener: TcpListener, router: Router, stop: CancellationToken) {
        let signer = self.signer.clone();
        let forget = tokio::spawn(async move {
            loop {
                tokio::time::sleep(FORGET_EVERY).await;
                signer.forget_old();
            }
        });
        super::serve(listener, self.tls.map(|t| t.server), router, stop).await;
        forget.abort();
    }
}
