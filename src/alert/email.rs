//! E-mail over SMTP with lettre: STARTTLS when offered (gobearmon's rule, the default),
//! required (with credentials, or `starttls = true`), plain, or implicit TLS on port 465, with a deadline on every connection and on the whole send (gobearmon's mailer
//! had none). Each message carries a `Message-ID` built from the idempotency key, so a
//! repeat after a crash is recognisably the same message.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{AlertError, SendError, SmtpConfig};

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).finish()
    }
}

/// What `[smtp]` means, checked without building a transport (which needs a runtime): the
/// sender, the port, and the TLS mode with its CA. `alert::config::validate` runs it too.
///
/// # Errors
/// [`AlertError::Config`] naming the `[smtp]` key that is wrong.
pub fn settings(cfg: &SmtpConfig) -> Result<(Mailbox, u16, Tls), AlertError> {
    let bad = |key: &str, reason: String| AlertError::Config { key: format!("smtp.{key}"), reason };
    let from: Mailbox = cfg.from.parse().map_err(|e| bad("from", format!("{:?}: {e}", cfg.from)))?;
    let port = cfg.port.unwrap_or(if cfg.starttls == Some(false) { 25 } else { 587 });
    let mut tls = TlsParameters::builder(cfg.host.clone());
    if let Some(ca) = &cfg.ca {
        let pem = std::fs::read(ca).map_err(|e| bad("ca", format!("{}: {e}", ca.display())))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| bad("ca", format!("{}: {e}", ca.display())))?;
        tls = tls.add_root_certificate(cert);
    }
    let params = || tls.clone().build_rustls().map_err(|e| bad("host", e.to_string()));
    let mode = match (port, cfg.starttls) {
        (465, _) => Tls::Wrapper(params()?),
        (_, Some(false)) => Tls::None,
        (_, Some(true)) => Tls::Required(params()?),
        // A password never crosses in clear: with credentials STARTTLS is required.
        (_, None) if cfg.username.is_some() || cfg.password.is_some() => Tls::Required(params()?),
        (_, None) => Tls::Opportunistic(params()?),
    };
    Ok((from, port, mode))
}

impl Mailer {
    /// # Errors
    /// [`AlertError::Config`] naming the `[smtp]` key that is wrong.
    pub fn new(cfg: &SmtpConfig) -> Result<Self, AlertError> {
        let (from, port, mode) = settings(cfg)?;
        let timeout = Duration::from_secs_f64(cfg.timeout_secs);
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.host.clone())
            .port(port)
            .tls(mode)
            .timeout(Some(timeout));
        if let Some(user) = &cfg.username {
            b = b.credentials(Credentials::new(user.clone(), cfg.password.clone().unwrap_or_default()));
        }
        Ok(Mailer { transport: b.build(), from, timeout })
    }
    /// Sends one text message.
    ///
    /// # Errors
    /// [`SendError::Permanent`] on a 5xx answer (a rejected address), transient otherwise.
    pub async fn send(&self, to: &Address, subject: &str, body: &str, idem: &str) -> Result<(), SendError> {
        let msg: Message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to.clone()))
            .subject(subject)
            .message_id(Some(format!("<{idem}@bearmon>")))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| SendError::Permanent(format!("building the message: {e}")))?;
        match tokio::time::timeout(self.timeout * 2, self.transport.send(msg)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => {
                Err(SendError::Permanent(format!("smtp: {}", crate::util::error_chain(&e))))
            }
            Ok(Err(e)) => Err(SendError::Transient(format!("smtp: {}", crate::util::error_chain(&e)))),
            Err(_) => Err(SendError::Transient(format!("smtp: no answer within {:?}", self.timeout * 2))),
        }
    }
}
