//! The notification policy's side of the controller's memory: what the policy tables say
//! ([`Book`]: periods, escalations, contact options, downtimes, acknowledgements), each
//! check's open [`Problem`] and the timers of the notifications to come. The rules are
//! `policy::notify`'s; this file feeds them and turns their answers into commits.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::{CheckState, Commit, Effects, Inner};
use crate::decide::Status;
use crate::policy::depend::Graph;
use crate::policy::downtime::{Downtimes, Edge};
use crate::policy::notify::{self, Ctx, Escalation, Notice, NoticeType, Problem};
use crate::policy::options::{self, CheckOptions, ContactOptions};
use crate::policy::period::Periods;
use crate::store::notices::OpenProblem;
use crate::store::policy_rows::{Ack, PolicyRows};
use crate::store::{CheckDef, NoticeCommit, RowProblem};
use crate::util::Now;

/// What the policy tables hold, parsed, and the problems they have.
#[derive(Debug, Default)]
pub struct Book {
    pub periods: Periods,
    escalations: HashMap<i64, Vec<Arc<Escalation>>>,
    global: Vec<Arc<Escalation>>,
    contacts: HashMap<i64, Arc<ContactOptions>>,
    pub downtimes: Downtimes,
    pub acks: HashMap<i64, Ack>,
    /// `dependencies`, by dependent check.
    pub graph: Graph,
    /// Checks flapping now (kept by the controller's flap detection, `state/flapping.rs`).
    pub flapping: BTreeSet<i64>,
    /// Problems of the policy tables (bad timeperiods, escalations, downtimes, acks).
    pub problems: Vec<RowProblem>,
    /// Problems of `contacts.options`, by contact.
    pub contact_problems: BTreeMap<i64, RowProblem>,
}

impl Book {
    /// Replaces what the tables said (contact options are kept: they come with contacts).
    pub fn load(&mut self, rows: PolicyRows, tz: jiff::tz::TimeZone) {
        let (periods, bad) =
            Periods::build(rows.periods.iter().map(|(_, n, d)| (n.as_str(), d.as_str())), tz);
        self.problems = rows.problems;
        for (name, e) in bad {
            let id = rows.periods.iter().find(|(_, n, _)| *n == name).map_or(0, |(id, _, _)| *id);
            tracing::warn!(timeperiod = %name, id, "bad timeperiod: {e}");
            self.problems.push(RowProblem::new("timeperiods", id, "definition", format!("{name}: {e}")));
        }
        self.periods = periods;
        self.escalations.clear();
        self.global.clear();
        for e in rows.escalations {
            if let Some(p) = e.period.as_deref()
                && !self.periods.contains(p)
            {
                self.problems.push(RowProblem::new(
                    "escalations",
                    e.id,
                    "escalation_period",
                    format!("names the timeperiod {p:?}, which does not exist; the escalation is not used"),
                ));
                continue;
            }
            match e.check_id {
                Some(c) => self.escalations.entry(c).or_default().push(e),
                None => self.global.push(e),
            }
        }
        self.downtimes.set_rows(rows.downtimes);
        let (known, missing): (Vec<_>, Vec<_>) = rows
            .dependencies
            .into_iter()
            .partition(|d| d.period.as_deref().is_none_or(|p| self.periods.contains(p)));
        for d in missing {
            self.problems.push(RowProblem::new(
                "dependencies",
                d.id,
                "dependency_period",
                format!(
                    "names the timeperiod {:?}, which does not exist; the dependency is not used",
                    d.period.as_deref().unwrap_or_default()
                ),
            ));
        }
        let (graph, cycles) = Graph::build(known);
        for (id, reason) in cycles {
            tracing::warn!(dependency = id, "bad dependency: {reason}");
            self.problems.push(RowProblem::new("dependencies", id, "parent_id", reason));
        }
        self.graph = graph;
        self.acks = rows.acks.into_iter().map(|a| (a.check_id, a)).collect();
    }

    /// Parses a contact's `options` (a bad value: the contact is told as without options,
    /// and the problem is shown).
    pub fn set_contact(&mut self, id: i64, text: Option<&str>) {
        self.contact_problems.remove(&id);
        match options::contact_options(text) {
            Ok(p) if p.options == ContactOptions::default() => {
                self.contacts.remove(&id);
            }
            Ok(p) => {
                self.contacts.insert(id, Arc::new(p.options));
            }
            Err(e) => {
                tracing::warn!(contact = id, "bad contact options: {e}");
                self.contact_problems.insert(id, RowProblem::new("contacts", id, e.field, e.reason));
                self.contacts.remove(&id);
            }
        }
    }

