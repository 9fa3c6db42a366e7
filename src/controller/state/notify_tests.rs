//! The controller's side of the notification policy, with the time set by the test:
//! re-notification from the tick, a downtime holding a flip's notice until it ends, a
//! closed `check_period` taking the check out of the assignment.

use std::sync::Arc;
use std::time::Duration;

use super::{Commit, Effects, Inner};
use crate::check::{CheckSpec, Verdict};
use crate::node::proto::ResultMsg;
use crate::policy::AlertWhen;
use crate::policy::downtime::Downtime;
use crate::store::policy_rows::PolicyRows;
use crate::store::{AlertLink, CheckDef};
use crate::util::Now;

/// Check 1 (tcp, every 60 s, delay 0, contact 9 on `both`) with `options`.
fn def(options: &str) -> Arc<CheckDef> {
    def_id(1, options)
}

fn def_id(id: i64, options: &str) -> Arc<CheckDef> {
    let data = r#"{"address":"127.0.0.1:9","timeout":3}"#;
    Arc::new(CheckDef {
        id,
        name: "db".into(),
        kind: "tcp".into(),
        data: data.into(),
        interval: Duration::from_secs(60),
        delay: 0,
        status: crate::decide::Status::Online,
        spec: CheckSpec::parse(id, "tcp", data).map(|p| p.spec),
        alerts: vec![AlertLink { alert_id: 5, contact_id: 9, when: AlertWhen::Both }],
        options: Arc::new(crate::policy::options::check_options(Some(options)).unwrap().options),
        problems: vec![],
    })
}

/// One live worker, confirmations 1, the policy tables `rows`.
fn inner(t0: Now, options: &str, rows: PolicyRows) -> Inner {
    let mut i = Inner::new(
        3,
        1,
        Duration::from_secs(3),
        [def(options)],
        &Default::default(),
        &Default::default(),
        t0,
    );
    i.policy.book.load(rows, jiff::tz::TimeZone::UTC);
    i.touch_member("w1", "http://w1", t0.mono);
    i
}

fn result(v: Verdict, at: Now) -> ResultMsg {
    result_of(1, v, at)
}

fn result_of(check_id: i64, v: Verdict, at: Now) -> ResultMsg {
    ResultMsg {
        check_id,
        round: None,
        term: 0,
        verdict: v,
        state: None,
        message: "refused".into(),
        latency_ms: 1.0,
        started_ms: at.ms,
        cached: false,
    }
}

/// (type, number) of every notification in `out`, flips' and notices' alike.
fn notices(out: &Effects) -> Vec<(&'static str, u32)> {
    out.commits
        .iter()
        .filter_map(|c| match c {
            Commit::Flip(f) => f.notice.as_ref(),
            Commit::Notice(n) => Some(&n.notice),
            _ => None,
        })
        .map(|n| (n.kind.as_str(), n.number))
        .collect()
}

