//! Table and property tests of `policy::flap`, each named after the seed sentence
//! (003_db7a1b8e42b6bbea.txt, "Detection and Handling of State Flapping") it comes from.

use proptest::prelude::*;

use super::flap::{Flap, FlapEdge, FlapState, FlapStates, Thresholds, percent_state_change};

use crate::check::State::{Critical as C, Ok as O, Unknown as U, Warning as W};

/// Feeds `states` to a fresh `Flap`; the edge of every result, in order.
fn run(flap: &mut Flap, states: &[FlapState], opts: FlapStates, t: Thresholds) -> Vec<Option<FlapEdge>> {
    states.iter().map(|s| flap.record(*s, opts, t)).collect()
}

fn thresholds(low: f64, high: f64) -> Thresholds {
    Thresholds::new(low, high).unwrap()
}

/// The seed's image: 21 states, t1 first, with state changes "at t3, t4, t5, t9, t12, t16,
/// and t19" (t3 differs from t2, and so on) and nowhere else.
#[rustfmt::skip]
const SEED: [FlapState; 21] = [
    O, O,       // t1..t2 OK
    W,          // t3 WARNING
    C,          // t4 CRITICAL
    O, O, O, O, // t5..t8 OK
    U, U, U,    // t9..t11 UNKNOWN
    C, C, C, C, // t12..t15 CRITICAL
    W, W, W,    // t16..t18 WARNING
    O, O, O,    // t19..t21 OK
];

#[test]
fn the_seeds_worked_example() {
    // "In this example there are 7 state changes": the change between t(k-1) and tk is slot
    // k - 1 of the 20 (slot 1 = t1 to t2, the oldest).
    let changes: Vec<bool> = SEED.windows(2).map(|w| w[0] != w[1]).collect();
    let slots: Vec<usize> = (1..=20).filter(|i| changes[i - 1]).collect();
    assert_eq!(slots, vec![2, 3, 4, 8, 11, 15, 18]);

    let mut f = Flap::default();
    let edges = run(&mut f, &SEED, FlapStates::ALL, Thresholds::default());
    assert_eq!(f.len(), 20);
    // "(7 observed state changes / possible 20 state changes) * 100 = 35 %"
    assert_eq!(f.unweighted_percent(), 35.0);
    // "the actual calculated percent state change will be slightly less than 35% in this
    // example. Let's say that the weighted percent of state change turned out to be 31%...":
    // the seed's 31 % is an illustration. Shinken's formula weighs slot i 0.8 + 0.02 i, so
    // slots 2, 3, 4, 8, 11, 15, 18 weigh 0.84 + 0.86 + 0.88 + 0.96 + 1.02 + 1.10 + 1.16 = 6.82,
    // and 6.82 / 20 * 100 = 34.1 %: slightly less than 35 %, as the seed says.
    assert_eq!(f.percent(), 34.1);
    assert_eq!(percent_state_change(&changes), 34.1);
    assert!(f.percent() < f.unweighted_percent());

    // "If the service was not previously flapping and 31% is equal to or greater than the high
    // flap threshold, Shinken considers the service to have just started flapping": with
    // Shinken's defaults (low 20, high 30), 34.1 >= 30 starts flapping at t21, the result that
    // fills the history, and not before.
    let mut want = vec![None; 20];
    want.push(Some(FlapEdge::Started));
    assert_eq!(edges, want);
    assert!(f.is_flapping());

    // "If neither of those two conditions are met, the flap detection logic won't do anything
    // else with the service": with a high threshold of 40, 34.1 starts nothing.
    let mut f = Flap::default();
    assert_eq!(run(&mut f, &SEED, FlapStates::ALL, thresholds(20.0, 40.0)), vec![None; 21]);
    assert!(!f.is_flapping());
    assert_eq!(f.percent(), 34.1);
}

