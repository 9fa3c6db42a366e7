//! Table tests of the notification rules (`policy::notify`): every worked example of the
//! seed's "Notification Escalations" section (each case names its sentence), re-notification,
//! periods, acknowledgements, downtime, and property tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::AlertWhen;
use super::notify::{Ctx, Escalation, Notice, NoticeType, Problem, due, on_ack, on_problem, on_recovery};
use super::options::{CheckOptions, ContactOptions, Letters};
use super::period::Periods;

const MIN: i64 = 60_000;
// Contact groups of the seed, one contact each.
const NT_ADMINS: i64 = 1;
const MANAGERS: i64 = 2;
const EVERYONE: i64 = 3;
const ON_CALL: i64 = 4;

fn esc(id: i64, contacts: &[i64], first: u32, last: u32, interval: Option<u64>) -> Vec<Arc<Escalation>> {
    contacts
        .iter()
        .map(|c| {
            Arc::new(Escalation {
                id,
                check_id: Some(1),
                contact_id: *c,
                first_notification: first,
                last_notification: last,
                first_time: 0,
                last_time: 0,
                interval: interval.map(|m| m * 60),
                period: None,
                options: Letters::ALL,
            })
        })
        .collect()
}

fn by_time(id: i64, contact: i64, first_min: u64, last_min: u64) -> Arc<Escalation> {
    Arc::new(Escalation {
        id,
        check_id: Some(1),
        contact_id: contact,
        first_notification: 0,
        last_notification: 0,
        first_time: first_min * 60,
        last_time: last_min * 60,
        interval: None,
        period: None,
        options: Letters::ALL,
    })
}

struct World {
    options: CheckOptions,
    alerts: Vec<(i64, AlertWhen)>,
    escalations: Vec<Arc<Escalation>>,
    contacts: BTreeMap<i64, Arc<ContactOptions>>,
    periods: Periods,
    in_downtime: bool,
}

