//! Scheduled downtime, from the seed's "Scheduled Downtime" section, pure: which checks are
//! in downtime at a time, and the edges (start, end, cancelled) to notify.
//!
//! - fixed: in effect from `start_time` to `end_time`;
//! - flexible (`fixed = 0`): starts when the check is in a problem inside the window (at the
//!   flip, or at the window's start when the problem is older), lasts `duration` seconds
//!   from then, even past the window and even if the check recovers;
//! - triggered (`trigger_id`): starts when the downtime it names starts, lasts to its own
//!   `end_time` when fixed, `duration` when flexible;
//! - overlapping downtimes of a check make one: a check enters downtime once and leaves it
//!   when the last ends ("Shinken will wait until the last period of scheduled downtime is
//!   over"); a cancelled row (or one deleted) that ends it makes the edge `Cancelled`.
//!
//! When a flexible or triggered downtime began is kept in memory; a new controller finds it
//! again from the check's problem (flexible) or its trigger's start (triggered).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// One row of `downtimes`, parsed (times in unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downtime {
    pub id: i64,
    pub check_id: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub fixed: bool,
    pub duration_ms: i64,
    pub trigger_id: Option<i64>,
    pub cancelled: bool,
    pub author: String,
    pub comment: String,
}

/// A check entering or leaving downtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Start { check_id: i64, downtime_id: i64 },
    End { check_id: i64, downtime_id: i64 },
    Cancelled { check_id: i64, downtime_id: i64 },
}

/// The downtime rows and which are in effect.
#[derive(Debug, Default, Clone)]
pub struct Downtimes {
    rows: BTreeMap<i64, Arc<Downtime>>,
    /// When each flexible, triggered or running fixed downtime began (unix ms).
    started: HashMap<i64, i64>,
    /// Per check, the downtimes in effect at the last [`Downtimes::tick`].
    active: BTreeMap<i64, BTreeSet<i64>>,
}

/// How deep a chain of triggered downtimes is followed in one tick.
const TRIGGER_DEPTH: usize = 8;

impl Downtimes {
    /// Replaces the rows (a reload); what is in effect is kept until the next tick.
    pub fn set_rows(&mut self, rows: impl IntoIterator<Item = Downtime>) {
        self.rows = rows.into_iter().map(|d| (d.id, Arc::new(d))).collect();
        self.started.retain(|id, _| self.rows.contains_key(id));
    }

    pub fn rows(&self) -> impl Iterator<Item = &Arc<Downtime>> {
        self.rows.values()
    }

    pub fn get(&self, id: i64) -> Option<&Arc<Downtime>> {
        self.rows.get(&id)
    }

    pub fn in_downtime(&self, check_id: i64) -> bool {
        self.active.contains_key(&check_id)
    }

    /// The downtimes in effect for a check.
    pub fn active_for(&self, check_id: i64) -> Vec<Arc<Downtime>> {
        self.active
            .get(&check_id)
            .map(|ids| ids.iter().filter_map(|id| self.rows.get(id).cloned()).collect())
            .unwrap_or_default()
    }

    fn running(&self, d: &Downtime, now_ms: i64) -> bool {
        if d.cancelled {
            return false;
        }
        match self.started.get(&d.id) {
            Some(s) if *s <= now_ms => {
                if d.fixed {
                    now_ms < d.end_ms
                } else {
                    now_ms < s.saturating_add(d.duration_ms)
                }
            }
            _ => false,
        }
    }

