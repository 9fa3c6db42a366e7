//! Every example of the seed's "On-Call Rotations" section, as written there.

use super::*;

/// Scenario 1: "First, define a timeperiod that contains time ranges for holidays".
const HOLIDAYS: &str = "name holidays
timeperiod_name holidays
january 1 00:00-24:00 ; New Year's Day
2008-03-23 00:00-24:00 ; Easter (2008)
2009-04-12 00:00-24:00 ; Easter (2009)
monday -1 may 00:00-24:00 ; Memorial Day (Last Monday in May)
july 4 00:00-24:00 ; Independence Day
monday 1 september 00:00-24:00 ; Labor Day (1st Monday in September)
thursday 4 november 00:00-24:00 ; Thanksgiving (4th Thursday in November)
december 25 00:00-24:00 ; Christmas
december 31 17:00-24:00 ; New Year's Eve (5pm onwards)
";

/// "define a timeperiod for John's on-call times that include weekdays and weeknights, but
/// excludes the dates/times defined in the holidays timeperiod above".
const JOHN_1: &str = "timeperiod_name john-oncall
monday 00:00-24:00
tuesday 00:00-24:00
wednesday 00:00-24:00
thursday 00:00-24:00
friday 00:00-24:00
exclude holidays ; Exclude holiday dates/times defined elsewhere
";

/// "Define a new timeperiod for Bob's on-call times that include weekends and the
/// dates/times defined in the holidays timeperiod above" (the seed writes friday and
/// saturday; we take it as written).
const BOB_1: &str = "timeperiod_name bob-oncall
friday 00:00-24:00
saturday 00:00-24:00
use holidays ; Also include holiday date/times defined elsewhere
";

fn scenario_1() -> Periods {
    build(&[("holidays", HOLIDAYS), ("john-oncall", JOHN_1), ("bob-oncall", BOB_1)])
}

#[test]
fn holidays_fall_on_their_days() {
    let p = scenario_1();
    let cases = [
        // "january 1 00:00-24:00 ; New Year's Day"
        ("2008-01-01T00:00:00Z", true),
        ("2008-01-01T23:59:59Z", true),
        ("2008-01-02T00:00:00Z", false),
        // "2008-03-23 00:00-24:00 ; Easter (2008)", "2009-04-12 ... Easter (2009)": dated,
        // so not in other years.
        ("2008-03-23T12:00:00Z", true),
        ("2009-03-23T12:00:00Z", false),
        ("2009-04-12T12:00:00Z", true),
        ("2008-04-12T12:00:00Z", false),
        // "monday -1 may ; Memorial Day (Last Monday in May)": 2008-05-26, not the Monday
        // before; 2009-05-25.
        ("2008-05-26T12:00:00Z", true),
        ("2008-05-19T12:00:00Z", false),
        ("2009-05-25T12:00:00Z", true),
        // "july 4 ; Independence Day"
        ("2008-07-04T08:00:00Z", true),
        ("2008-07-05T08:00:00Z", false),
        // "monday 1 september ; Labor Day (1st Monday in September)": 2008-09-01, 2009-09-07.
        ("2008-09-01T12:00:00Z", true),
        ("2008-09-08T12:00:00Z", false),
        ("2009-09-07T12:00:00Z", true),
        // "thursday 4 november ; Thanksgiving (4th Thursday in November)": 2008-11-27,
        // 2007-11-22 (November 2007 has five Thursdays: the 29th is not Thanksgiving).
        ("2008-11-27T12:00:00Z", true),
        ("2008-11-20T12:00:00Z", false),
        ("2007-11-22T12:00:00Z", true),
        ("2007-11-29T12:00:00Z", false),
        // "december 25 ; Christmas"
        ("2008-12-25T00:00:00Z", true),
        ("2008-12-24T23:59:59Z", false),
        // "december 31 17:00-24:00 ; New Year's Eve (5pm onwards)"
        ("2008-12-31T16:59:59Z", false),
        ("2008-12-31T17:00:00Z", true),
        ("2008-12-31T23:59:59Z", true),
    ];
    for (at, want) in cases {
        assert_eq!(on(&p, "holidays", at), want, "holidays at {at}");
    }
    // New Year's Eve runs into New Year's Day: one stretch, 2008-12-31 17:00 to 2009-01-02.
    assert_eq!(
        p.transitions("holidays", t("2008-12-31T12:00:00Z"), 2, 30),
        vec![(t("2008-12-31T17:00:00Z"), true), (t("2009-01-02T00:00:00Z"), false)]
    );
}