#[test]
fn never_changing_is_0_and_changing_every_time_is_100() {
    // "Services that never change state will have a 0% state change value, while services that
    // change state each time they're checked will have 100% state change."
    let t = Thresholds::default();
    for s in [O, W, C, U] {
        let mut f = Flap::default();
        assert_eq!(run(&mut f, &[s; 30], FlapStates::ALL, t), vec![None; 30]);
        assert_eq!((f.percent(), f.unweighted_percent(), f.len()), (0.0, 0.0, 20));
    }
    // Changing at every result: Shinken's sum is sum_{i=1..20} (0.8 + 0.02 i) = 16 + 0.02 * 210
    // = 20.2, so its formula gives 20.2 / 20 * 100 = 101 %. The percent is clamped: it is
    // always within [0, 100], and a change at every result is the seed's 100 %.
    let alternating: Vec<FlapState> = (0..21).map(|i| if i % 2 == 0 { O } else { C }).collect();
    let mut f = Flap::default();
    run(&mut f, &alternating, FlapStates::ALL, t);
    assert_eq!((f.percent(), f.unweighted_percent()), (100.0, 100.0));
    assert_eq!(percent_state_change(&[true; 20]), 100.0);
    // Nineteen changes of twenty (the oldest slot unchanged): 20.2 - 0.82 = 19.38, 96.9 %.
    let mut nineteen = [true; 20];
    nineteen[0] = false;
    assert_eq!(percent_state_change(&nineteen), 96.9);
}

#[test]
fn the_weights_run_from_0_82_to_1_2() {
    // "the flap detection routines are currently designed to make the newest possible state
    // change carry 50% more weight than the oldest possible state change": one change alone.
    let one_at = |slot: usize| {
        let mut c = [false; 20];
        c[slot - 1] = true;
        percent_state_change(&c)
    };
    assert_eq!(one_at(1), 4.1); // 0.82 / 20 * 100
    assert_eq!(one_at(20), 6.0); // 1.2 / 20 * 100: 1.5 x the design's oldest 0.8 (4.0 %)
    assert_eq!(one_at(10), 5.0); // 1.0
    // The weight follows the slot: a short history's newest change weighs 0.8 + 0.02 len.
    assert_eq!(percent_state_change(&[false, true]), 4.2);
    assert_eq!(percent_state_change(&[]), 0.0);
    // More than 20 entries: only the newest 20 count, as Shinken's list keeps them.
    let mut long = vec![true; 5];
    long.extend([false; 20]);
    assert_eq!(percent_state_change(&long), 0.0);
}

#[test]
fn flapping_starts_then_stops_once_below_the_low_threshold() {
    // "A host or service is determined to have stopped flapping when its percent state goes
    // below a low flapping threshold (assuming that is was previously flapping)."
    let t = Thresholds::default();
    let mut f = Flap::default();
    let alternating: Vec<FlapState> = (0..21).map(|i| if i % 2 == 0 { O } else { C }).collect();
    assert_eq!(run(&mut f, &alternating, FlapStates::ALL, t).last(), Some(&Some(FlapEdge::Started)));
    // Then it settles on OK (the last alternating state). After k steady results the changes
    // are the oldest m = 20 - k slots: (40 m + m (m + 1) / 2) / 10 %.
    let mut pcts = Vec::new();
    let mut edges = Vec::new();
    for _ in 0..20 {
        edges.push(f.record(O, FlapStates::ALL, t));
        pcts.push(f.percent());
    }
    // k = 15 (m = 5): 21.5 %, between the thresholds: still flapping, no edge.
    assert_eq!(pcts[14], 21.5);
    // k = 16 (m = 4): 17.0 % < 20: FLAPPINGSTOP, once.
    assert_eq!(pcts[15], 17.0);
    let mut want = vec![None; 20];
    want[15] = Some(FlapEdge::Stopped);
    assert_eq!(edges, want);
    assert!(!f.is_flapping());
    assert_eq!(pcts[19], 0.0);
}

