//! Mail to the `[smtp] admin` address about the cluster itself (gobearmon's two cases and
//! more): each subject at most once per `admin_every_secs`, sent from a task of its own so a
//! slow SMTP server never holds up anything (gobearmon mailed while holding its lock, bug 12).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Notifier;

#[derive(Debug, Clone)]
pub struct AdminMail {
    notifier: Arc<Notifier>,
    last: Arc<Mutex<HashMap<String, Instant>>>,
}

impl AdminMail {
    pub fn new(notifier: Arc<Notifier>) -> Self {
        AdminMail { notifier, last: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// Mails the admin unless the same subject went out recently; returns whether it will.
    pub fn send(&self, subject: &str, body: &str) -> bool {
        let (Some(mailer), Some(to)) = (self.notifier.mailer().cloned(), self.notifier.admin.clone()) else {
            return false;
        };
        let every = Duration::from_secs_f64(self.notifier.cfg.admin_every_secs);
        {
            let mut last = crate::util::lock(&self.last);
            if last.get(subject).is_some_and(|t| t.elapsed() < every) {
                return false;
            }
            last.insert(subject.to_string(), Instant::now());
        }
        let (subject, body) = (subject.to_string(), body.to_string());
        tokio::spawn(async move {
            let key = format!("admin-{}", crate::util::now_ms());
            match mailer.send(&to, &subject, &body, &key).await {
                Ok(()) => tracing::info!(subject = %subject, "admin mail sent"),
                Err(e) => tracing::warn!(subject = %subject, error = %e, "admin mail failed"),
            }
        });
        true
    }
}
