//! The controller's memory: every check's decision state, the workers it hears from, and the
//! assignment. Everything here is synchronous and runs under one short lock; the network and
//! the database are handled by the caller from the [`Effects`] it fills. Nothing here reads
//! a clock: every step is handed the time ([`Now`]), so tests set it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::assign::Assignment;
use super::table::Table;

use crate::check::{Redacted, Verdict};
use crate::decide::{Action, Report};
use crate::node::proto::{AskMsg, ResultMsg};
use crate::store::stalking::Stalk;
use crate::store::{CheckDef, Delta, Flip, NoticeCommit, Rollup};
use crate::util::Now;

/// The voter name the controller uses for the `worker` pseudo-checks it evaluates itself
/// (worker names cannot contain `@`).
pub const SELF_VOTER: &str = "@controller";
/// The longest latency a result may report (an hour); longer or non-finite ones are clamped.
const MAX_LATENCY_MS: f64 = 3_600_000.0;
/// Slack added to a check's timeout before an asked confirmer counts as not answering.
const ASK_SLACK: Duration = Duration::from_secs(5);

/// A write the controller must make, in order, fenced by its term.
#[derive(Debug, Clone, PartialEq)]
pub enum Commit {
    Flip(Flip),
    Streak {
        check_id: i64,
        streak: u32,
    },
    /// A notification that is not a flip (re-notification, acknowledgement, downtime).
    Notice(NoticeCommit),
    /// A change of output in a stalked state (`stalking_options`).
    Stalk(Stalk),
    /// A finished hour of one check's results.
    Rollup(Rollup),
    /// Several, written in one transaction.
    Rollups(Vec<Rollup>),
}

/// What one step produced for the caller to carry out: confirmation requests to push and
/// writes to commit.
#[derive(Debug, Default)]
pub struct Effects {
    pub asks: BTreeMap<String, Vec<AskMsg>>,
    pub commits: Vec<Commit>,
}

/// A worker the controller hears from.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: Arc<str>,
    pub url: String,
    pub last_sync: Instant,
}

/// Everything the controller keeps in memory.
#[derive(Debug)]
pub struct Inner {
    /// Packed, not a hash map of states (see [`Table`]).
    pub checks: Table<CheckState>,
    pub members: BTreeMap<String, Member>,
    pub assign: Assignment,
    /// Checks with confirmers still awaited.
    open: BTreeSet<i64>,
    confirmations: usize,
    dead_after: Duration,
    term: u64,
    /// Flips made in this term so far: numbers each flip's key.
    flips: u64,
    /// Checks whose last decided round rested on fewer votes than asked for, because
    /// workers could not run them ([`Decider::weakened`]).
    weak: BTreeSet<i64>,
    /// Who is told, and when: the policy tables, open problems, notification timers.
    pub policy: Policy,
    /// Event handler runs waiting for their workers, and what the last ones did.
    pub handlers: Handlers,
}

impl Inner {
    pub fn new(
        term: u64,
        confirmations: usize,
        dead_after: Duration,
        defs: impl IntoIterator<Item = Arc<CheckDef>>,
        streaks: &HashMap<i64, u32>,
        since: &HashMap<i64, i64>,
        now: Now,
    ) -> Self {
        let checks = defs
            .into_iter()
            .map(|d| {
                let st = CheckState::new(
                    d.clone(),
                    streaks.get(&d.id).copied().unwrap_or(0),
                    since.get(&d.id).copied(),
                    None,
                    now.mono,
                );
                (d.id, st)
            })
            .collect();
        Inner {
            checks,
            members: BTreeMap::new(),
            assign: Assignment::default(),
            open: BTreeSet::new(),
            confirmations,
            dead_after,
            term,
            flips: 0,
            weak: BTreeSet::new(),
            policy: Policy::default(),
            handlers: Handlers::default(),
        }
    }

