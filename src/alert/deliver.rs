//! The delivery loop: claims due outbox rows under the fence, sends each to its contact in a
//! task of its own, and records every attempt. It knows the controller only through what it
//! is handed: a [`Fence`] (claims are fenced, so a deposed controller sends nothing new), a
//! [`Directory`] of parsed contacts and of the cluster's own addresses, a wake signal
//! (a flip was committed) and a stop token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use super::admin::AdminMail;
use super::contact::Parsed;
use super::{Notifier, SendError};
use crate::metrics::Metrics;
use crate::store::{AttemptOutcome, Delivery, Fence, FenceError, outbox};
use crate::util::now_ms;

/// Sends in flight at once.
const MAX_SENDING: usize = 32;
/// Due rows read per pass.
const DUE_BATCH: i64 = 200;
/// A contact whose notification still retries this long after its flip is failing: shown
/// on the page, in `bearmon status`, and mailed to the admin.
pub const FAILING_AFTER: Duration = Duration::from_secs(600);

/// What the delivery loop needs to know of the cluster, answered from the controller's memory.
pub trait Directory: Send + Sync + 'static {
    /// Contact `id` as parsed when it was loaded; `None` when no such row exists.
    fn contact(&self, id: i64) -> Option<Arc<Parsed>>;
    /// The URLs of the cluster's own nodes: a contact pointing at one is refused.
    fn own_urls(&self) -> Vec<String>;
}

/// Everything the loop runs with.
pub struct Deliverer {
    pub fence: Fence,
    pub notifier: Arc<Notifier>,
    pub metrics: Metrics,
    pub directory: Arc<dyn Directory>,
    /// Mails the admin about failing contacts and successive database errors.
    pub admin: AdminMail,
    /// Notified when a flip queued rows, or a retry is due sooner than the next pass.
    pub wake: Arc<Notify>,
    pub stop: CancellationToken,
}

/// Runs until `stop` is cancelled (`Ok`) or the database says a newer term exists (`Err`).
///
/// # Errors
/// [`FenceError::Deposed`]: the caller steps its controller down.
pub async fn run(d: Deliverer) -> Result<(), FenceError> {
    let d = Arc::new(d);
    let slots = Arc::new(Semaphore::new(MAX_SENDING));
    let mut last_count = Instant::now() - Duration::from_secs(60);
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            () = d.wake.notified() => {}
            () = d.stop.cancelled() => return Ok(()),
        }
        let db = d.fence.db();
        if last_count.elapsed() >= Duration::from_secs(2) {
            last_count = Instant::now();
            if let Ok(n) = outbox::pending(db).await {
                d.metrics.outbox_pending.set(n);
            }
        }
        let due = match outbox::due(db, d.fence.term(), DUE_BATCH).await {
            Ok(ids) => {
                d.admin.db_ok("outbox read");
                ids
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the outbox; retrying");
                d.admin.db_failed("outbox read", &e);
                continue;
            }
        };
        for id in due {
            let Ok(slot) = slots.clone().acquire_owned().await else { return Ok(()) };
            if d.stop.is_cancelled() {
                return Ok(());
            }
            let lease = Duration::from_secs_f64(d.notifier.cfg.webhook_timeout_secs.max(30.0)) * 2;
            match d.fence.claim_outbox(id, now_ms() + lease.as_millis() as i64).await {
                Ok(Some(delivery)) => {
                    let d = d.clone();
                    tokio::spawn(async move {
                        let _slot = slot;
                        d.send(delivery).await;
                    });
                }
                Ok(None) => {}
                Err(e @ FenceError::Deposed { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim an outbox row; retrying");
                    d.admin.db_failed("outbox claim", &e);
                    break;
                }
            }
        }
    }
}

