//! bearmon: a distributed uptime monitor that reads gobearmon's SQL schema.
//!
//! # Layout
//!
//! - [`cli`]: the command line; [`config`]: node config files, flags and environment.
//! - [`db`]: one handle over MySQL/MariaDB, PostgreSQL and SQLite, and the migrations in
//!   `migrations/<backend>/`.
//! - [`store`]: every SQL statement of the product: gobearmon's `checks`, `alerts`,
//!   `contacts` read into memory and kept current through a trigger-filled change log (bad
//!   rows become reported problems, never crashes), the fenced writes of a controller term,
//!   the outbox, flips, rollups and retention.
//! - [`check`]: the check kinds (`http`, `tcp`, `icmp`, `ssl_expire`, `dns`, `exec`,
//!   `haproxy`, `worker`), one file (or folder) each, behind the closed enum [`check::CheckSpec`]; a run always ends by its deadline.
//! - [`decide`]: the pure confirmations/delay state machine that says whom to ask and when a
//!   check flips; [`policy`]: the pure notification policy that says who is told.
//! - [`node`]: what nodes share: wire messages, request signing, mutual TLS, the HTTP
//!   server and client, and the one way a node starts ([`node::NodeBase`]).
//! - [`viewserver`], [`worker`], [`controller`]: the three cluster roles.
//! - [`alert`]: the contact kinds, their senders and the delivery loop.
//! - [`web`]: the JSON API, the status page, and the typed read model they show.
//! - [`metrics`]: Prometheus metrics; [`telemetry`]: logging set-up; [`util`]: the clocks
//!   and small helpers.
//!
//! The rooms' import rules (which may use which) are in ARCHITECTURE.md and checked by
//! `tests/layout.rs`; ARCHITECTURE.md shows how these fit together.

pub mod alert;
pub mod check;
pub mod cli;
pub mod config;
pub mod controller;
pub mod db;
pub mod decide;
pub mod metrics;
pub mod node;
pub mod policy;
pub mod store;
pub mod telemetry;
pub mod util;
pub mod viewserver;
pub mod web;
pub mod worker;

/// Installs rustls's ring provider as the process default. Every TLS client (reqwest, the
/// `ssl_expire` check, sqlx) needs one; calling this twice is harmless.
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
