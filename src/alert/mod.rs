//! Alerts that are never lost: the contact kinds, their senders, and the delivery loop.
//!
//! A flip writes one outbox row per contact to notify, in the flip's own fenced transaction
//! (`store::outbox::enqueue`); the controller runs [`deliver::run`], which claims due rows
//! under the fence, sends each ([`Notifier::deliver`]) to the contact it finds parsed in a
//! [`deliver::Directory`], and records every attempt. Failures are retried with backoff and
//! jitter until the row is a day old (configurable); permanent failures stop at once. Each
//! notification carries the key `bm-<event>-<contact>`.

pub mod admin;
pub mod config;
pub mod contact;
pub mod deliver;
pub mod email;
pub mod preset;
pub mod text;
pub mod twilio;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

/// Redirects an `http` contact's form POST follows at most.
const FORM_REDIRECTS: usize = 5;

pub use crate::store::{Delivery, Event};
pub use config::{AlertsConfig, SmtpConfig, TwilioConfig};
pub use contact::Target;

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

/// The senders, built once from the node's config.
#[derive(Debug, Clone)]
pub struct Notifier {
    mailer: Option<email::Mailer>,
    twilio: Option<twilio::Twilio>,
    /// Webhooks and Twilio: redirects are not followed (a signed request goes where it says).
    http: reqwest::Client,
    /// `http` contacts: redirects followed, as gobearmon did.
    form_http: reqwest::Client,
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
        config::validate(smtp, tw, &cfg)?;
        let client = |redirect| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .redirect(redirect)
                .user_agent(concat!("bearmon/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| AlertError::Client(e.to_string()))
        };
        let http = client(reqwest::redirect::Policy::none())?;
        // gobearmon's form POST followed redirects (Go's client: 301/302/303 as GET, 307/308
        // with the body); so does an `http` contact, up to five.
        let form_http = client(reqwest::redirect::Policy::limited(FORM_REDIRECTS))?;
        let admin = smtp.and_then(|s| s.admin.as_deref()).map(config::admin_address).transpose()?;
        Ok(Arc::new(Notifier {
            mailer: smtp.map(email::Mailer::new).transpose()?,
            twilio: tw.map(|t| twilio::Twilio::new(http.clone(), t.clone())),
            http,
            form_http,
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
            Target::Http(url) => web::form(&self.form_http, url, d, webhook_timeout).await.map(|()| None),
            Target::Webhook(spec) => web::webhook(&self.http, spec, d, webhook_timeout).await.map(|()| None),
        }
    }
}
