//! The viewserver: tracks which workers are alive from their heartbeats, elects the
//! controller among live workers that have a database, and tells everyone who it is.
//!
//! It never numbers terms itself: the elected worker claims the next term in the database
//! (see [`crate::store::fence`]) and announces it in its heartbeats; the viewserver
//! adopts the highest term it hears. So a restarted viewserver, which waits one dead-node
//! timeout before electing, relearns the current controller from its heartbeats instead of
//! electing a new one (gobearmon's restarted viewserver picked whoever answered first, bug 1).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::HeaderMap;

use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::alert::Notifier;
use crate::alert::admin::AdminMail;
use crate::config::ViewserverConfig;
use crate::metrics::Metrics;
use crate::node::proto::{ClusterView, Heartbeat, WorkerView};
use crate::node::{NodeBase, NodeClient, NodeError, Signed, not_found};
use crate::util::now_ms;
use crate::web::auth::{ApiAuth, Tokens, forwarded};
use crate::web::{api, status};

/// Workers silent this long are forgotten (no longer listed).
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// The longest a designee that says it is still taking over is waited for.
const TAKEOVER_MAX: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
struct Entry {
    url: String,
    has_db: bool,
    first_seen: Instant,
    last_seen: Instant,
    last_seen_ms: i64,
    checks_assigned: usize,
    /// The term this worker says it serves as controller.
    controlling: Option<u64>,
    /// It says it is still taking over (claiming a term, loading the checks).
    taking_over: bool,
}

#[derive(Debug)]
struct Election {
    started: Instant,
    dead_after: Duration,
    workers: BTreeMap<String, Entry>,
    controller: Option<String>,
    term: u64,
    confirmations: Option<usize>,
    /// The worker asked to take over, and since when.
    designated: Option<(String, Instant)>,
    /// A designee that did not claim a term in time: others are preferred next.
    passed_over: Option<String>,
    /// The controller is dead and no candidate is left (reported once).
    orphaned: bool,
    /// A controller lost with no replacement, not yet mailed to the admin. `elect` runs in the
    /// heartbeat handler as well as in the ticker; whichever notices the loss leaves it here
    /// and the ticker mails it (the handler's result was dropped before, and with it the mail).
    unreported_loss: Option<String>,
}

impl Election {
    /// No workers heard yet, no controller, no term.
    fn new(started: Instant, dead_after: Duration) -> Self {
        Election {
            started,
            dead_after,
            workers: BTreeMap::new(),
            controller: None,
            term: 0,
            confirmations: None,
            designated: None,
            passed_over: None,
            orphaned: false,
            unreported_loss: None,
        }
    }

    fn alive(&self, name: &str, now: Instant) -> bool {
        self.workers.get(name).is_some_and(|e| now.duration_since(e.last_seen) < self.dead_after)
    }

    /// The controller heartbeats and still says it serves the current term (a controller
    /// that restarted, or stepped down, heartbeats without it).
    fn controller_alive(&self, now: Instant) -> bool {
        self.controller.as_deref().is_some_and(|c| {
            self.alive(c, now) && self.workers.get(c).is_some_and(|e| e.controlling == Some(self.term))
        })
    }

