//! WARNING problems in the controller (`policy::warning` has the rules): every scheduled
//! result of an `online` check that is WARNING, or ends a run of WARNING results, goes
//! through them; a hard WARNING or its end becomes a `Commit::Notice`. Checks that never
//! report WARNING cost one hash lookup a result.

use super::notify::notice_commit;
use super::{Commit, Effects, Inner, hold};
use crate::check::State;
use crate::decide::Status;
use crate::policy::warning;
use crate::util::Now;

impl Inner {
    /// Records a scheduled result of check `id` for its WARNING state.
    pub(super) fn record_warning(&mut self, id: i64, state: State, now: Now, out: &mut Effects) {
        let Some(st) = self.checks.get(&id) else { return };
        if st.decider.status() != Status::Online {
            // A CRITICAL problem (the flip's) has taken over.
            self.policy.warnings.remove(&id);
            return;
        }
        if state != State::Warning && !self.policy.warnings.contains_key(&id) {
            return;
        }
        let parent = hold::unreachable(&self.policy.book, &self.checks, id, now.ms, now.ms);
        let pol = &mut self.policy;
        let mut slot = pol.warnings.remove(&id);
        let before = slot.as_ref().map(|w| w.hard);
        let max = st.def.delay.saturating_add(1);
        let notice =
            pol.book.with_parent(&st.def, parent, |c| warning::observe(c, &mut slot, state, max, now.ms));
        // The event handlers hear of every SOFT WARNING attempt, the HARD one, and the end.
        let change = match (&slot, before) {
            (Some(w), Some(true)) if w.hard => None,
            (Some(w), _) if state == State::Warning => {
                Some((State::Warning, State::Ok, w.hard, w.count.min(max)))
            }
            (Some(_), _) => None,
            (None, Some(hard)) if state == State::Ok => Some((State::Ok, State::Warning, hard, 1)),
            (None, _) => None,
        };
        if let Some(w) = slot {
            if w.hard && w.count == max {
                tracing::warn!(check = id, name = %st.def.name, "check is in a hard WARNING state");
            }
            pol.warnings.insert(id, w);
        }
        if let Some(mut n) = notice {
            n.contacts.retain(|c| pol.book.contact_period_ok(*c));
            tracing::info!(check = id, kind = n.kind.as_str(), contacts = ?n.contacts, "WARNING notification");
            out.commits.push(Commit::Notice(notice_commit(st, n)));
        }
        if let Some((to, last, hard, attempt)) = change {
            self.handle_warning(id, to, last, hard, attempt, now);
        }
    }
}
