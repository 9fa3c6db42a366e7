//! The API's write routes, answered by the controller: they insert rows an operator could
//! insert by SQL, and the controller's change poll picks them up within a second, so the API
//! and SQL behave alike.
//!
//! - `POST /api/downtimes` `{"check_id", "start_time"?, "end_time", "fixed"?, "duration"?,
//!   "trigger_id"?, "author"?, "comment"?}` (times RFC 3339 or unix seconds) → 201 `{"id"}`
//! - `DELETE /api/downtimes/{id}`: cancels it → 200 `{"id", "cancelled": true}`
//! - `POST /api/checks/{id}/ack` `{"author"?, "comment"?, "sticky"?, "notify"?}` → 201
//!   `{"id"}`; 409 when the check is not in a problem.

// Handlers here return a finished error `Response` as their `Err`: it is what the client
// gets, and a write is not a hot path.
#![allow(clippy::result_large_err)]

use axum::Json;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ReadModel;
use super::view::Shown;
use crate::node::json_error;
use crate::store::policy_rows::{self, NewDowntime};
use crate::util::now_ms;

/// The longest downtime the API schedules: a year.
const MAX_DOWNTIME_SECS: i64 = 366 * 86_400;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DowntimeBody {
    check_id: i64,
    start_time: Option<Value>,
    end_time: Value,
    #[serde(default = "yes")]
    fixed: bool,
    #[serde(default)]
    duration: i64,
    trigger_id: Option<i64>,
    #[serde(default)]
    author: String,
    #[serde(default)]
    comment: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct AckBody {
    author: String,
    comment: String,
    sticky: bool,
    notify: Option<bool>,
}

fn yes() -> bool {
    true
}

fn bad(reason: impl Into<String>) -> Response {
    json_error(StatusCode::BAD_REQUEST, reason.into())
}

fn db_failed(e: &sqlx::Error) -> Response {
    tracing::warn!(error = %e, "an API write failed");
    json_error(StatusCode::SERVICE_UNAVAILABLE, format!("writing to the database: {e}"))
}

/// A time as RFC 3339 text or unix seconds.
fn seconds(field: &str, v: &Value) -> Result<i64, Response> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| bad(format!("{field}: {n} is not whole unix seconds"))),
        Value::String(s) => s
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_second())
            .map_err(|e| bad(format!("{field}: {s:?} is not an RFC 3339 time ({e})"))),
        other => Err(bad(format!("{field}: {other} is not a time (RFC 3339 text or unix seconds)"))),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    let empty: &[u8] = b"{}";
    let body = if body.iter().all(u8::is_ascii_whitespace) { empty } else { body };
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| bad(format!("body: {e}")))
}

/// Answers a write from the controller.
pub async fn answer<R: ReadModel>(r: &R, method: &Method, uri: &Uri, body: &[u8]) -> Response {
    let path = uri.path().trim_end_matches('/');
    let parts: Vec<&str> = path.trim_start_matches("/api/").split('/').collect();
    let result = match (method, parts.as_slice()) {
        (&Method::POST, ["downtimes"]) => downtime(r, body).await,
        (&Method::DELETE, ["downtimes", id]) => cancel(r, id).await,
        (&Method::POST, ["checks", id, "ack"]) => ack(r, id, body).await,
        _ => Err(json_error(StatusCode::NOT_FOUND, format!("no such API route: {method} {path}"))),
    };
    result.unwrap_or_else(|e| e)
}

async fn downtime<R: ReadModel>(r: &R, body: &[u8]) -> Result<Response, Response> {
    let b: DowntimeBody = parse(body)?;
    if r.check_detail(b.check_id).is_none() {
        return Err(json_error(
            StatusCode::NOT_FOUND,
            format!("check_id: no enabled check with id {}", b.check_id),
        ));
    }
    let start_s = match &b.start_time {
        Some(v) => seconds("start_time", v)?,
        None => now_ms() / 1000,
    };
    let end_s = seconds("end_time", &b.end_time)?;
    if end_s <= start_s {
        return Err(bad("end_time: is not after start_time"));
    }
    if end_s - start_s > MAX_DOWNTIME_SECS {
        return Err(bad("end_time: a downtime may last a year at most"));
    }
    if !b.fixed && !(1..=MAX_DOWNTIME_SECS).contains(&b.duration) {
        return Err(bad(
            "duration: a flexible downtime (fixed: false) needs a duration in seconds, up to a year",
        ));
    }
    let d = NewDowntime {
        check_id: b.check_id,
        start_s,
        end_s,
        fixed: b.fixed,
        duration_s: b.duration.max(0),
        trigger_id: b.trigger_id,
        author: b.author,
        comment: b.comment,
    };
    let id = policy_rows::insert_downtime(r.database(), &d).await.map_err(|e| db_failed(&e))?;
    tracing::info!(downtime = id, check = d.check_id, author = %d.author, "downtime scheduled through the API");
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

async fn cancel<R: ReadModel>(r: &R, id: &str) -> Result<Response, Response> {
    let id: i64 = id.parse().map_err(|_| bad(format!("{id:?} is not a downtime id")))?;
    if !policy_rows::cancel_downtime(r.database(), id).await.map_err(|e| db_failed(&e))? {
        return Err(json_error(StatusCode::NOT_FOUND, format!("no downtime with id {id}")));
    }
    tracing::info!(downtime = id, "downtime cancelled through the API");
    Ok(Json(json!({"id": id, "cancelled": true})).into_response())
}

async fn ack<R: ReadModel>(r: &R, id: &str, body: &[u8]) -> Result<Response, Response> {
    let check: i64 = id.parse().map_err(|_| bad(format!("{id:?} is not a check id")))?;
    let Some(detail) = r.check_detail(check) else {
        return Err(json_error(StatusCode::NOT_FOUND, format!("no enabled check with id {check}")));
    };
    if detail.check.status != Shown::Offline {
        return Err(json_error(
            StatusCode::CONFLICT,
            format!("check {check} is {}: only a problem can be acknowledged", detail.check.status.as_str()),
        ));
    }
    let b: AckBody = parse(body)?;
    let notify = b.notify.unwrap_or(true);
    let ack_id = policy_rows::insert_ack(r.database(), check, &b.author, &b.comment, b.sticky, notify)
        .await
        .map_err(|e| db_failed(&e))?;
    tracing::info!(check, ack = ack_id, author = %b.author, "problem acknowledged through the API");
    Ok((StatusCode::CREATED, Json(json!({"id": ack_id}))).into_response())
}
