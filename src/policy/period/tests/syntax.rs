//! Every date syntax beyond the seed's, the errors, and time zones.

use super::*;

/// (definition, instants when active, instants when not), all at noon UTC unless written.
fn table(cases: &[(&str, &[&str], &[&str])]) {
    for (definition, yes, no) in cases {
        let p = one(definition);
        for day in *yes {
            let at = if day.len() == 10 { format!("{day}T12:00:00Z") } else { day.to_string() };
            assert!(on(&p, "p", &at), "{definition:?} should be active at {at}");
        }
        for day in *no {
            let at = if day.len() == 10 { format!("{day}T12:00:00Z") } else { day.to_string() };
            assert!(!on(&p, "p", &at), "{definition:?} should not be active at {at}");
        }
    }
}

#[test]
fn days_of_the_month_and_year() {
    table(&[
        // The last Thursday of November: 2007-11-29 (not Thanksgiving, the 22nd), 2008-11-27.
        ("thursday -1 november 00:00-24:00", &["2007-11-29", "2008-11-27"], &["2007-11-22", "2008-11-20"]),
        // `day -1` in February: the 29th in a leap year, the 28th otherwise.
        ("day -1 00:00-24:00", &["2008-02-29", "2009-02-28", "2008-04-30"], &["2008-02-28", "2009-02-27"]),
        // `february 29` only in leap years; `february -1` is the last day of February.
        ("february 29 00:00-24:00", &["2008-02-29"], &["2009-02-28", "2009-03-01"]),
        ("february -1 00:00-24:00", &["2008-02-29", "2009-02-28"], &["2008-02-28"]),
        // `day 31` names no day in a 30-day month; as an end it means the month's end.
        ("day 31 00:00-24:00", &["2008-01-31"], &["2008-04-30", "2008-05-01"]),
        ("day 25 - 31 00:00-24:00", &["2008-04-30", "2008-04-25"], &["2008-05-01", "2008-04-24"]),
        ("day 1 - 15 00:00-24:00", &["2008-03-01", "2008-03-15"], &["2008-03-16", "2008-02-29"]),
        ("day 20 - -1 00:00-24:00", &["2008-02-20", "2008-02-29"], &["2008-03-01", "2008-02-19"]),
        // `day -1 - 5`: from the last day of a month into the 5th of the next.
        (
            "day -1 - 5 00:00-24:00",
            &["2008-01-31", "2008-02-03", "2008-02-05"],
            &["2008-02-06", "2008-01-30"],
        ),
        ("monday 3 00:00-24:00", &["2008-03-17", "2008-04-21"], &["2008-03-10", "2008-03-24"]),
        ("friday -2 00:00-24:00", &["2008-02-22"], &["2008-02-29", "2008-02-15"]),
        // `monday 5`: not every month has one.
        ("monday 5 00:00-24:00", &["2008-03-31"], &["2008-04-28", "2008-04-21"]),
        // The 2nd Monday to the 3rd Thursday of every month.
        ("monday 2 - thursday 3 00:00-24:00", &["2008-03-10", "2008-03-20"], &["2008-03-09", "2008-03-21"]),
        // The 3rd Monday to the 4th Thursday; the 4th Thursday of a month can come first, and
        // `thursday 2 - 4` is the 2nd to the 4th Thursday.
        ("monday 4 - thursday 1 00:00-24:00", &["2008-03-24", "2008-04-03"], &["2008-04-04", "2008-03-23"]),
        ("thursday 2 - 4 00:00-24:00", &["2008-03-13", "2008-03-27"], &["2008-03-12", "2008-03-28"]),
        (
            "february 10 - 20 00:00-24:00",
            &["2008-02-10", "2008-02-20", "2009-02-15"],
            &["2008-02-21", "2008-03-15"],
        ),
        ("april 10 - may 15 00:00-24:00", &["2008-04-10", "2008-05-15"], &["2008-05-16", "2008-04-09"]),
        ("july -10 - -1 00:00-24:00", &["2008-07-22", "2008-07-31"], &["2008-07-21", "2008-08-01"]),
        // Across the new year.
        (
            "december 20 - january 5 00:00-24:00",
            &["2007-12-20", "2008-01-05", "2008-12-31"],
            &["2008-01-06", "2008-12-19"],
        ),
        // The 1st Tuesday of April (2008-04-01) to the 2nd Friday of May (2008-05-09).
        (
            "tuesday 1 april - friday 2 may 00:00-24:00",
            &["2008-04-01", "2008-05-09"],
            &["2008-03-31", "2008-05-10"],
        ),
        (
            "tuesday 1 october - friday 2 may 00:00-24:00",
            &["2008-10-07", "2009-01-15", "2009-05-08"],
            &["2009-05-09", "2008-10-06"],
        ),
        ("monday 1 september 00:00-24:00", &["2008-09-01"], &["2008-09-08", "2008-10-06"]),
        ("2007-01-01 - 2008-02-01 00:00-24:00", &["2007-06-01", "2008-02-01"], &["2006-12-31", "2008-02-02"]),
    ]);
}

