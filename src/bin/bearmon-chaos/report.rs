//! What the run reports: the log of events and problems kept while faults are injected,
//! then the verdict lines (one per invariant, PASS or FAIL), the one-line summary, and the
//! `--report` JSON. The exit status follows from what is printed here.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::json;

use crate::farm::Origin;
use crate::faults::Fault;
use crate::options::Args;
use crate::oracle::Verdict;
use crate::s;

/// What happened during the run, for the report.
#[derive(Default)]
pub struct Log {
    pub injected: BTreeMap<Fault, usize>,
    pub failovers: Vec<f64>,
    /// Controller deaths after which no new controller served within 30 s.
    pub failovers_missing: usize,
    pub events: Vec<String>,
    pub problems: Vec<String>,
    pub skipped: Vec<String>,
}

impl Log {
    pub fn note(&mut self, origin: &Origin, what: String) {
        let t = origin.ms().unwrap_or(0) as f64 / 1000.0;
        eprintln!("chaos: t={t:7.1}s {what}");
        self.events.push(format!("t={t:.1}s {what}"));
    }
}

/// The run's results the report is made of.
pub struct Outcome<'a> {
    pub seed: u64,
    pub backend: &'a str,
    pub verdict: Verdict,
    /// Flips committed.
    pub flips: usize,
    /// Stale writes refused by the fence ("stepping down" in the workers' logs).
    pub refused: usize,
    pub settled: bool,
    /// When settling began; the settle time is read as it is printed.
    pub settle: Instant,
}

/// Prints the verdict and the summary and writes `--report`; true when every invariant
/// holds and the run noted no problem.
pub fn report(a: &Args, o: &Outcome, log: &Log) -> bool {
    let (seed, backend_name, v, refused, settled, settle) =
        (o.seed, o.backend, &o.verdict, o.refused, o.settled, o.settle);
    let mut fo = log.failovers.clone();
    fo.sort_by(f64::total_cmp);
    let median = fo.get(fo.len() / 2).copied();
    let max = fo.last().copied();

    println!(
        "chaos: {} faults injected: {}",
        log.injected.values().sum::<usize>(),
        fmt_counts(&log.injected)
    );
    for sk in &log.skipped {
        println!("chaos: skipped {sk}");
    }
    println!(
        "chaos: oracle: {} outages (must flip), {} flap bursts (must not), {} flips expected, {} committed, {} notifications received",
        v.must_episodes, v.must_not_episodes, v.expected_flips, o.flips, v.notifications
    );
    let line = |ok: bool, text: String| println!("{} {text}", if ok { "PASS" } else { "FAIL" });
    line(
        v.lost() == 0,
        format!(
            "lost = {} (flips never committed {}, committed flips never notified {})",
            v.lost(),
            v.lost_flips,
            v.lost_notifications
        ),
    );
    line(
        v.false_count() == 0,
        format!(
            "false = {} (flips the oracle does not imply {}, notifications of no flip {})",
            v.false_count(),
            v.false_flips,
            v.phantom_notifications
        ),
    );
    line(
        v.duplicates_unexplained == 0,
        format!(
            "duplicates: {} repeats of the same idempotency key (reported); unexplained duplicates = {}",
            v.duplicates_same_key, v.duplicates_unexplained
        ),
    );
    line(
        v.split_brain_commits == 0,
        format!(
            "split-brain commits = {} (stale writes refused by the fence: {refused})",
            v.split_brain_commits
        ),
    );
    let fo_ok = log.failovers_missing == 0;
    line(
        fo_ok,
        format!(
            "failover: {} controller deaths, new controller serving after median {} s, max {} s",
            fo.len(),
            fmt_s(median),
            fmt_s(max)
        ),
    );
    line(
        settled,
        format!(
            "settled: every check back online and every notification delivered ({:.1} s)",
            settle.elapsed().as_secs_f64()
        ),
    );
    for p in v.problems.iter().chain(&log.problems).take(40) {
        println!("  problem: {p}");
    }
    let ok = v.holds() && log.problems.is_empty();
    println!(
        "chaos: {} seed={seed} backend={backend_name} minutes={} lost={} false={} duplicates={} unexplained={} split_brain={} failover_max_s={}",
        if ok { "PASS" } else { "FAIL" },
        a.minutes,
        v.lost(),
        v.false_count(),
        v.duplicates_same_key,
        v.duplicates_unexplained,
        v.split_brain_commits,
        fmt_s(max)
    );
    if let Some(path) = &a.report {
        let report = json!({
            "seed": seed, "backend": backend_name, "minutes": a.minutes, "workers": a.workers,
            "checks": a.checks, "interval": a.interval, "delay": a.delay, "confirmations": a.confirmations,
            "injected": log.injected, "skipped": log.skipped, "verdict": v, "flips_committed": o.flips,
            "failover_s": fo, "failover_median_s": median, "failover_max_s": max,
            "stale_writes_refused": refused, "settled": settled, "problems": log.problems, "events": log.events, "pass": ok,
        });
        let _ = std::fs::write(path, serde_json::to_string_pretty(&report).unwrap_or_default());
    }
    ok
}

fn fmt_counts(m: &BTreeMap<Fault, usize>) -> String {
    m.iter()
        .map(|(k, n)| {
            format!(
                "{}×{n}",
                serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn fmt_s(v: Option<f64>) -> String {
    v.map_or_else(|| s("-"), |x| format!("{x:.2}"))
}
