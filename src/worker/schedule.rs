//! A worker's own schedule of the checks assigned to it.
//!
//! Each check has a due time on the wall clock; the next one is the previous *due* time plus
//! the interval, not the previous finish plus the interval, so an interval means an interval
//! (gobearmon's period was interval + run time + polling). A run still going when the next is
//! due is not doubled: that slot is skipped and counted. When the worker falls further
//! behind than one interval, the missed slots are skipped rather than run in a burst.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use crate::check::{CheckSpec, Verdict};

/// The longest interval a schedule keeps (a day, as `store` bounds `check_interval`).
const MAX_INTERVAL_SECS: u64 = 86_400;
use crate::node::proto::{AssignmentMsg, CheckMsg, RunOptions};

#[derive(Debug)]
struct Entry {
    spec: Arc<CheckSpec>,
    interval_ms: i64,
    due_ms: i64,
    generation: u64,
    running: bool,
    /// `retry_interval`/`cached_check_horizon`, for the few checks that have them (boxed: a
    /// pointer for the rest).
    run: Option<Box<Retrying>>,
}

/// A check with a `retry_interval`: the verdict its results settled on, and how many
/// contrary ones have come in a row since. While some have (Nagios's soft state, here for
/// recoveries too, since a recovery is confirmed as a problem is), it runs every
/// `retry_secs`; after `attempts` of them the new verdict is settled.
#[derive(Debug)]
struct Retrying {
    opts: RunOptions,
    settled: Option<Verdict>,
    contrary: u32,
}

/// One execution to start now.
#[derive(Debug, Clone)]
pub struct DueRun {
    pub check_id: i64,
    pub spec: Arc<CheckSpec>,
    pub due_ms: i64,
    pub generation: u64,
    /// `cached_check_horizon` in seconds (0: its result is not kept for asks).
    pub cache_secs: u64,
}

/// What [`Schedule::take_due`] skipped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    /// Slots skipped because the previous run of the same check was still going.
    pub overlapping: u64,
    /// Slots skipped because the worker was more than an interval behind.
    pub behind: u64,
}

/// The assigned checks and their due times.
#[derive(Debug, Default)]
pub struct Schedule {
    entries: HashMap<i64, Entry>,
    heap: BinaryHeap<Reverse<(i64, i64, u64)>>,
    term: u64,
    version: u64,
    last_generation: u64,
}

/// Where in its interval a check without history first runs: spread evenly by id so a
/// large assignment does not start as one burst.
fn phase(id: i64, interval_ms: i64) -> i64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    (h.finish() % interval_ms.max(1) as u64) as i64
}

impl Schedule {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The assignment version held for the controller of `term` (0: none).
    pub fn version_for(&self, term: u64) -> u64 {
        if self.term == term { self.version } else { 0 }
    }

    /// Applies assignment changes from the controller of `term`. Checks already scheduled
    /// keep their due times (a failover does not restart every schedule). Returns the checks
    /// that could not be parsed, with why.
    pub fn apply(&mut self, term: u64, a: &AssignmentMsg, now_ms: i64) -> Vec<String> {
        let mut problems = Vec::new();
        if a.full {
            let keep: std::collections::HashSet<i64> = a.upserts.iter().map(|c| c.id).collect();
            self.entries.retain(|id, _| keep.contains(id));
        }
        for id in &a.removes {
            self.entries.remove(id);
        }
        for c in &a.upserts {
            if let Err(e) = self.upsert(c, now_ms) {
                problems.push(e);
            }
        }
        self.term = term;
        self.version = a.version;
        problems
    }

    fn upsert(&mut self, c: &CheckMsg, now_ms: i64) -> Result<(), String> {
        let spec = match CheckSpec::parse(c.id, &c.kind, &c.data) {
            Ok(mut p) => {
                p.spec.prepare();
                Arc::new(p.spec)
            }
            Err(e) => {
                self.entries.remove(&c.id);
                return Err(e.to_string());
            }
        };
        // Bounded as the controller bounds `check_interval`: a message from elsewhere cannot
        // make the product overflow (the schedule would then never advance).
        let interval_ms = (c.interval_secs.clamp(1, MAX_INTERVAL_SECS) * 1000) as i64;
        let run = c.run.map(|opts| Box::new(Retrying { opts, settled: None, contrary: 0 }));
        if let Some(e) = self.entries.get_mut(&c.id)
            && e.interval_ms == interval_ms
        {
            e.spec = spec;
            if e.run.as_ref().map(|r| r.opts) != c.run {
                e.run = run;
            }
            return Ok(());
        }
        let due_ms = match c.due_ms {
            // Not before now, and not more than an interval ahead (a due time past the end of
            // time would overflow once the interval is added to it).
            Some(d) => d.clamp(now_ms, now_ms.saturating_add(interval_ms)),
            None => now_ms + phase(c.id, interval_ms),
        };
        self.last_generation += 1;
        let generation = self.last_generation;
        self.entries.insert(c.id, Entry { spec, interval_ms, due_ms, generation, running: false, run });
        self.heap.push(Reverse((due_ms, c.id, generation)));
        Ok(())
    }

