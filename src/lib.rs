//! bearmon: a distributed uptime monitor that reads gobearmon's SQL schema.
//!
//! # Layout
//!
//! - [`cli`]: the command line.
//! - [`db`]: one handle over MySQL/MariaDB, PostgreSQL and SQLite, and the migrations in
//!   `migrations/<backend>/`.
//! - [`store`]: gobearmon's `checks`, `alerts`, `contacts` read into memory and kept current
//!   through a trigger-filled change log; bad rows become reported problems, never crashes.
//! - [`check`]: the five check kinds (`http`, `tcp`, `icmp`, `ssl_expire`, `dns`), one file
//!   each, behind the closed enum [`check::CheckSpec`]; a run always ends by its deadline.
//! - [`decide`]: the pure confirmations/delay state machine that says whom to ask and when a
//!   check flips.
//! - [`config`]: node config files, flags and environment.
//! - [`node`]: what nodes share: wire messages, request signing, mutual TLS, the HTTP
//!   server and client.
//! - [`viewserver`], [`worker`], [`controller`]: the three cluster roles.
//! - [`alert`]: the outbox, the contact kinds and their senders.
//! - [`metrics`]: Prometheus metrics.
//! - [`telemetry`]: logging set-up.
//!
//! ARCHITECTURE.md at the repository root shows how these fit together.

pub mod alert;
pub mod api;
pub mod check;
pub mod cli;
pub mod config;
pub mod controller;
pub mod db;
pub mod decide;
pub mod metrics;
pub mod node;
pub mod page;
pub mod store;
pub mod telemetry;
pub mod util;
pub mod viewserver;
pub mod worker;

/// Installs rustls's ring provider as the process default. Every TLS client (reqwest, the
/// `ssl_expire` check, sqlx) needs one; calling this twice is harmless.
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
