//! Who is told of a problem, and when: Shinken's notification rules for one check, pure.
//!
//! The controller keeps a [`Problem`] per check in a hard problem state and calls
//! [`on_problem`] when it flips offline, [`due`] when the problem's timer fires
//! (re-notification, a first notification held back by `first_notification_delay`, a
//! notification period that opens, a time-based escalation, the end of a downtime),
//! [`on_recovery`] when it flips back, [`on_ack`] and [`downtime_notice`] for the other
//! notification types. Each answers with the [`Notice`] to commit (through the outbox, in
//! the flip's or its own fenced transaction) and moves the problem's timer. No clock, no I/O:
//! `now` is handed in, so every rule is a table test (`policy/tests.rs`).
//!
//! The rules, from the seed's "Notification Escalations" section:
//! - notification `n` goes to the contacts of every escalation matching `n` (by number:
//!   `first_notification <= n <= last_notification`, 0 = no end; by time: the problem's age
//!   within `[first_notification_time, last_notification_time)`), in its period and for the
//!   state; overlapping escalations merge; with none, to the check's own alerts;
//! - the next one waits the smallest interval of the matching escalations (the check's
//!   `notification_interval` when none match, or for an escalation without its own); an
//!   escalation interval of 0 stops further notifications; a check interval of 0 notifies
//!   once, but a time-based escalation still fires when its time comes, as does one that
//!   starts before a long interval ends ("Escalations based on time short time");
//! - a recovery reaches everyone who was told of the problem (and the check's `online`
//!   alerts, as gobearmon), but nobody when the problem was never notified because a rule
//!   held it back (Nagios sends no recovery for a problem nobody heard of).
//!
//! Every contact is then filtered by its own `notification_period` and
//! `notification_options`; the check's `notification_period` holds the whole notification
//! until the period opens (the number does not advance).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::AlertWhen;
use super::options::{CheckOptions, ContactOptions, Letters};
use super::period::Periods;
use crate::decide::Status;

/// How soon a problem held back by a failed notification dependency is looked at again.
pub const DEPENDENCY_RECHECK_MS: i64 = 5_000;

/// How far ahead a closed period's next opening is looked for.
pub const PERIOD_HORIZON_DAYS: u32 = 400;

/// Nagios's `$NOTIFICATIONTYPE$`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoticeType {
    Problem,
    Recovery,
    Acknowledgement,
    FlappingStart,
    FlappingStop,
    FlappingDisabled,
    DowntimeStart,
    DowntimeEnd,
    DowntimeCancelled,
    Custom,
}

impl NoticeType {
    pub const ALL: [NoticeType; 10] = [
        NoticeType::Problem,
        NoticeType::Recovery,
        NoticeType::Acknowledgement,
        NoticeType::FlappingStart,
        NoticeType::FlappingStop,
        NoticeType::FlappingDisabled,
        NoticeType::DowntimeStart,
        NoticeType::DowntimeEnd,
        NoticeType::DowntimeCancelled,
        NoticeType::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeType::Problem => "PROBLEM",
            NoticeType::Recovery => "RECOVERY",
            NoticeType::Acknowledgement => "ACKNOWLEDGEMENT",
            NoticeType::FlappingStart => "FLAPPINGSTART",
            NoticeType::FlappingStop => "FLAPPINGSTOP",
            NoticeType::FlappingDisabled => "FLAPPINGDISABLED",
            NoticeType::DowntimeStart => "DOWNTIMESTART",
            NoticeType::DowntimeEnd => "DOWNTIMEEND",
            NoticeType::DowntimeCancelled => "DOWNTIMECANCELLED",
            NoticeType::Custom => "CUSTOM",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeType> {
        NoticeType::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

/// One notification to commit: its type, its number within the problem, who is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeType,
    pub number: u32,
    pub contacts: Vec<i64>,
    /// What makes it unique beside the event and contact (`problem-2`, `ack-7`,
    /// `downtime-3-start`): the outbox's idempotency key holds it, so a notice committed
    /// again (a retry, a new controller) is written once.
    pub tag: String,
}

/// One row of `escalations`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub id: i64,
    /// `None`: every check.
    pub check_id: Option<i64>,
    pub contact_id: i64,
    pub first_notification: u32,
    /// 0: no end.
    pub last_notification: u32,
    /// Seconds into the problem.
    pub first_time: u64,
    /// 0: no end.
    pub last_time: u64,
    /// `None`: the check's `notification_interval`.
    pub interval: Option<u64>,
    pub period: Option<Arc<str>>,
    /// The states it is used in (default: every state).
    pub options: Letters,
}

impl Escalation {
    /// A time-based escalation (the seed: a row is either time- or number-based).
    pub fn by_time(&self) -> bool {
        self.first_time > 0 || self.last_time > 0
    }