    pub fn live(&self, now: Instant) -> BTreeSet<String> {
        self.members
            .iter()
            .filter(|(_, m)| now.duration_since(m.last_sync) < self.dead_after)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Records a sync from `worker`; true when it was not a live member before.
    pub fn touch_member(&mut self, worker: &str, url: &str, now: Instant) -> bool {
        let fresh =
            self.members.get(worker).is_none_or(|m| now.duration_since(m.last_sync) >= self.dead_after);
        let m = self.members.entry(worker.to_string()).or_insert_with(|| Member {
            name: Arc::from(worker),
            url: url.to_string(),
            last_sync: now,
        });
        m.url = url.to_string();
        m.last_sync = now;
        fresh
    }

    /// Puts every assignable check on a worker, once the first workers are known.
    pub fn assign_all(&mut self) {
        let outside = &self.policy.outside;
        let mut ids: Vec<i64> = self
            .checks
            .iter()
            .filter(|(id, s)| s.assignable() && !outside.contains(id))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            self.assign.upsert(id);
        }
    }

    /// Rebalances when the live set changed, and tells open rounds who is gone.
    pub fn refresh_membership(&mut self, now: Now, out: &mut Effects) {
        let live = self.live(now.mono);
        let current: BTreeSet<String> = self.assign.workers().cloned().collect();
        if live == current {
            return;
        }
        for gone in current.difference(&live) {
            tracing::warn!(worker = %gone, "worker is silent; moving its checks");
        }
        for joined in live.difference(&current) {
            tracing::info!(worker = %joined, "worker joined the assignment");
        }
        let moved = self.assign.set_workers(&live);
        if !moved.is_empty() {
            tracing::info!(moved = moved.len(), workers = live.len(), "checks rebalanced");
        }
        let live_refs: Vec<&str> = live.iter().map(String::as_str).collect();
        let ids: Vec<i64> = self.open.iter().copied().collect();
        for id in ids {
            self.resolve_round(id, &live_refs, now, out);
        }
    }

    fn resolve_round(&mut self, id: i64, live: &[&str], now: Now, out: &mut Effects) {
        let conf = self.confirmations;
        let Some(st) = self.checks.get_mut(&id) else {
            self.open.remove(&id);
            return;
        };
        let before = st.decider.streak();
        let actions = st.decider.on_live_change(live, now.ms as u64, conf, st.def.delay);
        st.waiting.retain(|w| live.contains(&w.as_str()));
        self.apply(id, before, actions, now, out);
    }

    /// Feeds one result from `worker`; `live` is [`Inner::live`], computed once per batch.
    pub fn on_result(
        &mut self,
        worker: &str,
        r: &ResultMsg,
        now: Now,
        live_refs: &[&str],
        out: &mut Effects,
    ) {
        let conf = self.confirmations;
        let term = self.term;
        let Some(st) = self.checks.get_mut(&r.check_id) else { return };
        if !st.assignable() {
            return;
        }
        // A signed node's result, but still bounded: a latency that is not a finite number
        // of milliseconds would poison the hour's rollup (MySQL refuses to store infinity,
        // and the commit would be retried for ever).
        let latency_ms = if r.latency_ms.is_finite() { r.latency_ms.clamp(0.0, MAX_LATENCY_MS) } else { 0.0 };
        // Its dependents look again at the next tick when its state as they see it changes.
        let dep_before = (!self.policy.book.graph.is_empty()).then(|| hold::dep_state(st));
        // A confirmation answered from an earlier run (`cached_check_horizon`) counts in its
        // round, but that run was already a sample.
        if !r.cached {
            Self::sample(st, worker, &self.members, r, latency_ms, now, out);
        }
        if dep_before.is_some_and(|b| b != hold::dep_state(st)) {
            self.policy.dep_changed.insert(r.check_id);
        }
        // Outside its `check_period` a check does not flip: its results are kept for the
        // charts but decide nothing.
        if let Some(period) = st.def.options.check_period.as_deref()
            && !crate::policy::notify::in_period(&self.policy.book.periods, Some(period), now.ms)
        {
            return;
        }
        let mut scheduled = false;
        let round = match (r.round, r.term) {
            (Some(round), t) if t == term => {
                if round == st.wait_round {
                    st.waiting.remove(worker);
                }
                round
            }
            // A confirmation asked by an earlier controller: its rounds are not ours.
            (Some(_), _) => return,
            (None, _) => {
                scheduled = true;
                st.last_run_ms = Some(r.started_ms);
                // Rounds are one interval apart: a second scheduled result soon after the
                // last round began (a check moved between workers) joins that round.
                let recent = st.round_opened.is_some_and(|t| now.mono.duration_since(t) < st.spacing() / 2);
                if recent {
                    st.next_round - 1
                } else {
                    st.round_opened = Some(now.mono);
                    st.next_round += 1;
                    st.next_round - 1
                }
            }
        };
        let before = st.decider.streak();
        let report = Report { worker, round, verdict: r.verdict, at: now.ms as u64 };
        let actions = st.decider.on_report(&report, live_refs, conf, st.def.delay);
        let volatile = scheduled && r.verdict == Verdict::Offline && st.def.options.is_volatile;
        if scheduled {
            self.record_flap(r.check_id, r.state(), now, out);
        }
        self.apply(r.check_id, before, actions, now, out);
        if scheduled {
            self.record_warning(r.check_id, r.state(), now, out);
        }
        if volatile {
            self.volatile_result(r.check_id, now);
        }
    }

