//! Alerts that are never lost.
//!
//! A flip writes one outbox row per contact to notify, in the flip's own fenced transaction
//! ([`outbox::enqueue`]); the controller's [`dispatch::Dispatcher`] claims due rows with a
//! conditional update, sends them ([`Notifier::deliver`]), and records every attempt.
//! Failures are retried with backoff and jitter until the row is a day old (configurable);
//! permanent failures stop at once. Each notification carries the key `bm-<event>-<contact>`.

pub mod admin;
pub mod contact;
pub mod dispatch;
pub mod email;
pub mod outbox;
pub mod text;
pub mod twilio;
pub mod web;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

pub use contact::Target;
pub use text::{Event, Redacted};

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("setting `{key}`: {reason}")]
    Config { key: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Why one send did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Retrying cannot help (a rejected address, a 4xx answer, Twilio error 21211).
    #[error("permanent: {0}")]
    Permanent(String),
    /// Worth another try later (timeouts, 5xx, 408, 429, a server that is down).
    #[error("{0}")]
    Transient(String),
}

fn default_timeout() -> f64 {
    10.0
}

/// `[smtp]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default 587 with STARTTLS, 25 without; 465 means implicit TLS.
    pub port: Option<u16>,
    /// The sender, `bearmon@example.com` or `Bearmon <bearmon@example.com>`.
    pub from: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Require STARTTLS (default true). Ignored on port 465 (implicit TLS).
    #[serde(default = "yes")]
    pub starttls: bool,
    /// An extra CA certificate (PEM) to trust for the server's certificate.
    pub ca: Option<PathBuf>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    /// Where cluster problems are mailed.
    pub admin: Option<String>,
}

fn yes() -> bool {
    true
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
        let check = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(AlertError::Config {
                    key: format!("alerts.{key}"),
                    reason: format!("{v} is not a positive number"),
                })
            }
        };
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

/// One notification to send: an outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub outbox_id: i64,
    pub event_id: i64,
    pub contact_id: i64,
    pub idem_key: String,
    /// The event id of the offline flip that opened this incident.
    pub incident: i64,
    pub incident_at_ms: i64,
    /// When the flip was committed (unix ms).
    pub at_ms: i64,
    /// Attempts so far, this one included.
    pub attempts: u32,
    pub event: Event,
}

/// The idempotency key of (event, contact).
pub fn idem_key(event_id: i64, contact_id: i64) -> String {
    format!("bm-{event_id}-{contact_id}")
}

/// The senders, built once from the node's config.
#[derive(Debug, Clone)]
pub struct Notifier {
    mailer: Option<email::Mailer>,
    twilio: Option<twilio::Twilio>,
    http: reqwest::Client,
    pub cfg: AlertsConfig,
    pub admin: Option<lettre::Address>,
}

impl Notifier {
    /// # Errors
    /// [`AlertError`] naming the key of a section that cannot be used.
    pub fn new(
        smtp: Option<&SmtpConfig>,
        tw: Option<&TwilioConfig>,
        cfg: AlertsConfig,
    ) -> Result<Arc<Self>, AlertError> {
        cfg.validate()?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("bearmon/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AlertError::Client(e.to_string()))?;
        let admin = match smtp.and_then(|s| s.admin.as_ref()) {
            Some(a) => Some(a.parse().map_err(|e| AlertError::Config {
                key: "smtp.admin".into(),
                reason: format!("{a:?}: {e}"),
            })?),
            None => None,
        };
        if let Some(t) = tw {
            for (key, v) in
                [("account_sid", &t.account_sid), ("auth_token", &t.auth_token), ("from", &t.from)]
            {
                if v.is_empty() {
                    return Err(AlertError::Config {
                        key: format!("twilio.{key}"),
                        reason: "is empty".into(),
                    });
                }
            }
        }
        Ok(Arc::new(Notifier {
            mailer: smtp.map(email::Mailer::new).transpose()?,
            twilio: tw.map(|t| twilio::Twilio::new(http.clone(), t.clone())),
            http,
            cfg,
            admin,
        }))
    }

    /// A notifier that can only reach HTTP receivers (no `[smtp]`, no `[twilio]`).
    pub fn http_only() -> Arc<Self> {
        Self::new(None, None, AlertsConfig::default())
            .unwrap_or_else(|e| panic!("default alert settings: {e}"))
    }

    pub fn mailer(&self) -> Option<&email::Mailer> {
        self.mailer.as_ref()
    }

    /// Sends `d` to `target`. On success, a charge to record (kind, provider id) for SMS
    /// and voice, as gobearmon wrote to `charges`.
    ///
    /// # Errors
    /// [`SendError`] saying whether a retry can help.
    pub async fn deliver(
        &self,
        target: &Target,
        d: &Delivery,
    ) -> Result<Option<(&'static str, String)>, SendError> {
        let webhook_timeout = Duration::from_secs_f64(self.cfg.webhook_timeout_secs);
        match target {
            Target::Email(addr) => {
                let m = self.mailer.as_ref().ok_or_else(|| {
                    SendError::Transient("no [smtp] section in this controller's config".into())
                })?;
                m.send(addr, &text::subject(&d.event), &text::email_body(&d.event), &d.idem_key)
                    .await
                    .map(|()| None)
            }
            Target::Sms(to) => {
                let t = self.twilio.as_ref().ok_or_else(|| {
                    SendError::Transient("no [twilio] section in this controller's config".into())
                })?;
                t.sms(to, &text::headline(&d.event), &d.idem_key).await.map(|sid| Some(("sms", sid)))
            }
            Target::Voice(to) => {
                let t = self.twilio.as_ref().ok_or_else(|| {
                    SendError::Transient("no [twilio] section in this controller's config".into())
                })?;
                t.call(to, &text::voice(&d.event), &d.idem_key).await.map(|sid| Some(("voice", sid)))
            }
            Target::Http(url) => web::form(&self.http, url, d, webhook_timeout).await.map(|()| None),
            Target::Webhook(spec) => web::webhook(&self.http, spec, d, webhook_timeout).await.map(|()| None),
        }
    }
}