    /// Whether it applies to notification `n`, `age_s` seconds into the problem, in state
    /// `state` (a letter), at `now_ms`.
    pub fn matches(&self, n: u32, age_s: u64, state: Letters, periods: &Periods, now_ms: i64) -> bool {
        let in_range = if self.by_time() {
            age_s >= self.first_time && (self.last_time == 0 || age_s < self.last_time)
        } else {
            n >= self.first_notification && (self.last_notification == 0 || n <= self.last_notification)
        };
        in_range && self.options.has(state) && in_period(periods, self.period.as_deref(), now_ms)
    }
}

/// Whether a named period is active (no name: always). A name the periods lack counts as
/// active here: the controller marks such a check invalid before it gets this far.
pub fn in_period(periods: &Periods, name: Option<&str>, now_ms: i64) -> bool {
    name.is_none_or(|n| periods.is_active(n, now_ms.div_euclid(1000)).unwrap_or(true))
}

/// What the rules read about one check, borrowed from the controller for one call.
pub struct Ctx<'a> {
    pub options: &'a CheckOptions,
    /// The check's alert rows: (contact, type).
    pub alerts: &'a [(i64, AlertWhen)],
    /// The escalations for this check (its own and those for every check).
    pub escalations: &'a [Arc<Escalation>],
    pub contact: &'a dyn Fn(i64) -> Option<Arc<ContactOptions>>,
    pub periods: &'a Periods,
    /// Whether the check is in scheduled downtime now.
    pub in_downtime: bool,
    /// The parent whose state fails one of the check's notification dependencies: the check
    /// is UNREACHABLE and pages nobody (`policy::depend`).
    pub unreachable: Option<i64>,
    /// Whether the check is flapping: PROBLEM and RECOVERY are held while it is.
    pub flapping: bool,
}

impl Ctx<'_> {
    /// Keeps the contacts that take `letter` and are inside their own period.
    pub(super) fn reachable(
        &self,
        ids: impl IntoIterator<Item = i64>,
        letter: Letters,
        now_ms: i64,
    ) -> Vec<i64> {
        let set: BTreeSet<i64> = ids
            .into_iter()
            .filter(|id| {
                (self.contact)(*id).is_none_or(|c| {
                    c.notification_options.has(letter)
                        && in_period(self.periods, c.notification_period.as_deref(), now_ms)
                })
            })
            .collect();
        set.into_iter().collect()
    }

    fn alert_contacts(&self, to: Status) -> impl Iterator<Item = i64> + '_ {
        self.alerts.iter().filter(move |(_, w)| w.matches(to)).map(|(c, _)| *c)
    }

    /// Who hears of a HARD WARNING or UNKNOWN: the `offline` alert contacts that take its
    /// letter (`w`, `u`).
    pub(super) fn problem_contacts(&self, letter: Letters, now_ms: i64) -> Vec<i64> {
        self.reachable(self.alert_contacts(Status::Offline), letter, now_ms)
    }

    pub(super) fn check_period_open(&self, now_ms: i64) -> bool {
        in_period(self.periods, self.options.notification_period.as_deref(), now_ms)
    }
}

/// What the controller remembers of a check's current hard problem (rebuilt from the
/// outbox by a new controller).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problem {
    /// When the problem began (the flip), unix ms.
    pub started_ms: i64,
    /// Problem notifications sent so far.
    pub number: u32,
    pub last_ms: Option<i64>,
    /// When [`due`] should run next; `None`: nothing more unless something changes.
    pub next_ms: Option<i64>,
    /// Everyone told of it.
    pub told: BTreeSet<i64>,
    /// A rule held a notification back (delay, downtime, period, options): a problem nobody
    /// heard of gets no recovery.
    pub held: bool,
    /// The acknowledgement that silences it.
    pub acked_by: Option<i64>,
    /// The escalations used by the last notification (for the API).
    pub escalations: Vec<i64>,
}

/// A check has just entered a hard problem at `now_ms`: the first notification, now or
/// after `first_notification_delay`.
pub fn on_problem(ctx: &Ctx<'_>, now_ms: i64) -> (Problem, Option<Notice>) {
    let delay = ctx.options.first_notification_delay as i64 * 1000;
    let mut p = Problem { started_ms: now_ms, next_ms: Some(now_ms + delay), ..Problem::default() };
    if delay > 0 {
        p.held = true;
        return (p, None);
    }
    let notice = due(ctx, &mut p, now_ms);
    (p, notice)
}

