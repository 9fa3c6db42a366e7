//! The oracle: every target's up/down timeline, drawn from the seed before the run starts,
//! and the verdict that compares what the cluster committed and notified against it.
//!
//! Targets go down in two ways only, so every episode has one right answer:
//! - a long outage (`Must`): down for well over `(delay + 1)` intervals, so it must flip the
//!   check offline and, once back, online again;
//! - a flap burst (`MustNot`): short drops, a quarter interval each, every 1.5 intervals, so
//!   two rounds one interval apart can never both land in a drop and no streak can grow.
//!
//! Episodes are separated by at least a minute of uptime, longer than the longest delay a
//! fault adds to a commit, so each committed flip can be attributed to the last episode that
//! began before it.

use std::collections::{BTreeMap, HashMap, HashSet};

use rand::Rng;
use rand::rngs::StdRng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Long enough that a flip (and its recovery) is owed.
    Must,
    /// Too short for `delay`: a flip here is false.
    MustNot,
}

/// One outage or flap burst of one target, in ms since the run's origin.
#[derive(Clone, Debug)]
pub struct Episode {
    pub kind: Kind,
    pub start_ms: i64,
    pub end_ms: i64,
    /// The intervals during which the target answers 503.
    pub downs: Vec<(i64, i64)>,
}

/// The timeline of one target.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    pub episodes: Vec<Episode>,
}

impl Timeline {
    /// Draws a timeline for a window of `window_ms`.
    pub fn draw(rng: &mut StdRng, interval_ms: i64, delay: i64, window_ms: i64) -> Timeline {
        let mut episodes = Vec::new();
        let mut t = rng.random_range(5_000..60_000);
        loop {
            let ep = if rng.random_bool(0.65) {
                let min = (delay + 1) * interval_ms + 8_000;
                let d = rng.random_range(min..min + 16_000);
                Episode { kind: Kind::Must, start_ms: t, end_ms: t + d, downs: vec![(t, t + d)] }
            } else {
                let cycle = interval_ms * 3 / 2;
                let drop = interval_ms / 4;
                let n = rng.random_range(2..=4);
                let downs: Vec<(i64, i64)> = (0..n).map(|i| (t + i * cycle, t + i * cycle + drop)).collect();
                let end = downs.last().map_or(t, |d| d.1);
                Episode { kind: Kind::MustNot, start_ms: t, end_ms: end, downs }
            };
            if ep.end_ms >= window_ms {
                break;
            }
            t = ep.end_ms + rng.random_range(60_000..120_000);
            episodes.push(ep);
        }
        Timeline { episodes }
    }

    /// Whether the target is down at `ms`.
    pub fn is_down(&self, ms: i64) -> bool {
        let i = self.episodes.partition_point(|e| e.end_ms <= ms);
        self.episodes.get(i).is_some_and(|e| e.downs.iter().any(|&(a, b)| a <= ms && ms < b))
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.episodes.iter().filter(|e| e.kind == kind).count()
    }
}

/// A committed flip, from `check_events` joined with `bearmon_flips`.
#[derive(Clone, Debug)]
pub struct Flip {
    pub event_id: i64,
    pub check: usize,
    pub offline: bool,
    /// Commit time, ms since the origin.
    pub at_ms: i64,
    pub term: i64,
}

/// A notification the webhook receiver got.
#[derive(Clone, Debug)]
pub struct Note {
    pub key: String,
    pub event_id: i64,
}

/// The figures of one run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Verdict {
    pub must_episodes: usize,
    pub must_not_episodes: usize,
    /// Flips (offline or online) the oracle implies.
    pub expected_flips: usize,
    /// Implied flips never committed.
    pub lost_flips: usize,
    /// Committed flips with no notification received.
    pub lost_notifications: usize,
    /// Committed flips the oracle does not imply.
    pub false_flips: usize,
    /// Notifications naming an event that was never committed.
    pub phantom_notifications: usize,
    pub notifications: usize,
    /// Repeats of an idempotency key already received (at-least-once delivery).
    pub duplicates_same_key: usize,
    /// The same flip committed or notified twice under different keys.
    pub duplicates_unexplained: usize,
    /// Flips committed by a term lower than one that had already committed.
    pub split_brain_commits: usize,
    pub problems: Vec<String>,
}

