//! WARNING, the fourth state's problem. A plugin that exits 1 keeps a check `online`
//! (SPEC §10: `checks.status` keeps gobearmon's two values), so the decision core never
//! flips it; this module says when a run of WARNING results is a hard WARNING and who hears
//! of it. Nagios's rules, on the check's own scheduled results:
//! - `max_attempts` (`delay + 1`) WARNING results in a row make the WARNING hard: a PROBLEM
//!   (number 1) to the check's `offline` alert contacts, when the check's and each contact's
//!   `notification_options` take `w`; until then it is soft (`attempt` counts them);
//! - an UNKNOWN result in between neither counts nor ends it (it is not a vote);
//! - an OK result ends it: a RECOVERY to everyone told of the hard WARNING (letter `r`);
//! - a CRITICAL result hands it over to the CRITICAL problem, which the flip opens.
//!
//! Downtime, flapping, a failed parent and the check's `notification_period` hold the
//! notification as they hold a CRITICAL one. WARNING problems have no re-notification or
//! escalation (the notification number stays 1); they live in the controller's memory, so
//! a new controller starts counting afresh.

use std::collections::BTreeSet;

use super::notify::{Ctx, Notice, NoticeType};
use super::options::Letters;
use crate::check::State;

/// A check's run of WARNING results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Warning {
    /// WARNING results in a row so far (the soft state's attempt).
    pub count: u32,
    /// When the first of them came (unix ms): keys its notifications.
    pub started_ms: i64,
    pub hard: bool,
    /// Who was told of the hard WARNING.
    pub told: BTreeSet<i64>,
}

/// Feeds one scheduled result of an `online` check; `slot` is the check's run of WARNING
/// results, if any. Returns the notification the result makes, if one.
pub fn observe(
    ctx: &Ctx<'_>,
    slot: &mut Option<Warning>,
    state: State,
    max_attempts: u32,
    now_ms: i64,
) -> Option<Notice> {
    match state {
        State::Warning => {
            let w = slot.get_or_insert_with(|| Warning { started_ms: now_ms, ..Warning::default() });
            w.count = w.count.saturating_add(1);
            if w.hard || w.count < max_attempts.max(1) {
                return None;
            }
            w.hard = true;
            let n = notice(ctx, Letters::WARNING, ctx.warning_contacts(now_ms), w.started_ms, 1, now_ms)?;
            w.told.extend(n.contacts.iter().copied());
            Some(n)
        }
        State::Ok => {
            let w = slot.take().filter(|w| w.hard && !w.told.is_empty())?;
            let told = ctx.reachable(w.told.iter().copied(), Letters::RECOVERY, now_ms);
            notice(ctx, Letters::RECOVERY, told, w.started_ms, 2, now_ms)
        }
        State::Critical => {
            *slot = None;
            None
        }
        State::Unknown => None,
    }
}

fn notice(
    ctx: &Ctx<'_>,
    letter: Letters,
    contacts: Vec<i64>,
    started_ms: i64,
    number: u32,
    now_ms: i64,
) -> Option<Notice> {
    let o = ctx.options;
    let held = !o.notifications_enabled
        || !o.notification_options.has(letter)
        || ctx.in_downtime
        || ctx.flapping
        || ctx.unreachable.is_some()
        || !ctx.check_period_open(now_ms);
    if held || contacts.is_empty() {
        return None;
    }
    let (kind, edge) = if letter == Letters::RECOVERY {
        (NoticeType::Recovery, "recovery")
    } else {
        (NoticeType::Problem, "problem")
    };
    Some(Notice { kind, number, contacts, tag: format!("warning-{started_ms}-{edge}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::AlertWhen;
    use crate::policy::options::{CheckOptions, ContactOptions};
    use crate::policy::period::Periods;
    use std::sync::Arc;

    fn run(opts: &CheckOptions, contact: Option<ContactOptions>, results: &[State]) -> Vec<Option<Notice>> {
        let alerts = [(7, AlertWhen::Offline)];
        let periods = Periods::empty();
        let lookup = move |_id: i64| contact.clone().map(Arc::new);
        let ctx = Ctx {
            options: opts,
            alerts: &alerts,
            escalations: &[],
            contact: &lookup,
            periods: &periods,
            in_downtime: false,
            unreachable: None,
            flapping: false,
        };
        let mut slot = None;
        results.iter().enumerate().map(|(i, s)| observe(&ctx, &mut slot, *s, 3, i as i64 * 1000)).collect()
    }

    fn with_w() -> CheckOptions {
        CheckOptions { notification_options: Letters::parse("w,c,r").unwrap(), ..CheckOptions::default() }
    }

    use State::{Critical as C, Ok as O, Unknown as U, Warning as W};

    #[test]
    fn a_hard_warning_pages_once_and_its_end_recovers() {
        let out = run(&with_w(), None, &[W, W, U, W, W, W, O]);
        let kinds: Vec<_> = out.iter().map(|n| n.as_ref().map(|n| (n.kind, n.number))).collect();
        assert_eq!(
            kinds,
            [None, None, None, Some((NoticeType::Problem, 1)), None, None, Some((NoticeType::Recovery, 2))]
        );
        let p = out[3].as_ref().unwrap();
        assert_eq!((p.contacts.as_slice(), p.tag.as_str()), (&[7][..], "warning-0-problem"));
    }

    #[test]
    fn gobearmons_default_options_never_page_for_warning() {
        assert!(run(&CheckOptions::default(), None, &[W, W, W, W, O]).iter().all(Option::is_none));
    }

    #[test]
    fn a_soft_warning_ends_quietly_and_critical_takes_over() {
        assert!(run(&with_w(), None, &[W, W, O, W, W, C, W, W, O]).iter().all(Option::is_none));
    }

    #[test]
    fn a_contact_without_w_is_not_told() {
        let contact =
            ContactOptions { notification_options: Letters::parse("c,r").unwrap(), ..Default::default() };
        assert!(run(&with_w(), Some(contact), &[W, W, W, O]).iter().all(Option::is_none));
    }
}
