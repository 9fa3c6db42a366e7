//! A worker node: heartbeats the viewserver, runs its assigned checks on its own schedule,
//! sends results to the controller in batches, answers confirmation requests at once, and,
//! when it has a database and the viewserver elects it, runs the controller.

mod api;
mod asked;
mod cache;
mod handler;
pub mod schedule;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use tokio::net::TcpListener;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::alert::Notifier;
use crate::check::{CheckSpec, Outcome, ProbeConfig, Probes, Verdict};
use crate::config::WorkerConfig;
use crate::controller::{Controller, Setup, SyncRefused};
use crate::db::{self, Db};
use crate::metrics::Metrics;
use crate::node::proto::{
    AskRequest, ClusterView, HandledMsg, Heartbeat, ResultMsg, SyncRequest, SyncResponse,
};
use crate::node::{NodeBase, NodeClient, NodeError, PeerNode, Signed, json_error, not_found};
use crate::util::{lock, now_ms};
use crate::web::auth::ApiAuth;
use schedule::{DueRun, Schedule};

/// Results kept while the controller cannot be reached; beyond this the oldest are dropped
/// (they describe the past; the schedule keeps producing fresh ones).
const MAX_PENDING_RESULTS: usize = 200_000;

struct Shared {
    cfg: WorkerConfig,
    url: String,
    client: NodeClient,
    metrics: Metrics,
    probes: Probes,
    slots: Arc<Semaphore>,
    schedule: Mutex<Schedule>,
    schedule_changed: Notify,
    asked: Mutex<asked::Asked>,
    cache: cache::Cache,
    /// Event handler runs: at most [`handler::MAX_RUNNING`] state changes at once, and
    /// what they did, for the next sync.
    handler_slots: Arc<Semaphore>,
    handled: Mutex<Vec<HandledMsg>>,
    results: Mutex<Vec<ResultMsg>>,
    results_ready: Notify,
    view: watch::Sender<Option<ClusterView>>,
    heartbeat_now: Notify,
    db: Mutex<Option<Db>>,
    controller: Mutex<Option<Arc<Controller>>>,
    starting_controller: std::sync::atomic::AtomicBool,
    notifier: Arc<Notifier>,
    stop: CancellationToken,
}

impl Shared {
    fn controller(&self) -> Option<Arc<Controller>> {
        lock(&self.controller).clone().filter(|c| c.is_active())
    }

    fn push_results(&self, mut batch: Vec<ResultMsg>, front: bool) {
        let mut r = lock(&self.results);
        if front {
            batch.append(&mut r);
            *r = batch;
        } else {
            r.append(&mut batch);
        }
        if r.len() > MAX_PENDING_RESULTS {
            let excess = r.len() - MAX_PENDING_RESULTS;
            r.drain(..excess);
            tracing::warn!(dropped = excess, "controller unreachable for long: oldest results dropped");
        }
    }
}