#[test]
fn the_tick_renotifies_at_the_interval() {
    let t0 = Now::read();
    let mut i = inner(t0, r#"{"notification_interval": 2}"#, PolicyRows::default());
    let mut out = Effects::default();
    i.on_result("w1", &result(Verdict::Offline, t0), t0, &["w1"], &mut out);
    assert_eq!(notices(&out), vec![("PROBLEM", 1)]);
    let mut out = Effects::default();
    i.tick_policy(t0.after(Duration::from_millis(1900)), &mut out);
    assert!(notices(&out).is_empty(), "too early");
    i.tick_policy(t0.after(Duration::from_secs(2)), &mut out);
    assert_eq!(notices(&out), vec![("PROBLEM", 2)]);
    let Some(Commit::Notice(n)) = out.commits.first() else { unreachable!() };
    assert_eq!((n.notice.contacts.as_slice(), n.message.as_str()), ([9].as_slice(), "refused"));
}

#[test]
fn a_downtime_holds_the_problem_until_it_ends() {
    let t0 = Now::read();
    let rows = PolicyRows {
        downtimes: vec![Downtime {
            id: 4,
            check_id: 1,
            start_ms: t0.ms - 1000,
            end_ms: t0.ms + 10_000,
            fixed: true,
            duration_ms: 0,
            trigger_id: None,
            cancelled: false,
            author: "ops".into(),
            comment: String::new(),
        }],
        ..PolicyRows::default()
    };
    let mut i = inner(t0, "", rows);
    let mut out = Effects::default();
    i.tick_policy(t0, &mut out);
    assert!(notices(&out).is_empty(), "no DOWNTIMESTART without `s` in notification_options");
    i.on_result("w1", &result(Verdict::Offline, t0), t0, &["w1"], &mut out);
    assert!(notices(&out).is_empty(), "a problem in downtime pages nobody");
    let mut out = Effects::default();
    i.tick_policy(t0.after(Duration::from_secs(10)), &mut out);
    assert_eq!(notices(&out), vec![("PROBLEM", 1)], "told when the downtime ends");
}

#[test]
fn outside_its_check_period_a_check_is_not_assigned() {
    let t0 = Now::read();
    let rows = PolicyRows { periods: vec![(1, "never".into(), String::new())], ..PolicyRows::default() };
    let mut i = inner(t0, r#"{"check_period": "never"}"#, rows);
    i.refresh_membership(t0, &mut Effects::default());
    i.assign_all();
    assert_eq!(i.assign.owner(1), Some("w1"), "assigned before its period is looked at");
    i.tick_check_periods(t0, true);
    assert_eq!(i.assign.owner(1), None, "outside its check_period: not run");
    let mut out = Effects::default();
    i.on_result("w1", &result(Verdict::Offline, t0), t0, &["w1"], &mut out);
    assert!(out.commits.iter().all(|c| !matches!(c, Commit::Flip(_))), "outside its check_period: no flip");
    // The period opens (here: the row is replaced by an always-open one).
    let rows = PolicyRows {
        periods: vec![(1, "never".into(), "day 1 - 31 00:00-24:00".into())],
        ..PolicyRows::default()
    };
    i.policy.book.load(rows, jiff::tz::TimeZone::UTC);
    i.tick_check_periods(t0.after(Duration::from_secs(1)), true);
    assert_eq!(i.assign.owner(1), Some("w1"));
}

#[test]
fn a_child_waits_for_its_parents_next_result_and_hears_its_recovery() {
    use crate::policy::depend::{Criteria, Dependency};
    let t0 = Now::read();
    let rows = PolicyRows {
        dependencies: vec![Dependency {
            id: 1,
            check_id: 2,
            parent_id: 1,
            execution: Criteria::NONE,
            notification: Criteria::CRITICAL,
            inherits_parent: false,
            period: None,
        }],
        ..PolicyRows::default()
    };
    let mut i = Inner::new(
        3,
        1,
        Duration::from_secs(3),
        [def(""), def_id(2, "")],
        &Default::default(),
        &Default::default(),
        t0,
    );
    i.policy.book.load(rows, jiff::tz::TimeZone::UTC);
    i.touch_member("w1", "http://w1", t0.mono);
    let mut out = Effects::default();
    i.on_result("w1", &result_of(1, Verdict::Online, t0), t0, &["w1"], &mut out);
    let t1 = t0.after(Duration::from_secs(1));
    i.on_result("w1", &result_of(2, Verdict::Offline, t1), t1, &["w1"], &mut out);
    assert!(notices(&out).is_empty(), "the child waits for its parent's next result");
    let t2 = t1.after(Duration::from_secs(1));
    i.on_result("w1", &result_of(1, Verdict::Online, t2), t2, &["w1"], &mut out);
    let mut out = Effects::default();
    i.tick_policy(t1.after(Duration::from_secs(5)), &mut out);
    assert_eq!(notices(&out), vec![("PROBLEM", 1)], "the parent is fine: the child pages");
    // A round later (rounds are one interval apart, 60 s here).
    let t3 = t1.after(Duration::from_secs(60));
    let mut out = Effects::default();
    i.on_result("w1", &result_of(2, Verdict::Online, t3), t3, &["w1"], &mut out);
    assert_eq!(notices(&out), vec![("RECOVERY", 2)], "and its recovery is told");
}

#[test]
fn stalking_keeps_each_change_of_output_in_a_stalked_state() {
    // The seed's "State Stalking": "If the output differed and the state of the service
    // didn't change between the two checks, the result of the newer service check would get
    // logged" — only in the states named.
    let t0 = Now::read();
    let mut i = inner(t0, r#"{"stalking_options": "c"}"#, PolicyRows::default());
    let stalks = |out: &Effects| -> Vec<String> {
        out.commits
            .iter()
            .filter_map(|c| if let Commit::Stalk(s) = c { Some(s.output.clone()) } else { None })
            .collect()
    };
    let mut out = Effects::default();
    let mut at = t0;
    for (verdict, message) in [
        (Verdict::Online, "ok"),
        (Verdict::Online, "ok, slower"),
        (Verdict::Offline, "RAID array degraded"),
        (Verdict::Offline, "RAID array degraded"),
        (Verdict::Offline, "RAID array failed"),
    ] {
        at = at.after(Duration::from_secs(61));
        let r = ResultMsg { message: message.into(), ..result(verdict, at) };
        i.on_result("w1", &r, at, &["w1"], &mut out);
    }
    assert_eq!(
        stalks(&out),
        vec!["RAID array failed".to_string()],
        "an OK change is not stalked; a repeat is not a change"
    );
}

#[test]
fn a_new_controller_does_not_page_for_checks_already_down() {
    // gobearmon's behaviour: a check offline when the controller starts, with no notification
    // on record (a database from gobearmon, or an outbox pruned), pages nobody; one with a
    // notification_interval goes on from its last notification.
    let t0 = Now::read();
    let plain = def("");
    let renotified = def_id(2, r#"{"notification_interval": 60}"#);
    let mut i = inner(t0, "", PolicyRows::default());
    let mut open = std::collections::HashMap::new();
    open.insert(
        2,
        crate::store::notices::OpenProblem {
            number: 1,
            last_ms: Some(t0.ms - 30_000),
            told: vec![9],
            acked: false,
        },
    );
    i.policy.restore(
        [(plain.as_ref(), Some(t0.ms - 3_600_000)), (renotified.as_ref(), Some(t0.ms - 60_000))],
        &open,
        t0.ms,
    );
    i.checks.insert(2, super::CheckState::new(renotified.clone(), 0, None, None, t0.mono));
    let mut out = Effects::default();
    i.tick_policy(t0, &mut out);
    assert!(notices(&out).is_empty(), "nothing is due at the start");
    assert_eq!(i.policy.problems[&1].next_ms, None, "the plain check waits for its recovery");
    let mut out = Effects::default();
    i.tick_policy(t0.after(Duration::from_secs(30)), &mut out);
    assert_eq!(notices(&out), vec![("PROBLEM", 2)], "the interval goes on from the last notification");
}

#[test]
fn a_hard_warning_pages_without_a_flip_and_shows_as_warning() {
    let t0 = Now::read();
    // delay 0: one WARNING result is hard.
    let mut i = inner(t0, r#"{"notification_options": "w,c,r"}"#, PolicyRows::default());
    let warning = |at: Now| ResultMsg {
        state: Some(crate::check::State::Warning),
        message: "disk 91% full".into(),
        ..result(Verdict::Online, at)
    };
    let mut out = Effects::default();
    i.on_result("w1", &warning(t0), t0, &["w1"], &mut out);
    assert_eq!(notices(&out), vec![("PROBLEM", 1)]);
    assert!(!out.commits.iter().any(|c| matches!(c, Commit::Flip(_))), "WARNING keeps the check online");
    let Some(Commit::Notice(n)) = out.commits.iter().find(|c| matches!(c, Commit::Notice(_))) else {
        unreachable!()
    };
    assert_eq!((n.message.as_str(), n.status), ("disk 91% full", crate::decide::Status::Online));
    let view = crate::controller::read::status_of(i.checks.get(&1).unwrap(), &i, 0);
    assert_eq!((view.state.as_str(), view.state_type.as_str()), ("warning", "hard"));
    let t1 = t0.after(Duration::from_secs(60));
    let mut out = Effects::default();
    i.on_result("w1", &warning(t1), t1, &["w1"], &mut out);
    assert!(notices(&out).is_empty(), "a hard WARNING pages once");
    let t2 = t0.after(Duration::from_secs(120));
    i.on_result("w1", &result(Verdict::Online, t2), t2, &["w1"], &mut out);
    assert_eq!(notices(&out), vec![("RECOVERY", 2)]);
}
