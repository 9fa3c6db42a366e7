//! The command line. Each subcommand is a small function; `main` only parses and calls
//! [`run`].

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::check::{CheckSpec, ProbeConfig, Probes, Verdict};
use crate::db::{self, Db};
use crate::store::Store;

/// bearmon: a distributed uptime monitor that reads gobearmon's SQL schema.
#[derive(Debug, Parser)]
#[command(name = "bearmon", version, about)]
pub struct Cli {
    /// Log at debug level (RUST_LOG overrides).
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or upgrade the schema (gobearmon's tables plus bearmon's). Idempotent; an
    /// existing gobearmon database is adopted as it is.
    Migrate {
        /// mysql://user:pass@host/db, postgres://user:pass@host/db or sqlite://file.db
        #[arg(long, env = "BEARMON_DATABASE")]
        database: String,
    },
    /// Run one check once, here, and print the outcome. Exit code 0 when online.
    Probe {
        /// A check type: http, tcp, icmp, ssl_expire, dns.
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
        #[arg(long, env = "BEARMON_DATABASE")]
        database: String,
    },
}

/// Runs a parsed command line.
///
/// # Errors
/// Start-up failures (unreachable database, failed migration), with context.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Migrate { database } => migrate(&database).await,
        Command::Probe { kind, data, dns_server } => probe(&kind, &data, dns_server).await,
        Command::Checks { database } => checks(&database).await,
    }
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
    let parsed = match CheckSpec::parse(0, kind, data) {
        Ok(p) => p,
        Err(e) => {
            println!("invalid: {e}");
            return Ok(ExitCode::from(1));
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
    let db = Db::connect(url).await?;
    let snapshot = Store::new(db).load_all().await.context("loading the checks")?;
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
    let problems = snapshot.problems();
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