/// Runs a worker on an already bound listener until `stop` is cancelled.
///
/// # Errors
/// [`NodeError`] when TLS files cannot be loaded, the HTTP client cannot be built or the
/// alert settings are unusable.
pub async fn run(cfg: WorkerConfig, listener: TcpListener, stop: CancellationToken) -> Result<(), NodeError> {
    let notifier = Notifier::new(cfg.smtp.as_ref(), cfg.twilio.as_ref(), cfg.alerts.clone())?;
    let hub = cfg.metrics_hub.as_ref();
    let base = NodeBase::new(&cfg.name, &cfg.secret, cfg.tls.as_ref(), &listener, cfg.listen, hub)?;
    let addr = base.addr;
    let url = cfg.advertise.clone().unwrap_or_else(|| format!("{}://{addr}", base.scheme()));
    if cfg.advertise.is_none() && addr.ip().is_unspecified() {
        tracing::warn!(%addr, "listening on a wildcard address without `advertise`: other nodes cannot reach {url}");
    }
    let shared = Arc::new(Shared {
        client: base.client.clone(),
        probes: Probes::new(ProbeConfig { dns_server: cfg.dns_server.clone() }),
        slots: Arc::new(Semaphore::new(cfg.max_concurrent_checks)),
        schedule: Mutex::new(Schedule::default()),
        schedule_changed: Notify::new(),
        asked: Mutex::new(asked::Asked::default()),
        handler_slots: handler::slots(),
        handled: Mutex::new(Vec::new()),
        cache: cache::Cache::new(base.metrics.cache_hits.clone(), base.metrics.cache_misses.clone()),
        results: Mutex::new(Vec::new()),
        results_ready: Notify::new(),
        view: watch::channel(None).0,
        heartbeat_now: Notify::new(),
        db: Mutex::new(None),
        controller: Mutex::new(None),
        starting_controller: std::sync::atomic::AtomicBool::new(false),
        notifier,
        stop: stop.clone(),
        metrics: base.metrics.clone(),
        url: url.clone(),
        cfg,
    });
    api::export_per_check(&shared);
    let cluster = base.signed(
        Router::new()
            .route("/cluster/sync", post(sync))
            .route("/cluster/ask", post(ask))
            .route("/cluster/token", post(api::token)),
    );
    let reads =
        Router::new().route("/api/cluster", get(api::cluster)).merge(crate::web::api::routes(api::forward));
    let auth = ApiAuth::new(shared.cfg.http.public, api::tokens(&shared, &base.client), base.metrics.clone());
    let writes = crate::web::api::write_routes(api::forward);
    let router = crate::web::api::guarded(reads, writes, auth)
        .route("/metrics", get(api::metrics_text))
        .merge(cluster)
        .fallback(not_found)
        .with_state(shared.clone());
    tracing::info!(name = %shared.cfg.name, probe_only = shared.cfg.database.is_none(), "worker listening on {url}");
    let tasks = vec![
        tokio::spawn(connect_db(shared.clone())),
        tokio::spawn(heartbeat_loop(shared.clone())),
        tokio::spawn(sync_loop(shared.clone())),
        tokio::spawn(schedule_loop(shared.clone())),
    ];
    base.serve(listener, router, stop.clone()).await;
    if let Some(c) = lock(&shared.controller).take() {
        c.shutdown();
    }
    for t in tasks {
        t.abort();
    }
    Ok(())
}