#[test]
fn nothing_happens_before_the_history_is_full() {
    // "Since we keep the results of the last 21 service checks in the array, there is a
    // possibility of having at most 20 state changes": Shinken judges only a full list.
    let t = Thresholds::default();
    let mut f = Flap::default();
    assert!(f.is_empty());
    assert_eq!(f.record(O, FlapStates::ALL, t), None);
    // The first result has no previous state: nothing appended.
    assert_eq!((f.len(), f.percent()), (0, 0.0));
    let mut s = O;
    for n in 1..20 {
        s = if s == O { C } else { O };
        assert_eq!(f.record(s, FlapStates::ALL, t), None, "result {}", n + 1);
        assert_eq!(f.len(), n);
    }
    // 19 changes of 19 slots, weighing (40 * 19 + 190) / 10 = 95 %: far above 30, no edge.
    assert_eq!(f.percent(), 95.0);
    assert!(!f.is_flapping());
    // The 21st result fills the list.
    s = if s == O { C } else { O };
    assert_eq!(f.record(s, FlapStates::ALL, t), Some(FlapEdge::Started));
    assert_eq!(f.len(), 20);
}

#[test]
fn flap_detection_options_exclude_states_entirely() {
    // "You can exclude certain host or service states from use in flap detection logic by
    // using the "flap_detection_options" directive".
    let t = Thresholds::default();
    let oc = FlapStates::parse("o,c").unwrap();
    // A check that swings between OK and WARNING never flaps with o,c: WARNING results are not
    // recorded, and OK never differs from the OK before it.
    let mut f = Flap::default();
    let swing: Vec<FlapState> = (0..60).map(|i| if i % 2 == 0 { O } else { W }).collect();
    assert_eq!(run(&mut f, &swing, oc, t), vec![None; 60]);
    assert_eq!((f.len(), f.percent()), (20, 0.0));
    // OK, WARNING, CRITICAL: the WARNING does not become the previous state, so the
    // CRITICAL is one change from OK.
    let mut f = Flap::default();
    run(&mut f, &[O, W, C], oc, t);
    assert_eq!((f.len(), f.unweighted_percent()), (1, 5.0));
    // The same with every state: two changes.
    let mut f = Flap::default();
    run(&mut f, &[O, W, C], FlapStates::ALL, t);
    assert_eq!(f.len(), 2);
    // "n": nothing takes part.
    let mut f = Flap::default();
    run(&mut f, &swing, FlapStates::parse("n").unwrap(), t);
    assert_eq!(f, Flap::default());
}

#[test]
fn flap_states_parse() {
    let ok = |s: &str, want: &[FlapState]| {
        let p = FlapStates::parse(s).unwrap();
        for st in [O, W, C, U] {
            assert_eq!(p.has(st), want.contains(&st), "{s:?} {st:?}");
        }
    };
    ok("o,w,c,u", &[O, W, C, U]);
    ok("all", &[O, W, C, U]);
    ok("a", &[O, W, C, U]);
    ok("o, c", &[O, C]);
    ok("u w", &[W, U]);
    ok("n", &[]);
    ok("", &[]);
    assert_eq!(FlapStates::parse("all").unwrap(), FlapStates::ALL);
    for (bad, letter) in [("o,x", "\"x\""), ("d", "\"d\""), ("o,r", "\"r\""), ("ok", "\"ok\"")] {
        let e = FlapStates::parse(bad).unwrap_err();
        assert!(e.contains(letter), "{bad:?}: {e}");
    }
    assert_eq!([O, W, C, U].map(FlapState::letter), ['o', 'w', 'c', 'u']);
}

#[test]
fn thresholds_new() {
    assert_eq!(Thresholds::default(), Thresholds { low: 20.0, high: 30.0 });
    assert_eq!(Thresholds::new(20.0, 30.0), Ok(Thresholds::default()));
    assert!(Thresholds::new(0.0, 0.0).is_ok());
    assert!(Thresholds::new(100.0, 100.0).is_ok());
    assert!(Thresholds::new(25.0, 25.0).is_ok());
    for (low, high, word) in [
        (-1.0, 30.0, "low_flap_threshold -1"),
        (20.0, 100.5, "high_flap_threshold 100.5"),
        (40.0, 30.0, "above"),
        (f64::NAN, 30.0, "low_flap_threshold NaN"),
        (20.0, f64::INFINITY, "high_flap_threshold inf"),
    ] {
        let e = Thresholds::new(low, high).unwrap_err();
        assert!(e.contains(word), "{low} {high}: {e}");
    }
}

