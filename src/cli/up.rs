//! `bearmon up`: the whole cluster in one process (a viewserver and three workers, each a
//! controller candidate) on an embedded SQLite file, for a first try.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use sqlx::Row;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Timing, ViewserverConfig, WorkerConfig, WorkerFile};
use crate::db::{self, Db};
use crate::store::outbox;

/// The demo check: bearmon watching its own status page.
fn demo_sql(addr: SocketAddr) -> String {
    format!(
        "INSERT INTO checks (name, type, data, check_interval, delay) VALUES ('bearmon status page', 'http', '{{\"url\":\"http://{addr}/healthz\"}}', 30, 1)"
    )
}

fn random_secret() -> String {
    crate::util::hex(&crate::util::random_bytes::<24>())
}

/// Why the status page cannot listen, and what to do about it.
fn listen_error(addr: SocketAddr, e: &std::io::Error) -> anyhow::Error {
    let next = SocketAddr::new(addr.ip(), addr.port().wrapping_add(1).max(1));
    if e.kind() == std::io::ErrorKind::AddrInUse {
        anyhow::anyhow!(
            "cannot listen on {addr}: port {} is already in use (another bearmon up?); \
             choose another address with --listen, e.g. --listen {next}",
            addr.port()
        )
    } else {
        anyhow::anyhow!("cannot listen on {addr}: {e}; choose another address with --listen")
    }
}

/// How long a stop waits for the outbox.
const DRAIN_SECS: u64 = 10;

