//! WARNING and UNKNOWN problems in the controller (`policy::warning` has the rules): every
//! scheduled result of an `online` check that is WARNING or UNKNOWN, or ends a run of them,
//! goes through them; a HARD one or its end becomes a `Commit::Notice`. Checks that never
//! report either cost one hash lookup a result.

use super::notify::notice_commit;
use super::{Commit, Effects, Inner, hold};
use crate::check::State;
use crate::decide::Status;
use crate::policy::warning;
use crate::util::Now;

impl Inner {
    /// Records a scheduled result of check `id` for its WARNING and UNKNOWN states.
    pub(super) fn record_warning(&mut self, id: i64, state: State, now: Now, out: &mut Effects) {
        let Some(st) = self.checks.get(&id) else { return };
        if st.decider.status() != Status::Online {
            // A CRITICAL problem (the flip's) has taken over.
            self.policy.warnings.remove(&id);
            return;
        }
        if state == State::Ok && !self.policy.warnings.contains_key(&id) || state == State::Critical {
            return;
        }
        let parent = hold::unreachable(&self.policy.book, &self.checks, id, now.ms, now.ms);
        let pol = &mut self.policy;
        let mut slot = pol.warnings.remove(&id);
        let before = slot.as_ref().map(|w| (w.state, w.hard, w.count));
        let max = st.def.delay.saturating_add(1);
        let notice =
            pol.book.with_parent(&st.def, parent, |c| warning::observe(c, &mut slot, state, max, now.ms));
        // The event handlers hear of every SOFT attempt, the HARD state, and the end.
        let after = slot.as_ref().map(|w| (w.state, w.hard, w.count));
        let change = match (after, before) {
            (a, b) if a == b => None,
            (Some((s, hard, count)), b) => Some((s, b.map_or(State::Ok, |b| b.0), hard, count.min(max))),
            (None, Some((s, hard, _))) if state == State::Ok => Some((State::Ok, s, hard, 1)),
            (None, _) => None,
        };
        if let Some(w) = slot {
            if w.hard && before.is_none_or(|b| !b.1 || b.0 != w.state) {
                tracing::warn!(check = id, name = %st.def.name, state = w.state.as_str(), "check is in a HARD state");
            }
            pol.warnings.insert(id, w);
        }
        if let Some(mut n) = notice {
            n.contacts.retain(|c| pol.book.contact_period_ok(*c));
            tracing::info!(check = id, kind = n.kind.as_str(), contacts = ?n.contacts, "WARNING or UNKNOWN notification");
            out.commits.push(Commit::Notice(notice_commit(st, n)));
        }
        if let Some((to, last, hard, attempt)) = change {
            self.handle_warning(id, to, last, hard, attempt, now);
        }
    }
}
