//! The SPEC §4 table, plus gobearmon's failure cases, one row per scenario.
//!
//! A scenario lists rounds; each round lists verdicts in arrival order. The first result of
//! a round comes from the worker the scheduler picked (rotating); later ones come from the
//! workers the core asked, in the order it asked them, so the table also checks that the
//! core asks the right number of workers.

use std::collections::VecDeque;

use super::*;
use crate::check::Verdict::{self, Error as E, Offline as F, Online as K};

struct Case {
    name: &'static str,
    confirmations: usize,
    delay: u32,
    workers: usize,
    start: Status,
    rounds: &'static [(u64, &'static [Verdict])],
    flips: &'static [(u64, Status)],
}

const INTERVAL: u64 = 60;

fn run(case: &Case) -> (Vec<(u64, Status)>, Vec<usize>) {
    let names: Vec<String> = (0..case.workers).map(|i| format!("w{i}")).collect();
    let live: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut d = Decider::new(7, case.start);
    let mut flips = Vec::new();
    let mut asked_per_round = Vec::new();
    for (i, (t, verdicts)) in case.rounds.iter().enumerate() {
        let round = t / INTERVAL;
        let mut queue: VecDeque<String> = VecDeque::new();
        let mut asked = 0;
        let mut used = Vec::new();
        for (j, v) in verdicts.iter().enumerate() {
            let worker = if j == 0 {
                names[i % names.len()].clone()
            } else {
                // An asked worker answers; if nobody was asked, any worker not used yet.
                queue
                    .pop_front()
                    .unwrap_or_else(|| names.iter().find(|n| !used.contains(*n)).cloned().expect("worker"))
            };
            used.push(worker.clone());
            let r = Report { worker: &worker, round, verdict: *v, at: *t };
            for a in d.on_report(&r, &live, case.confirmations, case.delay) {
                match a {
                    Action::Ask { workers, round: ar } => {
                        assert_eq!(ar, round, "{}: asked for the wrong round", case.name);
                        for w in &workers {
                            assert!(!used.contains(w), "{}: asked {w} twice", case.name);
                        }
                        asked += workers.len();
                        queue.extend(workers);
                    }
                    Action::Flip { to, at, .. } => flips.push((at, to)),
                    Action::Counted { .. } => {}
                }
            }
        }
        asked_per_round.push(asked);
    }
    (flips, asked_per_round)
}

use Status::{Offline, Online};

const CASES: &[Case] = &[
    Case {
        name: "README example: interval 60, confirmations 4, delay 3",
        confirmations: 4,
        delay: 3,
        workers: 5,
        start: Online,
        rounds: &[(0, &[F, F, F, F]), (60, &[F, F, F, F]), (120, &[F, F, F, F]), (180, &[F, F, F, F])],
        flips: &[(180, Offline)],
    },
    Case {
        name: "default delay 1 needs two rounds",
        confirmations: 2,
        delay: 1,
        workers: 3,
        start: Online,
        rounds: &[(0, &[F, F]), (60, &[F, F])],
        flips: &[(60, Offline)],
    },
    Case {
        name: "delay 0 flips on the first contrary round",
        confirmations: 2,
        delay: 0,
        workers: 3,
        start: Online,
        rounds: &[(0, &[F, F])],
        flips: &[(0, Offline)],
    },
    Case {
        name: "one agreeing result resets the streak",
        confirmations: 2,
        delay: 1,
        workers: 3,
        start: Online,
        rounds: &[(0, &[F, F]), (60, &[F, K]), (120, &[F, F]), (180, &[F, F])],
        flips: &[(180, Offline)],
    },
    Case {
        name: "the streak resets after a flip (gobearmon flipped straight back)",
        confirmations: 2,
        delay: 1,
        workers: 3,
        start: Online,
        rounds: &[(0, &[F, F]), (60, &[F, F]), (120, &[K, K]), (180, &[K, K])],
        flips: &[(60, Offline), (180, Online)],
    },
    Case {
        name: "fewer live workers than confirmations still flips (gobearmon froze)",
        confirmations: 3,
        delay: 1,
        workers: 2,
        start: Online,
        rounds: &[(0, &[F, F]), (60, &[F, F])],
        flips: &[(60, Offline)],
    },
    Case {
        name: "a single worker works (gobearmon stalled)",
        confirmations: 2,
        delay: 1,
        workers: 1,
        start: Online,
        rounds: &[(0, &[F]), (60, &[F])],
        flips: &[(60, Offline)],
    },
    Case {
        name: "an error is not a vote: a replacement is asked",
        confirmations: 2,
        delay: 0,
        workers: 3,
        start: Online,
        rounds: &[(0, &[F, E, F])],
        flips: &[(0, Offline)],
    },
    Case {
        name: "only errors never flip",
        confirmations: 2,
        delay: 0,
        workers: 3,
        start: Online,
        rounds: &[(0, &[E, E, E])],
        flips: &[],
    },
    Case {
        name: "recovery needs the same agreement",
        confirmations: 2,
        delay: 1,
        workers: 3,
        start: Offline,
        rounds: &[(0, &[K, F]), (60, &[K, K]), (120, &[K, K])],
        flips: &[(120, Online)],
    },
    Case {
        name: "steady agreement never flips",
        confirmations: 2,
        delay: 0,
        workers: 3,
        start: Online,
        rounds: &[(0, &[K]), (60, &[K]), (120, &[K])],
        flips: &[],
    },
    Case {
        name: "a flap shorter than delay does not flip",
        confirmations: 2,
        delay: 2,
        workers: 3,
        start: Online,
        rounds: &[(0, &[F, F]), (60, &[F, F]), (120, &[K]), (180, &[F, F]), (240, &[F, F])],
        flips: &[],
    },
];

