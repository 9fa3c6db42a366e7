//! The controller: runs inside the worker the viewserver elected, for one fenced term.
//!
//! It claims a term in the database ([`fence`]), loads the checks, spreads them over the
//! workers that sync with it ([`assign`]), feeds their result batches to the decision core
//! ([`state`]), pushes confirmation requests to the chosen workers at once and in parallel,
//! and commits flips and streaks through the fence, in order, retrying while the database is
//! down. It stops for good the moment the database says a newer term exists.

pub mod assign;
pub mod fence;
pub mod history;
pub mod state;
pub mod table;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::alert::admin::AdminMail;
use crate::alert::outbox::{self, Outcome as SendOutcome};
use crate::alert::{Delivery, Notifier, dispatch};
use crate::config::Timing;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::node::NodeClient;
use crate::node::proto::{AskMsg, AskRequest, AssignmentMsg, SyncRequest, SyncResponse};
use crate::store::{Store, StoreError, Watcher};
pub use fence::{Fence, FenceError};

/// Every this many successive database errors, the admin is mailed (gobearmon: 10).
const DB_FAILURES_MAILED: u64 = 10;
/// Sends in flight at once.
const MAX_SENDING: usize = 32;
/// Rollup rows per transaction.
const ROLLUP_BATCH: usize = 500;
/// How often old history is deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(6 * 3600);
/// Hourly rollups are kept this many days.
const ROLLUP_DAYS: u32 = 90;
/// Delivered or failed notifications (and their attempts) are kept this many days.
const OUTBOX_DAYS: u32 = 30;
use state::{Commit, Inner, Outbox};

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("claiming a term: {0}")]
    Fence(#[from] FenceError),
    #[error("loading the checks: {0}")]
    Store(#[from] StoreError),
}

/// Why a sync was refused.
#[derive(Debug, thiserror::Error)]
pub enum SyncRefused {
    #[error("this node's controller term is {ours}, the request addressed term {theirs}")]
    WrongTerm { ours: u64, theirs: u64 },
    #[error("this node is no longer controller")]
    Stopped,
}

/// A running controller term.
pub struct Controller {
    name: String,
    fence: Fence,
    confirmations: usize,
    timing: Timing,
    started: Instant,
    inner: Mutex<Inner>,
    /// Set once the first workers had time to sync, so the first assignment is not churned
    /// by workers arriving one by one.
    assigning: std::sync::atomic::AtomicBool,
    commits: mpsc::UnboundedSender<Commit>,
    client: NodeClient,
    metrics: Metrics,
    stop: CancellationToken,
    superseded: Notify,
    notifier: Arc<Notifier>,
    viewserver: String,
    admin: AdminMail,
    store: Store,
    outbox_wake: Notify,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller").field("name", &self.name).field("term", &self.fence.term()).finish()
    }
}

/// One check as `GET /api/checks` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckStatus {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `online`, `offline` or `invalid`.
    pub status: &'static str,
    /// Why the check is invalid.
    pub error: Option<String>,
    /// When the state last flipped (RFC 3339), if known.
    pub since: Option<String>,
    pub interval: u64,
    pub delay: u32,
    /// The worker running it now.
    pub worker: Option<String>,
    /// Consecutive contrary rounds so far.
    pub streak: u32,
    pub last_result: Option<LastResultView>,
    /// The last results, oldest first, when asked for (`?recent=N`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recent: Option<Vec<history::SampleView>>,
}

/// What `GET /api/checks` filters on.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default)]
pub struct CheckFilter {
    /// `online`, `offline`, `invalid`, or several comma-separated.
    pub status: Option<String>,
    /// A substring of the name (any case) or of the id.
    pub q: Option<String>,
    pub page: usize,
    pub per_page: usize,
    /// How many recent results to include per check (0: none).
    pub recent: usize,
}

