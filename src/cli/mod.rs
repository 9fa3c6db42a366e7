//! The command line. Each subcommand is a small function; `main` only parses and calls
//! [`run`].

mod certs;
mod check_config;
mod haproxy_report;
mod periods;
mod status;
mod token;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::{self, ViewserverConfig, ViewserverFile, WorkerConfig, WorkerFile, WorkerFlags};

use crate::check::{CheckSpec, ProbeConfig, Probes, Verdict};
use crate::db::{self, Db};
use crate::store::{RowProblem, Store};

/// bearmon: a distributed uptime monitor that reads gobearmon's SQL schema.
#[derive(Debug, Parser)]
#[command(name = "bearmon", version, about)]
pub struct Cli {
    /// Log at debug level (RUST_LOG overrides).
    #[arg(long, short, global = true, display_order = 100)]
    pub verbose: bool,
    // One thread (the default) spends about a third less CPU per check than two: no thread
    // is woken and parked again for each run (BENCHMARKS.md). One thread runs several
    // thousand http checks a second. Every subcommand's help repeats this flag: one line.
    /// Runtime threads; 1 spends the least CPU per check (README: Commands).
    #[arg(long, global = true, default_value_t = 1, env = "BEARMON_THREADS", display_order = 101,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: u16,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or upgrade the schema (gobearmon's tables plus bearmon's). Idempotent; an
    /// existing gobearmon database is adopted as it is.
    Migrate {
        /// mysql://user:pass@host/db, postgres://user:pass@host/db or sqlite://file.db
        #[arg(long, env = "BEARMON_DATABASE", hide_env_values = true)]
        database: String,
    },
    /// Run one check once, here, and print the outcome. Exit code 0 when online, 1 when
    /// not (offline, or the check could not run), 2 when the check is invalid: one the
    /// cluster would refuse too (a bad or missing key, data over 64 KiB).
    Probe {
        /// A check type: http, tcp, icmp, ssl_expire, dns, exec, haproxy.
        #[arg(long = "type")]
        kind: String,
        /// The check's JSON, as in checks.data.
        #[arg(long)]
        data: String,
        /// Default nameserver for dns checks without "server".
        #[arg(long)]
        dns_server: Option<String>,
    },
    /// Load the checks, alerts and contacts from a database and report every bad row.
    /// Exit code 0 when no row has a problem.
    Checks {
        /// The database to read, as for `migrate`.
        #[arg(long, env = "BEARMON_DATABASE", hide_env_values = true)]
        database: String,
    },
    /// Run the viewserver: tracks live workers, elects the controller, serves the cluster's
    /// stable address (API, metrics).
    Viewserver(ViewserverArgs),
    /// Run a worker: runs checks; with --database also a controller candidate.
    Worker(WorkerArgs),
    /// Make a cluster CA and node certificates for mutual TLS.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Run the whole cluster in one process (a viewserver and three workers) on one
    /// database, a SQLite file unless --database says otherwise, with the status page on
    /// --listen.
    Up {
        /// Address of the status page and API.
        #[arg(long, default_value = "127.0.0.1:8080", env = "BEARMON_LISTEN")]
        listen: String,
        /// Any database URL (a SQLite file is created when missing); migrated at start.
        #[arg(long, default_value = "sqlite://bearmon.db", env = "BEARMON_DATABASE", hide_env_values = true)]
        database: String,
        /// A worker-style config for [smtp], [twilio], [alerts], confirmations
        /// (configs/up.toml documents it).
        #[arg(long, env = "BEARMON_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Print the cluster and every check that is not online; exit code 0 when all is well,
    /// 1 when a check is offline or invalid or the cluster is degraded or leaderless.
    Status {
        /// Any node's address (the viewserver's, or `bearmon up`'s): http://HOST:PORT, or
        /// HOST:PORT for http.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "BEARMON_URL")]
        url: String,
        /// An API token (scope read), for a cluster with `[http] public = false`.
        #[arg(long, env = "BEARMON_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// API tokens: `Authorization: Bearer TOKEN` on the API and the page.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Whether a timeperiod is active at a time and its next transitions (every timeperiod
    /// when NAME is omitted). Exit code 1 when a period shown does not parse or NAME is
    /// unknown.
    Periods {
        /// The database to read, as for `migrate`.
        #[arg(long, env = "BEARMON_DATABASE", hide_env_values = true)]
        database: String,
        /// A timeperiod's name (timeperiods.name).
        name: Option<String>,
        /// RFC 3339 (2026-12-24T18:00:00Z), unix seconds, or 2026-12-24T18:00 read in
        /// --timezone. Default: now.
        #[arg(long)]
        at: Option<String>,
        /// How many transitions to list (searched up to 400 days ahead).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(0..=1000))]
        count: u16,
        /// The IANA time zone the definitions are read in (e.g. Europe/Paris). Default UTC;
        /// use the workers' `[policy] timezone` to see what the controller sees.
        #[arg(long)]
        timezone: Option<String>,
    },
    /// Read `show stat` from HAProxy's stats sockets and send the counters once to Graphite
    /// (G: plaintext, UDP or --tcp) or statsd (S), as HAP-Monitor's cron job did; exit code
    /// 1 when a socket or the backend cannot be reached. --verbose prints each line sent.
    HaproxyReport(haproxy_report::ReportArgs),
    /// Read a config file (a worker's, a viewserver's or `bearmon up`'s) and report what is
    /// wrong with it. Exit code 0 when valid, 1 when not.
    CheckConfig {
        /// The TOML file.
        file: PathBuf,
        /// Which command the file is for. Default: worker when it has a `viewserver` or `name`
        /// key, viewserver when it has only viewserver keys, otherwise up.
        #[arg(long, value_parser = ["worker", "viewserver", "up"])]
        role: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ViewserverArgs {
    /// TOML config file (configs/viewserver.toml documents every key).
    #[arg(long, env = "BEARMON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:7300).
    #[arg(long, env = "BEARMON_LISTEN")]
    pub listen: Option<String>,
    /// Shared cluster secret (at least 8 characters); never sent over the network.
    #[arg(long, env = "BEARMON_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// TOML config file (configs/worker.toml documents every key).
    #[arg(long, env = "BEARMON_CONFIG")]
    pub config: Option<PathBuf>,
    /// This node's stable name.
    #[arg(long, env = "BEARMON_NAME")]
    pub name: Option<String>,
    /// This node's cluster address (default 127.0.0.1:0, a free port).
    #[arg(long, env = "BEARMON_LISTEN")]
    pub listen: Option<String>,
    /// The viewserver's URL, e.g. http://10.0.0.1:7300.
    #[arg(long, env = "BEARMON_VIEWSERVER")]
    pub viewserver: Option<String>,
    /// Shared cluster secret.
    #[arg(long, env = "BEARMON_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Database URL; without it the worker is probe-only and never controller.
    #[arg(long, env = "BEARMON_DATABASE", hide_env_values = true)]
    pub database: Option<String>,
    /// Workers that must agree before a check flips (used when this node is controller).
    #[arg(long, env = "BEARMON_CONFIRMATIONS")]
    pub confirmations: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it, once: only its hash is stored.
    Create {
        /// A unique name that says who or what uses it.
        name: String,
        /// read (the page and the read API), write (also the routes that change things) or
        /// admin (everything).
        #[arg(long, value_parser = ["read", "write", "admin"], default_value = "read")]
        scope: String,
        /// The database that holds the tokens, as for `migrate`.
        #[arg(long, env = "BEARMON_DATABASE", hide_env_values = true)]
        database: String,
    },
    /// List the tokens: name, scope, created, last used, revoked. Never a token itself.
    List {
        /// The database that holds the tokens, as for `migrate`.
        #[arg(long, env = "BEARMON_DATABASE", hide_env_values = true)]
        database: String,
    },
    /// Revoke a token by name (the nodes stop accepting it within 10 seconds).
    Revoke {
        /// The token's name, as given to `token create`.
        name: String,
        /// The database that holds the tokens, as for `migrate`.
        #[arg(long, env = "BEARMON_DATABASE", hide_env_values = true)]
        database: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Make the cluster CA: DIR/ca.pem and DIR/ca-key.pem.
    Init {
        /// The directory to write to (created when missing).
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
        /// How long the CA is valid.
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
    /// Make a node's key and certificate, DIR/NAME.pem and DIR/NAME-key.pem.
    Issue {
        /// The node's name (as in its config's `name`; `viewserver` for the viewserver).
        name: String,
        /// The directory that holds the CA; the node's files are written there too.
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
        /// A DNS name or IP address other nodes use to reach this node (repeatable).
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// How long the certificate is valid.
        #[arg(long, default_value_t = 825)]
        days: u32,
    },
}

/// Runs a parsed command line.
///
/// # Errors
/// Start-up failures (unreachable database, failed migration), with context.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let verbose = cli.verbose;
    match cli.command {
        Command::Migrate { database } => migrate(&database).await,
        Command::Probe { kind, data, dns_server } => probe(&kind, &data, dns_server).await,
        Command::Checks { database } => checks(&database).await,
        Command::Viewserver(args) => viewserver(args).await,
        Command::Worker(args) => worker(args).await,
        Command::Certs(CertsCommand::Init { dir, days }) => {
            certs::init(&dir, days)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Certs(CertsCommand::Issue { name, dir, hosts, days }) => {
            certs::issue(&dir, &name, &hosts, days)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { file, role } => check_config::run(&file, role.as_deref()),
        Command::Up { listen, database, config } => {
            up::run(&listen, &database, config.as_deref(), stop_on_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::HaproxyReport(args) => haproxy_report::run(&args, verbose).await,
        Command::Status { url, token } => status::run(&url, token.as_deref()).await,
        Command::Token(TokenCommand::Create { name, scope, database }) => {
            token::create(&database, &name, &scope).await
        }
        Command::Token(TokenCommand::List { database }) => token::list(&database).await,
        Command::Token(TokenCommand::Revoke { name, database }) => token::revoke(&database, &name).await,
        Command::Periods { database, name, at, count, timezone } => {
            let q = periods::Query {
                name: name.as_deref(),
                at: at.as_deref(),
                count: count.into(),
                timezone: timezone.as_deref(),
            };
            periods::run(&database, &q).await
        }
    }
}

/// An error and its causes on one line, each cause once: a layer that already quotes its
/// cause in its own message (sqlx's, ours) does not make the user read it twice.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// A token cancelled on Ctrl-C or SIGTERM.
fn stop_on_signal() -> CancellationToken {
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        tracing::info!("stopping");
        s.cancel();
    });
    stop
}

async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))
}

async fn viewserver(args: ViewserverArgs) -> anyhow::Result<ExitCode> {
    let file: ViewserverFile = config::load(args.config.as_deref())?;
    let cfg = ViewserverConfig::resolve(file, args.listen, args.secret)?;
    let listener = bind(cfg.listen).await?;
    crate::viewserver::run(cfg, listener, stop_on_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

fn worker_flags(args: WorkerArgs) -> WorkerFlags {
    WorkerFlags {
        name: args.name,
        listen: args.listen,
        viewserver: args.viewserver,
        secret: args.secret,
        database: args.database,
        confirmations: args.confirmations,
    }
}

async fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let file: WorkerFile = config::load(args.config.as_deref())?;
    let cfg = WorkerConfig::resolve(file, worker_flags(args))?;
    let listener = bind(cfg.listen).await?;
    crate::worker::run(cfg, listener, stop_on_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn migrate(url: &str) -> anyhow::Result<ExitCode> {
    let db = Db::connect(url).await?;
    let report = db::migrate(&db).await?;
    let where_ = db::redact_url(url);
    if report.applied.is_empty() {
        println!("{where_}: schema up to date ({} migrations already applied)", report.already);
    } else {
        for m in &report.applied {
            println!("{where_}: applied {m}");
        }
        println!("{where_}: {} applied, {} already in place", report.applied.len(), report.already);
    }
    Ok(ExitCode::SUCCESS)
}

async fn probe(kind: &str, data: &str, dns_server: Option<String>) -> anyhow::Result<ExitCode> {
    // The cluster's own limit (store::MAX_DATA): what it refuses, probe refuses.
    let parsed = if data.len() > crate::store::MAX_DATA {
        Err(crate::check::InvalidCheck::new(
            0,
            "data",
            format!("{} bytes, over the {}-byte limit", data.len(), crate::store::MAX_DATA),
        ))
    } else {
        CheckSpec::parse(0, kind, data)
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => {
            println!("invalid: {e}");
            // 2, not 1: an invalid check is not a failing one.
            return Ok(ExitCode::from(2));
        }
    };
    for w in &parsed.warnings {
        println!("warning: {w}");
    }
    let probes = Probes::new(ProbeConfig { dns_server });
    let out = parsed.spec.run(&probes).await;
    let ms = out.latency.as_secs_f64() * 1000.0;
    if out.message.is_empty() {
        println!("{} in {ms:.1} ms", out.verdict);
    } else {
        println!("{} in {ms:.1} ms: {}", out.verdict, out.message);
    }
    Ok(if out.verdict == Verdict::Online { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

async fn checks(url: &str) -> anyhow::Result<ExitCode> {
    let db = Db::connect_migrated(url).await?;
    let snapshot = Store::new(db.clone()).load_all().await.context("loading the checks")?;
    for c in snapshot.checks.values() {
        let state = if c.is_valid() { c.status.as_str() } else { "invalid" };
        println!(
            "check {:>6}  {:<8} {:<10} every {:>4}s delay {}  {}  alerts: {}",
            c.id,
            state,
            c.kind,
            c.interval.as_secs(),
            c.delay,
            c.name,
            c.alerts.len()
        );
    }
    let mut problems = snapshot.problems();
    // Contacts are checked by their notifier, which knows the kinds (the store does not).
    for c in snapshot.contacts.values() {
        if let Err(e) = crate::alert::contact::parse(&c.kind, &c.data) {
            problems.push(RowProblem::new("contacts", c.id, e.field, e.reason));
        }
    }
    problems.extend(policy_problems(&db, &snapshot).await?);
    for p in &problems {
        println!("problem: {p}");
    }
    println!(
        "{} checks, {} contacts, {} problems",
        snapshot.checks.len(),
        snapshot.contacts.len(),
        problems.len()
    );
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The problems of the policy tables (timeperiods, escalations, downtimes, acknowledgements)
/// and of the `options` columns, found as the controller finds them.
async fn policy_problems(db: &Db, snapshot: &crate::store::Snapshot) -> anyhow::Result<Vec<RowProblem>> {
    let checks = snapshot.checks.keys().copied().collect();
    let contacts = snapshot.contacts.keys().copied().collect();
    let now_s = crate::util::now_ms() / 1000;
    let rows = crate::store::policy_rows::load(db, &checks, &contacts, now_s)
        .await
        .context("loading the policy tables (has `bearmon migrate` run?)")?;
    let mut book = crate::controller::state::Book::default();
    book.load(rows, jiff::tz::TimeZone::UTC);
    for c in snapshot.contacts.values() {
        book.set_contact(c.id, c.options.as_deref());
    }
    Ok(book.all_problems(snapshot.checks.values().map(|c| c.as_ref())))
}