#[test]
fn john_has_weekdays_but_holidays_and_bob_weekends_and_holidays() {
    let p = scenario_1();
    // "John receives all notifications for weekdays (and weeknights) - except for holidays -
    // and Bob gets handles notifications during the weekends and holidays."
    let cases = [
        // Thursday 2008-07-03: John. Friday 2008-07-04, Independence Day: Bob, not John.
        ("2008-07-03T12:00:00Z", true, false),
        ("2008-07-04T12:00:00Z", false, true),
        // Saturday 2008-07-05: Bob. Sunday 2008-07-06: the seed's Bob has friday and
        // saturday, so nobody.
        ("2008-07-05T12:00:00Z", false, true),
        ("2008-07-06T12:00:00Z", false, false),
        // Friday 2008-07-11: both (Bob's friday line).
        ("2008-07-11T12:00:00Z", true, true),
        // Memorial Day, Monday 2008-05-26: Bob; the Monday before: John.
        ("2008-05-26T12:00:00Z", false, true),
        ("2008-05-19T12:00:00Z", true, false),
        // Thanksgiving, Thursday 2008-11-27: Bob.
        ("2008-11-27T12:00:00Z", false, true),
        // New Year's Eve, Wednesday 2008-12-31: John until 17:00, Bob from then on.
        ("2008-12-31T16:00:00Z", true, false),
        ("2008-12-31T18:00:00Z", false, true),
        // Easter 2008 is a Sunday: Bob through `use holidays`.
        ("2008-03-23T09:00:00Z", false, true),
    ];
    for (at, john, bob) in cases {
        assert_eq!(on(&p, "john-oncall", at), john, "john at {at}");
        assert_eq!(on(&p, "bob-oncall", at), bob, "bob at {at}");
    }
    assert_eq!(p.next_change("john-oncall", t("2008-12-31T12:00:00Z"), 7), Some(t("2008-12-31T17:00:00Z")));
    // After New Year's Day (Thursday), John is back on Friday 2009-01-02.
    assert_eq!(p.next_change("john-oncall", t("2008-12-31T18:00:00Z"), 7), Some(t("2009-01-02T00:00:00Z")));
}

#[test]
fn alternating_days() {
    // Scenario 2: "2007-08-01 / 2 00:00-24:00 ; Every two days, starting August 1st, 2007"
    // and "2007-08-02 / 2 00:00-24:00 ; Every two days, starting August 2nd, 2007".
    let p = build(&[
        ("john-oncall", "timeperiod_name john-oncall\n2007-08-01 / 2 00:00-24:00 ; Every two days"),
        ("bob-oncall", "timeperiod_name bob-oncall\n2007-08-02 / 2 00:00-24:00 ; Every two days"),
    ]);
    assert!(on(&p, "john-oncall", "2007-08-01T00:00:00Z"));
    assert!(!on(&p, "bob-oncall", "2007-08-01T12:00:00Z"));
    assert!(on(&p, "bob-oncall", "2007-08-02T12:00:00Z"));
    assert!(on(&p, "john-oncall", "2007-08-03T12:00:00Z"));
    // Before the start, nobody (2007-07-30 is an even number of days before).
    assert!(!on(&p, "john-oncall", "2007-07-30T12:00:00Z"));
    // No end: 2008-08-01 is 366 days on (2008 is a leap year), John's.
    assert!(on(&p, "john-oncall", "2008-08-01T12:00:00Z"));
    assert!(on(&p, "bob-oncall", "2009-08-01T12:00:00Z"));
    // From then on, every hour of 1000 days is exactly one of theirs.
    for h in 0..24_000 {
        let at = t("2007-08-01T00:30:00Z") + h * 3600;
        let (j, b) = (p.is_active("john-oncall", at), p.is_active("bob-oncall", at));
        assert_ne!(j, b, "at {at}");
    }
}