    fn heartbeat(&mut self, hb: &Heartbeat, now: Instant) {
        let e = self.workers.entry(hb.name.clone()).or_insert_with(|| {
            tracing::info!(worker = %hb.name, url = %hb.url, probe_only = !hb.has_db, "worker joined");
            Entry {
                url: hb.url.clone(),
                has_db: hb.has_db,
                first_seen: now,
                last_seen: now,
                last_seen_ms: 0,
                checks_assigned: 0,
                controlling: None,
                taking_over: false,
            }
        });
        if now.duration_since(e.last_seen) >= self.dead_after {
            tracing::info!(worker = %hb.name, "worker is back");
        }
        e.url.clone_from(&hb.url);
        e.has_db = hb.has_db;
        e.last_seen = now;
        e.last_seen_ms = now_ms();
        e.checks_assigned = hb.checks_assigned;
        e.controlling = hb.controlling;
        e.taking_over = hb.taking_over;
        if let Some(t) = hb.controlling {
            // Terms come from the database, so two workers never hold the same one; after a
            // restart (term 0) the first claim heard is adopted.
            if t > self.term || (t == self.term && self.controller.is_none()) {
                tracing::info!(controller = %hb.name, term = t, previous = ?self.controller, "controller elected");
                self.controller = Some(hb.name.clone());
                self.term = t;
                self.designated = None;
                self.passed_over = None;
            }
            if self.controller.as_deref() == Some(hb.name.as_str()) {
                self.confirmations = hb.confirmations.or(self.confirmations);
            }
        }
    }

    /// Picks a new controller candidate when there is no live controller.
    /// A controller that died with no candidate to replace it is left, once, in
    /// `unreported_loss`.
    fn elect(&mut self, now: Instant) {
        if self.controller_alive(now) {
            self.designated = None;
            self.orphaned = false;
            return;
        }
        // After a (re)start, wait one dead-node timeout: the current controller, if any,
        // announces itself in that time.
        if now.duration_since(self.started) < self.dead_after {
            return;
        }
        if let Some((d, since)) = &self.designated {
            let waited = now.duration_since(*since);
            // A designee that heartbeats "taking over" is loading a large table: asking
            // another would only depose it and start the same load again (at 1,000,000
            // checks that went round for ever). It gets up to TAKEOVER_MAX.
            let loading = self.workers.get(d).is_some_and(|e| e.taking_over);
            if self.alive(d, now) && (waited < self.dead_after || (loading && waited < TAKEOVER_MAX)) {
                return;
            }
            tracing::warn!(worker = %d, "designated controller did not take over in time; asking another");
            self.passed_over = Some(d.clone());
            self.designated = None;
        }
        let mut candidates: Vec<(&String, &Entry)> = self
            .workers
            .iter()
            .filter(|(_, e)| e.has_db && now.duration_since(e.last_seen) < self.dead_after)
            .collect();
        if candidates.len() > 1 {
            candidates.retain(|(n, _)| Some(*n) != self.passed_over.as_ref());
        }
        // The longest-lived worker first: it has most likely loaded everything already.
        candidates.sort_by(|a, b| a.1.first_seen.cmp(&b.1.first_seen).then(a.0.cmp(b.0)));
        let Some((name, _)) = candidates.first() else {
            if let Some(c) = self.controller.clone().filter(|_| !self.orphaned) {
                tracing::error!(controller = %c, "controller failed without replacement: no live worker has a database");
                self.orphaned = true;
                self.unreported_loss = Some(c);
            }
            return;
        };
        match &self.controller {
            Some(old) => {
                tracing::warn!(old = %old, candidate = %name, term = self.term, "controller is silent; electing a new one")
            }
            None => tracing::info!(candidate = %name, "no controller; electing one"),
        }
        self.designated = Some(((*name).clone(), now));
    }

    fn controller_url(&self) -> Option<String> {
        self.controller.as_ref().and_then(|c| self.workers.get(c)).map(|e| e.url.clone())
    }

    fn view(&self, now: Instant, for_worker: Option<&str>) -> ClusterView {
        let workers: Vec<WorkerView> = self
            .workers
            .iter()
            .map(|(n, e)| WorkerView {
                name: n.clone(),
                url: e.url.clone(),
                alive: now.duration_since(e.last_seen) < self.dead_after,
                last_heartbeat: e.last_seen_ms,
                checks_assigned: e.checks_assigned,
                probe_only: !e.has_db,
                metrics_url: format!("{}/metrics", e.url),
            })
            .collect();
        let live = workers.iter().filter(|w| w.alive).count();
        let controller_url = self.controller_url();
        let lead = match (&self.designated, for_worker) {
            (Some((d, _)), Some(w)) => d == w && !self.controller_alive(now),
            _ => false,
        };
        ClusterView {
            term: self.term,
            controller: self.controller.clone(),
            controller_url,
            workers,
            workers_live: live,
            confirmations: self.confirmations,
            degraded: self.confirmations.is_some_and(|c| crate::decide::degraded(live, c)),
            lead,
        }
    }
}