impl Verdict {
    pub fn lost(&self) -> usize {
        self.lost_flips + self.lost_notifications
    }
    pub fn false_count(&self) -> usize {
        self.false_flips + self.phantom_notifications
    }
    pub fn holds(&self) -> bool {
        self.lost() == 0
            && self.false_count() == 0
            && self.duplicates_unexplained == 0
            && self.split_brain_commits == 0
    }
}

/// Compares the committed flips and the notifications against the timelines.
pub fn judge(timelines: &[Timeline], flips: &[Flip], notes: &[Note]) -> Verdict {
    let mut v = Verdict {
        must_episodes: timelines.iter().map(|t| t.count(Kind::Must)).sum(),
        must_not_episodes: timelines.iter().map(|t| t.count(Kind::MustNot)).sum(),
        notifications: notes.len(),
        ..Verdict::default()
    };
    v.expected_flips = 2 * v.must_episodes;

    // Split brain: in commit order (event ids are taken after the fence's row lock), terms
    // never go down.
    let mut ordered: Vec<&Flip> = flips.iter().collect();
    ordered.sort_by_key(|f| f.event_id);
    let mut max_term = 0;
    for f in &ordered {
        if f.term < max_term {
            v.split_brain_commits += 1;
            v.problems
                .push(format!("event {} committed by term {} after term {max_term}", f.event_id, f.term));
        }
        max_term = max_term.max(f.term);
    }

    // Notifications against commits.
    let committed: HashSet<i64> = flips.iter().map(|f| f.event_id).collect();
    let mut seen_keys: HashSet<&str> = HashSet::new();
    let mut notified: HashSet<i64> = HashSet::new();
    for n in notes {
        if !seen_keys.insert(&n.key) {
            v.duplicates_same_key += 1;
        }
        if !committed.contains(&n.event_id) {
            v.phantom_notifications += 1;
            v.problems.push(format!("notification {} names no committed flip", n.key));
        }
        notified.insert(n.event_id);
    }
    for f in flips {
        if !notified.contains(&f.event_id) {
            v.lost_notifications += 1;
            v.problems.push(format!("event {} (check {}) was never notified", f.event_id, f.check));
        }
    }

    // Flips against the oracle, check by check.
    let mut by_check: BTreeMap<usize, Vec<&Flip>> = BTreeMap::new();
    for f in &ordered {
        by_check.entry(f.check).or_default().push(f);
    }
    for (check, tl) in timelines.iter().enumerate() {
        let fs = by_check.remove(&check).unwrap_or_default();
        judge_check(check, tl, &fs, &mut v);
    }
    for (check, fs) in by_check {
        v.false_flips += fs.len();
        v.problems.push(format!("check {check} is not in the oracle but flipped {} times", fs.len()));
    }
    v
}