    pub fn remove_contact(&mut self, id: i64) {
        self.contacts.remove(&id);
        self.contact_problems.remove(&id);
    }

    /// The escalations that apply to a check: its own and those for every check.
    fn escalations_for(&self, check: i64) -> Vec<Arc<Escalation>> {
        let own = self.escalations.get(&check).map(Vec::as_slice).unwrap_or_default();
        own.iter().chain(&self.global).cloned().collect()
    }

    /// A timeperiod the check (or one of its contacts) names that does not exist: such a
    /// check is invalid for the policy and pages nobody.
    pub fn missing_period(&self, def: &CheckDef) -> Option<RowProblem> {
        let named = [
            ("options.notification_period", &def.options.notification_period),
            ("options.check_period", &def.options.check_period),
        ];
        for (field, name) in named {
            if let Some(n) = name
                && !self.periods.contains(n)
            {
                return Some(RowProblem::new(
                    "checks",
                    def.id,
                    field,
                    format!("names the timeperiod {n:?}, which does not exist; nobody is told of this check"),
                ));
            }
        }
        None
    }

    /// Runs `f` with the rules' view of check `def`.
    pub(super) fn with<T>(&self, def: &CheckDef, f: impl FnOnce(&Ctx<'_>) -> T) -> T {
        self.with_parent(def, None, f)
    }

    /// As [`Book::with`], for a check `unreachable` through a failed parent.
    pub(super) fn with_parent<T>(
        &self,
        def: &CheckDef,
        unreachable: Option<i64>,
        f: impl FnOnce(&Ctx<'_>) -> T,
    ) -> T {
        let alerts: Vec<_> = def.alerts.iter().map(|a| (a.contact_id, a.when)).collect();
        let escalations = self.escalations_for(def.id);
        let lookup = |id: i64| self.contacts.get(&id).cloned();
        let ctx = Ctx {
            options: &def.options,
            alerts: &alerts,
            escalations: &escalations,
            contact: &lookup,
            periods: &self.periods,
            in_downtime: self.downtimes.in_downtime(def.id),
            unreachable,
            flapping: self.flapping.contains(&def.id),
        };
        f(&ctx)
    }

    /// Every problem of the policy tables and options, for the checks given: bad rows, bad
    /// contact options, and checks or contacts naming a timeperiod that does not exist.
    pub fn all_problems<'a>(&self, checks: impl IntoIterator<Item = &'a CheckDef>) -> Vec<RowProblem> {
        let mut out = self.problems.clone();
        out.extend(self.contact_problems.values().cloned());
        for (id, c) in &self.contacts {
            if let Some(p) = c.notification_period.as_deref()
                && !self.periods.contains(p)
            {
                out.push(RowProblem::new(
                    "contacts",
                    *id,
                    "options.notification_period",
                    format!("names the timeperiod {p:?}, which does not exist; this contact is told nothing"),
                ));
            }
        }
        out.extend(checks.into_iter().filter_map(|d| self.missing_period(d)));
        out
    }

    /// A contact's period problem, if it names a timeperiod that does not exist.
    pub(super) fn contact_period_ok(&self, id: i64) -> bool {
        self.contacts
            .get(&id)
            .and_then(|c| c.notification_period.as_deref())
            .is_none_or(|p| self.periods.contains(p))
    }
}

/// The policy's memory: the book, the open problems and their timers.
#[derive(Debug, Default)]
pub struct Policy {
    pub book: Book,
    pub problems: HashMap<i64, Problem>,
    /// (due, check): when a problem's [`notify::due`] runs next.
    timers: BTreeSet<(i64, i64)>,
    /// Acknowledgements are looked at after each reload only.
    acks_pending: bool,
    /// Checks outside their `check_period`: not assigned, so not run.
    pub outside: BTreeSet<i64>,
    /// Flap histories of the checks with flap detection on.
    pub flaps: HashMap<i64, crate::policy::flap::Flap>,
    /// `[policy]`'s flap thresholds.
    pub flap_defaults: crate::policy::flap::Thresholds,
    /// Checks whose flap detection was just turned off (looked at by the next tick).
    pub flap_off: Vec<i64>,
    /// When the check periods were last looked at (unix ms).
    pub(super) periods_seen_ms: i64,
    /// The checks with a `check_period` or a timed execution dependency, which
    /// `tick_check_periods` looks at every time; `None`: to be rebuilt (and every check a
    /// period or a parent may hold looked at).
    pub(super) periodic: Option<BTreeSet<i64>>,
    /// Checks whose state as their dependents see it changed since the last tick.
    pub(super) dep_changed: BTreeSet<i64>,
    /// Checks in a run of WARNING results (`policy::warning`).
    pub warnings: HashMap<i64, crate::policy::warning::Warning>,
}

impl Policy {
    pub(super) fn set_timer(&mut self, check: i64, old: Option<i64>, new: Option<i64>) {
        if let Some(t) = old {
            self.timers.remove(&(t, check));
        }
        if let Some(t) = new {
            self.timers.insert((t, check));
        }
    }

