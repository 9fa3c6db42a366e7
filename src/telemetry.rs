//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`, or `debug` with
//! `--verbose`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(verbose: bool) {
    let default = if verbose { "bearmon=debug,info" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