fn judge_check(check: usize, tl: &Timeline, fs: &[&Flip], v: &mut Verdict) {
    // Alternation: the same direction twice in a row is one flip committed twice.
    let mut offline = false;
    let mut pairs: HashMap<usize, usize> = HashMap::new();
    let mut open: Option<usize> = None;
    for f in fs {
        if f.offline == offline {
            v.duplicates_unexplained += 1;
            v.problems.push(format!("check {check}: event {} repeats the previous direction", f.event_id));
            continue;
        }
        offline = f.offline;
        if f.offline {
            // The last episode that began before the commit.
            let ep = tl.episodes.partition_point(|e| e.start_ms <= f.at_ms);
            if ep == 0 {
                v.false_flips += 1;
                v.problems.push(format!("check {check}: event {} before any outage", f.event_id));
                open = None;
                continue;
            }
            let e = &tl.episodes[ep - 1];
            let n = pairs.entry(ep - 1).or_default();
            *n += 1;
            if e.kind == Kind::MustNot || *n > 1 {
                v.false_flips += 1;
                v.problems.push(format!(
                    "check {check}: event {} offline during a {} episode at {} ms",
                    f.event_id,
                    if e.kind == Kind::MustNot { "flap" } else { "repeated" },
                    e.start_ms
                ));
                open = None;
            } else {
                open = Some(ep - 1);
            }
        } else if open.take().is_none() {
            // Recovery of a false offline flip: counted with it.
            continue;
        }
    }
    if offline {
        v.lost_flips += 1;
        v.problems.push(format!("check {check}: left offline (recovery never committed)"));
    }
    for (i, e) in tl.episodes.iter().enumerate() {
        if e.kind == Kind::Must && !pairs.contains_key(&i) {
            v.lost_flips += 2;
            v.problems.push(format!(
                "check {check}: outage at {} ms ({} ms long) never flipped",
                e.start_ms,
                e.end_ms - e.start_ms
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn must(start: i64, end: i64) -> Episode {
        Episode { kind: Kind::Must, start_ms: start, end_ms: end, downs: vec![(start, end)] }
    }
    fn flap(start: i64) -> Episode {
        Episode {
            kind: Kind::MustNot,
            start_ms: start,
            end_ms: start + 500,
            downs: vec![(start, start + 500)],
        }
    }
    fn flip(event_id: i64, check: usize, offline: bool, at_ms: i64, term: i64) -> Flip {
        Flip { event_id, check, offline, at_ms, term }
    }
    fn note(event_id: i64) -> Note {
        Note { key: format!("bm-{event_id}-1"), event_id }
    }

    #[test]
    fn draws_are_reproducible_and_flaps_never_cover_consecutive_rounds() {
        let a = Timeline::draw(&mut StdRng::seed_from_u64(7), 2_000, 2, 600_000);
        let b = Timeline::draw(&mut StdRng::seed_from_u64(7), 2_000, 2, 600_000);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert!(!a.episodes.is_empty());
        for e in &a.episodes {
            if e.kind == Kind::MustNot {
                for t in (e.start_ms..e.end_ms).step_by(50) {
                    assert!(
                        !(a.is_down(t) && a.is_down(t + 2_000)),
                        "rounds at {t} and +1 interval both down"
                    );
                }
            } else {
                assert!(e.end_ms - e.start_ms >= 14_000);
                assert!(a.is_down(e.start_ms) && !a.is_down(e.end_ms));
            }
        }
    }

    #[test]
    fn a_clean_run_holds() {
        let tl = vec![Timeline { episodes: vec![must(1_000, 20_000), flap(90_000)] }];
        let flips = [flip(1, 0, true, 8_000, 1), flip(2, 0, false, 27_000, 2)];
        let v = judge(&tl, &flips, &[note(1), note(2), note(2)]);
        assert!(v.holds(), "{v:?}");
        assert_eq!(v.duplicates_same_key, 1);
        assert_eq!(v.expected_flips, 2);
    }

    #[test]
    fn each_broken_invariant_is_counted() {
        let tl = vec![
            Timeline { episodes: vec![must(1_000, 20_000)] },
            Timeline { episodes: vec![flap(1_000)] },
            Timeline { episodes: vec![must(1_000, 20_000)] },
        ];
        let flips = [
            flip(1, 1, true, 3_000, 1),  // false: during a flap
            flip(2, 1, false, 9_000, 1), // its recovery
            flip(3, 2, true, 8_000, 2),
            flip(4, 2, true, 9_000, 1), // split brain and a repeated direction
        ];
        let v = judge(&tl, &flips, &[note(1), note(2), note(3), note(99)]);
        assert_eq!(v.lost_flips, 2 + 1, "check 0 never flipped; check 2 left offline");
        assert_eq!(v.lost_notifications, 1, "event 4");
        assert_eq!(v.false_flips, 1);
        assert_eq!(v.phantom_notifications, 1);
        assert_eq!(v.duplicates_unexplained, 1);
        assert_eq!(v.split_brain_commits, 1);
        assert!(!v.holds());
    }
}
