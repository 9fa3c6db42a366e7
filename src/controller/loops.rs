//! The loops of a controller term: the run loop (term renewal, the first assignment, the
//! change poll, round deadlines, the `worker` pseudo-checks, retention) and the commit loop
//! (fenced writes in order, retried while the database is down). Each returns
//! `Err(FenceError::Deposed)` once a newer term exists; `Controller::supervise` steps down.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Controller;
use super::state::{Commit, Effects};
use crate::store::{Delta, FenceError, Rollup, Watcher, events, outbox};
use crate::util::{Now, lock};

/// Rollup rows per transaction.
const ROLLUP_BATCH: usize = 500;
/// How often old history is deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(6 * 3600);
/// Hourly rollups are kept this many days.
const ROLLUP_DAYS: u32 = 90;
/// Delivered or failed notifications (and their attempts) are kept this many days.
const OUTBOX_DAYS: u32 = 30;

/// A database call that may fail for a while: logs the first failure and the recovery only.
#[derive(Debug, Default)]
struct Failing {
    now: bool,
    count: u64,
}

impl Failing {
    fn ok(&mut self, recovered: &str) {
        if self.now {
            tracing::info!("{recovered}");
        }
        self.now = false;
        self.count = 0;
    }

    /// Records a failure; returns the number of successive failures.
    fn failed(&mut self, e: &dyn std::fmt::Display, what: &str) -> u64 {
        if !self.now {
            tracing::warn!(error = %e, "{what}; retrying");
        }
        self.now = true;
        self.count += 1;
        self.count
    }
}

