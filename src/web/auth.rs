//! Who may read the status page and the API: `[http] public = true` (the default, gobearmon's
//! open page) lets anyone read; `false` asks for `Authorization: Bearer TOKEN` with a token
//! of scope read or more (`bearmon token create`). Routes that change anything will ask for
//! scope write whatever `public` says.
//!
//! A token is checked against `bearmon_tokens` by its SHA-256, by the node that has the
//! database, or, on a node without one (the viewserver, a probe-only worker), by asking the
//! controller (`POST /cluster/token`, signed, with the hash). Answers are cached for
//! [`CACHE_FOR`], so a revoked token stops working within that time. Refusals are logged
//! with the peer, counted (`bearmon_api_auth_refused_total`), and an address that fails
//! [`MAX_FAILURES`] times within [`FAILURE_WINDOW`] is answered 429 until the window ends.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::metrics::Metrics;
use crate::node::{NodeClient, Peer, json_error};
use crate::store::tokens;
use crate::util::{hex, lock, random_bytes};

/// How long a token's check is trusted.
pub const CACHE_FOR: Duration = Duration::from_secs(10);
/// Failed attempts from one address before it is refused outright.
pub const MAX_FAILURES: u32 = 10;
/// The window those failures are counted in, and how long the refusal lasts.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// What a token may do; each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

/// A valid token: its name and scope (the body of `GET /api/whoami`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub name: String,
    pub scope: Scope,
}

/// A new token's text: `bm_` and 32 random bytes in hex. Shown once, never stored.
pub fn new_token() -> String {
    format!("bm_{}", hex(&random_bytes::<32>()))
}

/// What the database keeps of a token.
pub fn hash(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

type Lookup<'a> = Pin<Box<dyn Future<Output = Result<Option<Grant>, String>> + Send + 'a>>;

/// Where a node checks tokens: its database when it has one, else the controller.
pub struct Tokens {
    /// The node's database, once connected.
    pub db: Box<dyn Fn() -> Option<Db> + Send + Sync>,
    /// The controller's URL, when one is elected (and is not this node).
    pub controller: Box<dyn Fn() -> Option<String> + Send + Sync>,
    pub client: NodeClient,
}

/// `POST /cluster/token` (signed, node to node): a token's hash, for a node without the
/// database. The hash travels, never the token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenQuery {
    pub hash: String,
}

/// The valid token with this hash in `db`, if any.
///
/// # Errors
/// The database's, as text.
pub async fn grant_of(db: &Db, hash: &str) -> Result<Option<Grant>, String> {
    let found = tokens::find(db, hash).await.map_err(|e| e.to_string())?;
    Ok(found.and_then(|(name, scope)| Some(Grant { name, scope: Scope::parse(&scope)? })))
}

