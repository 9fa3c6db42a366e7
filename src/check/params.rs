//! Decoding a check's JSON with errors that name the field, and gobearmon's timeout rule.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;

/// A check row that cannot run: which check, which field, why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidCheck {
    pub check_id: i64,
    /// `type`, `data`, or the JSON key inside `data` (a path such as `headers.Host`).
    pub field: String,
    pub reason: String,
}

impl InvalidCheck {
    pub fn new(check_id: i64, field: impl Into<String>, reason: impl Into<String>) -> Self {
        InvalidCheck { check_id, field: field.into(), reason: reason.into() }
    }
}

impl fmt::Display for InvalidCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "check {}: field {}: {}", self.check_id, self.field, self.reason)
    }
}

/// Decodes `data` into a kind's params. Unknown top-level keys are returned (gobearmon
/// ignored them, so rejecting them would break existing rows).
pub(crate) fn decode<T: DeserializeOwned>(
    check_id: i64,
    data: &str,
    known: &[&str],
) -> Result<(T, Vec<String>), InvalidCheck> {
    let value: serde_json::Value = serde_json::from_str(data)
        .map_err(|e| InvalidCheck::new(check_id, "data", format!("malformed JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(InvalidCheck::new(check_id, "data", "must be a JSON object"));
    };
    let unknown = object.keys().filter(|k| !known.contains(&k.as_str())).cloned().collect();
    let params = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "data".to_string() } else { path };
        InvalidCheck::new(check_id, field, e.into_inner().to_string())
    })?;
    Ok((params, unknown))
}

/// gobearmon's timeout rule, now applied to every kind: 0 (unset) means 10 s, values are
/// clamped to 3..=30 s.
pub(crate) fn clamp_timeout(secs: i64) -> Duration {
    let s = if secs == 0 { 10 } else { secs.clamp(3, 30) };
    Duration::from_secs(s as u64)
}

/// Splits `host:port` (IPv6 as `[::1]:53`), or says what is wrong with it.
pub(crate) fn host_port(address: &str) -> Result<(String, u16), String> {
    let (host, port) = address.rsplit_once(':').ok_or_else(|| format!("{address:?} is not host:port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{address:?} has no host"));
    }
    let port: u16 = port.parse().map_err(|_| format!("{address:?} has an invalid port {port:?}"))?;
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_rule() {
        assert_eq!(clamp_timeout(0), Duration::from_secs(10));
        assert_eq!(clamp_timeout(1), Duration::from_secs(3));
        assert_eq!(clamp_timeout(15), Duration::from_secs(15));
        assert_eq!(clamp_timeout(300), Duration::from_secs(30));
        assert_eq!(clamp_timeout(-5), Duration::from_secs(3));
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(host_port("example.com:443").unwrap(), ("example.com".into(), 443));
        assert_eq!(host_port("[::1]:53").unwrap(), ("::1".into(), 53));
        assert!(host_port("example.com").is_err());
        assert!(host_port(":80").is_err());
        assert!(host_port("h:99999").is_err());
    }
}