impl Default for CheckFilter {
    fn default() -> Self {
        CheckFilter { status: None, q: None, page: 1, per_page: 100, recent: 0 }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusCounts {
    pub online: usize,
    pub offline: usize,
    pub invalid: usize,
}

/// The body of `GET /api/checks`.
#[derive(Debug, Clone, Serialize)]
pub struct ChecksPage {
    pub checks: Vec<CheckStatus>,
    /// Checks matching the filter, over all pages.
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    /// Checks in each state, ignoring the filter.
    pub counts: StatusCounts,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub contact_id: i64,
    /// `online`, `offline` or `both`.
    pub when: String,
}

/// The body of `GET /api/checks/{id}`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckDetail {
    #[serde(flatten)]
    pub check: CheckStatus,
    /// `checks.data` with secrets replaced by `***`.
    pub data: serde_json::Value,
    pub alerts: Vec<AlertView>,
    /// This hour so far.
    pub hour: Option<history::Rollup>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastResultView {
    pub verdict: crate::check::Verdict,
    pub message: String,
    pub latency_ms: f64,
    pub at: Option<String>,
    pub worker: String,
}

use crate::util::rfc3339;

/// What a worker hands its controller.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The worker's name, recorded as the term's holder.
    pub name: String,
    pub confirmations: usize,
    pub timing: Timing,
    pub client: NodeClient,
    pub metrics: Metrics,
    pub notifier: Arc<Notifier>,
    /// The viewserver's URL: with the workers' URLs, an endpoint no notification may target.
    pub viewserver: String,
}

impl Controller {
    /// Claims a term and loads the checks; the controller then runs until deposed or until
    /// `parent` is cancelled.
    ///
    /// # Errors
    /// [`ControllerError`] when the database cannot be reached or read.
    pub async fn start(
        setup: Setup,
        db: Db,
        parent: &CancellationToken,
    ) -> Result<Arc<Controller>, ControllerError> {
        let Setup { name, confirmations, timing, client, metrics, notifier, viewserver } = setup;
        let fence = Fence::claim(&db, &name).await?;
        // Loaded after the claim: every write of an earlier term is committed (or refused) by
        // now, so nothing it flipped is flipped again.
        let watcher = Watcher::start(Store::new(db.clone())).await?;
        let streaks = fence::load_streaks(&db).await?;
        let since = fence::load_since(&db).await?;
        let defs = watcher.snapshot().checks.values().cloned();
        let inner = Inner::new(fence.term(), confirmations, timing.dead_after(), defs, &streaks, &since);
        let (tx, rx) = mpsc::unbounded_channel();
        metrics.controller_term.set(fence.term() as i64);
        let c = Arc::new(Controller {
            name,
            fence,
            confirmations,
            timing,
            started: Instant::now(),
            inner: Mutex::new(inner),
            assigning: std::sync::atomic::AtomicBool::new(false),
            commits: tx,
            client,
            metrics,
            stop: parent.child_token(),
            superseded: Notify::new(),
            admin: AdminMail::new(notifier.clone()),
            notifier,
            viewserver,
            store: Store::new(db.clone()),
            outbox_wake: Notify::new(),
        });
        tracing::info!(term = c.term(), checks = c.lock().checks.len(), confirmations, "controller serving");
        tokio::spawn(c.clone().commit_loop(rx));
        tokio::spawn(c.clone().outbox_loop());
        tokio::spawn(c.clone().run_loop(watcher));
        Ok(c)
    }

    pub fn term(&self) -> u64 {
        self.fence.term()
    }

    pub fn confirmations(&self) -> usize {
        self.confirmations
    }

    /// False once deposed or shut down.
    pub fn is_active(&self) -> bool {
        !self.stop.is_cancelled()
    }

    /// Resolves when the controller stops.
    pub async fn stopped(&self) {
        self.stop.cancelled().await;
    }

    /// Shuts the controller down (the process is stopping).
    pub fn shutdown(&self) {
        self.stop.cancel();
    }