impl Tokens {
    /// The grant of the token whose SHA-256 is `hash`.
    fn lookup(&self, hash: String) -> Lookup<'_> {
        Box::pin(async move {
            if let Some(db) = (self.db)() {
                return grant_of(&db, &hash).await;
            }
            let Some(base) = (self.controller)() else {
                return Err("no database here and no controller elected to check it with".into());
            };
            self.client
                .post::<_, Option<Grant>>(
                    &base,
                    "/cluster/token",
                    &TokenQuery { hash },
                    Duration::from_secs(5),
                )
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// The token check of one node.
pub struct ApiAuth {
    public: bool,
    tokens: Tokens,
    cache: Mutex<HashMap<String, (Option<Grant>, Instant)>>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    metrics: Metrics,
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, token) = v.split_once(' ')?;
    kind.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The `Authorization` header to pass on when a request is forwarded to the controller.
pub fn forwarded(headers: &HeaderMap) -> Option<&str> {
    headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()
}

impl ApiAuth {
    pub fn new(public: bool, tokens: Tokens, metrics: Metrics) -> Arc<Self> {
        Arc::new(ApiAuth {
            public,
            tokens,
            cache: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    /// Checks the request's token against `need` (`None`: anyone may). The grant when a
    /// token was checked; the answer to send otherwise.
    async fn check(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
        need: Option<Scope>,
    ) -> Result<Option<Grant>, Response> {
        let Some(need) = need else { return Ok(None) };
        if let Some(ip) = peer
            && let Some((n, since)) = lock(&self.failures).get(&ip).copied()
            && n >= MAX_FAILURES
            && since.elapsed() < FAILURE_WINDOW
        {
            let wait = FAILURE_WINDOW.saturating_sub(since.elapsed()).as_secs() + 1;
            return Err(json_error(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed token attempts from {ip}; retry in {wait} s"),
            ));
        }
        let Some(token) = bearer(headers) else {
            return Err(self
                .refuse(peer, "missing Authorization: Bearer TOKEN (create one with bearmon token create)"));
        };
        // Hashed once: the cache, the database and the controller all know tokens by hash.
        let hash = hash(token);
        let grant = match self.cached(&hash) {
            Some(g) => g,
            None => match self.tokens.lookup(hash.clone()).await {
                Ok(g) => {
                    lock(&self.cache).insert(hash, (g.clone(), Instant::now()));
                    g
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot check an API token");
                    return Err(json_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("cannot check the token: {e}"),
                    ));
                }
            },
        };
        let Some(grant) = grant else {
            return Err(self.refuse(peer, "unknown or revoked token"));
        };
        if grant.scope < need {
            return Err(json_error(
                StatusCode::FORBIDDEN,
                format!(
                    "token {:?} has scope {}; this needs {}",
                    grant.name,
                    grant.scope.as_str(),
                    need.as_str()
                ),
            ));
        }
        Ok(Some(grant))
    }

    fn cached(&self, hash: &str) -> Option<Option<Grant>> {
        let mut cache = lock(&self.cache);
        cache.retain(|_, (_, at)| at.elapsed() < CACHE_FOR);
        cache.get(hash).map(|(g, _)| g.clone())
    }

    fn refuse(&self, peer: Option<IpAddr>, why: &str) -> Response {
        self.metrics.api_auth_refused.inc();
        if let Some(ip) = peer {
            let mut failures = lock(&self.failures);
            failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
            failures.entry(ip).or_insert((0, Instant::now())).0 += 1;
        }
        let who = peer.map(|p| p.to_string()).unwrap_or_default();
        tracing::warn!(peer = %who, reason = why, "API request refused");
        json_error(StatusCode::UNAUTHORIZED, why.to_string())
    }

    async fn guard(&self, mut req: Request, next: Next, need: Option<Scope>) -> Response {
        let peer = req.extensions().get::<Peer>().map(|p| p.addr.ip());
        match self.check(req.headers(), peer, need).await {
            Ok(grant) => {
                if let Some(g) = grant {
                    req.extensions_mut().insert(g);
                }
                next.run(req).await
            }
            Err(resp) => resp,
        }
    }
}

/// Middleware for the read routes (the page, `/api/*`): a read token when not public.
pub async fn read_access(State(auth): State<Arc<ApiAuth>>, req: Request, next: Next) -> Response {
    let need = (!auth.public).then_some(Scope::Read);
    auth.guard(req, next, need).await
}

/// Middleware for the write routes: a token of scope `write` (or `admin`), always.
pub async fn write_access(State(auth): State<Arc<ApiAuth>>, req: Request, next: Next) -> Response {
    auth.guard(req, next, Some(Scope::Write)).await
}

/// Middleware for routes that always need a token (`/api/whoami`).
pub async fn token_required(State(auth): State<Arc<ApiAuth>>, req: Request, next: Next) -> Response {
    auth.guard(req, next, Some(Scope::Read)).await
}

/// `GET /api/whoami`: the name and scope of the token presented.
pub async fn whoami(grant: Option<Extension<Grant>>) -> Response {
    match grant {
        Some(Extension(g)) => Json(g).into_response(),
        None => json_error(StatusCode::UNAUTHORIZED, "no token"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_include_the_ones_before_and_tokens_hash_apart() {
        assert!(Scope::Admin > Scope::Write && Scope::Write > Scope::Read);
        assert_eq!(Scope::parse("write"), Some(Scope::Write));
        assert_eq!(Scope::parse("root"), None);
        let (a, b) = (new_token(), new_token());
        assert!(a.starts_with("bm_") && a.len() == 67 && a != b);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
        let mut h = HeaderMap::new();
        h.insert("authorization", format!("Bearer {a}").parse().unwrap());
        assert_eq!(bearer(&h), Some(a.as_str()));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
