//! Flap detection in the controller (`policy::flap` does the arithmetic): every scheduled
//! result of a check with `flap_detection_enabled` goes into its history; when it starts
//! flapping, FLAPPINGSTART goes out and its PROBLEM and RECOVERY notifications are held;
//! when it stops, FLAPPINGSTOP goes out and a problem still there is notified as usual;
//! turning detection off mid-flap sends FLAPPINGDISABLED. Histories live in memory: a new
//! controller starts them afresh (21 results: a few minutes at most intervals).
//!
//! Volatile checks (`is_volatile`) are here too: every failing scheduled result of one in a
//! problem is notified, as Nagios does for services whose every failure matters.

use super::notify::notice_commit;
use super::{Commit, Effects, Inner};
use crate::policy::flap::{FlapEdge, FlapState};
use crate::policy::notify::{self, NoticeType};
use crate::util::Now;

impl Inner {
    /// Records a scheduled result of check `id` for flap detection.
    pub(super) fn record_flap(&mut self, id: i64, state: FlapState, now: Now, out: &mut Effects) {
        let Some(st) = self.checks.get(&id) else { return };
        let o = &st.def.options;
        if !o.flap_detection_enabled {
            return;
        }
        let pol = &mut self.policy;
        let thresholds = o.thresholds(pol.flap_defaults);
        let flap = pol.flaps.entry(id).or_default();
        let Some(edge) = flap.record(state, o.flap_states, thresholds) else { return };
        let percent = flap.percent();
        let kind = match edge {
            FlapEdge::Started => {
                tracing::warn!(check = id, name = %st.def.name, percent, "check started flapping");
                pol.book.flapping.insert(id);
                if let Some(p) = pol.problems.get_mut(&id) {
                    let old = p.next_ms;
                    p.next_ms = None;
                    pol.set_timer(id, old, None);
                }
                NoticeType::FlappingStart
            }
            FlapEdge::Stopped => {
                tracing::info!(check = id, name = %st.def.name, percent, "check stopped flapping");
                pol.book.flapping.remove(&id);
                if let Some(p) = pol.problems.get_mut(&id)
                    && p.acked_by.is_none()
                {
                    let old = p.next_ms;
                    p.next_ms = Some(now.ms);
                    pol.set_timer(id, old, Some(now.ms));
                }
                NoticeType::FlappingStop
            }
        };
        // The edge's time keys it: unique across controllers, where a counter is not.
        let seq = now.ms as u64;
        let p = pol.problems.get(&id);
        if let Some(n) = pol.book.with(&st.def, |c| notify::flap_notice(c, kind, seq, p, now.ms)) {
            out.commits.push(Commit::Notice(notice_commit(st, n)));
        }
    }

    /// A failing scheduled result of a volatile check already in a problem: its next
    /// notification is due now (the policy's usual rules still apply: acknowledgement,
    /// downtime, periods, flapping).
    pub(super) fn volatile_result(&mut self, id: i64, now: Now) {
        let pol = &mut self.policy;
        let Some(p) = pol.problems.get_mut(&id) else { return };
        // The flip that opened the problem in this same step has just notified.
        if p.started_ms == now.ms || p.acked_by.is_some() {
            return;
        }
        let old = p.next_ms;
        p.next_ms = Some(now.ms);
        pol.set_timer(id, old, Some(now.ms));
    }

    /// Checks whose flap detection was turned off since the last tick: FLAPPINGDISABLED for
    /// those that were flapping, and the hold on their notifications lifted.
    pub(super) fn flap_detection_turned_off(&mut self, now: Now, out: &mut Effects) {
        for id in std::mem::take(&mut self.policy.flap_off) {
            self.flap_off_one(id, now, out);
        }
    }

    fn flap_off_one(&mut self, id: i64, now: Now, out: &mut Effects) {
        let Some(st) = self.checks.get(&id) else { return };
        if st.def.options.flap_detection_enabled {
            return;
        }
        let pol = &mut self.policy;
        let was_flapping = pol.flaps.remove(&id).is_some_and(|f| f.is_flapping());
        if !was_flapping {
            return;
        }
        pol.book.flapping.remove(&id);
        tracing::info!(check = id, "flap detection turned off while the check was flapping");
        // The edge's time keys it: unique across controllers, where a counter is not.
        let seq = now.ms as u64;
        if let Some(p) = pol.problems.get_mut(&id)
            && p.acked_by.is_none()
        {
            let old_next = p.next_ms;
            p.next_ms = Some(now.ms);
            pol.set_timer(id, old_next, Some(now.ms));
        }
        let p = pol.problems.get(&id);
        let kind = NoticeType::FlappingDisabled;
        if let Some(n) = pol.book.with(&st.def, |c| notify::flap_notice(c, kind, seq, p, now.ms)) {
            out.commits.push(Commit::Notice(notice_commit(st, n)));
        }
    }
}
