//! The `options` JSON columns of `checks` and `contacts` (SPEC §10): Shinken's directive
//! names, durations in seconds. NULL (or an empty object) is gobearmon's behaviour. An unknown
//! key is a warning; a bad value makes the row invalid, with the field named.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::flap::{FlapStates, Thresholds};

/// The longest duration an option may name: a year (no notification waits longer, and no
/// time computed from it overflows).
pub const MAX_SECS: u64 = 366 * 86_400;

/// A bad `options` value: the field (`options.<key>`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct OptionError {
    pub field: String,
    pub reason: String,
}

fn bad(key: &str, reason: impl Into<String>) -> OptionError {
    OptionError { field: format!("options.{key}"), reason: reason.into() }
}

/// A set of Nagios state letters (`notification_options`, `escalation_options`): w(arning),
/// u(nknown), c(ritical), r(ecovery), f(lapping), s(cheduled downtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Letters(u8);

impl Letters {
    pub const WARNING: Letters = Letters(1);
    pub const UNKNOWN: Letters = Letters(2);
    pub const CRITICAL: Letters = Letters(4);
    pub const RECOVERY: Letters = Letters(8);
    pub const FLAPPING: Letters = Letters(16);
    pub const DOWNTIME: Letters = Letters(32);
    /// Every letter: a contact's default.
    pub const ALL: Letters = Letters(63);
    /// `c,r`: gobearmon's behaviour, a check's default.
    pub const DEFAULT_CHECK: Letters = Letters(4 | 8);

    /// Parses `"c,r"`, `"w, u, c"`, `"n"` (none) or `"a"`/`"all"`.
    ///
    /// # Errors
    /// The letter that is not one of w,u,c,r,f,s,n,a.
    pub fn parse(s: &str) -> Result<Letters, String> {
        let mut out = 0u8;
        for part in s.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
            out |= match part {
                "w" => 1,
                "u" => 2,
                "c" => 4,
                "r" => 8,
                "f" => 16,
                "s" => 32,
                "n" => 0,
                "a" | "all" => 63,
                other => return Err(format!("{other:?} is not one of the letters w,u,c,r,f,s,n")),
            };
        }
        Ok(Letters(out))
    }

    pub fn has(self, l: Letters) -> bool {
        self.0 & l.0 == l.0
    }

    /// The letters as Nagios writes them (`c,r`).
    pub fn as_string(self) -> String {
        let names = ["w", "u", "c", "r", "f", "s"];
        let v: Vec<&str> = (0..6).filter(|i| self.0 & (1 << i) != 0).map(|i| names[i]).collect();
        if v.is_empty() { "n".into() } else { v.join(",") }
    }
}

/// `checks.options`, parsed. `Default` is gobearmon's behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOptions {
    /// Seconds between notifications of one problem; 0: once (the default).
    pub notification_interval: u64,
    /// Seconds a problem waits before its first notification.
    pub first_notification_delay: u64,
    pub notification_period: Option<Arc<str>>,
    /// Outside it the check is not run and does not flip.
    pub check_period: Option<Arc<str>>,
    pub notification_options: Letters,
    pub notifications_enabled: bool,
    /// Flap detection (off by default: gobearmon has none).
    pub flap_detection_enabled: bool,
    /// `low_flap_threshold`, `high_flap_threshold` (percent); `None`: `[policy]`'s.
    pub flap_low: Option<f64>,
    pub flap_high: Option<f64>,
    /// `flap_detection_options`: the result states that take part.
    pub flap_states: FlapStates,
    /// `is_volatile`: every failing result while in a problem is notified.
    pub is_volatile: bool,
    /// `stalking_options` (o,w,c,u): the states in which every change of the output is kept
    /// as an event.
    pub stalking: FlapStates,
    /// Seconds between the runs of a check whose results contradict its state, until they
    /// are confirmed (Nagios's soft state); 0: the check's interval.
    pub retry_interval: u64,
    /// A confirmation may reuse a result this many seconds old instead of running again;
    /// 0: never.
    pub cached_check_horizon: u64,
    /// A command line or an `https://` URL run on every soft and hard state change.
    pub event_handler: Option<Arc<str>>,
    pub event_handler_enabled: bool,
}