impl World {
    /// The seed's service: "the default contact groups for the service definition is called
    /// nt-admins", notification_interval in minutes.
    fn seed(interval_min: u64, escalations: Vec<Vec<Arc<Escalation>>>) -> World {
        World {
            options: CheckOptions { notification_interval: interval_min * 60, ..CheckOptions::default() },
            alerts: vec![(NT_ADMINS, AlertWhen::Both)],
            escalations: escalations.into_iter().flatten().collect(),
            contacts: BTreeMap::new(),
            periods: Periods::empty(),
            in_downtime: false,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Ctx<'_>) -> T) -> T {
        let lookup = |id: i64| self.contacts.get(&id).cloned();
        let ctx = Ctx {
            options: &self.options,
            alerts: &self.alerts,
            escalations: &self.escalations,
            contact: &lookup,
            periods: &self.periods,
            in_downtime: self.in_downtime,
            unreachable: None,
            flapping: false,
        };
        f(&ctx)
    }

    /// Runs a problem from t = 0 for `minutes`, returning each notice with its minute.
    fn run(&self, minutes: i64) -> (Problem, Vec<(i64, Notice)>) {
        let (mut p, first) = self.with(|c| on_problem(c, 0));
        let mut out: Vec<(i64, Notice)> = first.into_iter().map(|n| (0, n)).collect();
        while let Some(t) = p.next_ms {
            if t > minutes * MIN {
                break;
            }
            if let Some(n) = self.with(|c| due(c, &mut p, t)) {
                out.push((t / MIN, n));
            }
        }
        (p, out)
    }
}

fn who(out: &[(i64, Notice)]) -> Vec<(u32, Vec<i64>)> {
    out.iter().map(|(_, n)| (n.number, n.contacts.clone())).collect()
}

#[test]
fn holes_in_escalations_fall_back_to_the_checks_contacts() {
    // Seed: "For the first and second notification, as well as all notifications beyond the
    // tenth one, the default contact groups specified in the service definition are used."
    let w = World::seed(
        30,
        vec![
            esc(1, &[NT_ADMINS, MANAGERS], 3, 5, Some(90)),
            esc(2, &[NT_ADMINS, MANAGERS, EVERYONE], 6, 10, Some(60)),
        ],
    );
    let (_, out) = w.run(24 * 60);
    let got = who(&out);
    assert_eq!(got[0], (1, vec![NT_ADMINS]));
    assert_eq!(got[1], (2, vec![NT_ADMINS]));
    for n in 3..=5 {
        assert_eq!(got[n - 1], (n as u32, vec![NT_ADMINS, MANAGERS]));
    }
    for n in 6..=10 {
        assert_eq!(got[n - 1], (n as u32, vec![NT_ADMINS, MANAGERS, EVERYONE]));
    }
    assert_eq!(got[10], (11, vec![NT_ADMINS]));
}

#[test]
fn overlapping_ranges_merge_their_contacts() {
    // Seed: "The nt-admins and managers contact groups get notified on the third
    // notification / All three contact groups get notified on the fourth and fifth
    // notifications / Only the on-call-support contact group gets notified on the sixth (or
    // higher) notification".
    let w = World::seed(
        30,
        vec![esc(1, &[NT_ADMINS, MANAGERS], 3, 5, Some(20)), esc(2, &[ON_CALL], 4, 0, Some(30))],
    );
    let (_, out) = w.run(12 * 60);
    let got = who(&out);
    assert_eq!(got[2], (3, vec![NT_ADMINS, MANAGERS]));
    assert_eq!(got[3], (4, vec![NT_ADMINS, MANAGERS, ON_CALL]));
    assert_eq!(got[4], (5, vec![NT_ADMINS, MANAGERS, ON_CALL]));
    assert_eq!(got[5], (6, vec![ON_CALL]));
    assert_eq!(got[8], (9, vec![ON_CALL]));
}

#[test]
fn a_recovery_reaches_those_told_of_the_problem() {
    // Seed: "If, after three problem notifications, a recovery notification is sent out for
    // the service, who gets notified? The recovery is actually the fourth notification ...
    // the nt-admins and managers contact groups would be notified of the recovery."
    // (on-call-support, which starts at the fourth, never heard of it.)
    let w = World::seed(
        30,
        vec![esc(1, &[NT_ADMINS, MANAGERS], 3, 5, Some(20)), esc(2, &[ON_CALL], 4, 0, Some(30))],
    );
    let (p, out) = w.run(60);
    assert_eq!(out.len(), 3);
    let r = w.with(|c| on_recovery(c, Some(&p), 70 * MIN)).unwrap();
    assert_eq!(r.kind, NoticeType::Recovery);
    assert_eq!(r.number, 4);
    assert_eq!(r.contacts, vec![NT_ADMINS, MANAGERS]);
}

#[test]
fn escalation_intervals_replace_the_checks() {
    // Seed: "the default notification interval for the services is 240 minutes ... When the
    // service notification is escalated on the 3rd, 4th, and 5th notifications, an interval
    // of 45 minutes will be used between notifications. On the 6th and subsequent
    // notifications, the notification interval will be 60 minutes".
    let w = World::seed(
        240,
        vec![
            esc(1, &[NT_ADMINS, MANAGERS], 3, 5, Some(45)),
            esc(2, &[NT_ADMINS, MANAGERS, EVERYONE], 6, 0, Some(60)),
        ],
    );
    let (_, out) = w.run(24 * 60);
    let minutes: Vec<i64> = out.iter().map(|(t, _)| *t).collect();
    // 1 at 0, 2 at 240, 3 at 480 (then 45 min apart), 4 at 525, 5 at 570, 6 at 615 (then 60).
    assert_eq!(&minutes[..8], &[0, 240, 480, 525, 570, 615, 675, 735]);
}

#[test]
fn overlapping_intervals_take_the_smallest() {
    // Seed: "For these notifications, Shinken will use a notification interval of 45
    // minutes, since it is the smallest interval present in any valid escalation
    // definitions for those notifications."
    let w = World::seed(
        240,
        vec![
            esc(1, &[NT_ADMINS, MANAGERS], 3, 5, Some(45)),
            esc(2, &[NT_ADMINS, MANAGERS, EVERYONE], 4, 0, Some(60)),
        ],
    );
    let (_, out) = w.run(24 * 60);
    let minutes: Vec<i64> = out.iter().map(|(t, _)| *t).collect();
    // 3 at 480, 4 at 525, 5 at 570, 6 at 615 (after the 5th: 45), 7 at 675 (60 from then on).
    assert_eq!(&minutes[..7], &[0, 240, 480, 525, 570, 615, 675]);
}

#[test]
fn an_escalation_interval_of_zero_stops_notifications() {
    // Seed: "the maximum number of problem notifications that could be sent out about the
    // service would be four ... the third service escalation definition has no effect
    // whatsoever". (The seed's second definition is the one with interval 0, first 4.)
    let w = World::seed(
        240,
        vec![
            esc(1, &[NT_ADMINS, MANAGERS], 3, 5, Some(45)),
            esc(2, &[NT_ADMINS, MANAGERS], 4, 6, Some(0)),
            esc(3, &[NT_ADMINS, MANAGERS], 7, 0, Some(30)),
        ],
    );
    let (p, out) = w.run(30 * 24 * 60);
    assert_eq!(out.len(), 4, "{:?}", who(&out));
    assert_eq!(p.next_ms, None);
}

#[test]
fn time_based_escalations_fire_at_their_time_despite_a_long_interval() {
    // Seed: "at t=60 minutes, the escalation will raise, you will notify the level2 contact
    // group, and then at t=120 minutes you will notify the level3, and here one a day until
    // they solve it!" (notification_interval 1440).
    const LEVEL1: i64 = 1;
    const LEVEL2: i64 = 20;
    const LEVEL3: i64 = 30;
    let mut w = World::seed(1440, vec![]);
    w.alerts = vec![(LEVEL1, AlertWhen::Both)];
    w.escalations = vec![by_time(1, LEVEL2, 60, 120), by_time(2, LEVEL3, 120, 0)];
    let (_, out) = w.run(3 * 24 * 60);
    let got: Vec<(i64, Vec<i64>)> = out.iter().map(|(t, n)| (*t, n.contacts.clone())).collect();
    assert_eq!(
        got,
        vec![
            (0, vec![LEVEL1]),
            (60, vec![LEVEL2]),
            (120, vec![LEVEL3]),
            (120 + 1440, vec![LEVEL3]),
            (120 + 2 * 1440, vec![LEVEL3]),
        ]
    );
}

#[test]
fn escalation_options_and_periods_restrict_them() {
    // Seed: "the escalation can be used when the host or service is in any state" unless
    // escalation_options says otherwise; escalation_period limits when it is used.
    let mut w = World::seed(10, vec![esc(1, &[MANAGERS], 2, 0, None)]);
    w.escalations =
        vec![Arc::new(Escalation { options: Letters::parse("w").unwrap(), ..(*w.escalations[0]).clone() })];
    let (_, out) = w.run(30);
    assert!(out.iter().all(|(_, n)| n.contacts == vec![NT_ADMINS]), "{:?}", who(&out));

    let (periods, bad) = Periods::build([("never", "")], jiff::tz::TimeZone::UTC);
    assert!(bad.is_empty(), "{bad:?}");
    let mut w = World::seed(10, vec![esc(1, &[MANAGERS], 2, 0, None)]);
    w.periods = periods;
    w.escalations =
        vec![Arc::new(Escalation { period: Some("never".into()), ..(*w.escalations[0]).clone() })];
    let (_, out) = w.run(30);
    assert!(out.iter().all(|(_, n)| n.contacts == vec![NT_ADMINS]), "{:?}", who(&out));
}

#[test]
fn gobearmons_behaviour_without_options() {
    // No options, no escalations: one PROBLEM to the offline alerts, one RECOVERY to the
    // online alerts and everyone told.
    let mut w = World::seed(0, vec![]);
    w.alerts = vec![(1, AlertWhen::Offline), (2, AlertWhen::Online), (3, AlertWhen::Both)];
    let (p, out) = w.run(24 * 60);
    assert_eq!(who(&out), vec![(1, vec![1, 3])]);
    assert_eq!(p.next_ms, None);
    let r = w.with(|c| on_recovery(c, Some(&p), MIN)).unwrap();
    assert_eq!((r.number, r.contacts), (2, vec![1, 2, 3]));
    // Only an online alert: nobody hears the problem, the recovery still goes out.
    w.alerts = vec![(2, AlertWhen::Online)];
    let (p, out) = w.run(60);
    assert!(out.is_empty());
    assert_eq!(w.with(|c| on_recovery(c, Some(&p), MIN)).unwrap().contacts, vec![2]);
}

#[test]
fn first_notification_delay_holds_the_problem_and_a_quick_recovery_tells_nobody() {
    let mut w = World::seed(0, vec![]);
    w.options.first_notification_delay = 300;
    let (p, first) = w.with(|c| on_problem(c, 0));
    assert!(first.is_none());
    assert_eq!(p.next_ms, Some(300_000));
    assert_eq!(w.with(|c| on_recovery(c, Some(&p), 100_000)), None);
    let (_, out) = w.run(10);
    assert_eq!(out.iter().map(|(t, _)| *t).collect::<Vec<_>>(), vec![5]);
}

#[test]
fn an_acknowledgement_stops_renotification() {
    let w = World::seed(5, vec![]);
    let (mut p, _) = w.with(|c| on_problem(c, 0));
    let n2 = w.with(|c| due(c, &mut p, 5 * MIN)).unwrap();
    assert_eq!(n2.number, 2);
    let ack = w.with(|c| on_ack(c, &mut p, 7, true, 6 * MIN)).unwrap();
    assert_eq!(
        (ack.kind, ack.number, ack.contacts.clone(), ack.tag.as_str()),
        (NoticeType::Acknowledgement, 2, vec![NT_ADMINS], "ack-7")
    );
    assert_eq!(p.next_ms, None);
    assert_eq!(w.with(|c| due(c, &mut p, 60 * MIN)), None);
    // A second acknowledgement of the same problem says nothing.
    assert_eq!(w.with(|c| on_ack(c, &mut p, 8, true, 7 * MIN)), None);
}

#[test]
fn a_problem_in_downtime_is_held_and_told_when_it_ends() {
    let mut w = World::seed(0, vec![]);
    w.in_downtime = true;
    let (mut p, first) = w.with(|c| on_problem(c, 0));
    assert!(first.is_none());
    assert!(p.held && p.next_ms.is_none());
    assert_eq!(w.with(|c| on_recovery(c, Some(&p), MIN)), None, "no recovery in downtime");
    // The downtime ends with the problem still there: the controller sets the timer.
    w.in_downtime = false;
    p.next_ms = Some(30 * MIN);
    let n = w.with(|c| due(c, &mut p, 30 * MIN)).unwrap();
    assert_eq!((n.kind, n.number), (NoticeType::Problem, 1));
}

#[test]
fn a_contact_outside_its_period_is_not_told() {
    let (periods, bad) = Periods::build([("never", "")], jiff::tz::TimeZone::UTC);
    assert!(bad.is_empty());
    let mut w = World::seed(0, vec![]);
    w.alerts = vec![(1, AlertWhen::Both), (2, AlertWhen::Both)];
    w.periods = periods;
    w.contacts.insert(
        2,
        Arc::new(ContactOptions { notification_period: Some("never".into()), ..ContactOptions::default() }),
    );
    let (p, out) = w.run(10);
    assert_eq!(who(&out), vec![(1, vec![1])]);
    assert_eq!(w.with(|c| on_recovery(c, Some(&p), MIN)).unwrap().contacts, vec![1]);
}

#[test]
fn a_closed_check_period_waits_for_it_to_open() {
    // Open on Mondays only: 1970-01-05 is a Monday; the problem starts Thursday 1970-01-01.
    let (periods, bad) = Periods::build([("mondays", "monday 00:00-24:00")], jiff::tz::TimeZone::UTC);
    assert!(bad.is_empty(), "{bad:?}");
    let mut w = World::seed(0, vec![]);
    w.periods = periods;
    w.options.notification_period = Some("mondays".into());
    let (p, out) = w.run(7 * 24 * 60);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, 4 * 24 * 60, "told when Monday begins");
    assert_eq!(p.number, 1);
}