struct Shared {
    state: Mutex<Election>,
    metrics: Metrics,
    client: NodeClient,
    admin: AdminMail,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Election> {
        crate::util::lock(&self.state)
    }

    /// The cluster view for the status page, and how long this viewserver has run.
    fn page_view(&self) -> (ClusterView, Duration) {
        let now = Instant::now();
        let s = self.lock();
        (s.view(now, None), now.duration_since(s.started))
    }

    fn publish(&self, v: &ClusterView) {
        self.metrics.controller_term.set(v.term as i64);
        self.metrics.workers_live.set(v.workers_live as i64);
        self.metrics.degraded.set(i64::from(v.degraded));
    }
}

/// Runs a viewserver on an already bound listener until `stop` is cancelled.
///
/// # Errors
/// [`NodeError`] when TLS files cannot be loaded or the alert settings are unusable.
pub async fn run(
    cfg: ViewserverConfig,
    listener: TcpListener,
    stop: CancellationToken,
) -> Result<(), NodeError> {
    let base = NodeBase::new(
        "viewserver",
        &cfg.secret,
        cfg.tls.as_ref(),
        &listener,
        cfg.listen,
        cfg.metrics_hub.as_ref(),
    )?;
    let shared = Arc::new(Shared {
        state: Mutex::new(Election::new(Instant::now(), cfg.timing.dead_after())),
        metrics: base.metrics.clone(),
        client: base.client.clone(),
        admin: AdminMail::new(Notifier::new(cfg.smtp.as_ref(), None, cfg.alerts.clone())?),
    });
    let cluster = base.signed(Router::new().route("/cluster/heartbeat", post(heartbeat)));
    // No database here: tokens are checked by the controller.
    let tokens = Tokens {
        db: Box::new(|| None),
        controller: Box::new({
            let shared = shared.clone();
            move || shared.lock().controller_url()
        }),
        client: base.client.clone(),
    };
    let reads = Router::new()
        .route("/api/cluster", get(api_cluster))
        .merge(api::routes(api_forward))
        .route("/", get(page_index))
        .route("/checks/{id}", get(page_check));
    let writes = api::write_routes(api_forward);
    let router = api::guarded(reads, writes, ApiAuth::new(cfg.http.public, tokens, base.metrics.clone()))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics_text))
        .merge(cluster)
        .fallback(not_found)
        .with_state(shared.clone());
    tracing::info!("viewserver listening on {}://{}", base.scheme(), base.addr);
    let ticker = tokio::spawn(tick(shared, cfg.timing.heartbeat() / 2, stop.clone()));
    base.serve(listener, router, stop).await;
    ticker.abort();
    Ok(())
}

/// Elections and the published view, twice per heartbeat period, and the admin mail about a
/// controller lost with no replacement.
async fn tick(shared: Arc<Shared>, period: std::time::Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = stop.cancelled() => return,
        }
        let now = Instant::now();
        let (view, lost) = {
            let mut s = shared.lock();
            s.elect(now);
            let lost = s.unreported_loss.take();
            s.workers.retain(|_, e| now.duration_since(e.last_seen) < FORGET_AFTER);
            (s.view(now, None), lost)
        };
        if let Some(c) = lost {
            shared.admin.send(
                "bearmon: controller failed without replacement",
                &format!("controller {c} failed without replacement: no live worker with a database"),
            );
        }
        shared.publish(&view);
    }
}