#[test]
fn spec_table() {
    for case in CASES {
        let (flips, _) = run(case);
        assert_eq!(flips, case.flips, "case: {}", case.name);
    }
}

#[test]
fn asks_q_minus_one_at_once() {
    let (_, asked) = run(&CASES[0]);
    assert_eq!(asked, vec![3, 3, 3, 3], "confirmations 4: three more workers per round");
    let (_, asked) = run(&CASES[5]);
    assert_eq!(asked, vec![1, 1], "confirmations 3 with 2 live: q = 2");
    let (_, asked) = run(&CASES[6]);
    assert_eq!(asked, vec![0, 0], "a single worker asks nobody");
}

#[test]
fn degraded_when_fewer_workers_than_confirmations() {
    assert!(degraded(2, 3));
    assert!(!degraded(3, 3));
    assert!(!degraded(5, 2));
}

#[test]
fn stale_results_are_ignored() {
    let live = ["a", "b", "c"];
    let mut d = Decider::new(1, Online);
    let rep = |w, round, verdict| Report { worker: w, round, verdict, at: round * 60 };
    d.on_report(&rep("a", 5, F), &live, 2, 0);
    // A late "online" from round 4 must not reset round 5.
    assert!(d.on_report(&rep("b", 4, K), &live, 2, 0).is_empty());
    let acts = d.on_report(&rep("b", 5, F), &live, 2, 0);
    assert_eq!(acts, vec![Action::Flip { to: Offline, round: 5, at: 300 }]);
    // A late duplicate of the flipping round changes nothing.
    assert!(d.on_report(&rep("c", 5, K), &live, 2, 0).is_empty());
    assert_eq!(d.status(), Offline);
}

#[test]
fn the_same_worker_twice_is_one_vote() {
    let live = ["a", "b", "c"];
    let mut d = Decider::new(1, Online);
    let rep = |w| Report { worker: w, round: 1, verdict: F, at: 60 };
    d.on_report(&rep("a"), &live, 2, 0);
    assert!(d.on_report(&rep("a"), &live, 2, 0).is_empty());
    assert_eq!(d.status(), Online);
}

#[test]
fn a_dead_confirmer_is_replaced() {
    let mut d = Decider::new(0, Online);
    let rep = |w: &'static str| Report { worker: w, round: 1, verdict: F, at: 60 };
    let acts = d.on_report(&rep("a"), &["a", "b", "c"], 2, 0);
    let Action::Ask { workers, .. } = &acts[0] else { panic!("{acts:?}") };
    let asked = workers[0].clone();
    let other = if asked == "b" { "c" } else { "b" };
    // The asked worker dies before answering: the other one is asked instead.
    let acts = d.on_live_change(&["a", other], 61, 2, 0);
    assert_eq!(acts, vec![Action::Ask { round: 1, workers: vec![other.to_string()] }]);
    // If nobody is left, the round completes with the votes it has.
    let acts = d.on_live_change(&["a"], 62, 2, 0);
    assert_eq!(acts, vec![Action::Flip { to: Offline, round: 1, at: 62 }]);
}