    /// The viewserver named a newer term: verify with the database at once.
    pub fn hint_superseded(&self) {
        self.superseded.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn depose(&self, e: &FenceError) {
        if self.stop.is_cancelled() {
            return;
        }
        tracing::warn!(term = self.term(), reason = %e, "the database refused this controller's write; stepping down");
        self.metrics.controller_term.set(0);
        self.stop.cancel();
    }

    /// Handles a worker's sync: its results, and the assignment changes it needs.
    ///
    /// # Errors
    /// [`SyncRefused`] when this controller is not the one the worker addressed.
    pub fn sync(self: &Arc<Self>, req: &SyncRequest) -> Result<SyncResponse, SyncRefused> {
        if !self.is_active() {
            return Err(SyncRefused::Stopped);
        }
        if req.term != self.term() {
            return Err(SyncRefused::WrongTerm { ours: self.term(), theirs: req.term });
        }
        let now = Instant::now();
        let mut out = Outbox::default();
        let assignment = {
            let mut inner = self.lock();
            let fresh = inner.touch_member(&req.worker, &req.url, now);
            if fresh && self.assigning.load(std::sync::atomic::Ordering::Relaxed) {
                inner.refresh_membership(now, &mut out);
            }
            let live = inner.live(now);
            let live_refs: Vec<&str> = live.iter().map(String::as_str).collect();
            for r in &req.results {
                inner.on_result(&req.worker, r, now, &live_refs, &mut out);
            }
            if self.assigning.load(std::sync::atomic::Ordering::Relaxed) {
                inner.assign.changes_for(&req.worker, req.version).map(|ch| AssignmentMsg {
                    version: ch.version,
                    full: ch.full,
                    upserts: ch
                        .upserts
                        .iter()
                        .filter_map(|id| inner.checks.get(id))
                        .map(|s| s.msg())
                        .collect(),
                    removes: ch.removes,
                })
            } else {
                None
            }
        };
        self.dispatch(out);
        Ok(SyncResponse { term: self.term(), assignment })
    }

    /// Sends the asks and queues the commits one step produced.
    fn dispatch(self: &Arc<Self>, out: Outbox) {
        for c in out.commits {
            // The receiver lives as long as the controller; a send error means it stopped.
            let _ = self.commits.send(c);
        }
        if out.asks.is_empty() {
            return;
        }
        let urls: BTreeMap<String, String> = {
            let inner = self.lock();
            out.asks.keys().filter_map(|w| inner.members.get(w).map(|m| (w.clone(), m.url.clone()))).collect()
        };
        for (worker, asks) in out.asks {
            let Some(url) = urls.get(&worker).cloned() else { continue };
            let client = self.client.clone();
            let term = self.term();
            let ids: Vec<i64> = asks.iter().map(|a: &AskMsg| a.check.id).collect();
            let stop = self.stop.clone();
            let me = Arc::downgrade(self);
            tokio::spawn(async move {
                let req = AskRequest { term, asks };
                let sent = tokio::select! {
                    r = client.post::<_, ()>(&url, "/cluster/ask", &req, Duration::from_secs(5)) => r,
                    () = stop.cancelled() => return,
                };
                if let Err(e) = sent {
                    tracing::warn!(worker = %worker, error = %e, "confirmation request not delivered");
                    if let Some(c) = me.upgrade() {
                        c.lock().ask_failed(&worker, &ids);
                    }
                }
            });
        }
    }

    fn status_of(s: &state::CheckState, inner: &Inner, recent: usize) -> CheckStatus {
        let (status, error) = match &s.def.spec {
            Ok(_) => (s.decider.status().as_str(), None),
            Err(e) => ("invalid", Some(e.to_string())),
        };
        let skip = s.recent.iter().count().saturating_sub(recent);
        CheckStatus {
            id: s.def.id,
            name: s.def.name.clone(),
            kind: s.def.kind.clone(),
            status,
            error,
            since: s.since_ms.and_then(rfc3339),
            interval: s.def.interval.as_secs(),
            delay: s.def.delay,
            worker: inner.assign.owner(s.def.id).map(str::to_string),
            streak: s.decider.streak(),
            last_result: s.last.as_ref().map(|l| LastResultView {
                verdict: l.verdict,
                message: s.redacted.scrub(&l.message),
                latency_ms: l.latency_ms,
                at: rfc3339(l.at_ms),
                worker: l.worker.to_string(),
            }),
            recent: (recent > 0).then(|| s.recent.iter().skip(skip).map(history::Sample::view).collect()),
        }
    }

    /// One page of checks, by id, matching `f`, with the counts of every state.
    pub fn checks_page(&self, f: &CheckFilter) -> ChecksPage {
        let inner = self.lock();
        let mut counts = StatusCounts::default();
        let q = f.q.as_deref().map(str::to_lowercase).filter(|q| !q.is_empty());
        let mut ids: Vec<i64> = Vec::new();
        for (id, s) in &inner.checks {
            let status = if s.def.spec.is_ok() { s.decider.status().as_str() } else { "invalid" };
            match status {
                "online" => counts.online += 1,
                "offline" => counts.offline += 1,
                _ => counts.invalid += 1,
            }
            if f.status.as_deref().is_some_and(|want| !want.split(',').any(|w| w == status)) {
                continue;
            }
            if let Some(q) = &q
                && !s.def.name.to_lowercase().contains(q.as_str())
                && !id.to_string().contains(q.as_str())
            {
                continue;
            }
            ids.push(*id);
        }
        ids.sort_unstable();
        let per_page = f.per_page.clamp(1, 1000);
        let page = f.page.max(1);
        let checks = ids
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .filter_map(|id| inner.checks.get(id))
            .map(|s| Self::status_of(s, &inner, f.recent))
            .collect();
        ChecksPage { checks, total: ids.len(), page, per_page, counts }
    }

    /// One check in full: its state, redacted definition, alerts and recent results.
    pub fn check_detail(&self, id: i64) -> Option<CheckDetail> {
        let inner = self.lock();
        let s = inner.checks.get(&id)?;
        let shown = s.redacted.data(&s.def.data);
        let data = serde_json::from_str(shown).unwrap_or(serde_json::Value::String(shown.to_string()));
        Some(CheckDetail {
            check: Self::status_of(s, &inner, history::RECENT),
            data,
            alerts: s
                .def
                .alerts
                .iter()
                .map(|a| AlertView { contact_id: a.contact_id, when: format!("{:?}", a.when).to_lowercase() })
                .collect(),
            hour: s.hour.as_ref().map(|h| h.rollup(id)),
        })
    }

    /// Names of checks, for the event list.
    pub fn check_name(&self, id: i64) -> Option<String> {
        self.lock().checks.get(&id).map(|s| s.def.name.clone())
    }

    pub fn db(&self) -> &Db {
        self.fence.db()
    }

    async fn run_loop(self: Arc<Self>, mut watcher: Watcher) {
        let tick = (self.timing.heartbeat() / 4).clamp(Duration::from_millis(50), Duration::from_millis(250));
        let settle = (self.timing.heartbeat() * 3 / 2).min(self.timing.dead_after());
        let mut last_renew = Instant::now();
        let mut last_poll = Instant::now();
        let mut renew_failing = false;
        let mut poll_failing = false;
        let mut was_degraded = false;
        let mut poll_failures: u64 = 0;
        let mut last_prune = Instant::now();
        loop {
            let hinted = tokio::select! {
                () = tokio::time::sleep(tick) => false,
                () = self.superseded.notified() => true,
                () = self.stop.cancelled() => return,
            };
            if hinted || last_renew.elapsed() >= self.timing.heartbeat() {
                last_renew = Instant::now();
                match self.fence.renew().await {
                    Ok(()) => {
                        if renew_failing {
                            tracing::info!(term = self.term(), "database reachable again");
                        }
                        renew_failing = false;
                    }
                    Err(e @ FenceError::Deposed { .. }) => return self.depose(&e),
                    Err(e) => {
                        if !renew_failing {
                            tracing::warn!(error = %e, "cannot renew the term in the database; retrying");
                        }
                        renew_failing = true;
                    }
                }
            }
            let mut out = Outbox::default();
            if !self.assigning.load(std::sync::atomic::Ordering::Relaxed) && self.started.elapsed() >= settle
            {
                let mut inner = self.lock();
                inner.refresh_membership(Instant::now(), &mut out);
                inner.assign_all();
                self.assigning.store(true, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(workers = inner.members.len(), "first assignment made");
            }
            if last_poll.elapsed() >= self.timing.db_poll() {
                last_poll = Instant::now();
                match watcher.poll().await {
                    Ok(deltas) => {
                        if poll_failing {
                            tracing::info!("reading the database again");
                        }
                        poll_failing = false;
                        poll_failures = 0;
                        let mut inner = self.lock();
                        let assigning = self.assigning.load(std::sync::atomic::Ordering::Relaxed);
                        for d in deltas {
                            inner.on_delta(d, assigning);
                        }
                    }
                    Err(e) => {
                        if !poll_failing {
                            tracing::warn!(error = %e, "cannot poll the database for changed checks; retrying");
                        }
                        poll_failing = true;
                        poll_failures += 1;
                        if poll_failures.is_multiple_of(DB_FAILURES_MAILED) {
                            self.admin.send(
                                "bearmon: successive database errors",
                                &format!("Controller {} (term {}) got {poll_failures} successive database errors; the last: {e}", self.name, self.term()),
                            );
                        }
                    }
                }
            }
            if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = Instant::now();
                self.prune().await;
            }
            {
                let now = Instant::now();
                let mut inner = self.lock();
                if self.assigning.load(std::sync::atomic::Ordering::Relaxed) {
                    inner.refresh_membership(now, &mut out);
                }
                inner.expire_rounds(now, &mut out);
                if self.started.elapsed() >= self.timing.dead_after() {
                    inner.eval_worker_checks(now, &mut out);
                }
                let live = inner.live(now).len();
                self.metrics.workers_live.set(live as i64);
                let degraded = live < self.confirmations;
                self.metrics.degraded.set(i64::from(degraded));
                if degraded != was_degraded && self.assigning.load(std::sync::atomic::Ordering::Relaxed) {
                    if degraded {
                        tracing::warn!(
                            live,
                            confirmations = self.confirmations,
                            "cluster degraded: fewer live workers than confirmations; flipping with the workers there are"
                        );
                    } else {
                        tracing::info!(
                            live,
                            confirmations = self.confirmations,
                            "cluster no longer degraded"
                        );
                    }
                    was_degraded = degraded;
                }
            }
            self.dispatch(out);
        }
    }

    /// Deletes rollups and finished outbox rows past their retention (any term may).
    async fn prune(&self) {
        match fence::prune_rollups(self.fence.db(), ROLLUP_DAYS).await {
            Ok(n) if n > 0 => tracing::info!(rows = n, days = ROLLUP_DAYS, "pruned old rollups"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning rollups failed"),
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
    async fn commit_loop(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Commit>) {
        let mut rollups: std::collections::VecDeque<history::Rollup> = std::collections::VecDeque::new();
        loop {
            let mut batch = Vec::new();
            if rollups.is_empty() {
                tokio::select! {
                    c = rx.recv() => match c { Some(c) => batch.push(c), None => return },
                    () = self.stop.cancelled() => return,
                }
            }
            while let Ok(c) = rx.try_recv() {
                batch.push(c);
            }
            for c in batch {
                match c {
                    Commit::Rollup(r) => rollups.push_back(r),
                    other => {
                        if !self.with_retry(&other).await {
                            return;
                        }
                    }
                }
            }
            if !rollups.is_empty() {
                let n = rollups.len().min(ROLLUP_BATCH);
                let chunk: Vec<history::Rollup> = rollups.drain(..n).collect();
                if !self.with_retry(&Commit::Rollups(chunk)).await {
                    return;
                }
            }
        }
    }

    /// Applies one commit, retrying with backoff; false once the controller must stop.
    async fn with_retry(&self, c: &Commit) -> bool {
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
                Commit::Streak { check_id, streak } => self.fence.save_streak(*check_id, *streak).await,
                Commit::Rollup(r) => self.fence.write_rollups(std::slice::from_ref(r)).await,
                Commit::Rollups(rs) => self.fence.write_rollups(rs).await,
            };
            match r {
                Ok(()) => return true,
                Err(e @ FenceError::Deposed { .. }) => {
                    self.depose(&e);
                    return false;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "commit failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = self.stop.cancelled() => return false,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Claims due outbox rows (fenced) and sends each in a task of its own.
    async fn outbox_loop(self: Arc<Self>) {
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_SENDING));
        let mut last_count = Instant::now() - Duration::from_secs(60);
        loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                () = self.outbox_wake.notified() => {}
                () = self.stop.cancelled() => return,
            }
            let db = self.fence.db();
            if last_count.elapsed() >= Duration::from_secs(2) {
                last_count = Instant::now();
                if let Ok(n) = outbox::pending(db).await {
                    self.metrics.outbox_pending.set(n);
                }
            }
            let due = match outbox::due(db, self.term(), 200).await {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot read the outbox; retrying");
                    continue;
                }
            };
            for id in due {
                let Ok(slot) = slots.clone().acquire_owned().await else { return };
                if self.stop.is_cancelled() {
                    return;
                }
                let lease = Duration::from_secs_f64(self.notifier.cfg.webhook_timeout_secs.max(30.0)) * 2;
                let lease_until = crate::node::auth::now_ms() + lease.as_millis() as i64;
                match self.fence.claim_outbox(id, lease_until).await {
                    Ok(Some(d)) => {
                        let me = self.clone();
                        tokio::spawn(async move {
                            let _slot = slot;
                            me.send(d).await;
                        });
                    }
                    Ok(None) => {}
                    Err(e @ FenceError::Deposed { .. }) => return self.depose(&e),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot claim an outbox row; retrying");
                        break;
                    }
                }
            }
        }
    }

    async fn send(&self, d: Delivery) {
        let nodes: Vec<String> = {
            let inner = self.lock();
            inner.members.values().map(|m| m.url.clone()).chain([self.viewserver.clone()]).collect()
        };
        let outcome = dispatch::attempt(&self.notifier, &self.store, &self.metrics, &d, &nodes).await;
        let mut backoff = Duration::from_millis(250);
        // The send happened (or not); its record must not be lost to a database hiccup.
        for _ in 0..8 {
            match outbox::record(self.fence.db(), d.outbox_id, d.event.check_id, self.term(), &outcome).await
            {
                Ok(true) => {
                    if matches!(outcome, SendOutcome::Retry { .. }) {
                        self.outbox_wake.notify_one();
                    }
                    return;
                }
                Ok(false) => {
                    tracing::warn!(outbox = d.outbox_id, key = %d.idem_key, "outbox row was taken over by a newer controller; its attempt is recorded only in the attempts table");
                    return;
                }
                Err(e) => {
                    tracing::warn!(outbox = d.outbox_id, error = %e, "cannot record a delivery attempt; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        tracing::error!(outbox = d.outbox_id, key = %d.idem_key, "could not record a delivery attempt; the row will be retried after its lease (same idempotency key)");
    }
}
