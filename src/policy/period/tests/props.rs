//! Properties over random simple periods, in UTC and in zones with DST.

use proptest::prelude::*;

use super::*;

const WEEKDAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// One random date line of a simple kind.
fn line() -> impl Strategy<Value = String> {
    let day = prop_oneof![
        (0..7usize).prop_map(|w| WEEKDAYS[w].to_string()),
        (1..29i32, any::<bool>()).prop_map(|(d, neg)| format!("day {}", if neg { -d } else { d })),
        (0..7usize, 1..5i32).prop_map(|(w, n)| format!("{} {n}", WEEKDAYS[w])),
        (0..12usize, 1..29i32, 0..12usize, 1..29i32)
            .prop_map(|(m, d, m2, d2)| format!("{} {d} - {} {d2}", MONTHS[m], MONTHS[m2])),
        (0..60i64, 1..5u32).prop_map(|(k, skip)| {
            let day = jiff::Timestamp::from_second(t("2008-01-01T00:00:00Z") + k * 86_400).unwrap();
            format!("{} / {skip}", &day.to_string()[..10])
        }),
        (1..20i32, 1..20i32, 1..4u32).prop_map(|(a, b, s)| format!("day {a} - {b} / {s}")),
    ];
    let range = (0..96u32, 0..97u32).prop_map(|(a, b)| {
        let (a, b) = (a.min(b), a.max(b));
        format!("{:02}:{:02}-{:02}:{:02}", a / 4, a % 4 * 15, b / 4, b % 4 * 15)
    });
    (day, proptest::collection::vec(range, 1..4)).prop_map(|(d, r)| format!("{d} {}", r.join(",")))
}

fn period() -> impl Strategy<Value = String> {
    proptest::collection::vec(line(), 0..5).prop_map(|l| l.join("\n"))
}

fn zone() -> impl Strategy<Value = TimeZone> {
    prop_oneof![
        Just(TimeZone::UTC),
        Just(TimeZone::get("America/New_York").unwrap()),
        Just(TimeZone::get("Europe/London").unwrap()),
        Just(TimeZone::get("Australia/Lord_Howe").unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `P exclude E` is never active where E is, and is P everywhere else.
    #[test]
    fn an_exclude_takes_its_instants_out(
        p in period(),
        e in period(),
        tz in zone(),
        offsets in proptest::collection::vec(0..(3 * 365 * 86_400i64), 50),
    ) {
        let pe = format!("{p}\nexclude e");
        let set = build_in(&[("p", &p), ("e", &e), ("pe", &pe)], tz);
        for off in offsets {
            let at = t("2007-12-01T00:00:00Z") + off;
            let (pa, ea, pea) = (set.is_active("p", at).unwrap(), set.is_active("e", at).unwrap(), set.is_active("pe", at).unwrap());
            prop_assert!(!(ea && pea), "pe and e both active at {}", at);
            prop_assert_eq!(pea, pa && !ea, "at {}", at);
        }
    }

    /// is_active flips exactly at the instants transitions() reports, and nowhere between.
    #[test]
    fn transitions_are_where_is_active_flips(
        p in period(),
        u in period(),
        tz in zone(),
        start in 0..(2 * 365 * 86_400i64),
        samples in proptest::collection::vec(0.0..1.0f64, 8),
    ) {
        let set = build_in(&[("p", &format!("{p}\nuse u")), ("u", &u)], tz);
        let at = t("2007-12-01T00:00:00Z") + start;
        let horizon = 40;
        let changes = set.transitions("p", at, 30, horizon);
        let mut state = set.is_active("p", at).unwrap();
        let mut prev = at;
        let limit = at + i64::from(horizon) * 86_400;
        for (i, &(when, on)) in changes.iter().enumerate() {
            prop_assert!(when > prev && when <= limit, "change {} at {} after {}", i, when, prev);
            prop_assert_eq!(on, !state, "change {} at {} does not flip", i, when);
            prop_assert_eq!(set.is_active("p", when).unwrap(), on, "at the change {}", when);
            prop_assert_eq!(set.is_active("p", when - 1).unwrap(), state, "before the change {}", when);
            for s in &samples {
                let between = prev + ((when - prev) as f64 * s) as i64;
                prop_assert_eq!(set.is_active("p", between).unwrap(), state, "at {} between {} and {}", between, prev, when);
            }
            prev = when;
            state = on;
        }
        prop_assert_eq!(set.next_change("p", at, horizon), changes.first().map(|c| c.0));
        // Fewer than asked: nothing changes after the last one within the horizon.
        if changes.len() < 30 {
            for s in &samples {
                let after = prev + ((limit - prev) as f64 * s) as i64;
                prop_assert_eq!(set.is_active("p", after).unwrap(), state, "at {} after the last change", after);
            }
        }
    }
}