    /// The earliest due time, if any check is scheduled.
    pub fn next_due(&mut self) -> Option<i64> {
        while let Some(Reverse((due, id, generation))) = self.heap.peek().copied() {
            match self.entries.get(&id) {
                Some(e) if e.generation == generation && e.due_ms == due => return Some(due),
                _ => {
                    self.heap.pop();
                }
            }
        }
        None
    }

    /// Takes the runs due by `now_ms`, earliest first, at most `limit` of them (the worker's
    /// free slots), and schedules each check's next slot. Runs past the limit stay due here,
    /// a few bytes each, instead of waiting as tasks of several kilobytes.
    pub fn take_due(&mut self, now_ms: i64, limit: usize) -> (Vec<DueRun>, Skipped) {
        let mut runs = Vec::new();
        let mut skipped = Skipped::default();
        while let Some(Reverse((due, id, generation))) = self.heap.peek().copied() {
            if due > now_ms || runs.len() >= limit {
                break;
            }
            self.heap.pop();
            let Some(e) = self.entries.get_mut(&id) else { continue };
            if e.generation != generation || e.due_ms != due {
                continue;
            }
            if e.running {
                skipped.overlapping += 1;
            } else {
                e.running = true;
                let cache_secs = e.run.as_ref().map_or(0, |r| r.opts.cache_secs);
                runs.push(DueRun { check_id: id, spec: e.spec.clone(), due_ms: due, generation, cache_secs });
            }
            let mut next = due + e.interval_ms;
            if next <= now_ms {
                let behind = (now_ms - next) / e.interval_ms + 1;
                skipped.behind += behind as u64;
                next += behind * e.interval_ms;
            }
            e.due_ms = next;
            self.heap.push(Reverse((next, id, generation)));
        }
        (runs, skipped)
    }

    /// Marks a run (due at `due_ms`) finished with `verdict`, so the check's next slot runs;
    /// with a `retry_interval`, a contrary verdict brings the next slot forward.
    pub fn finished(&mut self, check_id: i64, generation: u64, due_ms: i64, verdict: Verdict, now_ms: i64) {
        let Some(e) = self.entries.get_mut(&check_id).filter(|e| e.generation == generation) else { return };
        e.running = false;
        let Some(r) = e.run.as_mut().filter(|r| r.opts.retry_secs > 0) else { return };
        if verdict == Verdict::Error {
            return;
        }
        match r.settled {
            Some(s) if s != verdict => r.contrary += 1,
            _ => {
                r.settled = Some(verdict);
                r.contrary = 0;
                return;
            }
        }
        if r.contrary >= r.opts.attempts.max(1) {
            r.settled = Some(verdict);
            r.contrary = 0;
            return;
        }
        let retry = (due_ms + (r.opts.retry_secs * 1000) as i64).max(now_ms);
        if retry < e.due_ms {
            e.due_ms = retry;
            self.heap.push(Reverse((retry, check_id, generation)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(id: i64, interval_secs: u64, due_ms: Option<i64>) -> CheckMsg {
        CheckMsg {
            id,
            name: format!("c{id}"),
            kind: "tcp".into(),
            data: r#"{"address":"127.0.0.1:1"}"#.into(),
            interval_secs,
            due_ms,
            run: None,
        }
    }

    fn full(checks: Vec<CheckMsg>) -> AssignmentMsg {
        AssignmentMsg { version: 1, full: true, upserts: checks, removes: vec![] }
    }

    #[test]
    fn runs_at_fixed_slots_without_drift() {
        let mut s = Schedule::default();
        s.apply(1, &full(vec![tcp(1, 10, Some(1000))]), 0);
        assert_eq!(s.take_due(999, usize::MAX).0.len(), 0);
        let (runs, _) = s.take_due(1500, usize::MAX);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].due_ms, 1000);
        s.finished(1, runs[0].generation, 1000, Verdict::Online, 1500);
        // Finishing late does not shift the next slot.
        assert_eq!(s.next_due(), Some(11_000));
    }

    #[test]
    fn an_overlapping_run_is_skipped_and_far_behind_skips_slots() {
        let mut s = Schedule::default();
        s.apply(1, &full(vec![tcp(1, 10, Some(0))]), 0);
        let (runs, _) = s.take_due(0, usize::MAX);
        assert_eq!(runs.len(), 1);
        let (runs, sk) = s.take_due(10_000, usize::MAX);
        assert_eq!((runs.len(), sk.overlapping), (0, 1));
        s.finished(1, 1, 0, Verdict::Online, 45_000);
        let (runs, sk) = s.take_due(45_000, usize::MAX);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].due_ms, 20_000);
        assert_eq!(sk.behind, 2, "30 s and 40 s were skipped");
        assert_eq!(s.next_due(), Some(50_000));
    }

