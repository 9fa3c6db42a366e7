//! Schema migrations, one folder per backend under `migrations/`, embedded in the binary.
//!
//! The first migration creates gobearmon's tables with `IF NOT EXISTS`, so running
//! `bearmon migrate` against an existing gobearmon database adopts it instead of failing.

use std::collections::HashSet;

use sqlx::migrate::Migrator;

use super::{Backend, Db};

static MYSQL: Migrator = sqlx::migrate!("migrations/mysql");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");

/// Errors while migrating.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("migration failed on {backend}: {source}")]
    Apply { backend: &'static str, source: sqlx::migrate::MigrateError },
    #[error("cannot read the applied migrations: {0}")]
    Read(#[from] sqlx::Error),
}

/// What one `migrate` call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Migrations applied by this call, as `version description`.
    pub applied: Vec<String>,
    /// How many were already in place.
    pub already: usize,
}

fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::MySql => &MYSQL,
        Backend::Postgres => &POSTGRES,
        Backend::Sqlite => &SQLITE,
    }
}

async fn applied_versions(db: &Db) -> Result<HashSet<i64>, MigrateError> {
    // Before the first run the bookkeeping table does not exist: nothing is applied.
    let rows: Vec<(i64,)> = match sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
        .fetch_all(db.pool())
        .await
    {
        Ok(rows) => rows,
        Err(sqlx::Error::Database(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(rows.into_iter().map(|(v,)| v).collect())
}

/// Applies every pending migration for the database's backend. Idempotent.
///
/// # Errors
/// [`MigrateError`] when a migration fails (the report then says which) or the database
/// cannot be read.
pub async fn migrate(db: &Db) -> Result<MigrationReport, MigrateError> {
    let m = migrator(db.backend());
    let before = applied_versions(db).await?;
    m.run(db.pool()).await.map_err(|source| MigrateError::Apply { backend: db.backend().name(), source })?;
    let applied = m
        .iter()
        .filter(|mig| !before.contains(&mig.version))
        .map(|mig| format!("{} {}", mig.version, mig.description))
        .collect();
    Ok(MigrationReport { applied, already: before.len() })
}
