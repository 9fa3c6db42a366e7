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
    #[error("migration {version} was left half applied by an earlier run and cannot be finished: {source}")]
    Resume { version: i64, source: sqlx::Error },
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

/// How many migrations `backend` has in this binary.
pub(super) fn total(backend: Backend) -> usize {
    migrator(backend).iter().count()
}

/// How many of this binary's migrations the database lacks (all of them before the first
/// `bearmon migrate`).
///
/// # Errors
/// [`MigrateError::Read`] when the database cannot be read.
pub async fn unapplied(db: &Db) -> Result<usize, MigrateError> {
    let applied = applied_versions(db).await?;
    Ok(migrator(db.backend()).iter().filter(|m| !applied.contains(&m.version)).count())
}

/// Applies every pending migration for the database's backend. Idempotent.
///
/// # Errors
/// [`MigrateError`] when a migration fails (the report then says which) or the database
/// cannot be read.
pub async fn migrate(db: &Db) -> Result<MigrationReport, MigrateError> {
    let m = migrator(db.backend());
    if db.backend() == Backend::MySql {
        finish_interrupted(db, m).await?;
    }
    let before = applied_versions(db).await?;
    m.run(db.pool()).await.map_err(|source| MigrateError::Apply { backend: db.backend().name(), source })?;
    let applied = m
        .iter()
        .filter(|mig| !before.contains(&mig.version))
        .map(|mig| format!("{} {}", mig.version, mig.description))
        .collect();
    Ok(MigrationReport { applied, already: before.len() })
}

/// MySQL commits every DDL statement on its own, so a migration that fails half way (a
/// missing TRIGGER privilege, a lost connection) leaves its first statements applied and its
/// bookkeeping row marked unfinished, which sqlx then refuses for ever ("dirty"). This
/// finishes such a migration: each statement is run again, one that finds its object already
/// there (table, column, index, trigger) counts as done, and the row is marked applied.
/// PostgreSQL and SQLite run a migration in one transaction: a failure there leaves nothing.
async fn finish_interrupted(db: &Db, m: &Migrator) -> Result<(), MigrateError> {
    let dirty: Vec<(i64,)> =
        match sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success = FALSE ORDER BY version")
            .fetch_all(db.pool())
            .await
        {
            Ok(rows) => rows,
            Err(sqlx::Error::Database(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
    for (version,) in dirty {
        let Some(mig) = m.iter().find(|x| x.version == version) else { continue };
        tracing::warn!(version, migration = %mig.description, "finishing a migration an earlier run left half applied");
        for stmt in statements(mig.sql.as_str()) {
            match sqlx::raw_sql(sqlx::AssertSqlSafe(stmt.clone())).execute(db.pool()).await {
                Ok(_) => {}
                Err(sqlx::Error::Database(e)) if already_there(e.as_ref()) => {
                    tracing::info!(version, statement = %first_line(&stmt), "already applied");
                }
                Err(source) => return Err(MigrateError::Resume { version, source }),
            }
        }
        sqlx::query("UPDATE _sqlx_migrations SET success = TRUE WHERE version = ?")
            .bind(version)
            .execute(db.pool())
            .await
            .map_err(|source| MigrateError::Resume { version, source })?;
    }
    Ok(())
}

/// The statements of a migration file: `--` comment lines dropped, split at a `;` that ends
/// a line (our migrations keep one statement per `;`-terminated line group, no procedures).
fn statements(sql: &str) -> Vec<String> {
    let text: String =
        sql.lines().filter(|l| !l.trim_start().starts_with("--")).map(|l| format!("{l}\n")).collect();
    text.split(";\n").map(str::trim).filter(|s| !s.is_empty()).map(|s| format!("{s};")).collect()
}

fn first_line(stmt: &str) -> &str {
    stmt.lines().next().unwrap_or_default()
}

/// MySQL's "it is already there" errors: table (1050), column (1060), index (1061), trigger
/// (1359), foreign key (1826); and "it is already gone" for a dropped index (1091).
fn already_there(e: &dyn sqlx::error::DatabaseError) -> bool {
    const NUMBERS: [u16; 6] = [1050, 1060, 1061, 1091, 1359, 1826];
    match e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        Some(my) => NUMBERS.contains(&my.number()),
        None => {
            let m = e.message();
            m.contains("already exists")
                || m.starts_with("Duplicate key name")
                || m.starts_with("Duplicate column name")
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_migration_splits_into_its_statements() {
        let sql = "-- a comment; with a semicolon\nCREATE TABLE t (\n\tid INT\n);\nCREATE INDEX i ON t (id);\n\n-- end\n";
        assert_eq!(
            super::statements(sql),
            vec!["CREATE TABLE t (\n\tid INT\n);", "CREATE INDEX i ON t (id);"]
        );
    }
}