proptest! {
    /// A recovery never goes to a contact that was never told of the problem, unless an
    /// `online` alert names it.
    #[test]
    fn recovery_only_to_those_told(
        interval in 0u64..30,
        escs in proptest::collection::vec((1u32..6, 0u32..8, 1i64..6, proptest::option::of(0u64..30)), 0..4),
        minutes in 0i64..600,
    ) {
        let w = World::seed(interval, escs.iter().enumerate().map(|(i, (f, l, c, iv))| esc(i as i64, &[*c], *f, *l, *iv)).collect());
        let (p, out) = w.run(minutes);
        let told: std::collections::BTreeSet<i64> = out.iter().flat_map(|(_, n)| n.contacts.iter().copied()).collect();
        if let Some(r) = w.with(|c| on_recovery(c, Some(&p), (minutes + 1) * MIN)) {
            for c in r.contacts {
                prop_assert!(told.contains(&c) || c == NT_ADMINS);
            }
        }
    }

    /// Re-notification never sends more than one problem notification per interval.
    #[test]
    fn at_most_one_notification_per_interval(interval in 1u64..120, minutes in 0i64..2000) {
        let w = World::seed(interval, vec![]);
        let (_, out) = w.run(minutes);
        for pair in out.windows(2) {
            prop_assert!(pair[1].0 - pair[0].0 >= interval as i64);
        }
    }
}