#[test]
fn skips() {
    table(&[
        // Every 3rd day of November 2007 from the 1st: 1, 4, ..., 28.
        (
            "2007-11-01 - 2007-11-30 / 3 00:00-24:00",
            &["2007-11-01", "2007-11-04", "2007-11-28"],
            &["2007-11-02", "2007-12-01"],
        ),
        (
            "2008-04-01 / 7 00:00-24:00",
            &["2008-04-01", "2008-04-08", "2010-03-30"],
            &["2008-04-02", "2008-03-25"],
        ),
        // Every other day of each month from its 1st (the count starts again each month).
        (
            "day 1 - 31 / 2 00:00-24:00",
            &["2008-01-31", "2008-02-01", "2008-04-29"],
            &["2008-01-30", "2008-04-30"],
        ),
        (
            "day 1 - 15 / 5 00:00-24:00",
            &["2008-03-01", "2008-03-06", "2008-03-11"],
            &["2008-03-02", "2008-03-16"],
        ),
        (
            "july 10 - 15 / 2 00:00-24:00",
            &["2008-07-10", "2008-07-12", "2008-07-14"],
            &["2008-07-11", "2008-07-16"],
        ),
        ("june 1 - july 5 / 7 00:00-24:00", &["2008-06-01", "2008-06-29"], &["2008-06-02", "2008-07-06"]),
        (
            "monday 2 - thursday 3 / 2 00:00-24:00",
            &["2008-03-10", "2008-03-12", "2008-03-20"],
            &["2008-03-11", "2008-03-19"],
        ),
    ]);
}

#[test]
fn several_time_ranges_on_a_line() {
    table(&[
        (
            "monday 00:00-09:00,17:00-24:00",
            &["2008-03-10T08:59:59Z", "2008-03-10T17:00:00Z", "2008-03-10T00:00:00Z"],
            &["2008-03-10T09:00:00Z", "2008-03-10T12:00:00Z", "2008-03-11T00:00:00Z"],
        ),
        // Spaces in the list, overlapping ranges, an empty range.
        (
            "day 1 08:00-10:00, 09:30-11:00 , 12:00-12:00",
            &["2008-03-01T10:30:00Z"],
            &["2008-03-01T11:00:00Z", "2008-03-01T12:00:00Z"],
        ),
        // Comments, blank lines, directives and case.
        (
            "# on call\n\n  alias Night shift ; spoken\nregister 0\n  Saturday 22:00-24:00  # late\n_PHONE 555\n",
            &["2008-03-01T23:00:00Z"],
            &["2008-03-01T21:59:59Z"],
        ),
    ]);
}