#[test]
fn alternating_weeks() {
    // Scenario 3: "Every 14 days (two weeks), starting Sunday, July 29th, 2007" and the six
    // lines after it for John; "starting Sunday, August 5th, 2007" and six more for Bob.
    let lines = |first: i64| -> String {
        (0..7)
            .map(|k| {
                let day = jiff::Timestamp::from_second(first + k * 86_400).unwrap();
                format!("{} / 14 00:00-24:00\n", &day.to_string()[..10])
            })
            .collect()
    };
    let (john, bob) = (lines(t("2007-07-29T00:00:00Z")), lines(t("2007-08-05T00:00:00Z")));
    assert!(john.starts_with("2007-07-29 / 14") && bob.ends_with("2007-08-11 / 14 00:00-24:00\n"));
    let p = build(&[("john-oncall", &john), ("bob-oncall", &bob)]);
    assert!(on(&p, "john-oncall", "2007-07-29T12:00:00Z"));
    assert!(on(&p, "bob-oncall", "2007-08-05T12:00:00Z"));
    assert!(on(&p, "john-oncall", "2007-08-12T12:00:00Z"));
    assert!(on(&p, "bob-oncall", "2007-08-19T00:00:00Z"));
    // Day k after 2007-07-29 is John's when its week (k / 7) is even, Bob's when odd.
    for k in 0..800 {
        let at = t("2007-07-29T12:00:00Z") + k * 86_400;
        let johns = (k / 7) % 2 == 0;
        assert_eq!(p.is_active("john-oncall", at), Some(johns), "day {k}");
        assert_eq!(p.is_active("bob-oncall", at), Some(!johns), "day {k}");
    }
    // Seven lines, one stretch: John hands over on Sundays at midnight.
    assert_eq!(
        p.transitions("john-oncall", t("2007-07-29T12:00:00Z"), 3, 60),
        vec![
            (t("2007-08-05T00:00:00Z"), false),
            (t("2007-08-12T00:00:00Z"), true),
            (t("2007-08-19T00:00:00Z"), false)
        ]
    );
}

/// Scenario 4: "define a timeperiod that contains time ranges for John's vacation days and
/// days off".
const OUT_OF_OFFICE: &str = "name john-out-of-office
timeperiod_name john-out-of-office
day 15 00:00-24:00 ; 15th day of each month
day -1 00:00-24:00 ; Last day of each month (28th, 29th, 30th, or 31st)
day -2 00:00-24:00 ; 2nd to last day of each month (27th, 28th, 29th, or 30th)
january 2 00:00-24:00 ; January 2nd each year
june 1 - july 5 00:00-24:00 ; Yearly camping trip (June 1st - July 5th)
2007-11-01 - 2007-11-10 00:00-24:00 ; Vacation to the US Virgin Islands (November 1st-10th, 2007)
";

/// "define a timeperiod for John's on-call times that excludes the dates/times defined in
/// the timeperiod above".
const JOHN_4: &str = "timeperiod_name john-oncall
monday 00:00-24:00
tuesday 00:00-24:00
wednesday 00:00-24:00
thursday 00:00-24:00
friday 00:00-24:00
exclude john-out-of-office ; Exclude dates/times John is out
";

