//! Keeping a check's results: the last one for the API, the samples for the charts, the
//! hour's rollup, and state stalking's events.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{CheckState, Commit, Effects, Inner, LastResult, Member};
use crate::controller::history::{HourAcc, Sample};
use crate::node::proto::ResultMsg;
use crate::store::stalking::Stalk;
use crate::util::Now;

impl Inner {
    /// Keeps a new result: the last result, the charts' samples, the hour's rollup, and a
    /// stalking event when its output changed.
    pub(super) fn sample(
        st: &mut CheckState,
        worker: &str,
        members: &BTreeMap<String, Member>,
        r: &ResultMsg,
        latency_ms: f64,
        now: Now,
        out: &mut Effects,
    ) {
        // State stalking compares with the result before this one.
        let stalk = (!st.def.options.stalking.is_empty()).then(|| stalk_of(st, r, now.ms)).flatten();
        if let Some(s) = stalk {
            out.commits.push(Commit::Stalk(s));
        }
        st.last = Some(LastResult {
            verdict: r.verdict,
            state: r.state(),
            message: r.message.clone(),
            latency_ms,
            at_ms: r.started_ms,
            worker: members.get(worker).map_or_else(|| Arc::from(worker), |m| m.name.clone()),
        });
        let sample = Sample::new(r.started_ms, latency_ms, r.verdict);
        st.recent.push(sample);
        let hour = r.started_ms.div_euclid(3_600_000) * 3600;
        match &mut st.hour {
            Some(h) if h.hour == hour => h.add(r.verdict, latency_ms),
            // A late result of an hour already written is left out of it.
            Some(h) if h.hour > hour => {}
            slot => {
                if let Some(done) = slot.take() {
                    out.commits.push(Commit::Rollup(done.rollup(r.check_id)));
                }
                let mut h = HourAcc::new(hour);
                h.add(r.verdict, latency_ms);
                *slot = Some(h);
            }
        }
    }
}

/// A stalking event when result `r` keeps the state of the result before it (one of the
/// check's `stalking_options`) with another output: "If the output differed and the state of
/// the service didn't change between the two checks, the result of the newer service check
/// would get logged" (the seed's "State Stalking").
fn stalk_of(st: &CheckState, r: &ResultMsg, now_ms: i64) -> Option<Stalk> {
    let prev = st.last.as_ref()?;
    let state = r.state();
    if prev.state != state || prev.message == r.message || !st.def.options.stalking.has(state) {
        return None;
    }
    Some(Stalk {
        check_id: st.def.id,
        at_ms: now_ms,
        state: state.as_str().into(),
        output: st.redacted.scrub(&r.message),
    })
}