    fn apply(&mut self, id: i64, streak_before: u32, actions: Vec<Action>, now: Now, out: &mut Effects) {
        let flips = actions.iter().any(|a| matches!(a, Action::Flip { .. }));
        // A problem that begins waits for parents that have not reported since; a recovery
        // asks about the parents' states since the problem began.
        let since = self.policy.problems.get(&id).map_or(now.ms, |p| p.started_ms);
        let parent =
            if flips { hold::unreachable(&self.policy.book, &self.checks, id, since, now.ms) } else { None };
        let Some(st) = self.checks.get_mut(&id) else { return };
        let mut wrote_streak = false;
        // SOFT attempts confirmed in this step, for the event handlers.
        let mut soft = Vec::new();
        for a in actions {
            match a {
                Action::Ask { round, workers } => {
                    if st.wait_round != round {
                        st.waiting.clear();
                    }
                    st.wait_round = round;
                    st.wait_deadline = now.mono + st.timeout() + ASK_SLACK;
                    for w in workers {
                        tracing::debug!(check = id, round, worker = %w, "asking for a confirmation");
                        out.asks.entry(w.clone()).or_default().push(AskMsg { check: st.msg(), round });
                        st.waiting.insert(w);
                    }
                    self.open.insert(id);
                }
                Action::Counted { round, streak } => {
                    tracing::info!(
                        check = id,
                        round,
                        streak,
                        of = st.def.delay + 1,
                        "contrary round confirmed"
                    );
                    out.commits.push(Commit::Streak { check_id: id, streak });
                    wrote_streak = true;
                    st.waiting.clear();
                    soft.push(streak);
                }
                Action::Flip { to, round, .. } => {
                    tracing::info!(check = id, name = %st.def.name, to = to.as_str(), round, "check flips");
                    st.since_ms = Some(now.ms);
                    let message = st.last.as_ref().map(|l| st.redacted.scrub(&l.message)).unwrap_or_default();
                    self.flips += 1;
                    self.policy.dep_changed.insert(id);
                    let notice = self.policy.on_flip(&st.def, to, parent, now.ms);
                    out.commits.push(Commit::Flip(Flip {
                        key: format!("t{}-f{}", self.term, self.flips),
                        check_id: id,
                        to,
                        name: st.def.name.clone(),
                        kind: st.def.kind.clone(),
                        data: st.redacted.data(&st.def.data).to_string(),
                        message,
                        notice,
                    }));
                    wrote_streak = true;
                    st.waiting.clear();
                }
            }
        }
        match st.decider.weakened() {
            Some((votes, wanted)) => {
                if self.weak.insert(id) {
                    tracing::warn!(
                        check = id,
                        name = %st.def.name,
                        votes,
                        wanted,
                        "check degraded: its round was decided on fewer confirmations than asked for, \
                         other workers could not run it"
                    );
                }
            }
            None => {
                if !self.weak.is_empty() && self.weak.remove(&id) {
                    tracing::info!(check = id, "check no longer degraded: a round had every confirmation");
                }
            }
        }
        if !wrote_streak && st.decider.streak() != streak_before {
            out.commits.push(Commit::Streak { check_id: id, streak: st.decider.streak() });
        }
        if st.waiting.is_empty() {
            self.open.remove(&id);
        }
        let reset = !flips && streak_before > 0 && st.decider.streak() == 0;
        for streak in soft {
            self.handle_soft(id, streak, now);
        }
        if flips || reset {
            self.handle_settled(id, flips, now);
        }
    }