/// Gives the controller up to [`DRAIN_SECS`] to deliver the notifications it can send by
/// then, before the nodes stop; a second Ctrl-C or SIGTERM stops at once. Nothing is lost:
/// what is left stays in the database, and the next start sends it at once
/// ([`outbox::due_now`]).
async fn drain_outbox(database: &str) {
    let again = second_signal();
    let Ok(db) = Db::connect(database).await else { return };
    let deadline = std::time::Instant::now() + Duration::from_secs(DRAIN_SECS);
    let until_ms = crate::util::now_ms() + Duration::from_secs(DRAIN_SECS).as_millis() as i64;
    let wait = async {
        let mut told = false;
        loop {
            match outbox::pending_by(&db, until_ms).await {
                Ok(0) | Err(_) => return,
                Ok(n) if std::time::Instant::now() >= deadline => {
                    tracing::warn!(
                        pending = n,
                        "stopping with notifications undelivered; they go out at the next start"
                    );
                    return;
                }
                Ok(n) if !told => {
                    told = true;
                    tracing::info!(
                        pending = n,
                        "delivering the outbox before stopping (up to {DRAIN_SECS} s; Ctrl-C again stops now, \
                         and what is left goes out at the next start)"
                    );
                }
                Ok(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::select! {
        () = wait => {}
        () = again => tracing::info!("stopping now; undelivered notifications go out at the next start"),
    }
    if let Ok(n) = outbox::pending(&db).await
        && n > 0
    {
        tracing::info!(pending = n, "notifications left in the outbox for the next start");
    }
    db.pool().close().await;
}

/// The next Ctrl-C or SIGTERM (the first one started the stop). The handlers are
/// registered when this is called, not when the future is first polled.
fn second_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    async move {
        let next = |s: &mut Option<tokio::signal::unix::Signal>| {
            let s = s.take();
            async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
        };
        tokio::select! {
            () = next(&mut int) => {}
            () = next(&mut term) => {}
        }
    }
}

/// Runs until Ctrl-C or SIGTERM.
///
/// # Errors
/// When the database cannot be opened or migrated, or the address cannot be bound.
pub async fn run(
    listen: &str,
    database: &str,
    config: Option<&Path>,
    signal: CancellationToken,
) -> anyhow::Result<()> {
    // Nodes stop after the outbox is drained, not at the signal itself.
    let stop = CancellationToken::new();
    let file: WorkerFile = config::load(config)?;
    let addr: SocketAddr = listen.parse().with_context(|| format!("--listen {listen:?} is not host:port"))?;
    // The port first: a busy one must not leave a new database file behind.
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| listen_error(addr, &e))?;
    let db = Db::connect(database).await?;
    let report = db::migrate(&db).await?;
    for m in &report.applied {
        tracing::info!(migration = %m, "applied migration");
    }
    // What the last run could not deliver goes out now, not at the backoff it had reached.
    match outbox::due_now(&db).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(pending = n, "sending the notifications left by the last run"),
        Err(e) => tracing::warn!(error = %e, "cannot read the outbox"),
    }
    let bound = listener.local_addr()?;
    // Workers reach the viewserver on loopback even when the page listens on every address.
    let vs_addr =
        if bound.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], bound.port())) } else { bound };
    let count: i64 = sqlx::query(db.sql(&format!("SELECT {} FROM checks", db.int("COUNT(*)"))))
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    if count == 0 {
        sqlx::raw_sql(sqlx::AssertSqlSafe(demo_sql(vs_addr)))
            .execute(db.pool())
            .await
            .context("adding the demo check")?;
        tracing::info!("empty database: added a demo check watching the status page");
    }
    db.pool().close().await;
    let secret = random_secret();
    let timing =
        Timing { heartbeat_secs: 0.5, dead_after_secs: 2.5, db_poll_secs: 1.0, result_flush_secs: 0.2 };
    // One scrape of the page's address sees every node's series, labelled `node`.
    let hub = crate::metrics::Hub::default();
    let vs_cfg = ViewserverConfig {
        listen: bound,
        secret: secret.clone(),
        timing: timing.clone(),
        tls: None,
        smtp: file.smtp.clone(),
        alerts: file.alerts.clone(),
        http: file.http.clone(),
        metrics_hub: Some(hub.clone()),
    };
    let mut tasks = vec![tokio::spawn({
        let stop = stop.clone();
        async move { crate::viewserver::run(vs_cfg, listener, stop).await.map_err(anyhow::Error::from) }
    })];
    let policy_tz = file.policy.time_zone()?;
    for name in ["w1", "w2", "w3"] {
        let cfg = WorkerConfig {
            name: name.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertise: None,
            viewserver: format!("http://{vs_addr}"),
            secret: secret.clone(),
            database: Some(database.to_string()),
            confirmations: file.confirmations.unwrap_or(2),
            max_concurrent_checks: file.max_concurrent_checks.unwrap_or(1024),
            dns_server: file.dns_server.clone(),
            timing: timing.clone(),
            tls: None,
            smtp: file.smtp.clone(),
            twilio: file.twilio.clone(),
            alerts: file.alerts.clone(),
            http: file.http.clone(),
            policy_tz: policy_tz.clone(),
            flap_thresholds: file.policy.flap_thresholds()?,
            event_handlers: file.policy.handlers()?,
            metrics_hub: Some(hub.clone()),
            per_check_metrics: file.metrics.per_check,
        };
        let l = tokio::net::TcpListener::bind(cfg.listen).await?;
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            crate::worker::run(cfg, l, stop).await.map_err(anyhow::Error::from)
        }));
    }
    let where_ = db::redact_url(database);
    println!("bearmon is up: status page on http://{vs_addr}/ (database {where_})");
    println!(
        "Add a check, a contact and an alert with SQL (for SQLite: sqlite3 {}):",
        database.trim_start_matches("sqlite://")
    );
    println!(
        "  INSERT INTO checks (name, type, data) VALUES ('example', 'http', '{{\"url\":\"https://example.com\"}}');"
    );
    println!(
        "  INSERT INTO contacts (type, data) VALUES ('webhook', '{{\"url\":\"https://hooks.example.com/bearmon\"}}');"
    );
    println!(
        "  INSERT INTO alerts (check_id, contact_id, type) SELECT MAX(checks.id), MAX(contacts.id), 'both' FROM checks, contacts;"
    );
    println!("Ctrl-C stops it.");
    signal.cancelled().await;
    drain_outbox(database).await;
    stop.cancel();
    tracing::info!("stopping: finishing in-flight requests");
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(10), t).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "a node stopped with an error"),
            Ok(_) => {}
            Err(_) => tracing::warn!("a node did not stop within 10 s"),
        }
    }
    Ok(())
}
