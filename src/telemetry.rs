//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`, or `debug` with
//! `--verbose`). Colours only on a terminal, so log files and journald stay plain text.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(verbose: bool) {
    // sqlx logs every PostgreSQL notice ("relation already exists, skipping") at info.
    let default = if verbose { "bearmon=debug,info,sqlx=warn" } else { "info,sqlx=warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