async fn heartbeat(State(shared): State<Arc<Shared>>, Signed(hb): Signed<Heartbeat>) -> Response {
    let now = Instant::now();
    let view = {
        let mut s = shared.lock();
        s.heartbeat(&hb, now);
        // A controller lost here is mailed by the ticker, outside the lock.
        s.elect(now);
        s.view(now, Some(&hb.name))
    };
    Json(view).into_response()
}

async fn api_cluster(State(shared): State<Arc<Shared>>) -> Json<ClusterView> {
    Json(shared.lock().view(Instant::now(), None))
}

async fn page_index(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<status::PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (cluster, uptime) = shared.page_view();
    status::index(&shared.client, &cluster, &q, forwarded(&headers), uptime).await
}

async fn page_check(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(id): axum::extract::Path<i64>,
    headers: HeaderMap,
) -> Response {
    let (cluster, uptime) = shared.page_view();
    status::check(&shared.client, &cluster, id, forwarded(&headers), uptime).await
}

/// `/api/*` (but `/api/cluster`) is the controller's: forwarded.
async fn api_forward(
    State(shared): State<Arc<Shared>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let url = shared.lock().controller_url();
    api::proxy(&shared.client, url.as_deref(), method, &uri, forwarded(&headers), body).await
}

async fn metrics_text(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> impl IntoResponse {
    let view = shared.lock().view(Instant::now(), None);
    shared.publish(&view);
    shared.metrics.response(&headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn election(now: Instant) -> Election {
        Election::new(now, Duration::from_secs(3))
    }

    fn hb(name: &str, taking_over: bool) -> Heartbeat {
        Heartbeat {
            name: name.into(),
            url: format!("http://{name}"),
            has_db: true,
            controlling: None,
            confirmations: None,
            checks_assigned: 0,
            taking_over,
        }
    }

    /// Runs `secs` seconds of heartbeats (every second, from both workers) and elections;
    /// `loading(t)` says whether the designee reports taking over at second `t`.
    fn run(e: &mut Election, t0: Instant, from: u64, secs: u64, loading: impl Fn(u64) -> bool) {
        for t in from..from + secs {
            let now = t0 + Duration::from_secs(t);
            for w in ["w1", "w2"] {
                let designee = e.designated.as_ref().is_some_and(|(d, _)| d == w);
                e.heartbeat(&hb(w, designee && loading(t)), now);
            }
            e.elect(now);
        }
    }

    /// An election after its first 4 s (two workers): the designee's name.
    fn started() -> (Instant, Election, String) {
        let t0 = Instant::now();
        let mut e = election(t0);
        run(&mut e, t0, 0, 4, |_| false);
        let first = e.designated.clone().expect("a candidate is designated").0;
        (t0, e, first)
    }

    #[test]
    fn a_designee_still_loading_is_not_passed_over() {
        let (t0, mut e, first) = started();
        // Loading a large table for 30 s: still the same designee, nobody else asked.
        run(&mut e, t0, 4, 30, |_| true);
        assert_eq!(e.designated.as_ref().map(|d| d.0.clone()), Some(first.clone()));
        assert_eq!(e.passed_over, None);
        // It stops saying so without claiming a term: having waited past the dead-node
        // timeout already, another is asked at once.
        run(&mut e, t0, 34, 1, |_| false);
        assert!(e.designated.as_ref().is_some_and(|d| d.0 != first), "{:?}", e.designated);
        assert_eq!(e.passed_over.as_deref(), Some(first.as_str()));
    }

    #[test]
    fn a_designee_loading_for_ever_is_passed_over_after_the_limit() {
        let (t0, mut e, first) = started();
        run(&mut e, t0, 4, TAKEOVER_MAX.as_secs() + 2, |_| true);
        assert_eq!(e.passed_over.as_deref(), Some(first.as_str()));
    }

    #[test]
    fn a_designee_that_says_nothing_is_passed_over_after_the_dead_node_timeout() {
        let (t0, mut e, first) = started();
        run(&mut e, t0, 4, 4, |_| false);
        assert_eq!(e.passed_over.as_deref(), Some(first.as_str()));
    }
}