/// The problem's timer fired (or something that may change its notifications did): the
/// next problem notification, if one is due and allowed now; moves `p.next_ms`.
pub fn due(ctx: &Ctx<'_>, p: &mut Problem, now_ms: i64) -> Option<Notice> {
    if p.next_ms.is_none_or(|t| t > now_ms) {
        return None;
    }
    let o = ctx.options;
    if !o.notifications_enabled || !o.notification_options.has(Letters::CRITICAL) || p.acked_by.is_some() {
        p.held |= p.number == 0;
        p.next_ms = None;
        return None;
    }
    if ctx.in_downtime {
        // The downtime's end sets the timer again.
        p.held |= p.number == 0;
        p.next_ms = None;
        return None;
    }
    if ctx.flapping {
        // FLAPPINGSTOP sets the timer again.
        p.held |= p.number == 0;
        p.next_ms = None;
        return None;
    }
    if ctx.unreachable.is_some() {
        // Looked at again soon: the parent may recover, or turn out to be a blip.
        p.held |= p.number == 0;
        p.next_ms = Some(now_ms + DEPENDENCY_RECHECK_MS);
        return None;
    }
    if !ctx.check_period_open(now_ms) {
        p.held |= p.number == 0;
        p.next_ms = o.notification_period.as_deref().and_then(|name| {
            ctx.periods.next_change(name, now_ms.div_euclid(1000), PERIOD_HORIZON_DAYS).map(|s| s * 1000)
        });
        return None;
    }
    let n = p.number + 1;
    let age_s = u64::try_from((now_ms - p.started_ms).max(0) / 1000).unwrap_or(0);
    let matching: Vec<&Arc<Escalation>> = ctx
        .escalations
        .iter()
        .filter(|e| e.matches(n, age_s, Letters::CRITICAL, ctx.periods, now_ms))
        .collect();
    let candidates: Vec<i64> = if matching.is_empty() {
        ctx.alert_contacts(Status::Offline).collect()
    } else {
        matching.iter().map(|e| e.contact_id).collect()
    };
    let contacts = ctx.reachable(candidates, Letters::CRITICAL, now_ms);
    p.next_ms = next_after(ctx, p, &matching, now_ms);
    if contacts.is_empty() {
        // Nobody to tell (no alert for offline, or every contact outside its period): the
        // number does not advance, as in Nagios.
        return None;
    }
    p.number = n;
    p.last_ms = Some(now_ms);
    p.told.extend(contacts.iter().copied());
    p.escalations = matching.iter().map(|e| e.id).collect();
    Some(Notice { kind: NoticeType::Problem, number: n, contacts, tag: format!("problem-{n}") })
}

/// When the next notification of a problem taken over from an earlier controller is due:
/// from its first notification delay when none was made, else from the last one as the
/// rules above schedule it.
pub fn resume(ctx: &Ctx<'_>, p: &Problem) -> Option<i64> {
    let Some(last) = p.last_ms.filter(|_| p.number > 0) else {
        return Some(p.started_ms + ctx.options.first_notification_delay as i64 * 1000);
    };
    if p.acked_by.is_some() {
        return None;
    }
    let age_s = u64::try_from((last - p.started_ms).max(0) / 1000).unwrap_or(0);
    let matching: Vec<&Arc<Escalation>> = ctx
        .escalations
        .iter()
        .filter(|e| e.matches(p.number, age_s, Letters::CRITICAL, ctx.periods, last))
        .collect();
    next_after(ctx, p, &matching, last)
}

