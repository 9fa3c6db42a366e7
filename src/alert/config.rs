//! The alert settings of a node's config file: `[smtp]`, `[twilio]` and `[alerts]`, and the one
//! check of them that both the node (at start) and `bearmon check-config` run, so a file the
//! node would refuse never passes the linter.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::AlertError;

/// The longest a timeout or a wait may be set to (a week): far past any useful value, and well
/// inside what `Duration` holds, so no setting can overflow it.
const MAX_SECS: f64 = 7.0 * 86_400.0;

/// `v` is a finite number of seconds above zero, up to [`MAX_SECS`] (hours: up to a year).
fn positive(key: &str, v: f64) -> Result<(), AlertError> {
    let max = if key.ends_with("_hours") { 24.0 * 365.0 } else { MAX_SECS };
    if v.is_finite() && v > 0.0 && v <= max {
        Ok(())
    } else {
        Err(AlertError::Config {
            key: key.to_string(),
            reason: format!("{v} is not a number above 0 and at most {max}"),
        })
    }
}

/// Checks every alert setting the node would use, naming the key of the first bad one.
///
/// # Errors
/// [`AlertError::Config`].
pub fn validate(
    smtp: Option<&SmtpConfig>,
    twilio: Option<&TwilioConfig>,
    alerts: &AlertsConfig,
) -> Result<(), AlertError> {
    alerts.validate()?;
    if let Some(s) = smtp {
        positive("smtp.timeout_secs", s.timeout_secs)?;
        // The sender address, the CA file and the TLS mode, as the mailer will read them.
        super::email::settings(s)?;
        if let Some(a) = &s.admin {
            admin_address(a)?;
        }
    }
    if let Some(t) = twilio {
        for (key, v) in [("account_sid", &t.account_sid), ("auth_token", &t.auth_token), ("from", &t.from)] {
            if v.is_empty() {
                return Err(AlertError::Config { key: format!("twilio.{key}"), reason: "is empty".into() });
            }
        }
        positive("twilio.timeout_secs", t.timeout_secs)?;
    }
    Ok(())
}

/// `[smtp] admin` as an address.
///
/// # Errors
/// [`AlertError::Config`] naming `smtp.admin`.
pub fn admin_address(a: &str) -> Result<lettre::Address, AlertError> {
    a.parse().map_err(|e| AlertError::Config { key: "smtp.admin".into(), reason: format!("{a:?}: {e}") })
}

fn default_timeout() -> f64 {
    10.0
}

/// `[smtp]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default 587, or 25 with `starttls = false`; 465 means implicit TLS.
    pub port: Option<u16>,
    /// The sender, `bearmon@example.com` or `Bearmon <bearmon@example.com>`.
    pub from: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Unset (gobearmon's rule): STARTTLS when the server offers it, required when
    /// `username` is set (a password never crosses in clear). `true`: always required;
    /// `false`: never (a local relay). Ignored on port 465 (implicit TLS).
    #[serde(default)]
    pub starttls: Option<bool>,
    /// An extra CA certificate (PEM) to trust for the server's certificate.
    pub ca: Option<PathBuf>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    /// Where cluster problems are mailed.
    pub admin: Option<String>,
}

fn twilio_base() -> String {
    "https://api.twilio.com".into()
}

/// `[twilio]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: String,
    /// The sending number, E.164.
    pub from: String,
    /// Twilio's API (tests point it at a local stand-in).
    #[serde(default = "twilio_base")]
    pub api_base: String,
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
}

/// `[alerts]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// A notification not delivered after this many hours is given up (recorded as failed).
    pub give_up_after_hours: f64,
    /// Deadline of one webhook or `http` request.
    pub webhook_timeout_secs: f64,
    /// The first retry waits this long; each next one twice as long, with ±25 % jitter.
    pub retry_first_secs: f64,
    /// Retries wait at most this long.
    pub retry_max_secs: f64,
    /// The same admin mail is sent at most once per this many seconds.
    pub admin_every_secs: f64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            give_up_after_hours: 24.0,
            webhook_timeout_secs: 10.0,
            retry_first_secs: 2.0,
            retry_max_secs: 300.0,
            admin_every_secs: 3600.0,
        }
    }
}

impl AlertsConfig {
    /// # Errors
    /// [`AlertError::Config`] naming the key.
    pub fn validate(&self) -> Result<(), AlertError> {
        let check = |key: &str, v: f64| positive(&format!("alerts.{key}"), v);
        check("give_up_after_hours", self.give_up_after_hours)?;
        check("webhook_timeout_secs", self.webhook_timeout_secs)?;
        check("retry_first_secs", self.retry_first_secs)?;
        check("retry_max_secs", self.retry_max_secs)?;
        check("admin_every_secs", self.admin_every_secs)
    }

    /// The wait before attempt `attempts + 1`, jittered.
    pub fn backoff(&self, attempts: u32, jitter: f64) -> Duration {
        let base = self.retry_first_secs * 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
        let capped = base.min(self.retry_max_secs);
        Duration::from_secs_f64((capped * (0.75 + 0.5 * jitter.clamp(0.0, 1.0))).max(0.05))
    }
}
