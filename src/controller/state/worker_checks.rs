//! The `worker` pseudo-checks (`{"name": "w2"}`): the controller evaluates them itself, from
//! its own view of which workers sync, one vote per interval, no confirmations to ask.

use std::sync::Arc;

use super::{Effects, Inner, LastResult, SELF_VOTER};
use crate::check::{CheckSpec, Verdict};
use crate::decide::Report;
use crate::util::Now;

impl Inner {
    /// Evaluates the `worker` pseudo-checks that are due.
    pub fn eval_worker_checks(&mut self, now: Now, out: &mut Effects) {
        let live = self.live(now.mono);
        let due: Vec<(i64, String)> = self
            .checks
            .iter()
            .filter(|(_, s)| now.mono >= s.next_eval)
            .filter_map(|(id, s)| match &s.def.spec {
                Ok(CheckSpec::Worker(p)) => Some((*id, p.name.clone())),
                _ => None,
            })
            .collect();
        for (id, name) in due {
            let Some(st) = self.checks.get_mut(&id) else { continue };
            st.next_eval = now.mono + st.def.interval;
            let alive = live.contains(&name);
            let (verdict, message) = if alive {
                (Verdict::Online, String::new())
            } else {
                (
                    Verdict::Offline,
                    format!(
                        "worker {name} has not synced with the controller for over {} s",
                        self.dead_after.as_secs_f64()
                    ),
                )
            };
            st.last = Some(LastResult {
                verdict,
                state: crate::check::State::of(verdict),
                message,
                latency_ms: 0.0,
                at_ms: now.ms,
                worker: Arc::from(SELF_VOTER),
            });
            st.next_round += 1;
            let round = st.next_round - 1;
            let before = st.decider.streak();
            let report = Report { worker: SELF_VOTER, round, verdict, at: now.ms as u64 };
            let actions = st.decider.on_report(&report, &[SELF_VOTER], 1, st.def.delay);
            self.apply(id, before, actions, now, out);
        }
    }
}