#[test]
fn a_bad_line_is_named_with_its_number() {
    let (line, text, reason) = line_error("monday 00:00-24:00\n\n; nothing\nfunday 09:00-17:00 ; typo\n");
    assert_eq!((line, text.as_str()), (4, "funday 09:00-17:00"));
    assert!(reason.contains("funday"), "{reason}");
    let bad = [
        ("monday", "needs time ranges"),
        ("monday 17:00-09:00", "ends before it starts"),
        ("monday 09:00-25:00", "bad time range"),
        ("monday 9-17", "needs time ranges"),
        ("monday 09:00-17:60", "bad time range"),
        ("february 30 00:00-24:00", "cannot read"),
        ("day 0 00:00-24:00", "cannot read"),
        ("day 32 00:00-24:00", "cannot read"),
        ("monday 6 00:00-24:00", "cannot read"),
        ("2007-02-30 00:00-24:00", "no such date"),
        ("2007-11-10 - 2007-11-01 00:00-24:00", "ends before it starts"),
        ("day 1 - 15 / 0 00:00-24:00", "1 or more"),
        ("monday / 2 00:00-24:00", "weekday alone"),
        ("monday - friday 00:00-24:00", "cannot read"),
        ("day 1 - monday 2 00:00-24:00", "cannot read"),
        ("june 1 - 2007-07-01 00:00-24:00", "cannot read"),
        ("use", "needs the names"),
        ("exclude , ", "needs the names"),
        ("13:00-14:00", "starts with the days"),
        ("monday 00:00-24:00 extra", "bad time range"),
    ];
    for (definition, want) in bad {
        let (line, text, reason) = line_error(definition);
        assert_eq!((line, text.as_str()), (1, definition.trim()), "{definition}");
        assert!(reason.contains(want), "{definition}: {reason}");
    }
    assert_eq!(check_definition(""), Ok(()));
    assert_eq!(check_definition("use a, b\nexclude c\nmonday 00:00-24:00"), Ok(()));
}

#[test]
fn missing_targets_and_failed_dependencies() {
    let rows = [
        ("a", "monday 00:00-24:00\nexclude nope"),
        ("b", "use ghost"),
        ("c", "use a"),
        ("d", "bad line here"),
        ("e", "exclude d\ntuesday 00:00-24:00"),
        ("f", "use g"),
        ("g", "sunday 00:00-24:00"),
    ];
    let (p, errors) = Periods::build(rows, TimeZone::UTC);
    let missing = |directive, name: &str| PeriodError::Missing { directive, name: name.to_string() };
    assert_eq!(errors[0], ("a".to_string(), missing("exclude", "nope")));
    assert_eq!(errors[1], ("b".to_string(), missing("use", "ghost")));
    assert_eq!(errors[2], ("c".to_string(), missing("use", "a")));
    assert!(matches!(errors[3], (ref n, PeriodError::Line { line: 1, .. }) if n == "d"));
    assert_eq!(errors[4], ("e".to_string(), missing("exclude", "d")));
    assert_eq!(errors.len(), 5);
    assert_eq!(errors[0].1.to_string(), "exclude names the timeperiod \"nope\", which does not exist");
    // A row may use one defined after it.
    assert_eq!(p.names().collect::<Vec<_>>(), ["f", "g"]);
    assert!(on(&p, "f", "2008-03-09T12:00:00Z"));
    assert_eq!(p.is_active("a", 0), None);
}

