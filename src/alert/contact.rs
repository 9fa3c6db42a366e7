//! What a `contacts` row means: gobearmon's four kinds, whose data is a plain string, plus
//! bearmon's JSON `webhook`. A row that does not fit its kind is a [`ContactError`] naming
//! the field and the reason; the caller adds the contact id (a row problem at load, a failed
//! notification at send), and the other contacts of the same alert are notified anyway.
//! Parsing knows the kinds, not where the row came from: it takes the two columns.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;

/// A `webhook` contact's `data`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    pub url: String,
    #[serde(default = "post")]
    pub method: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A body template with `{{check.id}}`-style placeholders (see the README).
    #[serde(default)]
    pub template: Option<String>,
    /// A preset body: `slack`, `discord`, `pagerduty`, `alertmanager`.
    #[serde(default)]
    pub format: Option<String>,
    /// PagerDuty's integration key (Events API v2), for `format: pagerduty`.
    #[serde(default)]
    pub routing_key: Option<String>,
    /// Signs each request: `X-Bearmon-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
    #[serde(default)]
    pub secret: Option<String>,
}

fn post() -> String {
    "POST".into()
}

pub const FORMATS: [&str; 4] = ["slack", "discord", "pagerduty", "alertmanager"];

/// A contact, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Email(lettre::Address),
    Sms(String),
    Voice(String),
    Http(url::Url),
    Webhook(Box<WebhookSpec>),
}

impl Target {
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Email(_) => "email",
            Target::Sms(_) => "sms",
            Target::Voice(_) => "voice",
            Target::Http(_) => "http",
            Target::Webhook(_) => "webhook",
        }
    }

    /// Where an `http` or `webhook` notification goes.
    pub fn url(&self) -> Option<&str> {
        match self {
            Target::Http(u) => Some(u.as_str()),
            Target::Webhook(spec) => Some(&spec.url),
            _ => None,
        }
    }
}

fn http_url(s: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s.trim()).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(format!("{s:?} is not an http(s) URL with a host"));
    }
    Ok(u)
}

fn e164(s: &str) -> Result<String, String> {
    let t = s.trim();
    let digits = t.strip_prefix('+').unwrap_or("");
    if digits.len() < 8
        || digits.len() > 15
        || !digits.chars().all(|c| c.is_ascii_digit())
        || digits.starts_with('0')
    {
        return Err(format!("{s:?} is not an E.164 phone number (like +15551234567)"));
    }
    Ok(t.to_string())
}

/// Why a contact cannot be notified: the field (`type`, `data` or `data.<key>`) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field}: {reason}")]
pub struct ContactError {
    pub field: String,
    pub reason: String,
}

/// Checks a contact's `type` and `data` columns.
///
/// # Errors
/// A [`ContactError`] naming the field (`data`, `data.<key>` or `type`) and the reason.
pub fn parse(kind: &str, data: &str) -> Result<Target, ContactError> {
    let problem = |field: &str, reason: String| ContactError { field: field.into(), reason };
    match kind {
        "email" => data
            .trim()
            .parse::<lettre::Address>()
            .map(Target::Email)
            .map_err(|e| problem("data", format!("{data:?} is not an e-mail address: {e}"))),
        "sms" => e164(data).map(Target::Sms).map_err(|r| problem("data", r)),
        "voice" => e164(data).map(Target::Voice).map_err(|r| problem("data", r)),
        "http" => http_url(data).map(Target::Http).map_err(|r| problem("data", r)),
        "webhook" => {
            let de = &mut serde_json::Deserializer::from_str(data);
            let spec: WebhookSpec = serde_path_to_error::deserialize(de).map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." { "data".to_string() } else { format!("data.{path}") };
                problem(&field, e.inner().to_string())
            })?;
            http_url(&spec.url).map_err(|r| problem("data.url", r))?;
            if let Some(f) = &spec.format
                && !FORMATS.contains(&f.as_str())
            {
                return Err(problem("data.format", format!("{f:?} is not one of {}", FORMATS.join(", "))));
            }
            if spec.format.as_deref() == Some("pagerduty")
                && spec.routing_key.as_deref().is_none_or(str::is_empty)
            {
                return Err(problem(
                    "data.routing_key",
                    "format pagerduty needs the integration's routing_key".into(),
                ));
            }
            if spec.template.is_some() && spec.format.is_some() {
                return Err(problem("data.template", "give either template or format, not both".into()));
            }
            if reqwest::Method::from_bytes(spec.method.as_bytes()).is_err() {
                return Err(problem("data.method", format!("{:?} is not an HTTP method", spec.method)));
            }
            Ok(Target::Webhook(Box::new(spec)))
        }
        other => Err(problem(
            "type",
            format!("unknown contact type {other:?}; expected email, sms, voice, http or webhook"),
        )),
    }
}