    #[test]
    fn a_full_assignment_keeps_existing_slots_and_drops_the_rest() {
        let mut s = Schedule::default();
        s.apply(1, &full(vec![tcp(1, 10, Some(5000)), tcp(2, 10, Some(6000))]), 0);
        s.apply(2, &full(vec![tcp(1, 10, Some(9999))]), 100);
        assert_eq!(s.len(), 1);
        assert_eq!(s.next_due(), Some(5000), "kept its slot across a failover");
        assert_eq!(s.version_for(2), 1);
        assert_eq!(s.version_for(1), 0);
    }

    #[test]
    fn runs_past_the_free_slots_stay_due_in_order() {
        let mut s = Schedule::default();
        s.apply(1, &full((1..=5).map(|id| tcp(id, 60, Some(1000 + id))).collect()), 0);
        let (runs, sk) = s.take_due(2000, 2);
        assert_eq!(runs.iter().map(|r| r.check_id).collect::<Vec<_>>(), [1, 2], "earliest first");
        assert_eq!(sk, Skipped::default(), "nothing is skipped for want of a slot");
        let (runs, _) = s.take_due(2000, 10);
        assert_eq!(runs.iter().map(|r| r.check_id).collect::<Vec<_>>(), [3, 4, 5], "then the rest");
        assert_eq!(runs[0].due_ms, 1003, "each keeps its due time, so its lag counts the wait");
        assert_eq!(s.next_due(), Some(61_001), "every check's next slot is one interval on");
    }

    #[test]
    fn contrary_results_are_retried_at_the_retry_interval_until_settled() {
        let mut s = Schedule::default();
        let run = Some(RunOptions { retry_secs: 10, attempts: 3, cache_secs: 0 });
        s.apply(1, &full(vec![CheckMsg { run, ..tcp(1, 60, Some(0)) }]), 0);
        let mut step = |now: i64, v: Verdict| {
            let (runs, _) = s.take_due(now, usize::MAX);
            assert_eq!(runs.len(), 1, "a run is due at {now}");
            s.finished(1, runs[0].generation, runs[0].due_ms, v, now + 100);
            s.next_due().unwrap()
        };
        assert_eq!(step(0, Verdict::Online), 60_000, "the first result settles: the interval");
        assert_eq!(step(60_000, Verdict::Offline), 70_000, "a contrary result: retry in 10 s");
        assert_eq!(step(70_000, Verdict::Offline), 80_000);
        assert_eq!(step(80_000, Verdict::Offline), 140_000, "the third settles it: back to 60 s");
        assert_eq!(step(140_000, Verdict::Offline), 200_000);
        assert_eq!(step(200_000, Verdict::Online), 210_000, "a recovery is retried too");
        assert_eq!(step(210_000, Verdict::Offline), 270_000, "back to the settled verdict");
    }

    #[test]
    fn checks_without_history_are_spread_over_their_interval() {
        let mut s = Schedule::default();
        let checks = (0..100).map(|i| tcp(i, 60, None)).collect();
        s.apply(1, &full(checks), 0);
        let (early, _) = s.take_due(30_000, usize::MAX);
        assert!((20..80).contains(&early.len()), "{} of 100 in the first half", early.len());
    }

    proptest::proptest! {
        /// Any interval, any due time the controller sends and any clock: taking the due runs
        /// ends, hands out only runs due by then, at most the free slots, and leaves every
        /// check due after now (no loop, no overflow, no burst).
        #[test]
        fn extreme_numbers_never_stall_or_overflow_the_schedule(
            checks in proptest::collection::vec((proptest::prelude::any::<u64>(), proptest::prelude::any::<Option<i64>>()), 1..20),
            start in 0i64..4_000_000_000_000,
            steps in proptest::collection::vec(0i64..200_000_000, 1..10),
            limit in 1usize..50,
        ) {
            let mut s = Schedule::default();
            let msgs = checks.iter().enumerate().map(|(i, (interval, due))| tcp(i as i64, *interval, *due)).collect();
            s.apply(1, &full(msgs), start);
            let mut now = start;
            for step in steps {
                now += step;
                let mut taken = 0;
                loop {
                    let (runs, _) = s.take_due(now, limit);
                    proptest::prop_assert!(runs.len() <= limit);
                    proptest::prop_assert!(runs.iter().all(|r| r.due_ms <= now));
                    for r in &runs {
                        s.finished(r.check_id, r.generation, r.due_ms, Verdict::Offline, now);
                    }
                    taken += runs.len();
                    proptest::prop_assert!(taken <= 20 * 20, "a burst of catch-up runs");
                    if runs.len() < limit {
                        break;
                    }
                }
                proptest::prop_assert!(s.next_due().is_some_and(|d| d > now));
            }
        }
    }
}
