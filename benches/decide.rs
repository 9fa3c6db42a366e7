//! The decision core under criterion: results ingested per second on one core, in the two
//! mixes of `bearmon-bench-decide` (steady state, and flapping: every round contrary, a
//! confirmation asked and answered, a flip every second round). Throughput is reported in
//! results (elements) per second.
//!
//!   cargo bench --bench decide

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use bearmon::check::Verdict;
use bearmon::decide::{Action, Decider, Report, Status};

const CHECKS: usize = 10_000;
const BATCH: usize = 100_000;

/// Feeds `BATCH` results, continuing the rounds from `start`; returns the actions taken.
fn feed(deciders: &mut [Decider], start: usize, flapping: bool) -> usize {
    let workers = ["w1", "w2", "w3"];
    let live: Vec<&str> = workers.to_vec();
    let mut actions = 0;
    for n in start..start + BATCH {
        let check = n % CHECKS;
        let round = (n / CHECKS) as u64 + 1;
        let worker = workers[(n / CHECKS) % 3];
        let verdict =
            if flapping && (n / CHECKS / 2).is_multiple_of(2) { Verdict::Offline } else { Verdict::Online };
        let r = Report { worker, round, verdict, at: n as u64 };
        let out = deciders[check].on_report(&r, &live, 2, 1);
        actions += out.len();
        if let Some(Action::Ask { round, workers: asked }) = out.first() {
            let c = Report { worker: asked[0].as_str(), round: *round, verdict, at: n as u64 };
            actions += deciders[check].on_report(&c, &live, 2, 1).len();
        }
    }
    actions
}

fn decide(c: &mut Criterion) {
    let mut g = c.benchmark_group("decide");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, flapping) in [("steady", false), ("flapping", true)] {
        let mut deciders: Vec<Decider> =
            (0..CHECKS).map(|i| Decider::new(i as i64, Status::Online)).collect();
        let mut next = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let a = feed(&mut deciders, next, flapping);
                next += BATCH;
                std::hint::black_box(a)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