/// A contact as the delivery loop uses it: parsed once, when its row is loaded or changed,
/// never again per send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The kind as a metric label (`unknown` for a type no sender has).
    pub kind: &'static str,
    pub target: Result<Target, ContactError>,
}

impl Parsed {
    pub fn new(kind: &str, data: &str) -> Self {
        Parsed { kind: kind_label(kind), target: parse(kind, data) }
    }
}

/// `contacts.type` as a metric label: one of the kinds, or `unknown`.
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "email" => "email",
        "sms" => "sms",
        "voice" => "voice",
        "http" => "http",
        "webhook" => "webhook",
        _ => "unknown",
    }
}

/// Every contact, parsed, by id: the controller's copy of the `contacts` table.
#[derive(Debug, Clone, Default)]
pub struct Book(HashMap<i64, Arc<Parsed>>);

impl Book {
    /// Sets contact `id` from its `type` and `data` (`None`: the row is gone). A row that
    /// does not parse is kept, with its error, and logged.
    pub fn set(&mut self, id: i64, row: Option<(&str, &str)>) {
        let Some((kind, data)) = row else {
            self.0.remove(&id);
            return;
        };
        let parsed = Parsed::new(kind, data);
        if let Err(e) = &parsed.target {
            tracing::warn!(table = "contacts", id, field = %e.field, "bad row: contacts row {id}: {e}");
        }
        self.0.insert(id, Arc::new(parsed));
    }

    pub fn get(&self, id: i64) -> Option<Arc<Parsed>> {
        self.0.get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gobearmon_kinds() {
        assert_eq!(parse("email", "oncall@example.com").unwrap().kind(), "email");
        assert_eq!(parse("sms", "+15551234567").unwrap(), Target::Sms("+15551234567".into()));
        assert_eq!(parse("http", "https://hooks.example.com/x").unwrap().kind(), "http");
        let e = parse("email", "[email protected]").unwrap_err();
        assert_eq!(e.field, "data");
        assert!(e.to_string().contains("not an e-mail address"), "{e}");
        assert!(parse("voice", "5551234").unwrap_err().reason.contains("E.164"));
        assert!(parse("http", "ftp://x").is_err());
    }

    #[test]
    fn webhooks_name_the_bad_field() {
        let ok = parse("webhook", r#"{"url":"https://x.example/h","format":"slack","secret":"s"}"#).unwrap();
        assert_eq!(ok.kind(), "webhook");
        let e = parse("webhook", r#"{"url":"https://x.example/h","format":"teams"}"#).unwrap_err();
        assert_eq!(e.field, "data.format");
        let e = parse("webhook", r#"{"url":"https://x.example/h","headers":{"a":1}}"#).unwrap_err();
        assert_eq!(e.field, "data.headers.a");
        let e = parse("webhook", r#"{"url":"https://x.example/h","format":"pagerduty"}"#).unwrap_err();
        assert_eq!(e.field, "data.routing_key");
        let e = parse("webhook", r#"{"urll":"x"}"#).unwrap_err();
        assert!(e.reason.contains("urll"), "{e}");
    }
}
