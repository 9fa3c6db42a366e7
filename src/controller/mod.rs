//! The controller: runs inside the worker the viewserver elected, for one fenced term.
//!
//! It claims a term in the database (`store::fence`), loads the checks, spreads them over the
//! workers that sync with it ([`assign`]), feeds their result batches to the decision core
//! ([`state`]), pushes confirmation requests to the chosen workers at once and in parallel,
//! commits flips and streaks through the fence, in order, retrying while the database is
//! down ([`loops`]), and runs the delivery loop of the alerts room. It answers the API as the
//! web room's read model ([`read`]). It stops for good the moment the database says a newer
//! term exists. No SQL text and no HTTP view types live here.

pub mod assign;
mod export;
pub mod history;
mod loops;
mod read;
pub mod state;
pub mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::alert::Notifier;
use crate::alert::admin::AdminMail;
use crate::alert::contact::{Book, Parsed};
use crate::alert::deliver::{self, Deliverer, Directory};
use crate::config::Timing;
use crate::metrics::Metrics;
use crate::node::NodeClient;
use crate::node::proto::{AskMsg, AskRequest, AssignmentMsg, SyncRequest, SyncResponse};
use crate::store::policy_rows::{self, PolicyRows};
use crate::store::{Fence, FenceError, Flip, Snapshot, Store, StoreError, Watcher, events, fence, notices};
use crate::util::{Now, lock};
use state::{Commit, Effects, Inner};

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("claiming a term: {0}")]
    Fence(#[from] FenceError),
    #[error("loading the checks: {0}")]
    Store(#[from] StoreError),
    #[error("loading the last flips: {0}")]
    Db(#[from] sqlx::Error),
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
    /// Every contact, parsed once when loaded or changed: the delivery loop's [`Directory`].
    contacts: Mutex<Book>,
    /// Set once the first workers had time to sync, so the first assignment is not churned
    /// by workers arriving one by one.
    assigning: AtomicBool,
    commits: mpsc::UnboundedSender<Commit>,
    client: NodeClient,
    metrics: Metrics,
    stop: CancellationToken,
    superseded: Notify,
    viewserver: String,
    /// `[policy] timezone`: where timeperiods are read.
    policy_tz: jiff::tz::TimeZone,
    admin: AdminMail,
    /// Wakes the delivery loop when a flip queued notifications.
    outbox_wake: Arc<Notify>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller").field("name", &self.name).field("term", &self.fence.term()).finish()
    }
}

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
    /// `[policy] timezone`: where timeperiods are read.
    pub policy_tz: jiff::tz::TimeZone,
    /// `[policy]`'s flap thresholds.
    pub flap_thresholds: crate::policy::flap::Thresholds,
    /// `[policy]`'s event handler settings.
    pub event_handlers: crate::policy::handler::HandlerConfig,
}

/// Reads the policy tables, naming rows that point at checks or contacts `snapshot` lacks.
async fn load_policy(db: &crate::db::Db, snapshot: &Snapshot, now: Now) -> Result<PolicyRows, StoreError> {
    let checks: BTreeSet<i64> = snapshot.checks.keys().copied().collect();
    let contacts: BTreeSet<i64> = snapshot.contacts.keys().copied().collect();
    policy_rows::load(db, &checks, &contacts, now.ms.div_euclid(1000)).await
}

fn book(snapshot: &Snapshot) -> Book {
    let mut b = Book::default();
    for (id, c) in &snapshot.contacts {
        b.set(*id, Some((&c.kind, &c.data)));
    }
    b
}

impl Controller {
    /// Claims a term and loads the checks; the controller then runs until deposed or until
    /// `parent` is cancelled.
    ///
    /// # Errors
    /// [`ControllerError`] when the database cannot be reached or read.
    pub async fn start(
        setup: Setup,
        db: crate::db::Db,
        parent: &CancellationToken,
    ) -> Result<Arc<Controller>, ControllerError> {
        let Setup {
            name,
            confirmations,
            timing,
            client,
            metrics,
            notifier,
            viewserver,
            policy_tz,
            flap_thresholds,
            event_handlers,
        } = setup;
        let fence = Fence::claim(&db, &name).await?;
        // Loaded after the claim: every write of an earlier term is committed (or refused) by
        // now, so nothing it flipped is flipped again.
        let watcher = Watcher::start(Store::new(db.clone())).await?;
        let streaks = fence::load_streaks(&db).await?;
        let since = events::load_since(&db).await?;
        let open = notices::open_problems(&db).await?;
        let defs = watcher.snapshot().checks.values().cloned();
        let now = Now::read();
        let mut inner =
            Inner::new(fence.term(), confirmations, timing.dead_after(), defs, &streaks, &since, now);
        let rows = load_policy(&db, watcher.snapshot(), now).await?;
        inner.policy.book.load(rows, policy_tz.clone());
        inner.policy.flap_defaults = flap_thresholds;
        inner.handlers.config = event_handlers;
        for c in watcher.snapshot().contacts.values() {
            inner.policy.book.set_contact(c.id, c.options.as_deref());
        }
        let offline: Vec<(Arc<crate::store::CheckDef>, Option<i64>)> = inner
            .checks
            .iter()
            .filter(|(_, s)| s.decider.status() == crate::decide::Status::Offline)
            .map(|(_, s)| (s.def.clone(), s.since_ms))
            .collect();
        inner.policy.restore(offline.iter().map(|(d, s)| (d.as_ref(), *s)), &open, now.ms);
        let (tx, rx) = mpsc::unbounded_channel();
        metrics.controller_term.set(fence.term() as i64);
        let c = Arc::new(Controller {
            name,
            confirmations,
            timing,
            started: Instant::now(),
            inner: Mutex::new(inner),
            contacts: Mutex::new(book(watcher.snapshot())),
            assigning: AtomicBool::new(false),
            commits: tx,
            client,
            metrics: metrics.clone(),
            stop: parent.child_token(),
            superseded: Notify::new(),
            admin: AdminMail::new(notifier.clone()),
            viewserver,
            policy_tz,
            outbox_wake: Arc::new(Notify::new()),
            fence,
        });
        tracing::info!(term = c.term(), checks = c.lock().checks.len(), confirmations, "controller serving");
        c.admin.speaking_for(format!("Controller {} (term {})", c.name, c.term()));
        let deliverer = Deliverer {
            admin: c.admin.clone(),
            fence: c.fence.clone(),
            notifier,
            metrics,
            directory: c.clone(),
            wake: c.outbox_wake.clone(),
            stop: c.stop.clone(),
        };
        c.supervise("commit", c.clone().commit_loop(rx));
        c.supervise("delivery", deliver::run(deliverer));
        c.supervise("run", c.clone().run_loop(watcher));
        Ok(c)
    }

