//! Per-check decision state: the current status, the streak of contrary rounds and the round
//! being decided.

use std::collections::BTreeSet;

use crate::check::Verdict;

/// The state a check can be in (gobearmon's `checks.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Online,
    Offline,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Offline => "offline",
        }
    }
    fn opposite(self) -> Status {
        match self {
            Status::Online => Status::Offline,
            Status::Offline => Status::Online,
        }
    }
    fn of(verdict: Verdict) -> Option<Status> {
        match verdict {
            Verdict::Online => Some(Status::Online),
            Verdict::Offline => Some(Status::Offline),
            Verdict::Error => None,
        }
    }
}

/// One worker's result for one round of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Report<'a> {
    pub worker: &'a str,
    pub round: u64,
    pub verdict: Verdict,
    /// When the result arrived (seconds, any epoch): carried into [`Action::Flip`].
    pub at: u64,
}

/// What the controller must do after a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run the check now on these workers, for this round.
    Ask { round: u64, workers: Vec<String> },
    /// A contrary round completed without reaching the flip: `streak` of `delay + 1`.
    Counted { round: u64, streak: u32 },
    /// The state flips.
    Flip { to: Status, round: u64, at: u64 },
}

#[derive(Debug, Clone)]
struct OpenRound {
    round: u64,
    /// Workers that reported the contrary result.
    votes: BTreeSet<String>,
    /// Workers asked (or that reported unasked) in this round.
    asked: BTreeSet<String>,
    /// Workers that could not run the check (errors, or gone): not votes.
    failed: BTreeSet<String>,
}

/// Decision state of one check.
#[derive(Debug, Clone)]
pub struct Decider {
    check_id: i64,
    status: Status,
    streak: u32,
    /// Boxed: most checks have no round open, and the controller holds one per check.
    open: Option<Box<OpenRound>>,
    /// The newest round that completed (contrary) or was refuted: older reports are stale.
    settled: Option<u64>,
    /// When the last completed round counted fewer votes than the workers there were could
    /// give (others could not run the check): (votes, wanted), capped at 255.
    weak: Option<(u8, u8)>,
}

impl Decider {
    pub fn new(check_id: i64, status: Status) -> Self {
        Decider { check_id, status, streak: 0, open: None, settled: None, weak: None }
    }

