//! The command line of the benchmark harness: what to load, how long to measure, and which
//! extra measurements (detection, failover, max rate, peers) to run. Kept apart so the flags
//! and their help text read in one place, away from the run that uses them.

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "bearmon benchmark harness (see scripts/bench.sh)")]
pub struct Args {
    #[arg(long, default_value_t = 100_000)]
    pub checks: usize,
    #[arg(long, default_value_t = 60)]
    pub interval: u64,
    #[arg(long, default_value_t = 2)]
    pub confirmations: usize,
    /// The measured window, after one full interval of warm-up.
    #[arg(long, default_value_t = 300)]
    pub seconds: u64,
    /// `icmp` pings the 127.x.y.z addresses themselves (every loopback address answers).
    #[arg(long, default_value = "http", value_parser = ["http", "tcp", "icmp"])]
    pub kind: String,
    #[arg(long, default_value_t = 3)]
    pub workers: usize,
    /// An admin URL of a PostgreSQL server (a database is created for the run).
    #[arg(long, env = "BEARMON_TEST_PG")]
    pub pg: String,
    /// The target's port (nginx on loopback); checks use distinct 127.x.y.z addresses.
    #[arg(long)]
    pub target_port: u16,
    /// The bearmon binary to run.
    #[arg(long)]
    pub bin: PathBuf,
    /// Requests for `ab` (0: skip).
    #[arg(long, default_value_t = 20_000)]
    pub ab_requests: usize,
    /// Append a row to this Markdown file.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// A label for the row.
    #[arg(long, default_value = "")]
    pub label: String,
    /// Extra http checks (delay 1, linked to a webhook) whose target starts failing after the
    /// window: detection overhead = alert − first failed request − delay × interval.
    #[arg(long, default_value_t = 0)]
    pub detect: usize,
    /// After everything else, `kill -9` the controller and time the new one's first answer.
    #[arg(long)]
    pub failover: bool,
    /// Then, with bearmon stopped, run a peer against the same targets at the same demanded
    /// rate for the same window: `blackbox` (blackbox_exporter) or `nagios` (Nagios 4 core
    /// with check_http/check_tcp). Repeatable.
    #[arg(long, value_parser = ["blackbox", "nagios"])]
    pub peer: Vec<String>,
    /// The peers' measured window (default: `--seconds`).
    #[arg(long)]
    pub peer_seconds: Option<u64>,
    /// After the first window, add checks in steps of an eighth of `--checks` until the
    /// cluster no longer keeps up, then ask for twice the rate last held (see `max_rate`);
    /// reports the highest rate held and the throughput past it.
    #[arg(long)]
    pub max_rate: bool,
    /// The nodes' dead-node timeout (`[timing] dead_after_secs`, default 3 as the nodes');
    /// heartbeats every third of it, at most 1 s (so the default is the nodes' default).
    #[arg(long, default_value_t = 3.0)]
    pub dead_after: f64,
    /// After the checks, this many rows in `timeperiods` (issue 17's policy tables; see
    /// `policy`): `holidays`, `24x7`, `workhours`, then on-call rotations of every syntax.
    #[arg(long, default_value_t = 0)]
    pub timeperiods: usize,
    /// This many rows in `escalations`, spread over the checks and `--policy-contacts` (one
    /// in 1,000 for every check, a quarter naming a timeperiod, a third time-based).
    #[arg(long, default_value_t = 0)]
    pub escalations: usize,
    /// The email contacts the escalations name (inserted with the policy rows).
    #[arg(long, default_value_t = 20)]
    pub policy_contacts: usize,
    /// The share (%) of checks and of those contacts given `options` naming a timeperiod.
    #[arg(long, default_value_t = 10)]
    pub policy_options_percent: usize,
    /// Flap detection on for every check (issue 18; see `states`).
    #[arg(long)]
    pub flap_detection: bool,
    /// One dependency for every check but one in 100, on the first of its hundred.
    #[arg(long)]
    pub dependencies: bool,
    /// `[metrics] per_check = true` on the workers, the controller scraped every 15 s through
    /// the window (issue 20; see `scrape`).
    #[arg(long)]
    pub per_check_metrics: bool,
}