impl Controller {
    pub(super) async fn run_loop(self: Arc<Self>, mut watcher: Watcher) -> Result<(), FenceError> {
        let tick = (self.timing.heartbeat() / 4).clamp(Duration::from_millis(50), Duration::from_millis(250));
        let settle = (self.timing.heartbeat() * 3 / 2).min(self.timing.dead_after());
        let (mut last_renew, mut last_poll, mut last_prune) =
            (Instant::now(), Instant::now(), Instant::now());
        let (mut renew, mut poll) = (Failing::default(), Failing::default());
        let mut was_degraded = false;
        loop {
            let hinted = tokio::select! {
                () = tokio::time::sleep(tick) => false,
                () = self.superseded.notified() => true,
                () = self.stop.cancelled() => return Ok(()),
            };
            if hinted || last_renew.elapsed() >= self.timing.heartbeat() {
                last_renew = Instant::now();
                match self.fence.renew().await {
                    Ok(()) => {
                        renew.ok("database reachable again");
                        self.admin.db_ok("term renewal");
                    }
                    Err(e @ FenceError::Deposed { .. }) => return Err(e),
                    Err(e) => {
                        renew.failed(&e, "cannot renew the term in the database");
                        self.admin.db_failed("term renewal", &e);
                    }
                }
            }
            let mut out = Effects::default();
            if !self.assigning() && self.started.elapsed() >= settle {
                let mut inner = self.lock();
                inner.refresh_membership(Now::read(), &mut out);
                inner.assign_all();
                self.assigning.store(true, Ordering::Relaxed);
                tracing::info!(workers = inner.members.len(), "first assignment made");
            }
            if last_poll.elapsed() >= self.timing.db_poll() {
                last_poll = Instant::now();
                self.poll_changes(&mut watcher, &mut poll).await;
            }
            if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = Instant::now();
                self.prune().await;
            }
            self.tick_state(&mut out, &mut was_degraded);
            self.dispatch(out);
        }
    }

    /// Reads the change log and applies what changed: checks to the state, contacts to the
    /// contact book.
    async fn poll_changes(&self, watcher: &mut Watcher, failing: &mut Failing) {
        match watcher.poll().await {
            Ok(deltas) => {
                failing.ok("reading the database again");
                self.admin.db_ok("change poll");
                let now = Now::read();
                // The policy tables are read outside the state's lock.
                let policy = if deltas.contains(&Delta::Policy) {
                    match super::load_policy(self.fence.db(), watcher.snapshot(), now).await {
                        Ok(rows) => Some(rows),
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot read the policy tables; keeping what was read before");
                            None
                        }
                    }
                } else {
                    None
                };
                let assigning = self.assigning();
                let mut inner = self.lock();
                if let Some(rows) = policy {
                    inner.policy.book.load(rows, self.policy_tz.clone());
                    inner.policy.reloaded();
                }
                for d in deltas {
                    if let Delta::Contact(id) = d {
                        let row = watcher.snapshot().contacts.get(&id);
                        lock(&self.contacts).set(id, row.map(|c| (c.kind.as_str(), c.data.as_str())));
                        match row {
                            Some(c) => inner.policy.book.set_contact(id, c.options.as_deref()),
                            None => inner.policy.book.remove_contact(id),
                        }
                    }
                    inner.on_delta(d, assigning, now);
                }
            }
            Err(e) => {
                failing.failed(&e, "cannot poll the database for changed checks");
                self.admin.db_failed("change poll", &e);
            }
        }
    }

    /// Membership, round deadlines, the `worker` pseudo-checks and the degraded state.
    fn tick_state(&self, out: &mut Effects, was_degraded: &mut bool) {
        let now = Now::read();
        let mut inner = self.lock();
        if self.assigning() {
            inner.refresh_membership(now, out);
        }
        inner.expire_rounds(now, out);
        inner.tick_check_periods(now, self.assigning());
        inner.tick_policy(now, out);
        if self.started.elapsed() >= self.timing.dead_after() {
            inner.eval_worker_checks(now, out);
        }
        let live = inner.live(now.mono).len();
        self.metrics.workers_live.set(live as i64);
        self.metrics.checks_degraded.set(inner.weakened_checks() as i64);
        let degraded = crate::decide::degraded(live, self.confirmations);
        self.metrics.degraded.set(i64::from(degraded));
        if degraded != *was_degraded && self.assigning() {
            if degraded {
                tracing::warn!(
                    live,
                    confirmations = self.confirmations,
                    "cluster degraded: fewer live workers than confirmations; flipping with the workers there are"
                );
                self.admin.send(
                    "bearmon: cluster degraded",
                    &format!(
                        "Controller {} (term {}): {live} live workers, fewer than the {} confirmations a flip asks \
                         for. Checks still flip, on the votes of the workers there are.",
                        self.name,
                        self.term(),
                        self.confirmations
                    ),
                );
            } else {
                tracing::info!(live, confirmations = self.confirmations, "cluster no longer degraded");
            }
            *was_degraded = degraded;
        }
    }

    /// Deletes rollups and finished outbox rows past their retention (any term may).
    async fn prune(&self) {
        match events::prune_rollups(self.fence.db(), ROLLUP_DAYS).await {
            Ok(n) if n > 0 => tracing::info!(rows = n, days = ROLLUP_DAYS, "pruned old rollups"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning rollups failed"),
        }
        match crate::store::stalking::prune(self.fence.db(), OUTBOX_DAYS).await {
            Ok(n) if n > 0 => tracing::info!(rows = n, days = OUTBOX_DAYS, "pruned old stalking events"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning stalking events failed"),
        }
        match outbox::prune(self.fence.db(), OUTBOX_DAYS).await {
            Ok(n) if n > 0 => tracing::info!(rows = n, days = OUTBOX_DAYS, "pruned delivered notifications"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning the outbox failed"),
        }
    }

    /// Applies commits in order, retrying while the database is down. Hourly rollups (up to
    /// one per check at each hour's end) are written in batches between the other commits,
    /// so a flip never waits behind 100,000 of them.
    pub(super) async fn commit_loop(
        self: Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<Commit>,
    ) -> Result<(), FenceError> {
        let mut rollups: VecDeque<Rollup> = VecDeque::new();
        loop {
            let mut batch = Vec::new();
            if rollups.is_empty() {
                tokio::select! {
                    c = rx.recv() => match c { Some(c) => batch.push(c), None => return Ok(()) },
                    () = self.stop.cancelled() => return Ok(()),
                }
            }
            while let Ok(c) = rx.try_recv() {
                batch.push(c);
            }
            for c in batch {
                match c {
                    Commit::Rollup(r) => rollups.push_back(r),
                    other => self.with_retry(&other).await?,
                }
                if self.stop.is_cancelled() {
                    return Ok(());
                }
            }
            if !rollups.is_empty() {
                let n = rollups.len().min(ROLLUP_BATCH);
                let chunk: Vec<Rollup> = rollups.drain(..n).collect();
                self.with_retry(&Commit::Rollups(chunk)).await?;
            }
            if self.stop.is_cancelled() {
                return Ok(());
            }
        }
    }

    /// Applies one commit, retrying with backoff until it is written, the controller stops
    /// (`Ok`, nothing written) or the database refuses the term.
    async fn with_retry(&self, c: &Commit) -> Result<(), FenceError> {
        let mut backoff = Duration::from_millis(250);
        loop {
            let r = match c {
                Commit::Flip(flip) => self.fence.commit_flip(flip).await.map(|(event, queued)| {
                    self.metrics.check_flips.get_or_create(&vec![("to", flip.to.as_str())]).inc();
                    tracing::info!(
                        check = flip.check_id,
                        to = flip.to.as_str(),
                        event,
                        notifications = queued,
                        term = self.term(),
                        "flip committed"
                    );
                    self.outbox_wake.notify_one();
                }),
                Commit::Notice(n) => self.fence.commit_notice(n).await.map(|queued| {
                    tracing::info!(
                        check = n.check_id,
                        kind = n.notice.kind.as_str(),
                        number = n.notice.number,
                        notifications = queued,
                        "notice committed"
                    );
                    self.outbox_wake.notify_one();
                }),
                Commit::Streak { check_id, streak } => self.fence.save_streak(*check_id, *streak).await,
                Commit::Stalk(s) => self.fence.write_stalks(std::slice::from_ref(s)).await,
                Commit::Rollup(r) => self.fence.write_rollups(std::slice::from_ref(r)).await,
                Commit::Rollups(rs) => self.fence.write_rollups(rs).await,
            };
            match r {
                Ok(()) => {
                    self.admin.db_ok("commit");
                    return Ok(());
                }
                Err(e @ FenceError::Deposed { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "commit failed; retrying");
                    self.admin.db_failed("commit", &e);
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = self.stop.cancelled() => return Ok(()),
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}