impl CheckOptions {
    /// The flap thresholds: the check's own over `defaults`.
    pub fn thresholds(&self, defaults: Thresholds) -> Thresholds {
        Thresholds::new(self.flap_low.unwrap_or(defaults.low), self.flap_high.unwrap_or(defaults.high))
            .unwrap_or(defaults)
    }
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            notification_interval: 0,
            first_notification_delay: 0,
            notification_period: None,
            check_period: None,
            notification_options: Letters::DEFAULT_CHECK,
            notifications_enabled: true,
            flap_detection_enabled: false,
            flap_low: None,
            flap_high: None,
            flap_states: FlapStates::ALL,
            is_volatile: false,
            stalking: FlapStates::NONE,
            retry_interval: 0,
            cached_check_horizon: 0,
            event_handler: None,
            event_handler_enabled: true,
        }
    }
}

/// Keys SPEC §10 names whose behaviour comes with the Nagios world (passive results, tagged
/// workers, realms): accepted without a warning, without effect yet.
const LATER_KEYS: &[&str] = &[
    "active_checks_enabled",
    "passive_checks_enabled",
    "check_freshness",
    "freshness_threshold",
    "poller_tag",
    "realm",
    "push_token",
];

/// A parsed `options` value and the warnings (unknown keys) it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<T> {
    pub options: T,
    pub warnings: Vec<String>,
}

fn object(text: Option<&str>) -> Result<BTreeMap<String, Value>, OptionError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(BTreeMap::new()) };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m.into_iter().collect()),
        Ok(Value::Null) => Ok(BTreeMap::new()),
        Ok(_) => Err(OptionError { field: "options".into(), reason: "is not a JSON object".into() }),
        Err(e) => Err(OptionError { field: "options".into(), reason: format!("is not JSON: {e}") }),
    }
}

fn secs(key: &str, v: &Value) -> Result<u64, OptionError> {
    match v.as_u64() {
        Some(n) if n <= MAX_SECS => Ok(n),
        Some(_) => Err(bad(key, format!("{v} is over a year ({MAX_SECS} seconds)"))),
        None => Err(bad(key, format!("{v} is not a whole number of seconds from 0"))),
    }
}

fn name(key: &str, v: &Value) -> Result<Option<Arc<str>>, OptionError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) if s.len() <= 128 => Ok(Some(Arc::from(s.trim()))),
        _ => Err(bad(key, format!("{v} is not a timeperiod name (a string of up to 128 characters)"))),
    }
}

fn letters(key: &str, v: &Value) -> Result<Letters, OptionError> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let mut parts = Vec::new();
            for i in items {
                parts.push(i.as_str().ok_or_else(|| bad(key, format!("{i} is not a letter")))?.to_string());
            }
            parts.join(",")
        }
        _ => return Err(bad(key, format!("{v} is not a list of letters such as \"c,r\""))),
    };
    Letters::parse(&text).map_err(|r| bad(key, r))
}

fn flag(key: &str, v: &Value) -> Result<bool, OptionError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        _ => Err(bad(key, format!("{v} is not true, false, 0 or 1"))),
    }
}