/// Opens (and migrates) the database in the background, retrying with backoff: a worker
/// whose database is down still runs checks, and becomes a controller candidate once it
/// can reach it.
async fn connect_db(shared: Arc<Shared>) {
    let Some(url) = shared.cfg.database.clone() else { return };
    let mut backoff = Duration::from_secs(1);
    loop {
        let attempt = async {
            let db = Db::connect(&url).await.map_err(|e| e.to_string())?;
            let report = db::migrate(&db).await.map_err(|e| e.to_string())?;
            for m in &report.applied {
                tracing::info!(migration = %m, "applied migration");
            }
            Ok::<Db, String>(db)
        };
        match attempt.await {
            Ok(db) => {
                tracing::info!(database = %db::redact_url(&url), "database connected; this worker is a controller candidate");
                *lock(&shared.db) = Some(db);
                return;
            }
            Err(e) => {
                tracing::warn!(database = %db::redact_url(&url), error = %e, retry_in = ?backoff, "database unreachable; retrying");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shared.stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

async fn heartbeat_loop(shared: Arc<Shared>) {
    let period = shared.cfg.timing.heartbeat();
    let timeout = (period * 2).clamp(Duration::from_secs(1), Duration::from_secs(5));
    let mut failing_since: Option<Instant> = None;
    let mut last_warned = Instant::now();
    loop {
        let ctrl = shared.controller();
        let hb = Heartbeat {
            name: shared.cfg.name.clone(),
            url: shared.url.clone(),
            has_db: lock(&shared.db).is_some(),
            controlling: ctrl.as_ref().map(|c| c.term()),
            confirmations: ctrl.as_ref().map(|c| c.confirmations()),
            checks_assigned: lock(&shared.schedule).len(),
            taking_over: ctrl.is_none()
                && shared.starting_controller.load(std::sync::atomic::Ordering::SeqCst),
        };
        match shared
            .client
            .post::<_, ClusterView>(&shared.cfg.viewserver, "/cluster/heartbeat", &hb, timeout)
            .await
        {
            Ok(view) => {
                if let Some(since) = failing_since.take() {
                    tracing::info!(after = ?since.elapsed(), "viewserver reachable again");
                }
                on_view(&shared, ctrl, &view);
                shared.view.send_replace(Some(view));
            }
            Err(e) => {
                let first = failing_since.is_none();
                let since = *failing_since.get_or_insert_with(Instant::now);
                if first || last_warned.elapsed() >= Duration::from_secs(30) {
                    last_warned = Instant::now();
                    tracing::warn!(error = %e, failing_for = ?since.elapsed(), "viewserver unreachable; keeping the last known controller");
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = shared.heartbeat_now.notified() => {}
            () = shared.stop.cancelled() => return,
        }
    }
}

fn on_view(shared: &Arc<Shared>, ctrl: Option<Arc<Controller>>, view: &ClusterView) {
    if !view.workers.is_empty() && ctrl.is_none() {
        shared.metrics.workers_live.set(view.workers_live as i64);
        shared.metrics.degraded.set(i64::from(view.degraded));
    }
    if let Some(c) = &ctrl
        && view.term > c.term()
        && view.controller.as_deref() != Some(shared.cfg.name.as_str())
    {
        tracing::warn!(ours = c.term(), newer = view.term, controller = ?view.controller, "the viewserver names a newer controller term; checking with the database");
        c.hint_superseded();
    }
    if view.lead && ctrl.is_none() {
        let Some(db) = lock(&shared.db).clone() else { return };
        if shared.starting_controller.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            tracing::info!("elected by the viewserver: taking over as controller");
            let setup = Setup {
                name: shared.cfg.name.clone(),
                confirmations: shared.cfg.confirmations,
                timing: shared.cfg.timing.clone(),
                client: shared.client.clone(),
                metrics: shared.metrics.clone(),
                notifier: shared.notifier.clone(),
                viewserver: shared.cfg.viewserver.clone(),
                policy_tz: shared.cfg.policy_tz.clone(),
                flap_thresholds: shared.cfg.flap_thresholds,
                event_handlers: shared.cfg.event_handlers.clone(),
            };
            let started = Controller::start(setup, db, &shared.stop).await;
            match started {
                Ok(c) => {
                    *lock(&shared.controller) = Some(c.clone());
                    shared.heartbeat_now.notify_one();
                    let shared2 = shared.clone();
                    tokio::spawn(async move {
                        c.stopped().await;
                        shared2.heartbeat_now.notify_one();
                    });
                }
                Err(e) => tracing::error!(error = %e, "could not take over as controller"),
            }
            shared.starting_controller.store(false, std::sync::atomic::Ordering::SeqCst);
        });
    }
}

async fn sync_loop(shared: Arc<Shared>) {
    let period = shared.cfg.timing.heartbeat();
    let flush = shared.cfg.timing.result_flush();
    let mut failing = false;
    let mut view_rx = shared.view.subscribe();
    loop {
        tokio::select! {
            () = shared.results_ready.notified() => {
                // Gather what else finishes in the window: one request per batch, not per run.
                tokio::time::sleep(flush).await;
            }
            () = tokio::time::sleep(period) => {}
            r = view_rx.changed() => { if r.is_err() { return } }
            () = shared.stop.cancelled() => return,
        }
        let view = shared.view.borrow().clone();
        let Some((term, url)) = view.and_then(|v| v.controller_url.map(|u| (v.term, u))) else { continue };
        let results = std::mem::take(&mut *lock(&shared.results));
        let handled = std::mem::take(&mut *lock(&shared.handled));
        let count = results.len();
        let req = SyncRequest {
            worker: shared.cfg.name.clone(),
            url: shared.url.clone(),
            term,
            version: lock(&shared.schedule).version_for(term),
            results,
            handled,
        };
        let timeout = (period * 5).clamp(Duration::from_secs(2), Duration::from_secs(10));
        match shared.client.post::<_, SyncResponse>(&url, "/cluster/sync", &req, timeout).await {
            Ok(resp) => {
                if failing {
                    tracing::info!(controller = %url, "controller reachable again");
                }
                failing = false;
                if !resp.handlers.is_empty() && resp.term == term {
                    handler::start(&shared, resp.handlers);
                }
                if let Some(a) = resp.assignment.filter(|_| resp.term == term) {
                    let problems = lock(&shared.schedule).apply(term, &a, now_ms());
                    for p in problems {
                        tracing::warn!(problem = %p, "assigned check cannot run here");
                    }
                    let n = lock(&shared.schedule).len();
                    shared.metrics.checks_assigned.set(n as i64);
                    tracing::debug!(version = a.version, full = a.full, checks = n, "assignment updated");
                    shared.schedule_changed.notify_one();
                }
            }
            Err(e) => {
                shared.push_results(req.results, true);
                lock(&shared.handled).extend(req.handled);
                if !failing {
                    tracing::warn!(error = %e, pending = count, "cannot sync with the controller; keeping results");
                }
                failing = true;
                if e.status() == Some(409) {
                    shared.heartbeat_now.notify_one();
                }
            }
        }
    }
}

async fn schedule_loop(shared: Arc<Shared>) {
    loop {
        let wait = {
            let next = lock(&shared.schedule).next_due();
            next.map_or(1000, |d| (d - now_ms()).clamp(0, 1000))
        };
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            () = shared.schedule_changed.notified() => continue,
            () = shared.stop.cancelled() => return,
        }
        // A run starts only with a free slot: the rest stay due in the schedule (where a check
        // more than an interval behind skips its slot) instead of queuing as tasks. Asked for
        // twice what a worker can run, it held every check as a waiting task, each one's
        // future allocated, and ran 0.85 of its maximum (BENCHMARKS.md, max rate).
        let first = tokio::select! {
            p = shared.slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            () = shared.stop.cancelled() => return,
        };
        let limit = 1 + shared.slots.available_permits();
        let (runs, skipped) = lock(&shared.schedule).take_due(now_ms(), limit);
        if skipped.overlapping + skipped.behind > 0 {
            shared.metrics.runs_skipped.inc_by(skipped.overlapping + skipped.behind);
            tracing::warn!(
                overlapping = skipped.overlapping,
                behind = skipped.behind,
                "scheduled runs skipped"
            );
        }
        let mut first = Some(first);
        for run in runs {
            // The ask handler may have taken a slot since: then the run waits for one.
            let slot = first.take().or_else(|| shared.slots.clone().try_acquire_owned().ok());
            tokio::spawn(run_scheduled(shared.clone(), run, slot));
        }
    }
}

async fn execute(shared: &Shared, spec: &CheckSpec) -> Outcome {
    let started = Instant::now();
    let out = spec.run(&shared.probes).await;
    shared.metrics.check_duration.observe(started.elapsed().as_secs_f64());
    let label = match out.verdict {
        Verdict::Online => "online",
        Verdict::Offline => "offline",
        Verdict::Error => "error",
    };
    shared.metrics.check_runs.get_or_create(&vec![("result", label)]).inc();
    out
}

fn result_msg(check_id: i64, round: Option<u64>, term: u64, started_ms: i64, out: Outcome) -> ResultMsg {
    ResultMsg {
        check_id,
        round,
        term,
        verdict: out.verdict,
        state: (out.state != crate::check::State::of(out.verdict)).then_some(out.state),
        message: out.message,
        latency_ms: out.latency.as_secs_f64() * 1000.0,
        started_ms,
        cached: false,
    }
}

async fn run_scheduled(shared: Arc<Shared>, run: DueRun, slot: Option<OwnedSemaphorePermit>) {
    let _slot = match slot {
        Some(s) => s,
        None => match shared.slots.clone().acquire_owned().await {
            Ok(s) => s,
            Err(_) => return,
        },
    };
    let started_ms = now_ms();
    shared.metrics.schedule_lag.observe(((started_ms - run.due_ms).max(0) as f64) / 1000.0);
    let out = execute(&shared, &run.spec).await;
    lock(&shared.schedule).finished(run.check_id, run.generation, run.due_ms, out.verdict, now_ms());
    if run.cache_secs > 0 {
        shared.cache.keep(run.check_id, started_ms, &out);
    }
    shared.push_results(vec![result_msg(run.check_id, None, 0, started_ms, out)], false);
    shared.results_ready.notify_one();
}

async fn sync(State(shared): State<Arc<Shared>>, Signed(req): Signed<SyncRequest>) -> Response {
    let Some(c) = shared.controller() else {
        return json_error(StatusCode::CONFLICT, "this node is not the controller");
    };
    match c.sync(&req) {
        Ok(resp) => Json(resp).into_response(),
        Err(e @ (SyncRefused::WrongTerm { .. } | SyncRefused::Stopped)) => {
            json_error(StatusCode::CONFLICT, e.to_string())
        }
    }
}

/// Why an ask is refused: it comes from a controller older than the one this worker knows, or
/// names the current term but is signed by another node. `None`: run it. An ask for a term
/// newer than any heard of yet is run (the viewserver's news may be a heartbeat behind).
fn stale_ask(view: Option<&ClusterView>, term: u64, from: &str) -> Option<String> {
    let v = view?;
    let current = v.controller.as_deref();
    let stale = term < v.term || (term == v.term && current != Some(from));
    stale.then(|| {
        format!("ask for term {term} from {from:?}: the current term is {} (controller {current:?})", v.term)
    })
}

async fn ask(
    State(shared): State<Arc<Shared>>,
    Extension(PeerNode(from)): Extension<PeerNode>,
    body: axum::body::Bytes,
) -> Response {
    let req: AskRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, format!("ask: {e}")),
    };
    if let Some(why) = stale_ask(shared.view.borrow().as_ref(), req.term, &from) {
        tracing::warn!(from = %from, term = req.term, "confirmation request refused: {why}");
        return json_error(StatusCode::CONFLICT, why);
    }
    for a in req.asks {
        let shared = shared.clone();
        let term = req.term;
        tokio::spawn(async move {
            let Ok(_slot) = shared.slots.clone().acquire_owned().await else { return };
            let horizon = a.check.run.map_or(0, |r| r.cache_secs);
            let cached = (horizon > 0).then(|| shared.cache.fresh(a.check.id, horizon, now_ms())).flatten();
            let msg = if let Some((started_ms, out)) = cached {
                ResultMsg { cached: true, ..result_msg(a.check.id, Some(a.round), term, started_ms, out) }
            } else {
                let started_ms = now_ms();
                let spec = lock(&shared.asked).spec(&a.check);
                let out = match spec {
                    Ok(spec) => execute(&shared, &spec).await,
                    Err(e) => Outcome::error(e.to_string(), Duration::ZERO),
                };
                if horizon > 0 {
                    shared.cache.keep(a.check.id, started_ms, &out);
                }
                result_msg(a.check.id, Some(a.round), term, started_ms, out)
            };
            shared.push_results(vec![msg], false);
            shared.results_ready.notify_one();
        });
    }
    StatusCode::NO_CONTENT.into_response()
}
