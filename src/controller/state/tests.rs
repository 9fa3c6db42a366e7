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
        options: crate::store::default_options(),
        problems: vec![],
    })
}

fn offline(started_ms: i64) -> ResultMsg {
    ResultMsg {
        check_id: 1,
        round: None,
        term: 0,
        verdict: Verdict::Offline,
        state: None,
        message: "connection refused".into(),
        latency_ms: 1.0,
        started_ms,
        cached: false,
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
    let n = f.notice.as_ref().expect("the flip notifies");
    assert_eq!((n.contacts.as_slice(), f.message.as_str()), ([9].as_slice(), "connection refused"));
    assert_eq!((n.kind.as_str(), n.number), ("PROBLEM", 1));
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
    assert!(size_of::<crate::check::Redacted>() <= 8);
}

/// w2 cannot run the check (an error, as icmp without raw sockets): the flip rests on w1's
/// vote alone, and the controller counts the check as degraded until a full round.
#[test]
fn a_flip_on_fewer_confirmations_marks_the_check_degraded() {
    let t0 = Now::read();
    let mut i = inner(t0);
    let mut out = Effects::default();
    i.on_result("w1", &offline(t0.ms), t0, &["w1", "w2"], &mut out);
    let round = out.asks["w2"][0].round;
    let error = ResultMsg { round: Some(round), term: 3, verdict: Verdict::Error, ..offline(t0.ms) };
    let mut out = Effects::default();
    i.on_result("w2", &error, t0, &["w1", "w2"], &mut out);
    assert_eq!(flips(&out), vec![Status::Offline]);
    assert_eq!(i.weakened_checks(), 1);
    assert_eq!(i.checks.get(&1).and_then(|s| s.decider.weakened()), Some((1, 2)));
    // Both workers agree on the recovery: no longer degraded.
    let t1 = t0.after(Duration::from_secs(60));
    let online = |round, term| ResultMsg { round, term, verdict: Verdict::Online, ..offline(t1.ms) };
    let mut out = Effects::default();
    i.on_result("w1", &online(None, 0), t1, &["w1", "w2"], &mut out);
    let round = out.asks["w2"][0].round;
    i.on_result("w2", &online(Some(round), 3), t1, &["w1", "w2"], &mut out);
    assert_eq!(flips(&out), vec![Status::Online]);
    assert_eq!(i.weakened_checks(), 0);
}

/// A hanging target, timeout 9 s, interval 10 s (issue: an open round was lost when the
/// next scheduled result came first): w2's answer to round 1 arrives after w1's next run,
/// and still completes the round.
#[test]
fn a_confirmation_slower_than_the_interval_still_flips() {
    let data = r#"{"address":"127.0.0.1:9","timeout":9}"#;
    let d = Arc::new(CheckDef {
        interval: Duration::from_secs(10),
        data: data.into(),
        spec: CheckSpec::parse(1, "tcp", data).map(|p| p.spec),
        ..(*def()).clone()
    });
    let t0 = Now::read();
    let mut i = Inner::new(3, 2, Duration::from_secs(30), [d], &Default::default(), &Default::default(), t0);
    let live = ["w1", "w2"];
    for (n, at) in [(0, t0), (1, t0.after(Duration::from_secs(10)))] {
        for w in live {
            i.touch_member(w, "http://w", at.mono);
        }
        let mut out = Effects::default();
        i.on_result("w1", &offline(at.ms), at, &live, &mut out);
        i.expire_rounds(at, &mut out);
        assert!(flips(&out).is_empty(), "result {n}: one worker's votes never flip");
    }
    let t2 = t0.after(Duration::from_millis(10_500));
    let mut out = Effects::default();
    i.on_result("w2", &ResultMsg { round: Some(1), term: 3, ..offline(t0.ms + 9_000) }, t2, &live, &mut out);
    assert_eq!(flips(&out), vec![Status::Offline], "the round's votes were kept");
}

fn def_with(interval_secs: u64, delay: u32) -> Arc<CheckDef> {
    let d = def();
    Arc::new(CheckDef { interval: Duration::from_secs(interval_secs), delay, ..(*d).clone() })
}

fn verdict(v: u8) -> Verdict {
    match v % 3 {
        0 => Verdict::Online,
        1 => Verdict::Offline,
        _ => Verdict::Error,
    }
}

proptest::proptest! {
    /// Extreme numbers anywhere a result or a row can put them (the largest interval and
    /// delay a row may hold, any start time, any latency, any round and term) never panic,
    /// flips alternate, and every rollup holds finite numbers (a database refuses infinity).
    #[test]
    fn extreme_values_never_break_the_state_machine(
        interval in 1u64..=86_400,
        delay in 0u32..=100,
        results in proptest::collection::vec(
            (0usize..3, proptest::prelude::any::<u8>(), proptest::prelude::any::<i64>(), proptest::prelude::any::<f64>(),
             proptest::prelude::any::<Option<u64>>(), 0u64..5, 0u64..100_000),
            1..60,
        ),
    ) {
        let mut t = Now::read();
        let mut i = Inner::new(3, 2, Duration::from_secs(3), [def_with(interval, delay)], &Default::default(), &Default::default(), t);
        let mut last_flip: Option<Status> = None;
        let names = ["w1", "w2", "w3"];
        for (w, v, started_ms, latency_ms, round, term, advance_ms) in results {
            t = t.after(Duration::from_millis(advance_ms));
            for n in names {
                i.touch_member(n, "http://w", t.mono);
            }
            let r = ResultMsg { check_id: 1, round, term, verdict: verdict(v), state: None, message: "m".into(), latency_ms, started_ms, cached: false };
            let mut out = Effects::default();
            i.on_result(names[w], &r, t, &names, &mut out);
            i.expire_rounds(t, &mut out);
            for c in &out.commits {
                match c {
                    Commit::Flip(f) => {
                        proptest::prop_assert_ne!(Some(f.to), last_flip, "two flips to the same state");
                        last_flip = Some(f.to);
                    }
                    Commit::Rollup(r) => {
                        let nums = [r.latency_avg_ms, r.latency_p50_ms, r.latency_p95_ms, r.latency_max_ms];
                        proptest::prop_assert!(nums.iter().all(|n| n.is_finite()), "{r:?}");
                    }
                    _ => {}
                }
            }
        }
    }
}