/// When the notification after one sent (or tried) at `now_ms` is due.
fn next_after(ctx: &Ctx<'_>, p: &Problem, matching: &[&Arc<Escalation>], now_ms: i64) -> Option<i64> {
    let own = ctx.options.notification_interval;
    let interval = if matching.is_empty() {
        Some(own).filter(|i| *i > 0)
    } else {
        let smallest = matching.iter().map(|e| e.interval.unwrap_or(own)).min().unwrap_or(own);
        if smallest == 0 && matching.iter().any(|e| e.interval == Some(0)) {
            // "An interval of 0 means that Shinken should only send a notification out for
            // the first valid notification during that escalation definition": no more.
            return None;
        }
        Some(smallest).filter(|i| *i > 0)
    };
    let by_interval = interval.map(|i| now_ms + i as i64 * 1000);
    // A time-based escalation that starts later fires then, even before the interval ends.
    let by_time = ctx
        .escalations
        .iter()
        .filter(|e| e.by_time())
        .map(|e| p.started_ms + e.first_time as i64 * 1000)
        .filter(|t| *t > now_ms)
        .min();
    match (by_interval, by_time) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The check recovered at `now_ms`: who hears of it.
pub fn on_recovery(ctx: &Ctx<'_>, p: Option<&Problem>, now_ms: i64) -> Option<Notice> {
    let o = ctx.options;
    if p.is_some_and(|p| p.number == 0 && p.held) {
        return None;
    }
    if !o.notifications_enabled
        || !o.notification_options.has(Letters::RECOVERY)
        || ctx.in_downtime
        || ctx.unreachable.is_some()
        || ctx.flapping
        || !ctx.check_period_open(now_ms)
    {
        return None;
    }
    let told = p.map(|p| p.told.iter().copied()).into_iter().flatten();
    let contacts = ctx.reachable(ctx.alert_contacts(Status::Online).chain(told), Letters::RECOVERY, now_ms);
    let number = p.map_or(1, |p| p.number + 1);
    (!contacts.is_empty()).then(|| Notice {
        kind: NoticeType::Recovery,
        number,
        contacts,
        tag: format!("recovery-{number}"),
    })
}

/// An operator acknowledged the problem (acknowledgement `ack_id`): no more problem
/// notifications; an ACKNOWLEDGEMENT to everyone told of it (or who would be) when `notify`.
pub fn on_ack(ctx: &Ctx<'_>, p: &mut Problem, ack_id: i64, notify: bool, now_ms: i64) -> Option<Notice> {
    if p.acked_by.is_some() {
        return None;
    }
    p.acked_by = Some(ack_id);
    p.next_ms = None;
    if !notify || !ctx.options.notifications_enabled {
        return None;
    }
    let ids: Vec<i64> = p.told.iter().copied().chain(ctx.alert_contacts(Status::Offline)).collect();
    let contacts = ctx.reachable(ids, Letters::CRITICAL, now_ms);
    (!contacts.is_empty()).then(|| Notice {
        kind: NoticeType::Acknowledgement,
        number: p.number,
        contacts,
        tag: format!("ack-{ack_id}"),
    })
}

/// A DOWNTIMESTART, DOWNTIMEEND or DOWNTIMECANCELLED notice for downtime `downtime_id`: to
/// the check's contacts and everyone told of its problem, when the check's and each
/// contact's `notification_options` take `s`.
pub fn downtime_notice(
    ctx: &Ctx<'_>,
    kind: NoticeType,
    downtime_id: i64,
    p: Option<&Problem>,
    now_ms: i64,
) -> Option<Notice> {
    let edge = match kind {
        NoticeType::DowntimeStart => "start",
        NoticeType::DowntimeEnd => "end",
        _ => "cancelled",
    };
    info_notice(ctx, kind, Letters::DOWNTIME, format!("downtime-{downtime_id}-{edge}"), p, now_ms)
}

/// A FLAPPINGSTART, FLAPPINGSTOP or FLAPPINGDISABLED notice (`seq`: what makes the edge's
/// key unique, its time): as [`downtime_notice`], for the letter `f`.
pub fn flap_notice(
    ctx: &Ctx<'_>,
    kind: NoticeType,
    seq: u64,
    p: Option<&Problem>,
    now_ms: i64,
) -> Option<Notice> {
    info_notice(ctx, kind, Letters::FLAPPING, format!("{}-{seq}", kind.as_str().to_lowercase()), p, now_ms)
}

/// A notice that is not about a problem itself: to the check's contacts and everyone told
/// of its problem, when the check's and each contact's options take `letter`.
fn info_notice(
    ctx: &Ctx<'_>,
    kind: NoticeType,
    letter: Letters,
    tag: String,
    p: Option<&Problem>,
    now_ms: i64,
) -> Option<Notice> {
    let o = ctx.options;
    if !o.notifications_enabled || !o.notification_options.has(letter) || !ctx.check_period_open(now_ms) {
        return None;
    }
    let told = p.map(|p| p.told.iter().copied()).into_iter().flatten();
    let ids: Vec<i64> = ctx.alerts.iter().map(|(c, _)| *c).chain(told).collect();
    let contacts = ctx.reachable(ids, letter, now_ms);
    (!contacts.is_empty()).then(|| Notice { kind, number: p.map_or(0, |p| p.number), contacts, tag })
}
