//! Mail to the `[smtp] admin` address about the cluster itself (gobearmon's two cases and
//! more): each subject at most once per `admin_every_secs`, sent from a task of its own so a
//! slow SMTP server never holds up anything (gobearmon mailed while holding its lock, bug 12).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Notifier;

/// Successive database errors of one node, whatever wrote or read (the change poll, the
/// term renewal, a commit, an outbox claim or record): the admin is mailed at every
/// [`DB_ERRORS_MAILED`]-th in a row. One success of any of them ends the run only for that
/// path, so commits failing while polls succeed still add up.
pub const DB_ERRORS_MAILED: u64 = 10;

#[derive(Debug, Clone)]
pub struct AdminMail {
    notifier: Arc<Notifier>,
    last: Arc<Mutex<HashMap<String, Instant>>>,
    db_errors: Arc<Mutex<HashMap<&'static str, u64>>>,
    /// Which node and term the database mails speak for.
    who: Arc<Mutex<String>>,
}

impl AdminMail {
    pub fn new(notifier: Arc<Notifier>) -> Self {
        AdminMail { notifier, last: Arc::default(), db_errors: Arc::default(), who: Arc::default() }
    }

    /// Names the node (and term) in the database mails.
    pub fn speaking_for(&self, who: String) {
        *crate::util::lock(&self.who) = who;
    }

    /// A database operation on `path` succeeded: its run of errors ends.
    pub fn db_ok(&self, path: &'static str) {
        let mut errors = crate::util::lock(&self.db_errors);
        if !errors.is_empty() {
            errors.remove(path);
        }
    }

    /// A database operation on `path` failed; at every tenth error in a row on it the admin
    /// is mailed (at most once per `admin_every_secs`, like every admin mail). Returns
    /// whether this call mailed.
    pub fn db_failed(&self, path: &'static str, error: &dyn std::fmt::Display) -> bool {
        let n = {
            let mut errors = crate::util::lock(&self.db_errors);
            let n = errors.entry(path).or_insert(0);
            *n += 1;
            *n
        };
        if !n.is_multiple_of(DB_ERRORS_MAILED) {
            return false;
        }
        let who = crate::util::lock(&self.who).clone();
        self.send(
            "bearmon: successive database errors",
            &format!("{who} got {n} successive database errors ({path}); the last: {error}"),
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::config::{AlertsConfig, SmtpConfig};

    fn admin() -> AdminMail {
        crate::init_crypto();
        let smtp: SmtpConfig = toml::from_str(
            "host = \"127.0.0.1\"\nport = 9\nfrom = \"bearmon@example.com\"\nstarttls = false\ntimeout_secs = 1\nadmin = \"admin@example.com\"",
        )
        .unwrap();
        AdminMail::new(Notifier::new(Some(&smtp), None, AlertsConfig::default()).unwrap())
    }

    /// Commits failing while the poll succeeds still reach the tenth error in a row: each path
    /// keeps its own run, and the mail is rate-limited like every admin mail.
    #[tokio::test]
    async fn the_tenth_database_error_in_a_row_of_any_path_mails_the_admin() {
        let a = admin();
        a.speaking_for("controller w1 (term 4)".into());
        for i in 1..10 {
            assert!(!a.db_failed("commit", &"connection reset"), "error {i}");
            a.db_ok("poll");
        }
        assert!(a.db_failed("commit", &"connection reset"), "the tenth commit error mails");
        a.db_ok("commit");
        for _ in 1..10 {
            a.db_failed("outbox record", &"timeout");
        }
        assert!(
            !a.db_failed("outbox record", &"timeout"),
            "the same subject within the hour is not mailed again"
        );
    }
}
