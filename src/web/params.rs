//! The query parameters of the read routes, held to the bounds `/api/openapi.json` gives
//! them: a value out of bounds or not a whole number is a 400 naming the parameter and its
//! bounds (never serde's "number too small to fit in target type"), and so is a parameter
//! given twice; an empty text parameter is absent.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::node::json_error;

/// A query the API refuses: answered 400 with the reason.
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    #[error("query: {0}")]
    Unreadable(String),
    #[error("query parameter {0} is given more than once: give it once")]
    Repeated(String),
    #[error("query parameter {name}={raw:?}: use a whole number from {min} to {max}")]
    NotInBounds { name: String, raw: String, min: i64, max: i64 },
    #[error("status {0:?}: use online, offline or invalid, or several comma-separated")]
    Status(String),
}

impl IntoResponse for ParamError {
    fn into_response(self) -> Response {
        json_error(StatusCode::BAD_REQUEST, self.to_string())
    }
}

/// The most rows a `limit` of the notifications and stalking routes asks for.
pub const MAX_NOTIFICATIONS: i64 = 500;
/// The most flips `GET /api/events` lists at once.
pub const MAX_EVENTS: i64 = 1000;
/// The most checks a page of `GET /api/checks` holds.
pub const MAX_PER_PAGE: i64 = 1000;
/// The highest page number of `GET /api/checks` (a million pages of a thousand checks).
pub const MAX_PAGE: i64 = 1_000_000;
/// The most recent results per check `GET /api/checks` includes.
pub const MAX_RECENT: i64 = 1000;
/// The longest history `GET /api/checks/{id}/history` covers: 90 days.
pub const MAX_HOURS: i64 = 24 * 90;

/// A request's query parameters.
#[derive(Debug)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// The parameters of `uri`; a 400 when the query string cannot be read.
    pub fn of(uri: &Uri) -> Result<Params, ParamError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|e| ParamError::Unreadable(e.to_string()))?;
        let mut map = HashMap::with_capacity(pairs.len());
        for (k, v) in pairs {
            if map.contains_key(&k) {
                return Err(ParamError::Repeated(k));
            }
            map.insert(k, v);
        }
        Ok(Params(map))
    }

    /// A text parameter; `None` when absent or empty.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A whole number within `min..=max`; `default` when absent.
    pub fn int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, ParamError> {
        Ok(self.opt_int(name, min, max)?.unwrap_or(default))
    }

    /// A whole number within `min..=max`, when given.
    pub fn opt_int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ParamError> {
        let Some(raw) = self.0.get(name) else { return Ok(None) };
        match raw.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(Some(v)),
            _ => Err(ParamError::NotInBounds { name: name.to_string(), raw: raw.clone(), min, max }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        Params::of(&format!("/api/events?{q}").parse().unwrap()).unwrap()
    }

    async fn error_of(e: ParamError) -> (u16, String) {
        let r = e.into_response();
        let status = r.status().as_u16();
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn bounds_are_enforced_with_a_message_naming_them() {
        let p = params("limit=1001&before=-5&hours=abc&big=99999999999999999999999");
        let (code, body) = error_of(p.int("limit", 50, 1, MAX_EVENTS).unwrap_err()).await;
        assert_eq!(code, 400);
        assert!(body.contains("limit=\\\"1001\\\": use a whole number from 1 to 1000"), "{body}");
        assert!(p.opt_int("before", 1, i64::MAX).is_err());
        assert!(p.int("hours", 24, 1, MAX_HOURS).is_err());
        assert!(p.int("big", 1, 1, MAX_PAGE).is_err());
    }

    #[test]
    fn absent_takes_the_default_and_an_empty_text_is_absent() {
        let p = params("status=&hours=5");
        assert_eq!(p.int("nothing", 7, 1, 500).unwrap(), 7);
        assert_eq!(p.text("status"), None);
        assert_eq!(p.int("hours", 24, 1, MAX_HOURS).unwrap(), 5);
    }

    #[test]
    fn an_empty_number_and_a_repeated_parameter_are_refused() {
        assert!(params("limit=").int("limit", 50, 1, 500).is_err());
        assert!(params("limit=%205").int("limit", 50, 1, 500).is_err());
        assert!(Params::of(&"/api/events?hours=3&hours=5".parse().unwrap()).is_err());
    }
}
