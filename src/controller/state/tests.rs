//! The controller's state machine with the time set by the test (`Now` values it builds):
//! no sleeps, no network, no runtime.

use std::sync::Arc;
use std::time::Duration;

use super::{Commit, Effects, Inner};
use crate::check::{CheckSpec, Verdict};
use crate::decide::Status;
use crate::node::proto::ResultMsg;
use crate::policy::AlertWhen;
use crate::store::{AlertLink, CheckDef};
use crate::util::Now;

/// Check 1: tcp with a 3 s timeout, every 60 s, delay 0; contact 9 on `both`.
fn def() -> Arc<CheckDef> {
    let data = r#"{"address":"127.0.0.1:9","timeout":3}"#;
    Arc::new(CheckDef {
        id: 1,
        name: "db".into(),
        kind: "tcp".into(),
        data: data.into(),
        interval: Duration::from_secs(60),
        delay: 0,
        status: Status::Online,
        spec: CheckSpec::parse(1, "tcp", data).map(|p| p.spec),
        alerts: vec![AlertLink { alert_id: 5, contact_id: 9, when: AlertWhen::Both }],
        problems: vec![],
    })
}

fn offline(started_ms: i64) -> ResultMsg {
    ResultMsg {
        check_id: 1,
        round: None,
        term: 0,
        verdict: Verdict::Offline,
        message: "connection refused".into(),
        latency_ms: 1.0,
        started_ms,
    }
}

/// Two live workers, confirmations 2, term 3.
fn inner(t0: Now) -> Inner {
    let mut i =
        Inner::new(3, 2, Duration::from_secs(3), [def()], &Default::default(), &Default::default(), t0);
    i.touch_member("w1", "http://w1", t0.mono);
    i.touch_member("w2", "http://w2", t0.mono);
    i
}

fn flips(out: &Effects) -> Vec<Status> {
    out.commits.iter().filter_map(|c| if let Commit::Flip(f) = c { Some(f.to) } else { None }).collect()
}

#[test]
fn an_offline_result_asks_the_other_worker_and_its_answer_flips() {
    let t0 = Now::read();
    let mut i = inner(t0);
    let mut out = Effects::default();
    i.on_result("w1", &offline(t0.ms), t0, &["w1", "w2"], &mut out);
    assert!(flips(&out).is_empty(), "one vote does not flip with confirmations 2");
    let asked = &out.asks["w2"];
    assert_eq!((asked.len(), asked[0].check.id), (1, 1));
    let round = asked[0].round;
    let t1 = t0.after(Duration::from_millis(300));
    let mut out = Effects::default();
    let answer = ResultMsg { round: Some(round), term: 3, ..offline(t1.ms) };
    i.on_result("w2", &answer, t1, &["w1", "w2"], &mut out);
    assert_eq!(flips(&out), vec![Status::Offline]);
    let Some(Commit::Flip(f)) = out.commits.iter().find(|c| matches!(c, Commit::Flip(_))) else {
        unreachable!()
    };
    assert_eq!((f.contacts.as_slice(), f.message.as_str()), ([9].as_slice(), "connection refused"));
    assert_eq!(i.checks.get(&1).and_then(|s| s.since_ms), Some(t1.ms), "since is the flip's time");
}

#[test]
fn a_confirmer_that_never_answers_is_given_up_at_its_deadline_not_before() {
    let t0 = Now::read();
    let mut i = inner(t0);
    let mut out = Effects::default();
    i.on_result("w1", &offline(t0.ms), t0, &["w1", "w2"], &mut out);
    assert!(out.asks.contains_key("w2"));
    // The deadline is the check's timeout (3 s) plus 5 s of slack; w2 stays live throughout.
    let before = t0.after(Duration::from_millis(7_900));
    i.touch_member("w2", "http://w2", before.mono);
    let mut out = Effects::default();
    i.expire_rounds(before, &mut out);
    assert!(flips(&out).is_empty(), "given up before its deadline");
    let after = t0.after(Duration::from_millis(8_000));
    i.touch_member("w1", "http://w1", after.mono);
    i.touch_member("w2", "http://w2", after.mono);
    let mut out = Effects::default();
    i.expire_rounds(after, &mut out);
    assert_eq!(flips(&out), vec![Status::Offline], "w1's vote alone decides once w2 is given up");
}

#[test]
fn a_worker_silent_past_dead_after_leaves_the_live_set() {
    let t0 = Now::read();
    let i = inner(t0);
    assert_eq!(i.live(t0.mono).len(), 2);
    assert_eq!(i.live(t0.after(Duration::from_millis(2_999)).mono).len(), 2);
    assert!(i.live(t0.after(Duration::from_secs(3)).mono).is_empty());
}

/// The controller holds one `CheckState` per check (100,000 and more), inline in its map:
/// a field added here costs that many times its size. BENCHMARKS.md has the budget.
#[test]
fn the_per_check_state_stays_small() {
    use std::mem::size_of;
    assert!(size_of::<super::CheckState>() <= 360, "{}", size_of::<super::CheckState>());
    assert!(size_of::<crate::decide::Decider>() <= 40, "{}", size_of::<crate::decide::Decider>());
    assert!(size_of::<crate::alert::Redacted>() <= 8);
}