fn state() -> impl Strategy<Value = FlapState> {
    prop_oneof![Just(O), Just(W), Just(C), Just(U)]
}

fn states() -> impl Strategy<Value = FlapStates> {
    (0u8..16).prop_map(|m| {
        let letters: Vec<&str> = ["o", "w", "c", "u"]
            .into_iter()
            .enumerate()
            .filter(|(i, _)| m & (1 << i) != 0)
            .map(|(_, l)| l)
            .collect();
        FlapStates::parse(&letters.join(",")).unwrap()
    })
}

fn thresholds_any() -> impl Strategy<Value = Thresholds> {
    (0.0..=100.0f64, 0.0..=100.0f64).prop_map(|(a, b)| Thresholds::new(a.min(b), a.max(b)).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// "Services that never change state will have a 0% state change value, while services
    /// that change state each time they're checked will have 100% state change": the percent is
    /// always within [0, 100].
    #[test]
    fn the_percent_is_within_0_and_100(changes in proptest::collection::vec(any::<bool>(), 0..40)) {
        let p = percent_state_change(&changes);
        prop_assert!((0.0..=100.0).contains(&p));
    }

    /// The percent of a check is the percent of its history (the model: the changes between
    /// the results that take part, the newest 20), always within [0, 100].
    #[test]
    fn a_check_matches_its_history(
        seq in proptest::collection::vec(state(), 0..80),
        opts in states(),
        t in thresholds_any(),
    ) {
        let mut f = Flap::default();
        let kept: Vec<FlapState> = seq.iter().copied().filter(|s| opts.has(*s)).collect();
        let changes: Vec<bool> = kept.windows(2).map(|w| w[0] != w[1]).collect();
        run(&mut f, &seq, opts, t);
        prop_assert_eq!(f.len(), changes.len().min(20));
        prop_assert_eq!(f.percent(), percent_state_change(&changes));
        let last20 = &changes[changes.len().saturating_sub(20)..];
        let unweighted = last20.iter().filter(|c| **c).count() as f64 * 5.0;
        prop_assert_eq!(f.unweighted_percent(), unweighted);
        prop_assert!((0.0..=100.0).contains(&f.percent()));
    }

    /// "Services that never change state will have a 0% state change value": and never flap.
    #[test]
    fn a_constant_history_is_0(s in state(), n in 0usize..60, t in thresholds_any()) {
        let mut f = Flap::default();
        let edges = run(&mut f, &vec![s; n], FlapStates::ALL, t);
        prop_assert_eq!(f.percent(), 0.0);
        // A high threshold of 0 starts flapping at 0 %; anything above never does.
        if t.high > 0.0 {
            prop_assert!(edges.iter().all(Option::is_none));
        }
    }

    /// "A host or service is determined to have started flapping when its percent state change
    /// first exceeds a high flapping threshold ... stopped flapping when its percent state goes
    /// below a low flapping threshold (assuming that is was previously flapping)": Started and
    /// Stopped alternate, Started first, and the flag follows the last edge.
    #[test]
    fn started_and_stopped_alternate(
        seq in proptest::collection::vec(state(), 0..200),
        opts in states(),
        t in thresholds_any(),
    ) {
        let mut f = Flap::default();
        let mut last = None;
        for s in seq {
            let before = f.is_flapping();
            let e = f.record(s, opts, t);
            if let Some(e) = e {
                prop_assert_ne!(Some(e), last);
                prop_assert_eq!(e == FlapEdge::Started, !before);
                prop_assert_eq!(f.len(), 20);
                last = Some(e);
            } else {
                prop_assert_eq!(f.is_flapping(), before);
            }
        }
        prop_assert_eq!(f.is_flapping(), last == Some(FlapEdge::Started));
    }
}
