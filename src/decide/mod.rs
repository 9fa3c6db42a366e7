//! The decision core: when does a check flip? Pure and deterministic, no I/O, no clock:
//! feed it results (check, worker, round, verdict, time) and the live workers, read back
//! whom to ask for confirmation and when the state flips (SPEC §4).
//!
//! - A result that contradicts the state opens a *round*: the controller asks `q - 1` other
//!   workers at once, `q = min(confirmations, live workers able to run it)`.
//! - The round is contrary when `q` distinct workers report the contrary result; a single
//!   agreeing result ends the streak. A worker's own error is not a vote: it is replaced by
//!   another worker, or `q` shrinks when nobody is left.
//! - The state flips at the `delay + 1`-th consecutive contrary round, and the streak then
//!   starts from zero (gobearmon kept it and flipped straight back: its bug 7).
//!
//! Rounds are numbered by the scheduler (one per interval); a result for an older round
//! than the one being decided is stale and ignored. A newer contrary result joins the round
//! being decided (its votes are never thrown away); a newer agreeing one refutes it.

mod round;

pub use round::{Action, Decider, Report, Status};

/// True when fewer workers are live than the cluster's `confirmations`: checks still flip
/// (with `q` = live workers), but the cluster must say it is degraded.
pub fn degraded(live_workers: usize, confirmations: usize) -> bool {
    live_workers < confirmations
}

#[cfg(test)]
mod tests;
