//! Signed requests to other nodes, with a deadline on every call.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::auth::{Answer, HDR_NODE, HDR_NONCE, HDR_SIGNATURE, HDR_TIME, Signer};
use super::proto::ErrorBody;
use super::seal::{HDR_SEALED, Way};
use super::tls::NodeTls;

/// Connect deadline between nodes (they are usually in one data centre).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url}: {source}")]
    Transport { url: String, source: reqwest::Error },
    #[error("{url}: HTTP {status}: {message}")]
    Status { url: String, status: u16, message: String },
    #[error("{url}: undecodable answer: {reason}")]
    Decode { url: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(reqwest::Error),
    #[error("{url}: answer refused: {reason}")]
    Unauthentic { url: String, reason: String },
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An HTTP client that signs as node `name`.
#[derive(Clone, Debug)]
pub struct NodeClient {
    http: reqwest::Client,
    signer: Arc<Signer>,
    name: String,
    /// Without TLS, bodies are sealed (they carry check definitions with passwords).
    seal: bool,
}

impl NodeClient {
    /// # Errors
    /// [`ClientError::Build`] when the TLS configuration cannot be used.
    pub fn new(name: &str, signer: Arc<Signer>, tls: Option<&NodeTls>) -> Result<Self, ClientError> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(tls) = tls {
            b = b.tls_backend_preconfigured(tls.client.clone());
        }
        Ok(NodeClient {
            http: b.build().map_err(ClientError::Build)?,
            signer,
            name: name.to_string(),
            seal: tls.is_none(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// POSTs `body` as JSON to `base` + `path`, signed (and, without TLS, sealed), and
    /// decodes the JSON answer (or nothing, for `()` with a 204). A successful answer must
    /// be signed for this very request, or it is refused.
    ///
    /// # Errors
    /// [`ClientError`] with the URL: unreachable, timed out, refused with a status, an
    /// answer not signed by a node of the cluster, or one that does not decode.
    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        base: &str,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<R, ClientError> {
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let mut bytes = serde_json::to_vec(body)
            .map_err(|e| ClientError::Decode { url: url.clone(), reason: e.to_string() })?;
        if self.seal {
            bytes = self.signer.sealer().seal(Way::Request, path, &bytes);
        }
        let s = self.signer.sign(&self.name, "POST", path, &bytes);
        let mut req = self
            .http
            .post(&url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .header(HDR_NODE, &s.node)
            .header(HDR_TIME, s.time_ms.to_string())
            .header(HDR_NONCE, &s.nonce)
            .header(HDR_SIGNATURE, &s.signature);
        if self.seal {
            req = req.header(HDR_SEALED, "1");
        }
        let resp = req
            .body(bytes)
            .send()
            .await
            .map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes =
            resp.bytes().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        if !status.is_success() {
            return decode(url, status, &bytes);
        }
        let refuse = |reason: String| ClientError::Unauthentic { url: url.clone(), reason };
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (Some(responder), Some(sig)) = (header(HDR_NODE), header(HDR_SIGNATURE)) else {
            return Err(refuse("unsigned".into()));
        };
        let answer = Answer {
            status: status.as_u16(),
            path,
            responder: &responder,
            request_nonce: &s.nonce,
            body: &bytes,
        };
        self.signer.verify_response(&answer, &sig).map_err(|e| refuse(e.to_string()))?;
        let bytes = if headers.contains_key(HDR_SEALED) {
            self.signer.sealer().open(Way::Response, path, &bytes).map_err(|e| refuse(e.to_string()))?.into()
        } else {
            bytes
        };
        decode(url, status, &bytes)
    }
}

impl NodeClient {
    /// An unsigned GET whose status and body are passed on as they are (the API proxy).
    ///
    /// # Errors
    /// [`ClientError::Transport`] when the node cannot be reached in time.
    pub async fn get_raw(
        &self,
        url: &str,
        timeout: Duration,
        authorization: Option<&str>,
    ) -> Result<(u16, axum::body::Bytes), ClientError> {
        self.send_raw(reqwest::Method::GET, url, timeout, authorization, axum::body::Bytes::new()).await
    }

    /// A request with any method and a JSON body, its status and body passed back as they
    /// are (the API's write routes, forwarded to the controller).
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        url: &str,
        timeout: Duration,
        authorization: Option<&str>,
        body: axum::body::Bytes,
    ) -> Result<(u16, axum::body::Bytes), ClientError> {
        let mut req = self.http.request(method, url).timeout(timeout);
        if !body.is_empty() {
            req = req.header(axum::http::header::CONTENT_TYPE, "application/json").body(body);
        }
        // The user's token, passed on: the controller checks it again (from its cache).
        if let Some(a) = authorization {
            req = req.header(axum::http::header::AUTHORIZATION, a);
        }
        let resp =
            req.send().await.map_err(|source| ClientError::Transport { url: url.to_string(), source })?;
        let status = resp.status().as_u16();
        let body =
            resp.bytes().await.map_err(|source| ClientError::Transport { url: url.to_string(), source })?;
        Ok((status, body))
    }
}

fn decode<R: DeserializeOwned>(
    url: String,
    status: reqwest::StatusCode,
    bytes: &[u8],
) -> Result<R, ClientError> {
    if !status.is_success() {
        let message = serde_json::from_slice::<ErrorBody>(bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned());
        return Err(ClientError::Status { url, status: status.as_u16(), message });
    }
    let bytes = if bytes.is_empty() { &b"null"[..] } else { bytes };
    serde_json::from_slice(bytes).map_err(|e| ClientError::Decode { url, reason: e.to_string() })
}