/// Parses `checks.options`.
///
/// # Errors
/// The first bad value, named `options.<key>`.
pub fn check_options(text: Option<&str>) -> Result<Parsed<CheckOptions>, OptionError> {
    let mut o = CheckOptions::default();
    let mut warnings = Vec::new();
    for (k, v) in object(text)? {
        match k.as_str() {
            "notification_interval" => o.notification_interval = secs(&k, &v)?,
            "first_notification_delay" => o.first_notification_delay = secs(&k, &v)?,
            "notification_period" => o.notification_period = name(&k, &v)?,
            "check_period" => o.check_period = name(&k, &v)?,
            "notification_options" => o.notification_options = letters(&k, &v)?,
            "notifications_enabled" => o.notifications_enabled = flag(&k, &v)?,
            "flap_detection_enabled" => o.flap_detection_enabled = flag(&k, &v)?,
            "is_volatile" => o.is_volatile = flag(&k, &v)?,
            "low_flap_threshold" => o.flap_low = Some(percent(&k, &v)?),
            "high_flap_threshold" => o.flap_high = Some(percent(&k, &v)?),
            "stalking_options" => {
                let text = v
                    .as_str()
                    .ok_or_else(|| bad(&k, format!("{v} is not a list of letters such as \"w,c\"")))?;
                o.stalking = FlapStates::parse(text).map_err(|r| bad(&k, r))?;
            }
            "flap_detection_options" => {
                let text = v
                    .as_str()
                    .ok_or_else(|| bad(&k, format!("{v} is not a list of letters such as \"o,c\"")))?;
                o.flap_states = FlapStates::parse(text).map_err(|r| bad(&k, r))?;
            }
            "retry_interval" => o.retry_interval = secs(&k, &v)?,
            "cached_check_horizon" => o.cached_check_horizon = secs(&k, &v)?,
            "event_handler_enabled" => o.event_handler_enabled = flag(&k, &v)?,
            "event_handler" => o.event_handler = handler(&k, &v)?,
            later if LATER_KEYS.contains(&later) => {}
            other => warnings.push(format!("options.{other}: unknown option, ignored")),
        }
    }
    if let (Some(low), Some(high)) = (o.flap_low, o.flap_high)
        && low > high
    {
        return Err(bad("low_flap_threshold", format!("{low} is above high_flap_threshold {high}")));
    }
    Ok(Parsed { options: o, warnings })
}

/// The longest `event_handler` accepted.
const MAX_HANDLER_LEN: usize = 4096;

fn handler(key: &str, v: &Value) -> Result<Option<Arc<str>>, OptionError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) if s.len() > MAX_HANDLER_LEN => {
            Err(bad(key, format!("is {} bytes long, over {MAX_HANDLER_LEN}", s.len())))
        }
        Value::String(s) if s.trim_start().starts_with("http://") => {
            Err(bad(key, String::from("an event handler URL must be https://, not http://")))
        }
        Value::String(s) => Ok(Some(Arc::from(s.trim()))),
        _ => Err(bad(key, format!("{v} is not a command line or an https:// URL"))),
    }
}

fn percent(key: &str, v: &Value) -> Result<f64, OptionError> {
    match v.as_f64() {
        Some(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(bad(key, format!("{v} is not a percent from 0 to 100"))),
    }
}

/// `contacts.options`, parsed. `Default`: told at any time, of everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactOptions {
    pub notification_period: Option<Arc<str>>,
    pub notification_options: Letters,
    /// A name for messages and the API.
    pub name: Option<String>,
}

impl Default for ContactOptions {
    fn default() -> Self {
        ContactOptions { notification_period: None, notification_options: Letters::ALL, name: None }
    }
}

