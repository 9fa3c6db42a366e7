//! The JSON API. The controller answers from memory (and the database for events, rollups
//! and notifications); every other node forwards the same request to the controller, so any
//! node's address serves it. Errors are JSON: `{"error": "..."}`. The write routes
//! (downtimes, acknowledgements: [`super::write`]) need a token of scope `write`.
//!
//! - `GET /api/checks?status=&q=&page=&per_page=&recent=`: a page of checks and the counts
//! - `GET /api/checks/{id}`: one check, its redacted definition, alerts, recent results
//! - `GET /api/checks/{id}/history`: recent results and hourly rollups (last day by default)
//! - `GET /api/checks/{id}/notifications?limit=`: its last notifications, newest first
//! - `GET /api/checks/{id}/stalking?limit=`: its state stalking events, newest first
//! - `GET /api/events?limit=&before=`: flips, newest first
//! - `GET /api/problems`: bad rows of the policy tables and `options` columns
//! - `GET /api/cluster`: served by each node from its own view (not here)
//! - `GET /api/openapi.json`: this API described
//! - `POST /api/downtimes`, `DELETE /api/downtimes/{id}`, `POST /api/checks/{id}/ack`

use std::time::Duration;

use axum::Json;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::ReadModel;
use super::params::{
    MAX_EVENTS, MAX_HOURS, MAX_NOTIFICATIONS, MAX_PAGE, MAX_PER_PAGE, MAX_RECENT, ParamError, Params,
};
use super::view::{
    CheckFilter, Events, FailingContacts, History, Notifications, RowProblems, Shown, Stalking,
};
use crate::node::{NodeClient, json_error};
use crate::util::now_ms;

fn no_check(id: &str) -> Response {
    json_error(StatusCode::NOT_FOUND, format!("no enabled check with id {id}"))
}

/// `GET /api/checks`'s filter: an empty `status` filters nothing, as on the page.
fn check_filter(uri: &Uri) -> Result<CheckFilter, ParamError> {
    let p = Params::of(uri)?;
    let status = p.text("status");
    if let Some(bad) = status.and_then(|s| s.split(',').find(|w| Shown::parse(w).is_none())) {
        return Err(ParamError::Status(bad.to_string()));
    }
    let status = status.map(str::to_string);
    // Each bound fits in a usize.
    let count = |v: i64| usize::try_from(v).unwrap_or(usize::MAX);
    Ok(CheckFilter {
        status,
        q: p.text("q").map(str::to_string),
        page: count(p.int("page", 1, 1, MAX_PAGE)?),
        per_page: count(p.int("per_page", 100, 1, MAX_PER_PAGE)?),
        recent: count(p.int("recent", 0, 0, MAX_RECENT)?),
    })
}

/// A check's list route (notifications, stalking): its id and the `limit` asked for.
fn check_and_limit<R: ReadModel>(r: &R, id: &str, uri: &Uri) -> Result<(i64, i64), Box<Response>> {
    let Some(detail) = id.parse::<i64>().ok().and_then(|id| r.check_detail(id)) else {
        return Err(Box::new(no_check(id)));
    };
    let limit = Params::of(uri).and_then(|p| p.int("limit", 50, 1, MAX_NOTIFICATIONS));
    Ok((detail.check.id, limit.map_err(|e| Box::new(e.into_response()))?))
}

