//! The worker's HTTP face: `/api/cluster` (its view), `/api/*` (answered when it is the
//! controller, forwarded otherwise), `/metrics`, and `/cluster/token` for nodes without the
//! database.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::Shared;
use crate::node::{NodeClient, json_error};
use crate::util::lock;
use crate::web::auth::{self, Tokens, forwarded};

pub(super) async fn cluster(State(shared): State<Arc<Shared>>) -> Response {
    match shared.view.borrow().clone() {
        Some(v) => Json(v).into_response(),
        None => json_error(StatusCode::SERVICE_UNAVAILABLE, "no answer from the viewserver yet"),
    }
}

/// `/api/*` answered here when this node is controller, else by the controller.
pub(super) async fn forward(
    State(shared): State<Arc<Shared>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(c) = shared.controller() {
        return crate::web::api::answer(&*c, &method, &uri, &body).await;
    }
    let url =
        shared.view.borrow().as_ref().and_then(|v| v.controller_url.clone()).filter(|u| *u != shared.url);
    crate::web::api::proxy(&shared.client, url.as_deref(), method, &uri, forwarded(&headers), body).await
}

/// `POST /cluster/token` (signed): checks a token's hash for a node without the database.
pub(super) async fn token(State(shared): State<Arc<Shared>>, Json(q): Json<auth::TokenQuery>) -> Response {
    let Some(db) = lock(&shared.db).clone() else {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "this worker has no database connection");
    };
    match auth::grant_of(&db, &q.hash).await {
        Ok(grant) => Json(grant).into_response(),
        Err(e) => json_error(StatusCode::SERVICE_UNAVAILABLE, format!("reading bearmon_tokens: {e}")),
    }
}

/// `[metrics] per_check`: while this node is controller, its `/metrics` (and `bearmon up`'s)
/// carries every check's series.
pub(super) fn export_per_check(shared: &Arc<Shared>) {
    if !shared.cfg.per_check_metrics {
        return;
    }
    let weak = Arc::downgrade(shared);
    shared.metrics.set_extra(Arc::new(move || Some(weak.upgrade()?.controller()?.per_check_metrics())));
}

pub(super) async fn metrics_text(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.metrics.response(&headers).await
}

/// Where this worker checks API tokens: its database once connected, else the controller.
pub(super) fn tokens(shared: &Arc<Shared>, client: &NodeClient) -> Tokens {
    Tokens {
        db: Box::new({
            let shared = shared.clone();
            move || lock(&shared.db).clone()
        }),
        controller: Box::new({
            let shared = shared.clone();
            move || {
                shared
                    .view
                    .borrow()
                    .as_ref()
                    .and_then(|v| v.controller_url.clone())
                    .filter(|u| *u != shared.url)
            }
        }),
        client: client.clone(),
    }
}
