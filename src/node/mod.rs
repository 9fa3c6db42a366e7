//! What every node shares: the wire messages, request signing, mutual TLS, the HTTP server,
//! the signed client, and the one way a node starts them ([`NodeBase`]).

pub mod auth;
pub mod client;
pub mod proto;
pub mod seal;
pub mod serve;
pub mod start;
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
pub use start::{NodeBase, NodeError};
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
    /// This node's name, in the signature of its answers.
    pub name: String,
}

/// Any route no handler claims: a JSON 404 naming the path.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    json_error(StatusCode::NOT_FOUND, format!("no such route: {}", uri.path()))
}

/// A JSON error body with a status.
pub fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(proto::ErrorBody { error: message.into() })).into_response()
}

/// A node message that names its sender, which must be the node that signed it.
pub trait FromNode: serde::de::DeserializeOwned {
    /// What the message is, for errors (`heartbeat`, `sync`).
    const WHAT: &'static str;
    /// The node the message says it comes from.
    fn sender(&self) -> &str;
}

impl FromNode for proto::Heartbeat {
    const WHAT: &'static str = "heartbeat";
    fn sender(&self) -> &str {
        &self.name
    }
}

impl FromNode for proto::SyncRequest {
    const WHAT: &'static str = "sync";
    fn sender(&self) -> &str {
        &self.worker
    }
}

/// Decodes a node request's JSON body and checks that the sender it names is `signer`, the
/// node that signed it. On failure, the status (400 or 403) and why.
///
/// # Errors
/// The status and message to answer with.
pub fn decode_from<T: FromNode>(body: &[u8], signer: &str) -> Result<T, (StatusCode, String)> {
    let what = T::WHAT;
    let msg: T =
        serde_json::from_slice(body).map_err(|e| (StatusCode::BAD_REQUEST, format!("{what}: {e}")))?;
    let name = msg.sender();
    if name != signer {
        return Err((StatusCode::FORBIDDEN, format!("{what} for {name:?} signed by {signer:?}")));
    }
    Ok(msg)
}

/// The body of a signed `/cluster/*` request, decoded, from the node that signed it: an
/// extractor, so every handler of a node message checks the sender the same way.
#[derive(Debug)]
pub struct Signed<T>(pub T);

impl<S: Send + Sync, T: FromNode> axum::extract::FromRequest<S> for Signed<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let Some(PeerNode(node)) = req.extensions().get::<PeerNode>().cloned() else {
            return Err(json_error(StatusCode::UNAUTHORIZED, "unsigned node request"));
        };
        let body = axum::body::Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        decode_from(&body, &node).map(Signed).map_err(|(status, why)| json_error(status, why))
    }
}

/// Middleware for the `/cluster/*` routes: verifies the signature (and, with TLS, that the
/// client certificate names the signing node), or answers 401 and logs who tried.
pub async fn require_signature(State(auth): State<Arc<AuthLayer>>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let peer = parts.extensions.get::<Peer>().cloned();
    let addr = peer.as_ref().map(|p| p.addr.to_string()).unwrap_or_default();
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
    let refuse = |e: auth::AuthError| {
        auth.metrics.auth_refused.inc();
        tracing::warn!(peer = %addr, path = %path, reason = %e, "unauthenticated node request refused");
        json_error(StatusCode::UNAUTHORIZED, format!("authentication failed: {e}"))
    };
    // The headers first: an unsigned, stale or replayed request is refused before a byte of
    // its body is read.
    let signed = match auth::from_headers(&parts.headers).and_then(|s| auth.signer.precheck(&s).map(|_| s)) {
        Ok(s) => s,
        Err(e) => return refuse(e),
    };
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            tracing::warn!(peer = %addr, path = %path, limit = MAX_BODY, "node request too large or unreadable; refused");
            return json_error(StatusCode::PAYLOAD_TOO_LARGE, format!("body over {MAX_BODY} bytes"));
        }
    };
    let node = match auth.signer.verify(parts.method.as_str(), &path, &bytes, &signed) {
        Ok(()) => signed.node,
        Err(e) => return refuse(e),
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
    let sealed = parts.headers.contains_key(seal::HDR_SEALED);
    let bytes = if sealed {
        match auth.signer.sealer().open(seal::Way::Request, &path, &bytes) {
            Ok(plain) => axum::body::Bytes::from(plain),
            Err(e) => {
                tracing::warn!(peer = %addr, path = %path, reason = %e, "sealed node request does not open; refused");
                return json_error(StatusCode::BAD_REQUEST, e.to_string());
            }
        }
    } else {
        bytes
    };
    let resp = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    answer_signed(&auth, resp, &path, &signed.nonce, sealed).await
}

/// Signs the answer to a node request (sealed when the request was), bound to that
/// request's nonce.
async fn answer_signed(auth: &AuthLayer, resp: Response, path: &str, nonce: &str, seal_it: bool) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return json_error(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the answer to sign it");
    };
    // A 204 (an ask's answer) carries no body on the wire (HTTP drops one): nothing is
    // sealed, and the signature covers the empty body the client receives.
    let empty = parts.status == StatusCode::NO_CONTENT || parts.status == StatusCode::NOT_MODIFIED;
    let seal_it = seal_it && !empty;
    let bytes = if empty {
        Vec::new()
    } else if seal_it {
        auth.signer.sealer().seal(seal::Way::Response, path, &bytes)
    } else {
        bytes.to_vec()
    };
    let answer = auth::Answer {
        status: parts.status.as_u16(),
        path,
        responder: &auth.name,
        request_nonce: nonce,
        body: &bytes,
    };
    let sig = auth.signer.sign_response(&answer);
    let header = |v: &str| axum::http::HeaderValue::from_str(v).ok();
    if let (Some(node), Some(sig)) = (header(&auth.name), header(&sig)) {
        parts.headers.insert(auth::HDR_NODE, node);
        parts.headers.insert(auth::HDR_SIGNATURE, sig);
    }
    if seal_it {
        parts.headers.insert(seal::HDR_SEALED, axum::http::HeaderValue::from_static("1"));
    }
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}