/// Parses `contacts.options`.
///
/// # Errors
/// The first bad value, named `options.<key>`.
pub fn contact_options(text: Option<&str>) -> Result<Parsed<ContactOptions>, OptionError> {
    let mut o = ContactOptions::default();
    let mut warnings = Vec::new();
    for (k, v) in object(text)? {
        match k.as_str() {
            "notification_period" => o.notification_period = name(&k, &v)?,
            "notification_options" => o.notification_options = letters(&k, &v)?,
            "name" => {
                o.name = Some(v.as_str().ok_or_else(|| bad(&k, format!("{v} is not a string")))?.to_string());
            }
            other => warnings.push(format!("options.{other}: unknown option, ignored")),
        }
    }
    Ok(Parsed { options: o, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::flap::FlapState;

    #[test]
    fn null_and_empty_are_gobearmons_behaviour() {
        for t in [None, Some(""), Some("null"), Some("{}"), Some("  ")] {
            assert_eq!(check_options(t).unwrap().options, CheckOptions::default());
            assert_eq!(contact_options(t).unwrap().options, ContactOptions::default());
        }
        assert!(CheckOptions::default().notification_options.has(Letters::CRITICAL));
        assert!(!CheckOptions::default().notification_options.has(Letters::DOWNTIME));
    }

    #[test]
    fn values_are_read_and_bad_ones_named() {
        let p = check_options(Some(
            r#"{"notification_interval": 300, "first_notification_delay": 60, "notification_period": "24x7",
                "notification_options": "c,r,s", "notifications_enabled": 0, "retry_interval": 10, "colour": "red"}"#,
        ))
        .unwrap();
        assert_eq!(p.options.notification_interval, 300);
        assert_eq!(p.options.first_notification_delay, 60);
        assert_eq!(p.options.notification_period.as_deref(), Some("24x7"));
        assert_eq!(p.options.notification_options.as_string(), "c,r,s");
        assert!(!p.options.notifications_enabled);
        assert_eq!(p.warnings, vec!["options.colour: unknown option, ignored".to_string()]);

        let e = check_options(Some(r#"{"notification_interval": -5}"#)).unwrap_err();
        assert_eq!(e.field, "options.notification_interval");
        let e = check_options(Some(r#"{"notification_options": "c,x"}"#)).unwrap_err();
        assert_eq!(e.field, "options.notification_options");
        assert!(e.reason.contains("\"x\""), "{e}");
        let e = check_options(Some("[1]")).unwrap_err();
        assert_eq!(e.field, "options");
        let e = check_options(Some("{nope")).unwrap_err();
        assert!(e.reason.starts_with("is not JSON"), "{e}");
        let p = check_options(Some(
            r#"{"flap_detection_enabled": true, "low_flap_threshold": 10, "high_flap_threshold": 40.5, "flap_detection_options": "o,c", "is_volatile": 1}"#,
        ))
        .unwrap()
        .options;
        assert!(p.flap_detection_enabled && p.is_volatile);
        assert_eq!(p.thresholds(Thresholds::default()), Thresholds::new(10.0, 40.5).unwrap());
        let e = check_options(Some(r#"{"low_flap_threshold": 50, "high_flap_threshold": 40}"#)).unwrap_err();
        assert_eq!(e.field, "options.low_flap_threshold");
        let e = check_options(Some(r#"{"high_flap_threshold": 101}"#)).unwrap_err();
        assert_eq!(e.field, "options.high_flap_threshold");
        let p = check_options(Some(r#"{"stalking_options": "w,c"}"#)).unwrap().options;
        assert!(p.stalking.has(FlapState::Critical) && !p.stalking.has(FlapState::Ok));
        assert!(CheckOptions::default().stalking.is_empty());
        let e = check_options(Some(r#"{"flap_detection_options": "o,z"}"#)).unwrap_err();
        assert_eq!(e.field, "options.flap_detection_options");
        let e = contact_options(Some(r#"{"notification_period": 7}"#)).unwrap_err();
        assert_eq!(e.field, "options.notification_period");
    }

    #[test]
    fn letters_read_back() {
        assert_eq!(Letters::parse("w,u,c,r,f,s").unwrap(), Letters::ALL);
        assert_eq!(Letters::parse("n").unwrap().as_string(), "n");
        assert_eq!(Letters::parse("c, r").unwrap(), Letters::DEFAULT_CHECK);
        assert_eq!(letters("x", &serde_json::json!(["c", "r"])).unwrap(), Letters::DEFAULT_CHECK);
    }
}