    /// The notice a flip of `def` to `to` carries, and the problem it opens or closes.
    /// `unreachable`: the parent whose failure holds the check's notifications, if any.
    pub fn on_flip(
        &mut self,
        def: &CheckDef,
        to: Status,
        unreachable: Option<i64>,
        now_ms: i64,
    ) -> Option<Notice> {
        let old = self.problems.remove(&def.id);
        if let Some(p) = &old {
            self.set_timer(def.id, p.next_ms, None);
        }
        if let Some(problem) = self.book.missing_period(def) {
            tracing::warn!(check = def.id, "{problem}");
            return None;
        }
        let mut notice = match to {
            Status::Offline => {
                let (p, notice) = self.book.with_parent(def, unreachable, |c| notify::on_problem(c, now_ms));
                self.set_timer(def.id, None, p.next_ms);
                self.problems.insert(def.id, p);
                self.acks_pending = true;
                notice
            }
            Status::Online => {
                self.book.with_parent(def, unreachable, |c| notify::on_recovery(c, old.as_ref(), now_ms))
            }
        };
        if let Some(n) = &mut notice {
            n.contacts.retain(|c| self.book.contact_period_ok(*c));
        }
        notice
    }

    /// A reload of the policy tables: acknowledgements are looked at again at the next tick.
    pub fn reloaded(&mut self) {
        self.acks_pending = true;
    }

    /// Takes over the open problems a new controller finds: offline checks, what the outbox
    /// says was sent of them, and when they began.
    pub fn restore<'a>(
        &mut self,
        offline: impl IntoIterator<Item = (&'a CheckDef, Option<i64>)>,
        open: &HashMap<i64, OpenProblem>,
        now_ms: i64,
    ) {
        for (def, since) in offline {
            let o = open.get(&def.id).cloned().unwrap_or_default();
            let mut p = Problem {
                started_ms: since.unwrap_or(now_ms),
                number: o.number,
                last_ms: o.last_ms,
                told: o.told.into_iter().collect(),
                acked_by: o.acked.then_some(0),
                ..Problem::default()
            };
            // A check with gobearmon's behaviour (no options, no escalation, no parent) whose
            // problem has no notification on record was told of it by nobody's alert, or by a
            // controller before bearmon's outbox: nothing is due (a start must not page for
            // every check that was already down).
            let plain = *def.options == CheckOptions::default()
                && self.book.escalations_for(def.id).is_empty()
                && self.book.graph.of(def.id).is_empty();
            p.next_ms =
                if o.number == 0 && plain { None } else { self.book.with(def, |c| notify::resume(c, &p)) };
            self.set_timer(def.id, None, p.next_ms);
            self.problems.insert(def.id, p);
        }
        self.acks_pending = true;
    }

