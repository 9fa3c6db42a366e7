//! What a notification says: gobearmon's subject and body texts, with the secrets of the
//! check's JSON taken out (gobearmon mailed Basic-auth passwords, bug 21).

use crate::store::Event;
use serde_json::Value;

/// JSON keys whose values are secrets, wherever they appear in a check's data (compared
/// lower-case, ignoring `-` and `_`).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "secret",
    "token",
    "apikey",
    "accesstoken",
    "authorization",
    "auth",
    "cookie",
    "privatekey",
    "xapikey",
    "bearer",
    "clientsecret",
];

const REDACTED: &str = "***";

fn is_secret_key(k: &str) -> bool {
    let norm: String = k.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_ascii_lowercase();
    SECRET_KEYS.contains(&norm.as_str())
        || norm.ends_with("token")
        || norm.ends_with("secret")
        || norm.ends_with("password")
}

/// Whether a JSON text names a secret key anywhere (then its redacted copy is kept even
/// when the secret's value was empty).
fn has_secret_key(data: &str) -> bool {
    let lower = data.to_ascii_lowercase();
    ["pass", "secret", "token", "auth", "key", "cookie", "bearer"].iter().any(|k| lower.contains(k))
}

fn walk(v: &mut Value, found: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if is_secret_key(k) {
                    match val {
                        Value::String(s) if !s.is_empty() => found.push(s.clone()),
                        Value::Null => continue,
                        _ => {}
                    }
                    *val = Value::String(REDACTED.into());
                } else {
                    walk(val, found);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, found)),
        Value::String(s) => {
            // Passwords in URLs: https://user:secret@host/
            if let Ok(mut u) = url::Url::parse(s)
                && let Some(p) = u.password().map(str::to_string)
            {
                found.push(p);
                let _ = u.set_password(Some(REDACTED));
                *s = u.to_string();
            }
        }
        _ => {}
    }
}

/// A check's data with its secrets replaced, and the secret values found (to scrub them
/// from messages too, which may quote a URL or a header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// `None` for a check with nothing to hide (most of them): the controller holds one of
    /// these per check, so the common case costs one pointer.
    parts: Option<Box<RedactedParts>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RedactedParts {
    /// The redacted data, when it differs from the original.
    changed: Option<String>,
    secrets: Vec<String>,
}

impl Redacted {
    /// Redacts `data`; JSON that does not parse is withheld entirely.
    pub fn new(data: &str) -> Self {
        match serde_json::from_str::<Value>(data) {
            Ok(mut v) => {
                let mut secrets = Vec::new();
                walk(&mut v, &mut secrets);
                // Longest first, so a secret containing another is scrubbed whole.
                secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
                secrets.dedup();
                // Most checks have nothing to hide: keep a copy only for those that do.
                let changed = (!secrets.is_empty() || has_secret_key(data)).then(|| v.to_string());
                Redacted::of(changed, secrets)
            }
            Err(_) => Redacted::of(Some("(withheld: not valid JSON)".into()), Vec::new()),
        }
    }

    fn of(changed: Option<String>, secrets: Vec<String>) -> Self {
        let hides = changed.is_some() || !secrets.is_empty();
        Redacted { parts: hides.then(|| Box::new(RedactedParts { changed, secrets })) }
    }

    /// The data to show: `original` with its secrets replaced.
    pub fn data<'a>(&'a self, original: &'a str) -> &'a str {
        self.parts.as_ref().and_then(|p| p.changed.as_deref()).unwrap_or(original)
    }

    /// `text` with every secret of the check replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        let Some(parts) = &self.parts else { return out };
        for s in &parts.secrets {
            if s.len() >= 3 {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }
}

/// E-mail subject: `Check offline: my http check`.
pub fn subject(e: &Event) -> String {
    format!("Check {}: {}", e.status, e.check_name)
}

/// The first line of the e-mail body, and the SMS text.
pub fn headline(e: &Event) -> String {
    if e.status == "online" {
        format!("Check [{}] is now online.", e.check_name)
    } else {
        format!("Check [{}] is now {}: {}", e.check_name, e.status, e.message)
    }
}

/// The e-mail body: gobearmon's text, signed by bearmon.
pub fn email_body(e: &Event) -> String {
    format!(
        "{}\n\nID: {}\nName: {}\nType: {}\nData: {}\n\nbearmon",
        headline(e),
        e.check_id,
        e.check_name,
        e.check_type,
        e.check_data
    )
}

/// What a voice call says.
pub fn voice(e: &Event) -> String {
    format!(
        "This is a monitoring-related call from bear mon . The check . {} . has been recorded . {} . Reason is . {}",
        e.check_name, e.status, e.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_everywhere() {
        let r = Redacted::new(
            r#"{"url":"https://bob:hunter22@example.com/x","username":"bob","password":"pw-secret-1","headers":{"Authorization":"Bearer tok-123","X-Api-Key":"k-456","Accept":"json"}}"#,
        );
        let original = r#"{"url":"https://bob:hunter22@example.com/x","username":"bob","password":"pw-secret-1","headers":{"Authorization":"Bearer tok-123","X-Api-Key":"k-456","Accept":"json"}}"#;
        let data = r.data(original);
        for s in ["hunter22", "pw-secret-1", "tok-123", "k-456"] {
            assert!(!data.contains(s), "{s} in {data}");
        }
        assert!(data.contains("\"username\":\"bob\"") && data.contains("json"), "{data}");
        let plain = Redacted::new(r#"{"url":"https://example.com"}"#);
        assert!(plain.parts.is_none(), "no copy for data without secrets");
        assert_eq!(
            r.scrub("GET https://bob:hunter22@example.com/x: 401 for pw-secret-1"),
            "GET https://bob:***@example.com/x: 401 for ***"
        );
    }

    #[test]
    fn gobearmon_texts() {
        let e = Event {
            check_id: 7,
            check_name: "my http check".into(),
            check_type: "http".into(),
            check_data: "{}".into(),
            status: "offline".into(),
            message: "HTTP 503".into(),
        };
        assert_eq!(subject(&e), "Check offline: my http check");
        assert_eq!(headline(&e), "Check [my http check] is now offline: HTTP 503");
        assert!(email_body(&e).starts_with("Check [my http check] is now offline: HTTP 503\n\nID: 7\nName: my http check\nType: http\nData: {}\n\n"));
        let up = Event { status: "online".into(), message: String::new(), ..e };
        assert_eq!(headline(&up), "Check [my http check] is now online.");
    }
}
