//! One delivery attempt, from a claimed outbox row to the outcome to record. The claiming
//! loop runs in the controller (`controller::Controller`), which owns the fence.

use std::sync::Arc;

use super::outbox::Outcome;
use super::{Delivery, Notifier, SendError, contact};
use crate::metrics::Metrics;
use crate::node::auth::now_ms;
use crate::store::Store;

/// Loads the contact, sends, and says what to record. Never panics; every way it can end is
/// an [`Outcome`], logged with the check, contact and idempotency key. `nodes` are the
/// cluster's own URLs: a contact pointing at one of them is refused, not sent.
pub async fn attempt(
    notifier: &Arc<Notifier>,
    store: &Store,
    metrics: &Metrics,
    d: &Delivery,
    nodes: &[String],
) -> Outcome {
    let attempts = d.attempts;
    let contacts = match store.contacts_by_id(&[d.contact_id]).await {
        Ok(c) => c,
        Err(e) => {
            let at_ms = now_ms() + notifier.cfg.backoff(attempts, rand_unit()).as_millis() as i64;
            tracing::warn!(outbox = d.outbox_id, error = %e, "cannot read the contact; retrying");
            return Outcome::Retry { at_ms, error: format!("reading contact {}: {e}", d.contact_id) };
        }
    };
    let Some(c) = contacts.get(&d.contact_id) else {
        let error = format!("contacts row {} no longer exists", d.contact_id);
        tracing::warn!(check = d.event.check_id, contact = d.contact_id, key = %d.idem_key, "{error}; notification dropped");
        metrics.alerts_failed.get_or_create(&vec![("kind", "unknown"), ("reason", "no_contact")]).inc();
        return Outcome::Failed { error };
    };
    let target = match contact::parse(c) {
        Ok(t) => t,
        Err(problem) => {
            let error = problem.to_string();
            tracing::warn!(check = d.event.check_id, contact = d.contact_id, key = %d.idem_key, problem = %error, "contact cannot be notified");
            metrics
                .alerts_failed
                .get_or_create(&vec![("kind", kind_label(&c.kind)), ("reason", "invalid_contact")])
                .inc();
            return Outcome::Failed { error };
        }
    };
    let kind = target.kind();
    if let Some(node) = target.url().and_then(|u| super::web::points_at_node(u, nodes)) {
        let error = format!("refused: the URL points at the bearmon node API at {node}");
        tracing::warn!(check = d.event.check_id, contact = d.contact_id, key = %d.idem_key, "{error}; notification not sent");
        metrics.alerts_failed.get_or_create(&vec![("kind", kind), ("reason", "own_api")]).inc();
        return Outcome::Failed { error };
    }
    match notifier.deliver(&target, d).await {
        Ok(charge) => {
            metrics.alerts_sent.get_or_create(&vec![("kind", kind)]).inc();
            tracing::info!(check = d.event.check_id, contact = d.contact_id, kind, status = %d.event.status, key = %d.idem_key, attempt = attempts, "notification sent");
            Outcome::Sent { charge }
        }
        Err(SendError::Permanent(error)) => {
            metrics.alerts_failed.get_or_create(&vec![("kind", kind), ("reason", "permanent")]).inc();
            tracing::warn!(check = d.event.check_id, contact = d.contact_id, kind, key = %d.idem_key, error = %error, "notification failed permanently; not retrying");
            Outcome::Failed { error }
        }
        Err(SendError::Transient(error)) => {
            let age_h = (now_ms() - d.at_ms) as f64 / 3_600_000.0;
            if age_h >= notifier.cfg.give_up_after_hours {
                metrics.alerts_failed.get_or_create(&vec![("kind", kind), ("reason", "gave_up")]).inc();
                tracing::warn!(check = d.event.check_id, contact = d.contact_id, kind, key = %d.idem_key, attempts, error = %error, "notification given up");
                return Outcome::Failed {
                    error: format!(
                        "gave up after {attempts} attempts over {age_h:.1} h; last error: {error}"
                    ),
                };
            }
            metrics.alerts_failed.get_or_create(&vec![("kind", kind), ("reason", "retrying")]).inc();
            let wait = notifier.cfg.backoff(attempts, rand_unit());
            tracing::warn!(check = d.event.check_id, contact = d.contact_id, kind, key = %d.idem_key, attempt = attempts, retry_in = ?wait, error = %error, "notification failed; will retry");
            Outcome::Retry { at_ms: now_ms() + wait.as_millis() as i64, error }
        }
    }
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "email" => "email",
        "sms" => "sms",
        "voice" => "voice",
        "http" => "http",
        "webhook" => "webhook",
        _ => "unknown",
    }
}

/// A uniform number in [0, 1) for jitter.
fn rand_unit() -> f64 {
    (u64::from_le_bytes(crate::util::random_bytes::<8>()) >> 11) as f64 / (1u64 << 53) as f64
}
