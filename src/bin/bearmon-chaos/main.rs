//! The chaos harness (scripts/chaos.sh drives it): a viewserver and 3–5 workers as separate
//! processes on PostgreSQL or MariaDB, a few hundred http checks against a target farm whose
//! up/down timeline is drawn from a printed seed (the oracle), a webhook receiver recording
//! every notification, and faults injected one after another for a bounded time: `kill -9`
//! of the controller, a worker or the viewserver, a SIGSTOPped controller, the database
//! stopped, a worker blinded from the targets, the receiver down. At the end it compares
//! the committed flips and the notifications with the oracle, prints one verdict line per
//! invariant and a summary, and exits 0 only when every invariant holds.
//!
//! Each module does one job: `options` (the command line), `run` (one run from seed to
//! verdict), `database` (the run's database), `cluster` and `procs` (the nodes), `inject`
//! and `faults` (the faults), `farm` (targets and receiver), `oracle` (the timelines and
//! the verdict) and `report` (what is printed).

mod cluster;
mod database;
mod farm;
mod faults;
mod inject;
mod options;
mod oracle;
mod procs;
mod report;
mod run;

use clap::Parser;
use rand::Rng;

use options::Args;

/// Shorthand for the many owned strings of arguments and messages.
fn s(v: impl Into<String>) -> String {
    v.into()
}

#[tokio::main]
async fn main() {
    bearmon::init_crypto();
    let a = Args::parse();
    let seed = a.seed.unwrap_or_else(|| rand::rng().random());
    println!(
        "chaos: seed {seed} (replay with --seed {seed}), {} min, {} workers, {} checks",
        a.minutes, a.workers, a.checks
    );
    match run::run(&a, seed).await {
        Ok(true) => std::process::exit(0),
        Ok(false) => std::process::exit(1),
        Err(e) => {
            println!("chaos: harness error: {e}");
            std::process::exit(2);
        }
    }
}