    /// A check was removed: its problem and timer go.
    pub fn forget(&mut self, check: i64) {
        self.outside.remove(&check);
        self.flaps.remove(&check);
        self.warnings.remove(&check);
        self.book.flapping.remove(&check);
        if let Some(p) = self.problems.remove(&check) {
            self.set_timer(check, p.next_ms, None);
        }
    }
}

impl Inner {
    /// Downtime edges, acknowledgements and the notification timers due at `now`.
    pub fn tick_policy(&mut self, now: Now, out: &mut Effects) {
        if !self.policy.flap_off.is_empty() {
            self.flap_detection_turned_off(now, out);
        }
        let pol = &mut self.policy;
        let problems = &pol.problems;
        let edges = pol.book.downtimes.tick(now.ms, |c| problems.get(&c).map(|p| p.started_ms));
        let mut notices: Vec<(i64, Notice)> = Vec::new();
        for e in edges {
            let (check, dt, kind) = match e {
                Edge::Start { check_id, downtime_id } => (check_id, downtime_id, NoticeType::DowntimeStart),
                Edge::End { check_id, downtime_id } => (check_id, downtime_id, NoticeType::DowntimeEnd),
                Edge::Cancelled { check_id, downtime_id } => {
                    (check_id, downtime_id, NoticeType::DowntimeCancelled)
                }
            };
            let Some(st) = self.checks.get(&check) else { continue };
            tracing::info!(check, downtime = dt, edge = kind.as_str(), "scheduled downtime");
            let p = pol.problems.get(&check);
            if let Some(n) = pol.book.with(&st.def, |c| notify::downtime_notice(c, kind, dt, p, now.ms)) {
                notices.push((check, n));
            }
            if let Some(p) = pol.problems.get_mut(&check) {
                let old = p.next_ms;
                // In downtime nothing is due. At its end a problem nobody heard of is told
                // now; one told before goes on at its interval.
                p.next_ms = if kind == NoticeType::DowntimeStart || p.acked_by.is_some() {
                    None
                } else if p.number == 0 {
                    Some(now.ms)
                } else {
                    pol.book.with(&st.def, |c| notify::resume(c, p)).map(|t| t.max(now.ms))
                };
                let new = p.next_ms;
                pol.set_timer(check, old, new);
            }
        }
        if std::mem::take(&mut pol.acks_pending) {
            for (check, ack) in &pol.book.acks {
                let (Some(p), Some(st)) = (pol.problems.get_mut(check), self.checks.get(check)) else {
                    continue;
                };
                // An acknowledgement made before this problem began was for an earlier one
                // (times in the database are whole seconds).
                if p.acked_by.is_some_and(|a| a != 0) || ack.created_ms + 1000 < p.started_ms {
                    continue;
                }
                let old = p.next_ms;
                p.acked_by = None;
                let n = pol.book.with(&st.def, |c| notify::on_ack(c, p, ack.id, ack.notify, now.ms));
                tracing::info!(check, ack = ack.id, author = %ack.author, "problem acknowledged");
                pol.timers.remove(&(old.unwrap_or(i64::MIN), *check));
                if let Some(n) = n {
                    notices.push((*check, n));
                }
            }
        }
        while let Some(&(t, check)) = pol.timers.first() {
            if t > now.ms {
                break;
            }
            pol.timers.pop_first();
            let (Some(p), Some(st)) = (pol.problems.get_mut(&check), self.checks.get(&check)) else {
                continue;
            };
            if p.next_ms != Some(t) {
                continue;
            }
            if pol.book.missing_period(&st.def).is_some() {
                p.next_ms = None;
                continue;
            }
            let parent = super::hold::unreachable(&pol.book, &self.checks, check, p.started_ms, now.ms);
            let n = pol.book.with_parent(&st.def, parent, |c| notify::due(c, p, now.ms));
            if let Some(next) = p.next_ms {
                pol.timers.insert((next, check));
            }
            if let Some(n) = n {
                notices.push((check, n));
            }
        }
        for (check, mut n) in notices {
            n.contacts.retain(|c| pol.book.contact_period_ok(*c));
            let Some(st) = self.checks.get(&check) else { continue };
            if n.contacts.is_empty() {
                continue;
            }
            tracing::info!(check, kind = n.kind.as_str(), number = n.number, contacts = ?n.contacts, "notification");
            out.commits.push(Commit::Notice(notice_commit(st, n)));
        }
    }
}

pub(super) fn notice_commit(st: &CheckState, notice: Notice) -> NoticeCommit {
    NoticeCommit {
        check_id: st.def.id,
        status: st.decider.status(),
        name: st.def.name.clone(),
        kind: st.def.kind.clone(),
        data: st.redacted.data(&st.def.data).to_string(),
        message: st.last.as_ref().map(|l| st.redacted.scrub(&l.message)).unwrap_or_default(),
        notice,
    }
}
