//! What a `contacts` row means: gobearmon's four kinds, whose data is a plain string, plus
//! bearmon's JSON `webhook`. A row that does not fit its kind is a problem naming the
//! contact id, the field and the reason, reported when loaded and when a send is tried;
//! the other contacts of the same alert are notified anyway.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::store::{Contact, RowProblem};

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

/// Checks a contact row.
///
/// # Errors
/// A [`RowProblem`] on `contacts`, field `data` (or `type`), with the reason.
pub fn parse(c: &Contact) -> Result<Target, RowProblem> {
    let problem =
        |field: &str, reason: String| RowProblem { table: "contacts", id: c.id, field: field.into(), reason };
    match c.kind.as_str() {
        "email" => c
            .data
            .trim()
            .parse::<lettre::Address>()
            .map(Target::Email)
            .map_err(|e| problem("data", format!("{:?} is not an e-mail address: {e}", c.data))),
        "sms" => e164(&c.data).map(Target::Sms).map_err(|r| problem("data", r)),
        "voice" => e164(&c.data).map(Target::Voice).map_err(|r| problem("data", r)),
        "http" => http_url(&c.data).map(Target::Http).map_err(|r| problem("data", r)),
        "webhook" => {
            let de = &mut serde_json::Deserializer::from_str(&c.data);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn c(kind: &str, data: &str) -> Contact {
        Contact { id: 4, kind: kind.into(), data: data.into(), problems: vec![] }
    }

    #[test]
    fn gobearmon_kinds() {
        assert_eq!(parse(&c("email", "oncall@example.com")).unwrap().kind(), "email");
        assert_eq!(parse(&c("sms", "+15551234567")).unwrap(), Target::Sms("+15551234567".into()));
        assert_eq!(parse(&c("http", "https://hooks.example.com/x")).unwrap().kind(), "http");
        let e = parse(&c("email", "[email protected]")).unwrap_err();
        assert_eq!((e.id, e.field.as_str()), (4, "data"));
        assert!(e.to_string().contains("not an e-mail address"), "{e}");
        assert!(parse(&c("voice", "5551234")).unwrap_err().reason.contains("E.164"));
        assert!(parse(&c("http", "ftp://x")).is_err());
    }

    #[test]
    fn webhooks_name_the_bad_field() {
        let ok =
            parse(&c("webhook", r#"{"url":"https://x.example/h","format":"slack","secret":"s"}"#)).unwrap();
        assert_eq!(ok.kind(), "webhook");
        let e = parse(&c("webhook", r#"{"url":"https://x.example/h","format":"teams"}"#)).unwrap_err();
        assert_eq!(e.field, "data.format");
        let e = parse(&c("webhook", r#"{"url":"https://x.example/h","headers":{"a":1}}"#)).unwrap_err();
        assert_eq!(e.field, "data.headers.a");
        let e = parse(&c("webhook", r#"{"url":"https://x.example/h","format":"pagerduty"}"#)).unwrap_err();
        assert_eq!(e.field, "data.routing_key");
        let e = parse(&c("webhook", r#"{"urll":"x"}"#)).unwrap_err();
        assert!(e.reason.contains("urll"), "{e}");
    }
}
