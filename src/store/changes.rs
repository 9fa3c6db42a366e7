//! Reading the `bearmon_changes` log without missing a row.
//!
//! Sequence numbers are handed out when a transaction inserts, not when it commits, so a
//! reader can see seq 6 before seq 5 commits (PostgreSQL, MySQL). The cursor therefore keeps
//! a low watermark below which everything was seen, remembers what it saw above it, and
//! skips a hole only after [`GAP_GRACE`] (a rolled-back transaction leaves one for ever).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long a hole in the sequence is waited for before it is taken as a rollback.
pub const GAP_GRACE: Duration = Duration::from_secs(30);

/// Position in the change log.
#[derive(Debug, Clone, Default)]
pub struct ChangeCursor {
    /// Every seq at or below this was processed.
    low: i64,
    /// Seqs above `low` already processed.
    above: BTreeSet<i64>,
    /// Since when the seq right after `low` has been missing while later ones exist.
    gap_since: Option<Instant>,
}

impl ChangeCursor {
    /// A cursor that treats everything up to `seq` as seen.
    pub fn at(seq: i64) -> Self {
        ChangeCursor { low: seq, ..Default::default() }
    }

    /// Where the next poll must read from (exclusive).
    pub fn low(&self) -> i64 {
        self.low
    }

    /// Takes the seqs a poll returned (any order, repeats allowed) and returns those not seen
    /// before, advancing the watermark over contiguous ones.
    pub fn accept(&mut self, seqs: &[i64], now: Instant) -> Vec<i64> {
        let mut fresh = Vec::new();
        for &s in seqs {
            if s > self.low && self.above.insert(s) {
                fresh.push(s);
            }
        }
        self.advance();
        if self.above.is_empty() {
            self.gap_since = None;
        } else {
            let since = *self.gap_since.get_or_insert(now);
            if now.duration_since(since) >= GAP_GRACE {
                // The hole is a rollback: skip to the first seq seen after it.
                if let Some(&first) = self.above.iter().next() {
                    self.low = first - 1;
                }
                self.advance();
                self.gap_since = if self.above.is_empty() { None } else { Some(now) };
            }
        }
        fresh
    }

    fn advance(&mut self) {
        while self.above.remove(&(self.low + 1)) {
            self.low += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_seqs_advance() {
        let mut c = ChangeCursor::at(0);
        let t = Instant::now();
        assert_eq!(c.accept(&[1, 2, 3], t), vec![1, 2, 3]);
        assert_eq!(c.low(), 3);
        assert!(c.accept(&[], t).is_empty());
    }

    #[test]
    fn a_late_commit_is_not_missed() {
        let mut c = ChangeCursor::at(4);
        let t = Instant::now();
        // 6 committed before 5: 5 must still be read later.
        assert_eq!(c.accept(&[6], t), vec![6]);
        assert_eq!(c.low(), 4, "the watermark waits below the hole");
        // The next poll returns 6 again (seq > 4) and now 5: only 5 is new.
        assert_eq!(c.accept(&[5, 6], t + Duration::from_secs(1)), vec![5]);
        assert_eq!(c.low(), 6);
    }

    #[test]
    fn a_rolled_back_seq_is_skipped_after_the_grace() {
        let mut c = ChangeCursor::at(0);
        let t = Instant::now();
        c.accept(&[2, 3], t);
        assert_eq!(c.low(), 0);
        assert!(c.accept(&[2, 3], t + Duration::from_secs(5)).is_empty());
        assert_eq!(c.low(), 0);
        c.accept(&[2, 3], t + GAP_GRACE);
        assert_eq!(c.low(), 3);
        assert_eq!(c.accept(&[4], t + GAP_GRACE), vec![4]);
    }
}
