//! What every node shares: the wire messages, request signing, mutual TLS, the HTTP server
//! and the signed client.

pub mod auth;
pub mod client;
pub mod proto;
pub mod serve;
pub mod tls;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::metrics::Metrics;
pub use auth::Signer;
pub use client::{ClientError, NodeClient};
pub use serve::{Peer, serve};
pub use tls::{NodeTls, TlsFiles};

/// Largest node-to-node request body accepted; bigger ones get 413 without being read.
pub const MAX_BODY: usize = 16 << 20;

/// The authenticated sender of a `/cluster/*` request, for handlers.
#[derive(Debug, Clone)]
pub struct PeerNode(pub String);

/// What the signature middleware needs.
#[derive(Debug)]
pub struct AuthLayer {
    pub signer: Arc<Signer>,
    pub metrics: Metrics,
}

/// Any route no handler claims: a JSON 404 naming the path.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    json_error(StatusCode::NOT_FOUND, format!("no such route: {}", uri.path()))
}

/// A JSON error body with a status.
pub fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(proto::ErrorBody { error: message.into() })).into_response()
}

/// Decodes a node request's JSON body that names its sender (`claimed(&msg)`), and checks
/// that name is the node that signed it. On failure, the status (400 or 403) and why.
///
/// # Errors
/// The status and message to answer with.
pub fn decode_from<T: serde::de::DeserializeOwned>(
    what: &str,
    body: &[u8],
    signer: &str,
    claimed: impl Fn(&T) -> &str,
) -> Result<T, (StatusCode, String)> {
    let msg: T =
        serde_json::from_slice(body).map_err(|e| (StatusCode::BAD_REQUEST, format!("{what}: {e}")))?;
    let name = claimed(&msg);
    if name != signer {
        return Err((StatusCode::FORBIDDEN, format!("{what} for {name:?} signed by {signer:?}")));
    }
    Ok(msg)
}

/// Middleware for the `/cluster/*` routes: verifies the signature (and, with TLS, that the
/// client certificate names the signing node), or answers 401 and logs who tried.
pub async fn require_signature(State(auth): State<Arc<AuthLayer>>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let peer = parts.extensions.get::<Peer>().cloned();
    let addr = peer.as_ref().map(|p| p.addr.to_string()).unwrap_or_default();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            tracing::warn!(peer = %addr, path = %parts.uri.path(), limit = MAX_BODY, "node request too large or unreadable; refused");
            return json_error(StatusCode::PAYLOAD_TOO_LARGE, format!("body over {MAX_BODY} bytes"));
        }
    };
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let verdict = auth::from_headers(&parts.headers)
        .and_then(|s| auth.signer.verify(parts.method.as_str(), path, &bytes, &s).map(|()| s.node));
    let node = match verdict {
        Ok(node) => node,
        Err(e) => {
            auth.metrics.auth_refused.inc();
            tracing::warn!(peer = %addr, path = %path, reason = %e, "unauthenticated node request refused");
            return json_error(StatusCode::UNAUTHORIZED, format!("authentication failed: {e}"));
        }
    };
    if let Some(names) = peer.as_ref().and_then(|p| p.cert_names.as_ref())
        && !names.iter().any(|n| n == &node)
    {
        auth.metrics.auth_refused.inc();
        tracing::warn!(peer = %addr, node = %node, cert_names = ?names, "request signed as a node its certificate does not name; refused");
        return json_error(
            StatusCode::UNAUTHORIZED,
            format!("authentication failed: the client certificate does not name node {node:?}"),
        );
    }
    parts.extensions.insert(PeerNode(node));
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}
