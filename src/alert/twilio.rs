//! SMS and voice through Twilio's REST API (2010-04-01): `POST
//! /Accounts/{AccountSid}/Messages.json` with `To`, `From`, `Body`, and `POST
//! /Accounts/{AccountSid}/Calls.json` with `To`, `From` and inline `Twiml` (gobearmon used a
//! third-party text-to-speech URL over plain HTTP). HTTP Basic auth with the account SID and
//! auth token; Twilio's idempotency header carries the notification's key.

use std::time::Duration;

use serde::Deserialize;

use super::{SendError, TwilioConfig};

/// Twilio's error for a `To` number that is not a valid phone number: never retried.
pub const INVALID_TO: i64 = 21211;

#[derive(Debug, Deserialize)]
struct Created {
    sid: String,
}

#[derive(Debug, Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
    more_info: Option<String>,
}

/// Escapes text for an XML element.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The TwiML a voice call speaks (twice, so a listener who picks up late hears it).
pub fn twiml(text: &str) -> String {
    let t = xml(text);
    format!("<Response><Say>{t}</Say><Pause length=\"1\"/><Say>{t}</Say></Response>")
}

#[derive(Debug, Clone)]
pub struct Twilio {
    http: reqwest::Client,
    cfg: TwilioConfig,
}

impl Twilio {
    pub fn new(http: reqwest::Client, cfg: TwilioConfig) -> Self {
        Twilio { http, cfg }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.cfg.timeout_secs)
    }

    /// Sends an SMS; returns the message SID.
    ///
    /// # Errors
    /// [`SendError::Permanent`] for error 21211 and other 4xx answers, transient otherwise.
    pub async fn sms(&self, to: &str, body: &str, idem: &str) -> Result<String, SendError> {
        self.create("Messages.json", &[("To", to), ("From", &self.cfg.from), ("Body", body)], idem).await
    }

    /// Places a call that speaks `text`; returns the call SID.
    ///
    /// # Errors
    /// As [`Twilio::sms`].
    pub async fn call(&self, to: &str, text: &str, idem: &str) -> Result<String, SendError> {
        let tw = twiml(text);
        self.create("Calls.json", &[("To", to), ("From", &self.cfg.from), ("Twiml", &tw)], idem).await
    }

    async fn create(&self, what: &str, form: &[(&str, &str)], idem: &str) -> Result<String, SendError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{what}",
            self.cfg.api_base.trim_end_matches('/'),
            self.cfg.account_sid
        );
        let resp = self
            .http
            .post(&url)
            .timeout(self.timeout())
            .basic_auth(&self.cfg.account_sid, Some(&self.cfg.auth_token))
            .header("I-Twilio-Idempotency-Token", idem)
            .form(form)
            .send()
            .await
            .map_err(|e| SendError::Transient(format!("twilio {what}: {}", crate::util::error_chain(&e))))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status.is_success() {
            return serde_json::from_str::<Created>(&text)
                .map(|c| c.sid)
                .map_err(|e| SendError::Transient(format!("twilio {what}: answer without a sid: {e}")));
        }
        let err: Option<TwilioError> = serde_json::from_str(&text).ok();
        let code = err.as_ref().and_then(|e| e.code);
        let detail = match &err {
            Some(e) => format!(
                "error {}: {} ({})",
                code.map_or("?".into(), |c| c.to_string()),
                e.message.clone().unwrap_or_default(),
                e.more_info.clone().unwrap_or_default()
            ),
            None => text.chars().take(200).collect(),
        };
        let msg = format!("twilio {what}: HTTP {}: {detail}", status.as_u16());
        let s = status.as_u16();
        if code == Some(INVALID_TO) || (status.is_client_error() && s != 408 && s != 429) {
            Err(SendError::Permanent(msg))
        } else {
            Err(SendError::Transient(msg))
        }
    }
}