/// Answers an `/api/...` request from the read model (the controller itself): reads, and
/// the write routes ([`super::write`]).
pub async fn answer<R: ReadModel>(r: &R, method: &Method, uri: &Uri, body: &[u8]) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return super::write::answer(r, method, uri, body).await;
    }
    let path = uri.path().trim_end_matches('/');
    let parts: Vec<&str> = path.trim_start_matches("/api/").split('/').collect();
    match parts.as_slice() {
        ["checks"] => match check_filter(uri) {
            Ok(f) => Json(r.checks_page(&f)).into_response(),
            Err(e) => e.into_response(),
        },
        ["checks", id] => match id.parse::<i64>().ok().and_then(|id| r.check_detail(id)) {
            Some(d) => Json(d).into_response(),
            None => no_check(id),
        },
        ["checks", id, "history"] => {
            let Some(detail) = id.parse::<i64>().ok().and_then(|id| r.check_detail(id)) else {
                return no_check(id);
            };
            let hours = match Params::of(uri).and_then(|p| p.int("hours", 24, 1, MAX_HOURS)) {
                Ok(h) => h,
                Err(e) => return e.into_response(),
            };
            let since = now_ms() / 1000 / 3600 * 3600 - hours * 3600;
            match r.rollups(detail.check.id, since).await {
                Ok(mut hourly) => {
                    hourly.extend(detail.hour.clone());
                    let recent = detail.check.recent.unwrap_or_default();
                    Json(History { id: detail.check.id, recent, hourly }).into_response()
                }
                Err(e) => json_error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            }
        }
        ["checks", id, "notifications"] => {
            let (id, limit) = match check_and_limit(r, id, uri) {
                Ok(found) => found,
                Err(e) => return *e,
            };
            match r.notifications(id, limit).await {
                Ok(notifications) => Json(Notifications { id, notifications }).into_response(),
                Err(e) => json_error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            }
        }
        ["checks", id, "stalking"] => {
            let (id, limit) = match check_and_limit(r, id, uri) {
                Ok(found) => found,
                Err(e) => return *e,
            };
            match r.stalking(id, limit).await {
                Ok(events) => Json(Stalking { id, events }).into_response(),
                Err(e) => json_error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            }
        }
        ["events"] => {
            let q = Params::of(uri)
                .and_then(|p| Ok((p.int("limit", 50, 1, MAX_EVENTS)?, p.opt_int("before", 1, i64::MAX)?)));
            let (limit, before) = match q {
                Ok(q) => q,
                Err(e) => return e.into_response(),
            };
            match r.events(limit, before).await {
                Ok(events) => Json(Events { events }).into_response(),
                Err(e) => json_error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            }
        }
        ["problems"] => Json(RowProblems { problems: r.row_problems() }).into_response(),
        ["contacts", "failing"] => match r.failing_contacts().await {
            Ok(contacts) => Json(FailingContacts { contacts }).into_response(),
            Err(e) => json_error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        },
        _ => json_error(StatusCode::NOT_FOUND, format!("no such API route: {path}")),
    }
}

/// Forwards an `/api/...` request to the controller at `base`, passing its status and body on.
pub async fn proxy(
    client: &NodeClient,
    base: Option<&str>,
    method: Method,
    uri: &Uri,
    authorization: Option<&str>,
    body: axum::body::Bytes,
) -> Response {
    let Some(base) = base else {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "no controller elected yet");
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{path}", base.trim_end_matches('/'));
    match client.send_raw(method, &url, Duration::from_secs(10), authorization, body).await {
        Ok((status, body)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, [("content-type", "application/json")], body).into_response()
        }
        Err(e) => json_error(StatusCode::BAD_GATEWAY, format!("asking the controller: {e}")),
    }
}

/// The `/api/*` routes a node serves with `forward` (answer or pass to the controller);
/// `/api/cluster` is each node's own.
pub fn routes<S, H, T>(forward: H) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    H: axum::handler::Handler<T, S> + Clone,
    T: 'static,
{
    use axum::routing::get;
    axum::Router::new()
        .route("/api/checks", get(forward.clone()))
        .route("/api/checks/{id}", get(forward.clone()))
        .route("/api/checks/{id}/history", get(forward.clone()))
        .route("/api/checks/{id}/notifications", get(forward.clone()))
        .route("/api/checks/{id}/stalking", get(forward.clone()))
        .route("/api/events", get(forward.clone()))
        .route("/api/contacts/failing", get(forward.clone()))
        .route("/api/problems", get(forward))
        .route("/api/openapi.json", get(openapi))
}

/// The write routes a node serves with `forward` (answered by the controller, which holds
/// the database): `POST /api/downtimes`, `DELETE /api/downtimes/{id}`,
/// `POST /api/checks/{id}/ack`. Guarded by [`guarded`] with a write token.
pub fn write_routes<S, H, T>(forward: H) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    H: axum::handler::Handler<T, S> + Clone,
    T: 'static,
{
    use axum::routing::{delete, post};
    axum::Router::new()
        .route("/api/downtimes", post(forward.clone()))
        .route("/api/downtimes/{id}", delete(forward.clone()))
        .route("/api/checks/{id}/ack", post(forward))
}

/// Guards a node's read routes (the page and the `/api/*` routes) and its write routes, and
/// adds `GET /api/whoami`: `[http] public = false` asks every read for a token; a write
/// always needs a token of scope `write`.
pub fn guarded<S: Clone + Send + Sync + 'static>(
    reads: axum::Router<S>,
    writes: axum::Router<S>,
    auth: std::sync::Arc<super::auth::ApiAuth>,
) -> axum::Router<S> {
    use axum::middleware::from_fn_with_state;
    let whoami = axum::Router::new()
        .route("/api/whoami", axum::routing::get(super::auth::whoami))
        .route_layer(from_fn_with_state(auth.clone(), super::auth::token_required));
    let writes = writes.route_layer(from_fn_with_state(auth.clone(), super::auth::write_access));
    reads.route_layer(from_fn_with_state(auth, super::auth::read_access)).merge(whoami).merge(writes)
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> Response {
    ([("content-type", "application/json")], OPENAPI).into_response()
}

const OPENAPI: &str = include_str!("openapi.json");
