//! `cached_check_horizon`: a worker keeps the last result of each check whose definition
//! has a horizon, and answers a confirmation ask with it while it is younger than the
//! horizon instead of running the check again (Nagios's cached checks, for checks whose
//! run is costly: a plugin, a slow target). Hits and misses are counted in `/metrics`.
//! Checks without a horizon never touch it.

use std::collections::HashMap;
use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;

use crate::check::Outcome;
use crate::util::lock;

/// Results kept at most; past this the cache starts over (entries are per check).
const CAPACITY: usize = 65_536;

/// The last result of each check with a horizon.
#[derive(Debug, Default)]
pub struct Cache {
    kept: Mutex<HashMap<i64, (i64, Outcome)>>,
    hits: Counter,
    misses: Counter,
}

impl Cache {
    pub fn new(hits: Counter, misses: Counter) -> Self {
        Cache { kept: Mutex::default(), hits, misses }
    }

    /// Keeps `out`, a run of check `id` started at `started_ms` (unix ms). A local error is
    /// not a result worth reusing.
    pub fn keep(&self, id: i64, started_ms: i64, out: &Outcome) {
        if out.verdict == crate::check::Verdict::Error {
            return;
        }
        let mut kept = lock(&self.kept);
        if kept.len() >= CAPACITY && !kept.contains_key(&id) {
            kept.clear();
        }
        kept.insert(id, (started_ms, out.clone()));
    }

    /// The kept result of check `id` (its start, unix ms, and outcome) when it started at most
    /// `horizon_secs` before `now_ms`; counts a hit or a miss.
    pub fn fresh(&self, id: i64, horizon_secs: u64, now_ms: i64) -> Option<(i64, Outcome)> {
        let horizon_ms = i64::try_from(horizon_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let found =
            lock(&self.kept).get(&id).filter(|(at, _)| now_ms.saturating_sub(*at) <= horizon_ms).cloned();
        if found.is_some() { &self.hits } else { &self.misses }.inc();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_result_younger_than_the_horizon_is_reused_and_counted() {
        let c = Cache::default();
        assert!(c.fresh(1, 30, 1_000).is_none(), "nothing kept yet");
        c.keep(1, 1_000, &Outcome::offline("refused", Duration::from_millis(3)));
        c.keep(2, 1_000, &Outcome::error("no socket", Duration::ZERO));
        let (at, out) = c.fresh(1, 30, 31_000).expect("30 s old: within the horizon");
        assert_eq!((at, out.message.as_str()), (1_000, "refused"));
        assert!(c.fresh(1, 30, 31_001).is_none(), "older than the horizon");
        assert!(c.fresh(2, 30, 1_000).is_none(), "a local error is not kept");
        assert_eq!((c.hits.get(), c.misses.get()), (1, 3));
    }
}