/// "Define a new timeperiod for Bob's on-call times that include the dates/times that John
/// is out of the office", with the seed's typo.
const BOB_4: &str = "timeperod_name bob-oncall
use john-out-of-office ; Include holiday date/times that John is out
";

#[test]
fn vacation_days() {
    let bob = BOB_4.replace("timeperod_name", "timeperiod_name");
    let p = build(&[("john-out-of-office", OUT_OF_OFFICE), ("john-oncall", JOHN_4), ("bob-oncall", &bob)]);
    // (instant, John out of office): John on call is the weekdays he is in; Bob has the days
    // John is out, weekday or not.
    let cases = [
        // "day 15 ; 15th day of each month": Friday 2008-02-15 out, Thursday the 14th in.
        ("2008-02-15T12:00:00Z", true),
        ("2008-02-14T12:00:00Z", false),
        // "day -1 ; Last day of each month (28th, 29th, 30th, or 31st)": Friday 2008-02-29
        // (leap year), Wednesday 2008-04-30, Friday 2008-10-31.
        ("2008-02-29T12:00:00Z", true),
        ("2008-04-30T12:00:00Z", true),
        ("2008-10-31T12:00:00Z", true),
        // "day -2 ; 2nd to last day ... (27th, 28th, 29th, or 30th)": Thursday 2008-02-28,
        // Tuesday 2008-04-29; Monday 2008-04-28 is in.
        ("2008-02-28T12:00:00Z", true),
        ("2008-04-29T12:00:00Z", true),
        ("2008-04-28T12:00:00Z", false),
        // "january 2 ; January 2nd each year": Wednesday 2008-01-02, Friday 2009-01-02.
        ("2008-01-02T12:00:00Z", true),
        ("2009-01-02T12:00:00Z", true),
        ("2008-01-03T12:00:00Z", false),
        // "june 1 - july 5 ; Yearly camping trip": Tuesday 2008-06-10, Friday 2008-07-04;
        // Monday 2008-07-07 back, Thursday 2008-05-29 not gone yet (the 30th is `day -2`).
        ("2008-06-10T12:00:00Z", true),
        ("2008-07-04T12:00:00Z", true),
        ("2008-07-07T12:00:00Z", false),
        ("2008-05-29T12:00:00Z", false),
        // "2007-11-01 - 2007-11-10 ; Vacation to the US Virgin Islands": Monday 2007-11-05
        // out; Monday 2007-11-12 in; Wednesday 2008-11-05 in (2007 only).
        ("2007-11-05T12:00:00Z", true),
        ("2007-11-12T12:00:00Z", false),
        ("2008-11-05T12:00:00Z", false),
    ];
    for (at, out) in cases {
        let weekday = !matches!(
            TimeZone::UTC.to_datetime(jiff::Timestamp::from_second(t(at)).unwrap()).weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        );
        assert_eq!(on(&p, "john-out-of-office", at), out, "out at {at}");
        assert_eq!(on(&p, "john-oncall", at), weekday && !out, "john at {at}");
        assert_eq!(on(&p, "bob-oncall", at), out, "bob at {at}");
    }
}

#[test]
fn the_seeds_typo_is_an_error_naming_its_line() {
    // "timeperod_name bob-oncall": not a directive, not a date.
    let (line, text, reason) = line_error(BOB_4);
    assert_eq!((line, text.as_str()), (1, "timeperod_name bob-oncall"));
    assert!(reason.contains("timeperod_name"), "{reason}");
    let (p, errors) =
        Periods::build([("john-out-of-office", OUT_OF_OFFICE), ("bob-oncall", BOB_4)], TimeZone::UTC);
    assert_eq!(p.names().collect::<Vec<_>>(), ["john-out-of-office"]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "bob-oncall");
    assert_eq!(
        errors[0].1.to_string(),
        "line 1: unknown directive \"timeperod_name\": \"timeperod_name bob-oncall\""
    );
}