    /// Gives up on confirmers that did not answer in time.
    pub fn expire_rounds(&mut self, now: Now, out: &mut Effects) {
        let live = self.live(now.mono);
        let expired: Vec<(i64, Vec<String>)> = self
            .open
            .iter()
            .filter_map(|id| self.checks.get(id).map(|s| (id, s)))
            .filter(|(_, s)| now.mono >= s.wait_deadline && !s.waiting.is_empty())
            .map(|(id, s)| (*id, s.waiting.iter().cloned().collect()))
            .collect();
        for (id, late) in expired {
            tracing::warn!(check = id, late = ?late, "confirmers did not answer in time; not counting them");
            let still: Vec<&str> =
                live.iter().map(String::as_str).filter(|w| !late.iter().any(|l| l == w)).collect();
            if let Some(st) = self.checks.get_mut(&id) {
                st.waiting.clear();
            }
            self.resolve_round(id, &still, now, out);
        }
        self.open.retain(|id| self.checks.get(id).is_some_and(|s| !s.waiting.is_empty()));
    }

    /// Treats confirmers whose ask could not be delivered as not answering.
    pub fn ask_failed(&mut self, worker: &str, checks: &[i64], now: Instant) {
        for id in checks {
            if let Some(st) = self.checks.get_mut(id)
                && st.waiting.contains(worker)
            {
                st.wait_deadline = now;
            }
        }
    }

    /// How many checks are degraded by workers that could not run them.
    pub fn weakened_checks(&self) -> usize {
        self.weak.len()
    }

    /// Applies what the database watcher saw.
    pub fn on_delta(&mut self, d: Delta, started: bool, now: Now) {
        match d {
            Delta::Upserted(def) => {
                let id = def.id;
                match self.checks.get_mut(&id) {
                    Some(st) => {
                        // The status in memory is newer than the row (our own flip commit
                        // triggers this reload); keep the decider.
                        if st.def.data != def.data {
                            st.redacted = Redacted::new(&def.data);
                        }
                        if st.def.options.flap_detection_enabled && !def.options.flap_detection_enabled {
                            self.policy.flap_off.push(id);
                        }
                        if st.def.options.check_period != def.options.check_period {
                            // Which checks a period may hold is looked at again at the next
                            // tick (not at every reload: each flip reloads its own row).
                            self.policy.periodic = None;
                        }
                        st.def = def;
                    }
                    None => {
                        tracing::info!(check = id, name = %def.name, "check added");
                        self.policy.periodic = None;
                        let due = started.then_some(now.ms);
                        self.checks.insert(id, CheckState::new(def, 0, None, due, now.mono));
                    }
                }
                let assignable = self.checks.get(&id).is_some_and(CheckState::assignable);
                if !started {
                    return;
                }
                if assignable && !self.policy.outside.contains(&id) {
                    self.assign.upsert(id);
                } else {
                    self.assign.remove(id);
                }
            }
            Delta::Removed(id) => {
                if self.checks.remove(&id).is_some() {
                    tracing::info!(check = id, "check removed or disabled");
                }
                self.assign.remove(id);
                self.open.remove(&id);
                self.weak.remove(&id);
                self.policy.forget(id);
            }
            // Timeperiods or dependencies may have changed what holds which check.
            Delta::Policy => self.policy.periodic = None,
            Delta::Contact(_) => {}
        }
    }
}
mod check;
mod flapping;
mod handlers;
mod hold;
mod notify;
#[cfg(test)]
mod notify_tests;
mod sample;
#[cfg(test)]
mod tests;
mod warning;
mod worker_checks;

pub use check::{CheckState, LastResult};
pub use handlers::Handlers;
pub use hold::unreachable;
pub use notify::{Book, Policy};