impl Deliverer {
    /// One attempt and its record.
    async fn send(&self, d: Delivery) {
        let outcome = self.attempt(&d).await;
        let mut backoff = Duration::from_millis(250);
        // The send happened (or not); its record must not be lost to a database hiccup.
        for _ in 0..8 {
            let recorded =
                outbox::record(self.fence.db(), d.outbox_id, d.event.check_id, self.fence.term(), &outcome);
            let recorded = recorded.await;
            match &recorded {
                Ok(_) => self.admin.db_ok("outbox record"),
                Err(e) => {
                    self.admin.db_failed("outbox record", e);
                }
            }
            match recorded {
                Ok(true) => {
                    if matches!(outcome, AttemptOutcome::Retry { .. }) {
                        self.wake.notify_one();
                    }
                    return;
                }
                Ok(false) => {
                    tracing::warn!(outbox = d.outbox_id, key = %d.idem_key, "outbox row was taken over by a newer controller; its attempt is recorded only in the attempts table");
                    return;
                }
                Err(e) => {
                    tracing::warn!(outbox = d.outbox_id, error = %e, "cannot record a delivery attempt; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        tracing::error!(outbox = d.outbox_id, key = %d.idem_key, "could not record a delivery attempt; the row will be retried after its lease (same idempotency key)");
    }

    /// Finds the contact, sends, and says what to record. Never panics; every way it can end
    /// is an [`AttemptOutcome`], logged with the check, contact and idempotency key. A failure
    /// is counted per contact and, when another channel can carry it, mailed to the admin.
    async fn attempt(&self, d: &Delivery) -> AttemptOutcome {
        let (outcome, kind, failure) = self.try_send(d).await;
        if let Some(reason) = failure {
            self.metrics.alert_failed(kind, reason, d.contact_id);
            self.tell_admin(d, kind, reason, &outcome);
        }
        outcome
    }

    /// One attempt: the outcome, the contact's kind and, when it failed, why (the metric's
    /// `reason`).
    async fn try_send(&self, d: &Delivery) -> (AttemptOutcome, &'static str, Option<&'static str>) {
        let notifier = &self.notifier;
        let attempts = d.attempts;
        let failed = |error: String| AttemptOutcome::Failed { error };
        let Some(contact) = self.directory.contact(d.contact_id) else {
            let error = format!("contacts row {} no longer exists", d.contact_id);
            tracing::warn!(check = d.event.check_id, contact = d.contact_id, key = %d.idem_key, "{error}; notification dropped");
            return (failed(error), "unknown", Some("no_contact"));
        };
        let kind = contact.kind;
        let target = match &contact.target {
            Ok(t) => t,
            Err(problem) => {
                let error = format!("contacts row {}: {problem}", d.contact_id);
                tracing::warn!(check = d.event.check_id, contact = d.contact_id, key = %d.idem_key, problem = %error, "contact cannot be notified");
                return (failed(error), kind, Some("invalid_contact"));
            }
        };
        let nodes = self.directory.own_urls();
        let own = match target.url() {
            Some(u) => super::web::points_at_node(u, &nodes).await,
            None => None,
        };
        if let Some(node) = own {
            let error = format!("refused: the URL points at the bearmon node API at {node}");
            tracing::warn!(check = d.event.check_id, contact = d.contact_id, key = %d.idem_key, "{error}; notification not sent");
            return (failed(error), kind, Some("own_api"));
        }
        match notifier.deliver(target, d).await {
            Ok(charge) => {
                self.metrics.alerts_sent.get_or_create(&vec![("kind", kind)]).inc();
                tracing::info!(check = d.event.check_id, contact = d.contact_id, kind, status = %d.event.status, notification_type = %super::text::type_name(&d.event), notification_number = d.event.notification_number, key = %d.idem_key, attempt = attempts, "notification sent");
                (AttemptOutcome::Sent { charge }, kind, None)
            }
            Err(SendError::Permanent(error)) => {
                tracing::warn!(check = d.event.check_id, contact = d.contact_id, kind, key = %d.idem_key, error = %error, "notification failed permanently; not retrying");
                (failed(error), kind, Some("permanent"))
            }
            Err(SendError::Transient(error)) => {
                let age_h = (now_ms() - d.at_ms) as f64 / 3_600_000.0;
                if age_h >= notifier.cfg.give_up_after_hours {
                    tracing::warn!(check = d.event.check_id, contact = d.contact_id, kind, key = %d.idem_key, attempts, error = %error, "notification given up");
                    let error =
                        format!("gave up after {attempts} attempts over {age_h:.1} h; last error: {error}");
                    return (failed(error), kind, Some("gave_up"));
                }
                let wait = notifier.cfg.backoff(attempts, rand_unit());
                tracing::warn!(check = d.event.check_id, contact = d.contact_id, kind, key = %d.idem_key, attempt = attempts, retry_in = ?wait, error = %error, "notification failed; will retry");
                (
                    AttemptOutcome::Retry { at_ms: now_ms() + wait.as_millis() as i64, error },
                    kind,
                    Some("retrying"),
                )
            }
        }
    }

    /// Mails the admin that a contact's notifications fail: when they failed for good, or
    /// still retry [`FAILING_AFTER`] after the flip. Not when the failing channel is the mail
    /// server itself (an e-mail contact whose sends fail): the admin mail would fail too.
    fn tell_admin(&self, d: &Delivery, kind: &'static str, reason: &'static str, outcome: &AttemptOutcome) {
        let age = Duration::from_millis(u64::try_from(now_ms() - d.at_ms).unwrap_or(0));
        let (error, state) = match outcome {
            AttemptOutcome::Failed { error } => (error, "failed"),
            AttemptOutcome::Retry { error, .. } if age >= FAILING_AFTER => (error, "still failing, retrying"),
            _ => return,
        };
        let smtp_down = kind == "email" && matches!(reason, "permanent" | "gave_up" | "retrying");
        if smtp_down {
            return;
        }
        let about = if d.event.is_state_change() {
            format!("going {}", d.event.status)
        } else {
            format!(
                "(a notification of type {}, while it was {})",
                super::text::type_name(&d.event),
                d.event.status
            )
        };
        self.admin.send(
            &format!("bearmon: notifications to contact {} are failing", d.contact_id),
            &format!(
                "Notifications to contacts row {} ({kind}) {state} after {} attempts: {error}\n\
                 The last one was about check {} [{}] {about}. bearmon status and the status page list \
                 every failing contact.",
                d.contact_id, d.attempts, d.event.check_id, d.event.check_name
            ),
        );
    }
}

/// A uniform number in [0, 1) for jitter.
fn rand_unit() -> f64 {
    (u64::from_le_bytes(crate::util::random_bytes::<8>()) >> 11) as f64 / (1u64 << 53) as f64
}