    /// Continues a streak an earlier controller recorded.
    pub fn with_streak(mut self, streak: u32) -> Self {
        self.streak = streak;
        self
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// Consecutive contrary rounds so far.
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// `Some((votes, wanted))` when the last completed round rested on fewer votes than
    /// `confirmations` (or every worker there was, if fewer) because workers could not run
    /// the check: errors silently weaken confirmations, so the controller reports the check
    /// as degraded. A fewer-workers-than-confirmations cluster is reported by
    /// [`super::degraded`] instead.
    pub fn weakened(&self) -> Option<(u8, u8)> {
        self.weak
    }

    /// Feeds one result. `live` lists the workers able to run the check now.
    pub fn on_report(
        &mut self,
        r: &Report<'_>,
        live: &[&str],
        confirmations: usize,
        delay: u32,
    ) -> Vec<Action> {
        if self.settled.is_some_and(|s| r.round <= s) {
            return Vec::new();
        }
        let seen = Status::of(r.verdict);
        let mut round = r.round;
        if let Some(open) = &self.open {
            if r.round < open.round {
                return Vec::new();
            }
            if r.round > open.round {
                match seen {
                    // A newer contrary result joins the round still being decided: its
                    // votes are never thrown away. (When confirmers answer later than the
                    // next scheduled run, which a hanging target and an interval little
                    // longer than the timeout cause, dropping it meant no round ever
                    // completed and the check never flipped.)
                    Some(s) if s != self.status => round = open.round,
                    // A newer agreeing result refutes it, below.
                    Some(_) => {}
                    // A newer run that could not run the check changes nothing: the open
                    // round still waits for its confirmers.
                    None => return Vec::new(),
                }
            }
        }
        let Some(seen) = seen else {
            return self.on_error(r, live, confirmations, delay);
        };
        if seen == self.status {
            self.streak = 0;
            self.open = None;
            self.settled = Some(r.round);
            return Vec::new();
        }
        let open = self.open.get_or_insert_with(|| {
            Box::new(OpenRound {
                round,
                votes: BTreeSet::new(),
                asked: BTreeSet::new(),
                failed: BTreeSet::new(),
            })
        });
        open.asked.insert(r.worker.to_string());
        // A worker that erred and then managed to run the check does vote.
        open.failed.remove(r.worker);
        open.votes.insert(r.worker.to_string());
        self.evaluate(r.at, live, confirmations, delay)
    }

    /// Tells the core that workers left (or a round's asked workers did not answer in time):
    /// asked workers not in `live` are no longer awaited.
    pub fn on_live_change(
        &mut self,
        live: &[&str],
        at: u64,
        confirmations: usize,
        delay: u32,
    ) -> Vec<Action> {
        let Some(open) = &mut self.open else { return Vec::new() };
        let gone: Vec<String> = open
            .asked
            .iter()
            .filter(|w| !open.votes.contains(*w) && !live.contains(&w.as_str()))
            .cloned()
            .collect();
        if gone.is_empty() {
            return Vec::new();
        }
        open.failed.extend(gone);
        self.evaluate(at, live, confirmations, delay)
    }

    fn on_error(&mut self, r: &Report<'_>, live: &[&str], confirmations: usize, delay: u32) -> Vec<Action> {
        // An error outside a round changes nothing: the next interval runs the check again.
        let Some(open) = &mut self.open else { return Vec::new() };
        if r.round != open.round || open.votes.contains(r.worker) {
            // A vote already given stands; a late error from the same worker changes nothing.
            return Vec::new();
        }
        open.asked.insert(r.worker.to_string());
        open.failed.insert(r.worker.to_string());
        self.evaluate(r.at, live, confirmations, delay)
    }

    /// Completes the open round when it has `q` votes, otherwise asks the workers still
    /// needed.
    fn evaluate(&mut self, at: u64, live: &[&str], confirmations: usize, delay: u32) -> Vec<Action> {
        let Some(open) = &mut self.open else { return Vec::new() };
        // Able: live workers that have not failed, plus voters (a voter that has since died
        // still voted).
        let mut able: BTreeSet<&str> = live.iter().copied().filter(|w| !open.failed.contains(*w)).collect();
        able.extend(open.votes.iter().map(String::as_str));
        let q = confirmations.max(1).min(able.len()).max(1);
        if open.votes.len() >= q {
            let mut reachable: BTreeSet<&str> = live.iter().copied().collect();
            reachable.extend(open.votes.iter().map(String::as_str));
            let wanted = confirmations.max(1).min(reachable.len());
            let cap = |n: usize| u8::try_from(n).unwrap_or(u8::MAX);
            self.weak = (open.votes.len() < wanted).then(|| (cap(open.votes.len()), cap(wanted)));
            let round = open.round;
            self.open = None;
            self.settled = Some(round);
            self.streak += 1;
            if self.streak > delay {
                self.status = self.status.opposite();
                self.streak = 0;
                return vec![Action::Flip { to: self.status, round, at }];
            }
            return vec![Action::Counted { round, streak: self.streak }];
        }
        // Votes and failures are disjoint subsets of the asked workers (kept so where they are
        // written); the subtraction saturates only so a broken invariant cannot panic a
        // release controller.
        debug_assert!(
            open.votes.is_disjoint(&open.failed)
                && open.votes.union(&open.failed).all(|w| open.asked.contains(w))
        );
        let pending = open.asked.len().saturating_sub(open.votes.len() + open.failed.len());
        let missing = q - open.votes.len();
        if pending >= missing {
            return Vec::new();
        }
        let mut candidates: Vec<&str> = able.iter().copied().filter(|w| !open.asked.contains(*w)).collect();
        if candidates.is_empty() {
            return Vec::new();
        }
        // Rotate the vantage points by check and round, deterministically.
        let n = candidates.len();
        let start = (self.check_id.unsigned_abs().wrapping_add(open.round) % n as u64) as usize;
        candidates.rotate_left(start);
        let chosen: Vec<String> =
            candidates.into_iter().take(missing - pending).map(str::to_string).collect();
        open.asked.extend(chosen.iter().cloned());
        vec![Action::Ask { round: open.round, workers: chosen }]
    }
}