#[test]
fn a_vote_and_an_error_from_one_worker_is_still_one_vote() {
    let live = ["a", "b", "c"];
    let mut d = Decider::new(2, Online);
    let rep = |w, verdict| Report { worker: w, round: 1, verdict, at: 60 };
    d.on_report(&rep("a", F), &live, 2, 0);
    assert!(d.on_report(&rep("a", E), &live, 2, 0).is_empty(), "a's vote stands");
    // An error then a vote from the same worker: the vote counts.
    let mut d = Decider::new(2, Online);
    d.on_report(&rep("a", F), &live, 3, 0);
    d.on_report(&rep("b", E), &live, 3, 0);
    let acts = d.on_report(&rep("b", F), &live, 3, 0);
    assert!(acts.iter().all(|a| !matches!(a, Action::Flip { .. })), "two votes of three: {acts:?}");
    let acts = d.on_report(&rep("c", F), &live, 3, 0);
    assert_eq!(acts, vec![Action::Flip { to: Offline, round: 1, at: 60 }]);
}

/// SPEC §4 with confirmers slower than the interval (a hanging target, an interval a little
/// longer than the timeout): the scheduled worker's next result arrives before the asked
/// worker's answer, every round. The open round keeps its votes, so the answer completes it.
#[test]
fn a_newer_scheduled_result_never_throws_an_open_round_away() {
    let live = ["a", "b"];
    let mut d = Decider::new(3, Online);
    let rep = |w, round, verdict| Report { worker: w, round, verdict, at: round * 10 };
    assert_eq!(
        d.on_report(&rep("a", 1, F), &live, 2, 1),
        vec![Action::Ask { round: 1, workers: vec!["b".into()] }]
    );
    // a's next run (round 2) and an error of its run after that arrive before b answers.
    assert!(d.on_report(&rep("a", 2, F), &live, 2, 1).is_empty(), "a's second vote is still one vote");
    assert!(d.on_report(&rep("a", 3, E), &live, 2, 1).is_empty());
    assert_eq!(d.on_report(&rep("b", 1, F), &live, 2, 1), vec![Action::Counted { round: 1, streak: 1 }]);
    // The same again for the second contrary round: the flip comes.
    d.on_report(&rep("a", 4, F), &live, 2, 1);
    d.on_report(&rep("a", 5, F), &live, 2, 1);
    assert_eq!(
        d.on_report(&rep("b", 4, F), &live, 2, 1),
        vec![Action::Flip { to: Offline, round: 4, at: 40 }]
    );
    // A newer agreeing result still refutes an open round.
    let mut d = Decider::new(3, Online);
    d.on_report(&rep("a", 1, F), &live, 2, 0);
    assert!(d.on_report(&rep("a", 2, K), &live, 2, 0).is_empty());
    assert!(d.on_report(&rep("b", 1, F), &live, 2, 0).is_empty(), "round 1 was refuted by a newer result");
    assert_eq!(d.status(), Online);
}

/// Issue: errors silently weaken `confirmations`. Two of three workers cannot run the check
/// (an icmp check without raw sockets): the flip rests on one vote, and the core says so.
#[test]
fn a_round_decided_on_fewer_votes_because_of_errors_is_weakened() {
    let live = ["a", "b", "c"];
    let mut d = Decider::new(4, Online);
    let rep = |w, verdict| Report { worker: w, round: 1, verdict, at: 60 };
    let Action::Ask { workers, .. } = &d.on_report(&rep("a", F), &live, 3, 0)[0] else { panic!() };
    assert_eq!(workers.len(), 2);
    d.on_report(&rep("b", E), &live, 3, 0);
    let acts = d.on_report(&rep("c", E), &live, 3, 0);
    assert_eq!(acts, vec![Action::Flip { to: Offline, round: 1, at: 60 }]);
    assert_eq!(d.weakened(), Some((1, 3)), "one vote of the three confirmations asked for");
    // A full round clears it.
    let rep2 = |w, verdict| Report { worker: w, round: 2, verdict, at: 120 };
    d.on_report(&rep2("a", K), &live, 3, 0);
    d.on_report(&rep2("b", K), &live, 3, 0);
    d.on_report(&rep2("c", K), &live, 3, 0);
    assert_eq!((d.status(), d.weakened()), (Online, None));
    // Fewer live workers than confirmations is the cluster's degradation, not the check's.
    let mut d = Decider::new(4, Online);
    d.on_report(&rep("a", F), &["a", "b"], 3, 0);
    d.on_report(&rep("b", F), &["a", "b"], 3, 0);
    assert_eq!((d.status(), d.weakened()), (Offline, None));
}
