//! What holds a check back: outside its `check_period` it is not run, while an execution
//! dependency fails it is not run, while a notification dependency fails it is UNREACHABLE
//! and pages nobody (`policy::depend` decides; this feeds it the checks' states).

use std::collections::BTreeSet;

use super::notify::Book;
use super::{CheckState, Inner};
use crate::controller::table::Table;
use crate::decide::Status;
use crate::policy::depend::{DepState, Kind};
use crate::policy::notify;
use crate::util::Now;

/// How often the checks' `check_period`s are looked at.
const CHECK_PERIOD_EVERY_MS: i64 = 1000;

impl Inner {
    /// Takes checks out of the assignment while they are outside their `check_period` (they
    /// are not run and do not flip) and puts them back when it opens; once a second.
    /// `assigning`: whether the first assignment was made (before it, nothing is assigned).
    pub fn tick_check_periods(&mut self, now: Now, assigning: bool) {
        let pol = &mut self.policy;
        if now.ms - pol.periods_seen_ms < CHECK_PERIOD_EVERY_MS {
            return;
        }
        pol.periods_seen_ms = now.ms;
        // Only the checks whose hold may have changed are looked at, so a cluster without
        // check periods and execution dependencies pays nothing here: each second those with a
        // period (a `check_period`, a timed dependency), those held now, and the dependents of
        // checks whose state changed since the last tick; every check a period or a parent may
        // hold after a check is added, a `check_period` edited or the policy tables changed
        // (`Inner::on_delta` drops `periodic`).
        let full = pol.periodic.is_none();
        let periodic = pol.periodic.get_or_insert_with(|| {
            let mut c: BTreeSet<i64> = self
                .checks
                .iter()
                .filter(|(_, st)| st.def.options.check_period.is_some())
                .map(|(id, _)| *id)
                .collect();
            c.extend(pol.book.graph.timed_children());
            c
        });
        let mut candidates: BTreeSet<i64> = if full {
            pol.book.graph.executing_children().collect()
        } else {
            pol.book.graph.dependents_of(pol.dep_changed.iter().copied())
        };
        pol.dep_changed.clear();
        candidates.extend(periodic.iter().copied());
        candidates.extend(pol.outside.iter().copied());
        let book = &pol.book;
        let mut changes: Vec<(i64, bool, bool)> = Vec::new();
        for id in candidates.iter() {
            let Some(st) = self.checks.get(id) else {
                // Removed: `forget` took it out of `outside` already.
                continue;
            };
            let in_period = match st.def.options.check_period.as_deref() {
                None => true,
                Some(p) => notify::in_period(&book.periods, Some(p), now.ms),
            };
            // An execution dependency that fails holds the check too.
            let runs = in_period
                && (book.graph.is_empty()
                    || failed(book, &self.checks, *id, Kind::Execution, now.ms).is_none());
            if runs == pol.outside.contains(id) {
                changes.push((*id, runs, st.assignable()));
            }
        }
        for (id, runs, assignable) in changes {
            if runs {
                pol.outside.remove(&id);
                tracing::info!(check = id, "its check_period is open and its parents allow it: run");
                if assigning && assignable {
                    self.assign.upsert(id);
                }
            } else {
                pol.outside.insert(id);
                tracing::info!(check = id, "outside its check_period or held by a parent: not run");
                self.assign.remove(id);
            }
        }
    }
}

/// A check's state as its dependents see it: its decided state, or CRITICAL as soon as its
/// last result failed (so a child whose parent is still confirming its failure waits for it,
/// and one dead router gives one page).
pub(super) fn dep_state(st: &CheckState) -> DepState {
    if st.def.spec.is_err() {
        return DepState::Unknown;
    }
    let last = st.last.as_ref().map(|l| l.verdict);
    match (st.decider.status(), last) {
        (Status::Offline, _) | (_, Some(crate::check::Verdict::Offline)) => DepState::Critical,
        (_, Some(crate::check::Verdict::Error)) => DepState::Unknown,
        _ => DepState::Ok,
    }
}

/// The parent that fails one of `check`'s dependencies of `kind` now, if any.
fn failed(book: &Book, checks: &Table<CheckState>, check: i64, kind: Kind, now_ms: i64) -> Option<i64> {
    book.graph.failed(check, kind, &|c| checks.get(&c).map_or(DepState::Pending, dep_state), &|p| {
        notify::in_period(&book.periods, Some(p), now_ms)
    })
}

/// The parent that makes `check` UNREACHABLE (a failed notification dependency), if any.
/// A parent that has not reported a result since the check's problem began (`since_ms`)
/// counts as failing for one of its intervals: it may be failing too, and one dead router
/// must give one page, not one per check behind it.
pub fn unreachable(
    book: &Book,
    checks: &Table<CheckState>,
    check: i64,
    since_ms: i64,
    now_ms: i64,
) -> Option<i64> {
    if book.graph.is_empty() {
        return None;
    }
    let state_of = |c: i64| {
        let Some(st) = checks.get(&c) else { return DepState::Pending };
        let wait = (st.def.interval + st.timeout()).as_millis() as i64 + DEPENDENCY_SLACK_MS;
        let stale = st.last.as_ref().is_none_or(|l| l.at_ms < since_ms);
        if stale && now_ms - since_ms < wait { DepState::Critical } else { dep_state(st) }
    };
    book.graph
        .failed(check, Kind::Notification, &state_of, &|p| notify::in_period(&book.periods, Some(p), now_ms))
}

/// Added to a parent's interval and timeout while a child waits for its next result.
const DEPENDENCY_SLACK_MS: i64 = 2_000;
