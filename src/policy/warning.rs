//! WARNING and UNKNOWN, the problem states that never flip a check. A plugin that exits 1
//! keeps a check `online` and one that exits 3 leaves it as it was (SPEC §10: `checks.status`
//! keeps gobearmon's two values, and UNKNOWN is no vote), so the decision core never flips
//! for them; this module says when a run of them is a HARD state and who hears of it.
//! Nagios's rules, on the check's own scheduled results:
//! - `max_attempts` (`delay + 1`) WARNING or UNKNOWN results in a row make the last one's
//!   state HARD: a PROBLEM (number 1) to the check's `offline` alert contacts, when the
//!   check's and each contact's `notification_options` take `w` (or `u`; gobearmon's default
//!   `c,r` takes neither); until then it is SOFT (`attempt` counts them);
//! - after a HARD one, a result in the other of the two is HARD at once (a new PROBLEM);
//! - an OK result ends it: a RECOVERY to everyone told (letter `r`);
//! - a CRITICAL result hands it over to the CRITICAL problem, which the flip opens.
//!
//! Downtime, flapping, a failed parent and the check's `notification_period` hold the
//! notification as they hold a CRITICAL one. These problems have no re-notification or
//! escalation (the notification number stays 1); they live in the controller's memory, so
//! a new controller starts counting afresh.

use std::collections::BTreeSet;

use super::notify::{Ctx, Notice, NoticeType};
use super::options::Letters;
use crate::check::State;

/// A check's run of WARNING or UNKNOWN results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// `Warning` or `Unknown`.
    pub state: State,
    /// Results in that state in a row so far (the soft state's attempt).
    pub count: u32,
    /// When the first of them came (unix ms): keys its notifications.
    pub started_ms: i64,
    pub hard: bool,
    /// Who was told of it (and of a HARD one before it in the other state).
    pub told: BTreeSet<i64>,
}

/// Feeds one scheduled result of an `online` check; `slot` is the check's run of WARNING or
/// UNKNOWN results, if any. Returns the notification the result makes, if one.
pub fn observe(
    ctx: &Ctx<'_>,
    slot: &mut Option<Warning>,
    state: State,
    max_attempts: u32,
    now_ms: i64,
) -> Option<Notice> {
    match state {
        State::Warning | State::Unknown => {
            let max = max_attempts.max(1);
            match slot {
                Some(w) if w.hard && w.state == state => return None,
                // From a HARD problem to the other non-flipping one: HARD at once.
                Some(w) if w.hard => {
                    *w = Warning {
                        state,
                        count: max,
                        started_ms: now_ms,
                        hard: false,
                        told: std::mem::take(&mut w.told),
                    };
                }
                // SOFT: every WARNING or UNKNOWN result is an attempt, as in Nagios.
                Some(w) => {
                    w.state = state;
                    w.count = w.count.saturating_add(1);
                }
                None => {
                    *slot = Some(Warning {
                        state,
                        count: 1,
                        started_ms: now_ms,
                        hard: false,
                        told: BTreeSet::new(),
                    })
                }
            }
            let w = slot.as_mut()?;
            if w.count < max {
                return None;
            }
            w.hard = true;
            let letter = if state == State::Warning { Letters::WARNING } else { Letters::UNKNOWN };
            let contacts = ctx.problem_contacts(letter, now_ms);
            let n = notice(ctx, letter, contacts, state, w.started_ms, 1, now_ms)?;
            w.told.extend(n.contacts.iter().copied());
            Some(n)
        }
        State::Ok => {
            let w = slot.take().filter(|w| w.hard && !w.told.is_empty())?;
            let told = ctx.reachable(w.told.iter().copied(), Letters::RECOVERY, now_ms);
            notice(ctx, Letters::RECOVERY, told, w.state, w.started_ms, 2, now_ms)
        }
        State::Critical => {
            *slot = None;
            None
        }
    }
}

fn notice(
    ctx: &Ctx<'_>,
    letter: Letters,
    contacts: Vec<i64>,
    state: State,
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
    Some(Notice { kind, number, contacts, tag: format!("{}-{started_ms}-{edge}", state.as_str()) })
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
        // The third result, UNKNOWN, made the run HARD (no `u`: nobody told); the WARNING
        // after it is HARD at once, a new problem keyed by its time.
        let p = out[3].as_ref().unwrap();
        assert_eq!((p.contacts.as_slice(), p.tag.as_str()), (&[7][..], "warning-3000-problem"));
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
    fn unknown_pages_only_contacts_taking_u_and_a_hard_warning_turning_unknown_is_hard_at_once() {
        let none = run(&with_w(), None, &[U, U, U, U, O]);
        assert!(none.iter().all(Option::is_none), "c,r,w does not take u: {none:?}");
        let both = CheckOptions {
            notification_options: Letters::parse("w,u,r").unwrap(),
            ..CheckOptions::default()
        };
        let out = run(&both, None, &[U, U, U, W, W, W, U, O]);
        let tags: Vec<_> = out.iter().map(|n| n.as_ref().map(|n| n.tag.clone())).collect();
        assert_eq!(
            tags,
            [
                None,
                None,
                Some("unknown-0-problem".into()),
                Some("warning-3000-problem".into()),
                None,
                None,
                Some("unknown-6000-problem".into()),
                Some("unknown-6000-recovery".into())
            ]
        );
    }

    #[test]
    fn a_contact_without_w_is_not_told() {
        let contact =
            ContactOptions { notification_options: Letters::parse("c,r").unwrap(), ..Default::default() };
        assert!(run(&with_w(), Some(contact), &[W, W, W, O]).iter().all(Option::is_none));
    }
}