    /// Works out what is in effect at `now_ms` and returns the edges since the last tick.
    /// `problem_since(check)` is when the check's current problem began, `None` when it is OK.
    pub fn tick(&mut self, now_ms: i64, problem_since: impl Fn(i64) -> Option<i64>) -> Vec<Edge> {
        for d in self.rows.values() {
            if d.cancelled || d.trigger_id.is_some() || self.started.contains_key(&d.id) {
                continue;
            }
            let in_window = d.start_ms <= now_ms && now_ms < d.end_ms;
            if d.fixed && in_window {
                self.started.insert(d.id, d.start_ms);
            } else if !d.fixed
                && in_window
                && let Some(since) = problem_since(d.check_id)
            {
                self.started.insert(d.id, since.max(d.start_ms));
            }
        }
        for _ in 0..TRIGGER_DEPTH {
            let mut more = false;
            for d in self.rows.values() {
                let Some(t) = d.trigger_id else { continue };
                if d.cancelled || self.started.contains_key(&d.id) {
                    continue;
                }
                if let Some(s) = self.started.get(&t).copied()
                    && s <= d.end_ms
                {
                    self.started.insert(d.id, s);
                    more = true;
                }
            }
            if !more {
                break;
            }
        }
        let mut now_active: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
        for d in self.rows.values() {
            if self.running(d, now_ms) {
                now_active.entry(d.check_id).or_default().insert(d.id);
            }
        }
        let mut edges = Vec::new();
        for (check, ids) in &now_active {
            if !self.active.contains_key(check) {
                edges.push(Edge::Start { check_id: *check, downtime_id: *ids.first().unwrap_or(&0) });
            }
        }
        for (check, ids) in &self.active {
            if now_active.contains_key(check) {
                continue;
            }
            let cancelled = ids.iter().find(|id| self.rows.get(id).is_none_or(|d| d.cancelled));
            let last = *ids.last().unwrap_or(&0);
            edges.push(match cancelled {
                Some(id) => Edge::Cancelled { check_id: *check, downtime_id: *id },
                None => Edge::End { check_id: *check, downtime_id: last },
            });
        }
        self.active = now_active;
        edges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn dt(id: i64, start: i64, end: i64, fixed: bool, duration: i64) -> Downtime {
        Downtime {
            id,
            check_id: 1,
            start_ms: start * MIN,
            end_ms: end * MIN,
            fixed,
            duration_ms: duration * MIN,
            trigger_id: None,
            cancelled: false,
            author: String::new(),
            comment: String::new(),
        }
    }

    fn ok(_: i64) -> Option<i64> {
        None
    }

    #[test]
    fn fixed_downtime_starts_and_stops_at_its_times() {
        // Seed: "'Fixed' downtime starts and stops at the exact start and end times that you specify".
        let mut d = Downtimes::default();
        d.set_rows([dt(1, 10, 20, true, 0)]);
        assert!(d.tick(5 * MIN, ok).is_empty());
        assert_eq!(d.tick(10 * MIN, ok), vec![Edge::Start { check_id: 1, downtime_id: 1 }]);
        assert!(d.in_downtime(1));
        assert!(d.tick(19 * MIN, ok).is_empty());
        assert_eq!(d.tick(20 * MIN, ok), vec![Edge::End { check_id: 1, downtime_id: 1 }]);
        assert!(!d.in_downtime(1));
    }

    #[test]
    fn flexible_downtime_starts_at_the_problem_and_lasts_its_duration() {
        // Seed: "The time at which a host or service transitions to a problem state determines
        // the time at which Shinken actually starts the downtime. The downtime will then last
        // for the duration you specified, even if the host or service recovers".
        let mut d = Downtimes::default();
        d.set_rows([dt(1, 0, 60, false, 30)]);
        assert!(d.tick(10 * MIN, ok).is_empty(), "no problem yet: not started");
        let down_at = |_: i64| Some(20 * MIN);
        assert_eq!(d.tick(20 * MIN, down_at), vec![Edge::Start { check_id: 1, downtime_id: 1 }]);
        // The check recovers at 25 min: the downtime goes on to 50.
        assert!(d.tick(49 * MIN, ok).is_empty());
        assert_eq!(d.tick(50 * MIN, ok), vec![Edge::End { check_id: 1, downtime_id: 1 }]);
        // A problem outside the window starts nothing.
        let mut d = Downtimes::default();
        d.set_rows([dt(1, 0, 60, false, 30)]);
        assert!(d.tick(61 * MIN, |_| Some(61 * MIN)).is_empty());
    }

    #[test]
    fn overlapping_downtimes_end_when_the_last_ends() {
        // Seed: 7:30pm-9:30pm, then 9:20pm-1:30am: "notifications would be suppressed for
        // host A until 1:30am Tuesday morning". Minutes from 7:30pm.
        let mut d = Downtimes::default();
        d.set_rows([dt(1, 0, 120, true, 0), dt(2, 110, 360, true, 0)]);
        assert_eq!(d.tick(0, ok), vec![Edge::Start { check_id: 1, downtime_id: 1 }]);
        assert!(d.tick(115 * MIN, ok).is_empty());
        assert!(d.tick(121 * MIN, ok).is_empty(), "9:31pm: still in the second downtime");
        assert!(d.in_downtime(1));
        assert_eq!(d.tick(360 * MIN, ok), vec![Edge::End { check_id: 1, downtime_id: 2 }]);
    }

    #[test]
    fn a_cancelled_downtime_says_so() {
        // Seed: "If the scheduled downtime is cancelled prematurely (before it expires), a
        // 'DOWNTIMECANCELLED' notification will get sent out".
        let mut d = Downtimes::default();
        d.set_rows([dt(1, 0, 60, true, 0)]);
        d.tick(MIN, ok);
        let mut c = dt(1, 0, 60, true, 0);
        c.cancelled = true;
        d.set_rows([c]);
        assert_eq!(d.tick(2 * MIN, ok), vec![Edge::Cancelled { check_id: 1, downtime_id: 1 }]);
        // Deleted while running: cancelled too.
        let mut d = Downtimes::default();
        d.set_rows([dt(1, 0, 60, true, 0)]);
        d.tick(MIN, ok);
        d.set_rows([]);
        assert_eq!(d.tick(2 * MIN, ok), vec![Edge::Cancelled { check_id: 1, downtime_id: 1 }]);
    }

    #[test]
    fn triggered_downtime_starts_with_its_trigger() {
        // Seed: "With triggered downtime the start of the downtime is triggered by the start
        // of some other scheduled host or service downtime" (a host's flexible downtime
        // triggering its children's).
        let mut d = Downtimes::default();
        let parent = dt(1, 0, 120, false, 30);
        let mut child = dt(2, 0, 120, false, 30);
        child.check_id = 2;
        child.trigger_id = Some(1);
        d.set_rows([parent, child]);
        assert!(d.tick(10 * MIN, ok).is_empty());
        let edges = d.tick(40 * MIN, |c| (c == 1).then_some(40 * MIN));
        assert_eq!(
            edges,
            vec![Edge::Start { check_id: 1, downtime_id: 1 }, Edge::Start { check_id: 2, downtime_id: 2 }]
        );
        assert!(d.in_downtime(2));
        let edges = d.tick(70 * MIN, ok);
        assert_eq!(edges.len(), 2, "{edges:?}");
    }
}