#[test]
fn cycles_are_errors() {
    let rows = [
        ("a", "use b\nmonday 00:00-24:00"),
        ("b", "exclude a"),
        ("c", "use a"),
        ("self", "exclude self"),
        ("ok", "use okay\nexclude okay"),
        ("okay", "friday 00:00-24:00"),
    ];
    let (p, errors) = Periods::build(rows, TimeZone::UTC);
    let names: Vec<&str> = errors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "self"]);
    assert_eq!(errors[0].1, PeriodError::Cycle("a -> b -> a".into()));
    assert_eq!(errors[1].1, PeriodError::Cycle("a -> b -> a".into()));
    assert_eq!(errors[2].1, PeriodError::Missing { directive: "use", name: "a".into() });
    assert_eq!(errors[3].1.to_string(), "timeperiods refer to each other in a cycle: self -> self");
    // Using and excluding the same period is no cycle (and leaves nothing).
    assert_eq!(p.len(), 2);
    assert!(!on(&p, "ok", "2008-03-07T12:00:00Z"));
    assert!(on(&p, "okay", "2008-03-07T12:00:00Z"));
}

#[test]
fn the_set_itself() {
    let (p, errors) =
        Periods::build([("x", "monday 00:00-24:00"), ("y", ""), ("x", "tuesday 00:00-24:00")], TimeZone::UTC);
    assert!(matches!(&errors[..], [(n, PeriodError::Line { line: 0, .. })] if n == "x"));
    assert_eq!((p.len(), p.is_empty(), p.contains("y"), p.contains("z")), (2, false, true, false));
    assert!(on(&p, "x", "2008-03-10T12:00:00Z") && !on(&p, "x", "2008-03-11T12:00:00Z"));
    assert!(!on(&p, "y", "2008-03-10T12:00:00Z"));
    let empty = Periods::empty();
    assert!(empty.is_empty() && empty.names().next().is_none() && empty.is_active("x", 0).is_none());
    assert_eq!(empty.next_change("x", 0, 10), None);
    // Instants beyond jiff's years are in no period.
    assert_eq!(p.is_active("x", i64::MAX), Some(false));
    assert_eq!(p.transitions("x", i64::MAX - 10, 3, 400), vec![]);
}

#[test]
fn time_zones() {
    let ny = TimeZone::get("America/New_York").unwrap();
    let p = build_in(
        &[
            ("office", "day 1 - 31 09:00-17:00"),
            ("monday", "monday 00:00-24:00"),
            ("spring", "2008-03-09 00:00-24:00"),
            ("gap", "2008-03-09 02:00-02:30"),
            ("fold", "2008-11-02 01:00-01:30"),
        ],
        ny,
    );
    // 09:00 EST is 14:00 UTC in winter; 09:00 EDT is 13:00 UTC in summer.
    assert!(on(&p, "office", "2008-01-15T14:00:00Z") && !on(&p, "office", "2008-01-15T13:59:59Z"));
    assert!(on(&p, "office", "2008-07-15T13:00:00Z") && !on(&p, "office", "2008-07-15T21:00:00Z"));
    // Monday 2008-01-14 23:30 EST is Tuesday 04:30 UTC: still Monday in New York.
    assert!(on(&p, "monday", "2008-01-15T04:30:00Z") && !on(&p, "monday", "2008-01-15T05:00:00Z"));
    // The spring-forward day has 23 hours.
    assert_eq!(
        p.transitions("spring", t("2008-03-09T00:00:00Z"), 5, 10),
        vec![(t("2008-03-09T05:00:00Z"), true), (t("2008-03-10T04:00:00Z"), false)]
    );
    // 02:00-02:30 does not exist that night: compatible disambiguation moves it forward to
    // 03:00-03:30 EDT (07:00-07:30 UTC).
    assert_eq!(
        p.transitions("gap", t("2008-03-09T00:00:00Z"), 5, 10),
        vec![(t("2008-03-09T07:00:00Z"), true), (t("2008-03-09T07:30:00Z"), false)]
    );
    // 01:00-01:30 happens twice on 2008-11-02: the first one (EDT, 05:00-05:30 UTC) counts.
    assert!(on(&p, "fold", "2008-11-02T05:15:00Z") && !on(&p, "fold", "2008-11-02T06:15:00Z"));
    // Periods::empty() and build's default are in UTC.
    assert_eq!(Periods::empty().time_zone(), &TimeZone::UTC);
}
