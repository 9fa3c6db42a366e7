//! next_change and transitions.

use super::*;

#[test]
fn across_midnight() {
    let p = one("monday 17:00-24:00\ntuesday 00:00-09:00,12:00-13:00");
    // Monday 2008-03-10 noon: on at 17:00, through midnight (no change), off Tuesday 09:00.
    let at = t("2008-03-10T12:00:00Z");
    assert_eq!(p.next_change("p", at, 7), Some(t("2008-03-10T17:00:00Z")));
    assert_eq!(
        p.transitions("p", at, 5, 30),
        vec![
            (t("2008-03-10T17:00:00Z"), true),
            (t("2008-03-11T09:00:00Z"), false),
            (t("2008-03-11T12:00:00Z"), true),
            (t("2008-03-11T13:00:00Z"), false),
            (t("2008-03-17T17:00:00Z"), true),
        ]
    );
    // From inside the run, and from exactly its start: strictly after `at`.
    assert_eq!(p.next_change("p", t("2008-03-10T23:59:59Z"), 7), Some(t("2008-03-11T09:00:00Z")));
    assert_eq!(p.next_change("p", t("2008-03-10T17:00:00Z"), 7), Some(t("2008-03-11T09:00:00Z")));
    assert_eq!(p.next_change("p", t("2008-03-11T09:00:00Z"), 7), Some(t("2008-03-11T12:00:00Z")));
}

#[test]
fn across_weeks() {
    // Weekends off, from Friday 18:00 to Monday 08:00, as several lines.
    let p = one("friday 18:00-24:00\nsaturday 00:00-24:00\nsunday 00:00-24:00\nmonday 00:00-08:00");
    let at = t("2008-03-12T12:00:00Z"); // a Wednesday
    assert_eq!(
        p.transitions("p", at, 4, 30),
        vec![
            (t("2008-03-14T18:00:00Z"), true),
            (t("2008-03-17T08:00:00Z"), false),
            (t("2008-03-21T18:00:00Z"), true),
            (t("2008-03-24T08:00:00Z"), false),
        ]
    );
    // The horizon counts from `at`, its end included.
    assert_eq!(p.next_change("p", at, 2), None);
    assert_eq!(
        p.transitions("p", at, 4, 5),
        vec![(t("2008-03-14T18:00:00Z"), true), (t("2008-03-17T08:00:00Z"), false)]
    );
    let edge = t("2008-03-14T18:00:00Z") - 2 * 86_400;
    assert_eq!(p.next_change("p", edge, 2), Some(t("2008-03-14T18:00:00Z")));
    assert_eq!(p.next_change("p", edge - 1, 2), None);
}

#[test]
fn nothing_changes() {
    let always = "monday 00:00-24:00\ntuesday 00:00-24:00\nwednesday 00:00-24:00\nthursday 00:00-24:00
friday 00:00-24:00\nsaturday 00:00-24:00\nsunday 00:00-24:00";
    let p = build(&[("always", always), ("never", ""), ("gone", "2007-01-01 - 2007-12-31 00:00-24:00")]);
    let at = t("2008-03-12T12:00:00Z");
    assert_eq!(p.next_change("always", at, 400), None);
    assert_eq!(p.next_change("never", at, 400), None);
    assert_eq!(p.next_change("gone", at, 400), None);
    assert_eq!(p.next_change("gone", t("2007-12-31T12:00:00Z"), 400), Some(t("2008-01-01T00:00:00Z")));
    assert_eq!(p.next_change("unknown", at, 400), None);
    assert_eq!(p.transitions("always", at, 0, 400), vec![]);
    // A run ending on the last day of the horizon is found.
    assert_eq!(p.next_change("gone", t("2007-12-25T00:00:00Z"), 7), Some(t("2008-01-01T00:00:00Z")));
    assert_eq!(p.next_change("gone", t("2007-12-25T00:00:00Z"), 6), None);
}

#[test]
fn excluded_stretches_split_runs() {
    let p = build(&[
        ("week", "monday 09:00-17:00\ntuesday 09:00-17:00\nexclude lunch"),
        ("lunch", "monday 12:00-13:00\ntuesday 12:00-13:00\nexclude dentist"),
        ("dentist", "2008-03-11 12:00-12:30"),
    ]);
    assert_eq!(
        p.transitions("week", t("2008-03-10T00:00:00Z"), 8, 3),
        vec![
            (t("2008-03-10T09:00:00Z"), true),
            (t("2008-03-10T12:00:00Z"), false),
            (t("2008-03-10T13:00:00Z"), true),
            (t("2008-03-10T17:00:00Z"), false),
            // Tuesday lunch starts late: the dentist is excluded from it.
            (t("2008-03-11T09:00:00Z"), true),
            (t("2008-03-11T12:30:00Z"), false),
            (t("2008-03-11T13:00:00Z"), true),
            (t("2008-03-11T17:00:00Z"), false),
        ]
    );
}

#[test]
fn a_long_horizon_is_quick() {
    // The controller asks this often; 400 days of a busy period stay cheap even in a debug
    // build (a generous bound, so a slow machine does not fail it).
    let p = build(&[
        (
            "holidays",
            "january 1 00:00-24:00\nmonday -1 may 00:00-24:00\nthursday 4 november 00:00-24:00\nday -1 17:00-24:00",
        ),
        (
            "work",
            "monday 09:00-17:00\ntuesday 09:00-17:00\nwednesday 09:00-17:00\nthursday 09:00-17:00\nfriday 09:00-12:00,13:00-17:00\nexclude holidays",
        ),
    ]);
    let start = std::time::Instant::now();
    let never = p.next_change("holidays", t("2008-01-01T12:00:00Z"), 400);
    assert!(never.is_some());
    let all = p.transitions("work", t("2008-01-01T12:00:00Z"), usize::MAX, 400);
    assert!(all.len() > 500, "{}", all.len());
    assert!(start.elapsed() < std::time::Duration::from_millis(500), "{:?}", start.elapsed());
}
