//! Which worker runs which check, and what each worker still has to learn.
//!
//! Checks are spread with bounded rendezvous hashing: each check ranks the live workers by a
//! hash of (check, worker) and goes to the best-ranked one that holds fewer than
//! `ceil(checks / workers)`. So the load is even, and when a worker joins or leaves only the
//! checks that must move do (gobearmon had no assignment at all, only a 2-minute lock).
//!
//! Each worker's copy is versioned. A worker reports the version it holds with every sync;
//! the controller answers with the changes since the version it last acknowledged (an
//! idempotent set of upserts and removes), or the whole list when the worker holds nothing
//! this controller knows (after a restart or a failover).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// What a worker must be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    pub version: u64,
    pub full: bool,
    pub upserts: Vec<i64>,
    pub removes: Vec<i64>,
}

#[derive(Debug, Default, Clone)]
struct Copy {
    checks: BTreeSet<i64>,
    version: u64,
    /// The version the worker last confirmed holding; `None` until it holds a full list.
    acked: Option<u64>,
    /// Changes since `acked`: `true` upsert, `false` remove.
    delta: BTreeMap<i64, bool>,
    /// The version a full list was last sent as, not yet acknowledged.
    full_sent: Option<u64>,
}

impl Copy {
    fn touch(&mut self, id: i64, upsert: bool, version: u64) {
        self.version = version;
        self.delta.insert(id, upsert);
    }
}

/// The assignment of checks to live workers.
#[derive(Debug, Default)]
pub struct Assignment {
    /// Worker names are shared (`Arc<str>`): one allocation per worker, not per check.
    owner: HashMap<i64, Arc<str>>,
    names: BTreeMap<String, Arc<str>>,
    copies: BTreeMap<String, Copy>,
    /// Checks with no worker to run them (none was live when they were added, or every
    /// worker left at once): placed as soon as a worker is live again. Without this, a
    /// controller whose first assignment found no worker synced yet ran nothing, ever.
    unplaced: BTreeSet<i64>,
    /// Versions are drawn from one counter, so a copy made for a worker that left and came
    /// back never reuses a number the worker may still hold.
    last_version: u64,
}

fn rank(check: i64, worker: &str) -> u64 {
    let mut h = DefaultHasher::new();
    check.hash(&mut h);
    worker.hash(&mut h);
    h.finish()
}

impl Assignment {
    pub fn owner(&self, check: i64) -> Option<&str> {
        self.owner.get(&check).map(|w| &**w)
    }

    pub fn count(&self, worker: &str) -> usize {
        self.copies.get(worker).map_or(0, |c| c.checks.len())
    }

    pub fn workers(&self) -> impl Iterator<Item = &String> {
        self.copies.keys()
    }

    fn cap(&self, extra: usize) -> usize {
        let n = self.owner.len() + extra;
        let w = self.copies.len().max(1);
        n.div_ceil(w).max(1)
    }

    fn pick(&self, check: i64, cap: usize) -> Option<String> {
        let mut ranked: Vec<&String> = self.copies.keys().collect();
        ranked.sort_by_key(|w| std::cmp::Reverse(rank(check, w)));
        let best = ranked.iter().find(|w| self.count(w) < cap).or(ranked.first());
        best.map(|w| (*w).clone())
    }

    fn next_version(&mut self) -> u64 {
        self.last_version += 1;
        self.last_version
    }

    fn give(&mut self, check: i64, worker: String) {
        let v = self.next_version();
        if let Some(c) = self.copies.get_mut(&worker) {
            c.checks.insert(check);
            c.touch(check, true, v);
        }
        let name = self.names.entry(worker.clone()).or_insert_with(|| Arc::from(worker.as_str())).clone();
        self.owner.insert(check, name);
    }

    fn take(&mut self, check: i64) -> Option<String> {
        let w = self.owner.remove(&check)?;
        let v = self.next_version();
        if let Some(c) = self.copies.get_mut(&*w) {
            c.checks.remove(&check);
            c.touch(check, false, v);
        }
        Some(w.to_string())
    }

    /// Adds a check (or re-sends a changed one to its worker). Returns its worker.
    pub fn upsert(&mut self, check: i64) -> Option<String> {
        if let Some(w) = self.owner.get(&check).cloned() {
            let v = self.next_version();
            if let Some(c) = self.copies.get_mut(&*w) {
                c.touch(check, true, v);
            }
            return Some(w.to_string());
        }
        let cap = self.cap(1);
        let Some(w) = self.pick(check, cap) else {
            self.unplaced.insert(check);
            return None;
        };
        self.unplaced.remove(&check);
        self.give(check, w.clone());
        Some(w)
    }

    /// Removes a check (deleted, disabled or now invalid).
    pub fn remove(&mut self, check: i64) {
        self.unplaced.remove(&check);
        self.take(check);
    }

    /// Checks that no worker runs.
    pub fn unplaced(&self) -> usize {
        self.unplaced.len()
    }

