//! Micro-benchmark of the decision core: results ingested per second on one core.
//!
//!   cargo run --release --bin bearmon-bench-decide [-- RESULTS]
//!
//! Two mixes over 10,000 checks and 3 workers, confirmations 2, delay 1: steady state (every
//! result agrees with the check's state: the common case), and flapping (every check goes
//! down for 2 rounds and up for 2, so each result opens a contrary round that asks a
//! confirmer, counts, and every second round flips).

use std::time::Instant;

use bearmon::check::Verdict;
use bearmon::decide::{Decider, Report, Status};

fn run(results: usize, verdict_of: impl Fn(usize) -> Verdict) -> f64 {
    let checks = 10_000usize;
    let workers = ["w1", "w2", "w3"];
    let live: Vec<&str> = workers.to_vec();
    let mut deciders: Vec<Decider> = (0..checks).map(|i| Decider::new(i as i64, Status::Online)).collect();
    let mut actions = 0usize;
    let started = Instant::now();
    for n in 0..results {
        let check = n % checks;
        let round = (n / checks) as u64 + 1;
        let worker = workers[(n / checks) % 3];
        let r = Report { worker, round, verdict: verdict_of(n), at: n as u64 };
        let out = deciders[check].on_report(&r, &live, 2, 1);
        actions += out.len();
        if let Some(bearmon::decide::Action::Ask { round, workers: asked }) = out.first() {
            // The confirmer answers at once, as a worker would in the same batch.
            let c = Report { worker: asked[0].as_str(), round: *round, verdict: r.verdict, at: n as u64 };
            actions += deciders[check].on_report(&c, &live, 2, 1).len();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    std::hint::black_box(actions);
    results as f64 / secs
}

fn main() {
    let results: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5_000_000);
    let steady = run(results, |_| Verdict::Online);
    // Flapping: 2 rounds down, 2 rounds up, so nearly every result is contrary (a round with
    // a confirmation, then a flip).
    let outage = run(results, |n| if (n / 10_000 / 2) % 2 == 0 { Verdict::Offline } else { Verdict::Online });
    println!(
        "{{\"results\": {results}, \"steady_results_per_s\": {steady:.0}, \"outage_results_per_s\": {outage:.0}}}"
    );
}
