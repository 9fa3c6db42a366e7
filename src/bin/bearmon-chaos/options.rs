//! The command line of the chaos harness (how long, which seed, which database and how to
//! stop it, how big a cluster) and the few settings every run shares. Kept apart so the
//! flags and their help text read in one place, away from the run that uses them.

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "bearmon chaos harness (see scripts/chaos.sh)")]
pub struct Args {
    /// How long faults are injected (then the cluster is left to settle).
    #[arg(long, default_value_t = 5.0)]
    pub minutes: f64,
    /// The seed of the timelines and the faults; random (and printed) when absent.
    #[arg(long)]
    pub seed: Option<u64>,
    /// An admin URL of the database server (postgres://… or mysql://…); a database is
    /// created for the run.
    #[arg(long)]
    pub db: String,
    /// A shell command that stops the database server.
    #[arg(long)]
    pub db_down: String,
    /// A shell command that starts it again (and returns once it accepts connections).
    #[arg(long)]
    pub db_up: String,
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(3..=5))]
    pub workers: u16,
    #[arg(long, default_value_t = 300)]
    pub checks: usize,
    #[arg(long, default_value_t = 2)]
    pub interval: i64,
    #[arg(long, default_value_t = 2)]
    pub delay: i64,
    #[arg(long, default_value_t = 2)]
    pub confirmations: usize,
    /// The bearmon binary.
    #[arg(long)]
    pub bin: PathBuf,
    /// Where the nodes' logs go.
    #[arg(long, default_value = "target/chaos")]
    pub logs: PathBuf,
    /// Write the figures as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// The cluster's shared secret.
pub const SECRET: &str = "chaos-secret-0123456789";
/// The nodes' dead-node timeout (`[timing] dead_after_secs`); a SIGSTOPped controller is
/// held past it.
pub const DEAD_AFTER_SECS: f64 = 2.5;