    /// Runs one of the term's loops; one that ends deposed or panics steps the term down.
    fn supervise<F>(self: &Arc<Self>, what: &'static str, run: F)
    where
        F: std::future::Future<Output = Result<(), FenceError>> + Send + 'static,
    {
        let me = Arc::downgrade(self);
        watch_loop(what, run, move |why| {
            if let Some(c) = me.upgrade() {
                c.step_down(&why);
            }
        });
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
        lock(&self.inner)
    }

    fn assigning(&self) -> bool {
        self.assigning.load(Ordering::Relaxed)
    }

    /// Stops this term for good: deposed by a newer one, or a loop is gone.
    fn step_down(&self, why: &str) {
        if self.stop.is_cancelled() {
            return;
        }
        tracing::warn!(term = self.term(), "{why}; stepping down");
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
        let now = Now::read();
        let mut out = Effects::default();
        let handlers;
        let assignment = {
            let mut inner = self.lock();
            let fresh = inner.touch_member(&req.worker, &req.url, now.mono);
            if fresh && self.assigning() {
                inner.refresh_membership(now, &mut out);
            }
            let live = inner.live(now.mono);
            let live_refs: Vec<&str> = live.iter().map(String::as_str).collect();
            for r in &req.results {
                inner.on_result(&req.worker, r, now, &live_refs, &mut out);
            }
            for h in &req.handled {
                inner.handlers.record(&req.worker, h.clone());
            }
            handlers = inner.handlers.take_for(&req.worker);
            if self.assigning() {
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
        Ok(SyncResponse { term: self.term(), assignment, handlers })
    }

    /// Drops the recipients of `f` that no `contacts` row exists for (yet): an alert may be
    /// inserted before its contact, which is then told of the flips after it arrives.
    fn known_contacts(&self, f: &mut Flip) {
        let Some(notice) = &mut f.notice else { return };
        let book = lock(&self.contacts);
        notice.contacts.retain(|id| {
            let known = book.get(*id).is_some();
            if !known {
                tracing::warn!(
                    check = f.check_id,
                    contact = id,
                    "an alert names a contact that does not exist; not told of this flip"
                );
            }
            known
        });
    }

    /// Sends the asks and queues the commits one step produced.
    fn dispatch(self: &Arc<Self>, out: Effects) {
        for mut c in out.commits {
            if let Commit::Flip(f) = &mut c {
                self.known_contacts(f);
            }
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
                        c.lock().ask_failed(&worker, &ids, Instant::now());
                    }
                }
            });
        }
    }
}

/// Runs a loop of a term in a task of its own, and calls `ended` with why when it ends with
/// the database's word that a newer term exists, or panics: a controller missing a loop must
/// not go on announcing its term (the cluster would never fail over). A loop that returns
/// `Ok` (the term is stopping) or is cancelled is not reported.
fn watch_loop<F>(what: &'static str, run: F, ended: impl FnOnce(String) + Send + 'static)
where
    F: std::future::Future<Output = Result<(), FenceError>> + Send + 'static,
{
    let handle = tokio::spawn(run);
    tokio::spawn(async move {
        let why = match handle.await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => format!("the database refused this controller's write: {e}"),
            Err(j) if j.is_panic() => format!("its {what} loop panicked"),
            Err(_) => return,
        };
        ended(why);
    });
}

impl Directory for Controller {
    fn contact(&self, id: i64) -> Option<Arc<Parsed>> {
        lock(&self.contacts).get(id)
    }

    fn own_urls(&self) -> Vec<String> {
        let inner = self.lock();
        inner.members.values().map(|m| m.url.clone()).chain([self.viewserver.clone()]).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn report(
        run: impl std::future::Future<Output = Result<(), FenceError>> + Send + 'static,
    ) -> Option<String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        watch_loop("commit", run, move |why| {
            let _ = tx.send(why);
        });
        tokio::time::timeout(Duration::from_secs(5), rx).await.ok().and_then(Result::ok)
    }

    #[tokio::test]
    async fn a_loop_that_panics_or_is_deposed_steps_the_term_down_and_one_that_stops_does_not() {
        let panicked = report(async { panic!("a bug in the loop") }).await;
        assert_eq!(panicked.as_deref(), Some("its commit loop panicked"));
        let deposed =
            report(async { Err(FenceError::Deposed { ours: 3, current: 4, holder: "w2".into() }) }).await;
        assert!(deposed.is_some_and(|w| w.contains("refused this controller's write")));
        assert_eq!(report(async { Ok(()) }).await, None);
    }
}