    /// Sets the live workers and moves what must move: checks of departed workers, and
    /// checks above the even share when workers joined. Returns the checks that moved.
    pub fn set_workers(&mut self, live: &BTreeSet<String>) -> Vec<i64> {
        let departed: Vec<String> = self.copies.keys().filter(|w| !live.contains(*w)).cloned().collect();
        let joined = live.iter().any(|w| !self.copies.contains_key(w));
        if departed.is_empty() && !joined {
            return Vec::new();
        }
        let mut orphans: Vec<i64> = std::mem::take(&mut self.unplaced).into_iter().collect();
        for w in &departed {
            if let Some(c) = self.copies.remove(w) {
                orphans.extend(c.checks);
            }
        }
        for id in &orphans {
            self.owner.remove(id);
        }
        for w in live {
            self.copies.entry(w.clone()).or_default();
        }
        if self.copies.is_empty() {
            self.unplaced.extend(orphans);
            return Vec::new();
        }
        // The share counts the orphans, which are no longer in `owner`.
        let cap = self.cap(orphans.len());
        // Shed checks above the share, those that rank the holder lowest first.
        let holders: Vec<String> = self.copies.keys().cloned().collect();
        for w in holders {
            let held = self.count(&w);
            if held <= cap {
                continue;
            }
            let mut mine: Vec<i64> = self.copies[&w].checks.iter().copied().collect();
            mine.sort_by_key(|c| rank(*c, &w));
            for c in mine.into_iter().take(held - cap) {
                self.take(c);
                orphans.push(c);
            }
        }
        orphans.sort_unstable();
        for &c in &orphans {
            if let Some(w) = self.pick(c, cap) {
                self.give(c, w);
            }
        }
        orphans
    }

    /// What `worker`, holding `version`, must be sent; `None` when its copy is current.
    pub fn changes_for(&mut self, worker: &str, version: u64) -> Option<Changes> {
        if self.copies.get(worker)?.version == 0 {
            let v = self.next_version();
            self.copies.get_mut(worker)?.version = v;
        }
        let c = self.copies.get_mut(worker)?;
        if c.full_sent == Some(version) {
            // The full list arrived; `delta` holds exactly what changed since.
            c.acked = Some(version);
            c.full_sent = None;
        }
        if c.acked.is_some() && version == c.version {
            c.acked = Some(version);
            c.delta.clear();
            return None;
        }
        if c.acked.is_some_and(|a| version >= a && version < c.version) {
            let (ups, rems): (Vec<_>, Vec<_>) = c.delta.iter().partition(|(_, up)| **up);
            return Some(Changes {
                version: c.version,
                full: false,
                upserts: ups.into_iter().map(|(id, _)| *id).collect(),
                removes: rems.into_iter().map(|(id, _)| *id).collect(),
            });
        }
        // The worker holds nothing we know of: send everything, and count from here.
        c.acked = None;
        c.full_sent = Some(c.version);
        c.delta.clear();
        Some(Changes {
            version: c.version,
            full: true,
            upserts: c.checks.iter().copied().collect(),
            removes: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn spreads_evenly_and_moves_little() {
        let mut a = Assignment::default();
        a.set_workers(&live(&["a", "b", "c"]));
        for id in 0..300 {
            a.upsert(id);
        }
        for w in ["a", "b", "c"] {
            assert_eq!(a.count(w), 100, "{w}");
        }
        let before: HashMap<i64, String> = (0..300).map(|i| (i, a.owner(i).unwrap().to_string())).collect();
        let moved = a.set_workers(&live(&["a", "b"]));
        assert_eq!(moved.len(), 100, "only c's checks move");
        assert_eq!(a.count("a") + a.count("b"), 300);
        assert!(a.count("a") <= 150 && a.count("b") <= 150, "{} {}", a.count("a"), a.count("b"));
        let moved = a.set_workers(&live(&["a", "b", "c", "d"]));
        assert!(moved.len() <= 160, "{} moved", moved.len());
        for w in ["a", "b", "c", "d"] {
            assert_eq!(a.count(w), 75, "{w}");
        }
        let kept = (0..300).filter(|i| a.owner(*i) == Some(before[i].as_str())).count();
        assert!(kept >= 140, "{kept}");
    }

    /// Found by scripts/chaos.sh: a controller whose first assignment came before any worker
    /// had synced placed nothing, and the workers that joined later got nothing to run.
    #[test]
    fn checks_added_with_no_worker_are_placed_when_workers_come() {
        let mut a = Assignment::default();
        for id in 0..10 {
            assert_eq!(a.upsert(id), None);
        }
        assert_eq!(a.unplaced(), 10);
        a.set_workers(&live(&["a", "b"]));
        assert_eq!(a.unplaced(), 0);
        assert_eq!(a.count("a") + a.count("b"), 10);
        // Every worker gone at once, then one back: nothing is forgotten.
        a.set_workers(&live(&[]));
        assert_eq!(a.unplaced(), 10);
        a.remove(3);
        a.set_workers(&live(&["c"]));
        assert_eq!(a.count("c"), 9);
        assert_eq!(a.owner(3), None);
    }

    #[test]
    fn a_worker_gets_everything_then_deltas() {
        let mut a = Assignment::default();
        a.set_workers(&live(&["a"]));
        a.upsert(1);
        a.upsert(2);
        let full = a.changes_for("a", 0).unwrap();
        assert!(full.full);
        assert_eq!(full.upserts, vec![1, 2]);
        assert_eq!(a.changes_for("a", full.version), None);
        a.upsert(3);
        a.remove(1);
        let d = a.changes_for("a", full.version).unwrap();
        assert!(!d.full);
        assert_eq!((d.upserts.clone(), d.removes.clone()), (vec![3], vec![1]));
        // Lost answer: the worker asks again from the same version and gets the same.
        assert_eq!(a.changes_for("a", full.version), Some(d.clone()));
        assert_eq!(a.changes_for("a", d.version), None);
        // A restarted worker gets the whole list.
        let again = a.changes_for("a", 0).unwrap();
        assert!(again.full);
        assert_eq!(again.upserts, vec![2, 3]);
    }
}
