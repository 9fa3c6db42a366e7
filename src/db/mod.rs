//! One database handle over the three backends gobearmon users may run: MySQL/MariaDB,
//! PostgreSQL and SQLite. The URL scheme picks the backend.
//!
//! Queries go through sqlx's `Any` driver so that one code path serves all three. Two
//! differences are handled here rather than at every call site: PostgreSQL numbers its
//! placeholders (`$1`), and the `Any` driver cannot decode MySQL's `TINYINT` or any
//! timestamp type, so callers cast such columns in SQL (see [`Db::int`]).

pub mod diagnose;
mod migrate;

pub use migrate::{MigrateError, MigrationReport, migrate, unapplied};

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, AssertSqlSafe};

/// Which SQL dialect a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    MySql,
    Postgres,
    Sqlite,
}

impl Backend {
    /// Picks the backend from a database URL's scheme.
    ///
    /// # Errors
    /// [`DbError::UnknownScheme`] when the scheme is none of `mysql`, `mariadb`, `postgres`,
    /// `postgresql`, `sqlite`.
    pub fn from_url(url: &str) -> Result<Self, DbError> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        match scheme {
            "mysql" | "mariadb" => Ok(Backend::MySql),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "sqlite" => Ok(Backend::Sqlite),
            _ => Err(DbError::UnknownScheme(redact_url(url))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::MySql => "mysql",
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Errors of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL {0:?} has an unknown scheme: use mysql://, postgres:// or sqlite://")]
    UnknownScheme(String),
    /// The cause is in the message, not a `source`: printed once, not once per layer.
    #[error("cannot connect to {url}: {cause}")]
    Connect { url: String, cause: sqlx::Error },
    #[error(
        "cannot connect to the database server at {addr} ({url}): {reason}; check that the server \
         is running there and that the host and port in the URL are right"
    )]
    Unreachable { addr: String, url: String, reason: String },
    #[error("the server at {addr} ({url}) does not speak PostgreSQL (is it MySQL/MariaDB? use mysql://)")]
    NotPostgres { addr: String, url: String },
    #[error("the server at {addr} ({url}) sends no MySQL greeting (is it PostgreSQL? use postgres://)")]
    NotMySql { addr: String, url: String },
    #[error(
        "cannot open the SQLite database {path}: the directory {dir} does not exist (create it or fix the path)"
    )]
    SqliteDirMissing { path: String, dir: String },
    #[error("the SQLite database {path} does not exist: create it with `bearmon migrate --database {url}`")]
    SqliteMissing { path: String, url: String },
    #[error("{url} has no bearmon schema yet: run `bearmon migrate --database {url}` first")]
    NotMigrated { url: String },
    #[error(
        "{url} lacks {count} migration(s) of this bearmon version: run `bearmon migrate --database {url}` first"
    )]
    Outdated { url: String, count: usize },
    #[error("query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// A pool plus the backend it talks to.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// How long one attempt to get a connection may take before the caller hears an error.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A session idle inside a transaction this long is ended by the server. Every bearmon
/// transaction runs its statements back to back, so only a frozen process (a SIGSTOPped or
/// swapped-out controller) is ever idle in one, and it may be holding the `bearmon_term` row
/// lock that the next controller's claim waits for: without this, failover waited for the
/// zombie to wake (found by scripts/chaos.sh on MariaDB). PostgreSQL:
/// `idle_in_transaction_session_timeout`; MariaDB: `idle_transaction_timeout` (MySQL has no
/// such setting; there the claim waits for `innodb_lock_wait_timeout`).
pub const IDLE_IN_TRANSACTION_SECS: u64 = 2;

impl Db {
    /// Opens a pool. A `mariadb://` URL is accepted as an alias of `mysql://`; a SQLite file
    /// is created when missing.
    ///
    /// # Errors
    /// [`DbError::Unreachable`] when the server refuses (at once, not after the pool's
    /// timeout) or does not answer, [`DbError::NotPostgres`], [`DbError::NotMySql`],
    /// [`DbError::SqliteDirMissing`], [`DbError::Connect`] when the server refuses the login.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        Self::open(url, true).await
    }

    /// Opens an existing database that `bearmon migrate` has brought up to date, for the
    /// commands that read it: a missing SQLite file is not created.
    ///
    /// # Errors
    /// As [`Db::connect`], and [`DbError::SqliteMissing`], [`DbError::NotMigrated`],
    /// [`DbError::Outdated`], each naming the `bearmon migrate` command to run.
    pub async fn connect_migrated(url: &str) -> Result<Self, DbError> {
        let db = Self::open(url, false).await?;
        let count = unapplied(&db).await.map_err(|e| match e {
            MigrateError::Read(cause) => DbError::Connect { url: redact_url(url), cause },
            other => {
                DbError::Connect { url: redact_url(url), cause: sqlx::Error::Protocol(other.to_string()) }
            }
        })?;
        let url = redact_url(url);
        match count {
            0 => Ok(db),
            n if n == migrate::total(db.backend) => Err(DbError::NotMigrated { url }),
            count => Err(DbError::Outdated { url, count }),
        }
    }

    async fn open(url: &str, create: bool) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url_fixed = match backend {
            Backend::MySql if url.starts_with("mariadb:") => format!("mysql:{}", &url[8..]),
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode={}", if create { "rwc" } else { "rw" })
            }
            _ => url.to_string(),
        };
        let connect_err = |cause| DbError::Connect { url: redact_url(url), cause };
        let options = AnyConnectOptions::from_str(&url_fixed).map_err(connect_err)?;
        if backend == Backend::Sqlite {
            diagnose::sqlite_file(url, !create)?;
        } else {
            diagnose::first_connection(url, backend, &options, ACQUIRE_TIMEOUT).await?;
        }
        let max = if backend == Backend::Sqlite { 4 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    match backend {
                        Backend::Sqlite => {
                            // Several tasks share one file: wait for a writer instead of failing.
                            sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut *conn).await?;
                            sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                        }
                        Backend::Postgres => {
                            let ms = IDLE_IN_TRANSACTION_SECS * 1000;
                            let sql = format!("SET idle_in_transaction_session_timeout = {ms}");
                            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await?;
                        }
                        Backend::MySql => {
                            let sql = format!("SET SESSION idle_transaction_timeout = {IDLE_IN_TRANSACTION_SECS}");
                            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await {
                                tracing::debug!(error = %e, "no idle_transaction_timeout (MySQL rather than MariaDB)");
                            }
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await;
        pool.map(|pool| Db { pool, backend }).map_err(connect_err)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Rewrites `?` placeholders into the backend's form (`$1`, `$2`, ... on PostgreSQL).
    /// Queries in this crate are written with `?` and contain no `?` inside literals.
    pub fn sql(&self, query: &str) -> AssertSqlSafe<String> {
        if self.backend != Backend::Postgres {
            return AssertSqlSafe(query.to_string());
        }
        let mut out = String::with_capacity(query.len() + 8);
        let mut n = 0;
        for c in query.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        AssertSqlSafe(out)
    }

    /// An SQL expression that reads an integer-like column (`TINYINT(1)` flags included) as a
    /// 64-bit integer the `Any` driver can decode.
    ///
    /// PostgreSQL names the selected cast after the column, and a bare `ORDER BY column`
    /// then sorts by the cast, which no index holds: order by `table.column`. (No alias is
    /// added here because the expression is also used inside `MAX(...)` and `COALESCE(...)`.)
    pub fn int(&self, column: &str) -> String {
        match self.backend {
            Backend::MySql => format!("CAST({column} AS SIGNED)"),
            Backend::Postgres => format!("CAST({column} AS BIGINT)"),
            Backend::Sqlite => format!("CAST({column} AS INTEGER)"),
        }
    }

    /// An SQL expression that reads a timestamp expression as whole unix seconds, a 64-bit
    /// integer the `Any` driver can decode (it decodes no timestamp type).
    pub fn epoch(&self, expr: &str) -> String {
        match self.backend {
            Backend::MySql => format!("CAST(UNIX_TIMESTAMP({expr}) AS SIGNED)"),
            Backend::Postgres => format!("CAST(EXTRACT(EPOCH FROM {expr}) AS BIGINT)"),
            Backend::Sqlite => format!("CAST(strftime('%s', {expr}) AS INTEGER)"),
        }
    }

    /// An SQL expression that turns a bound number of unix seconds (`?`) into the backend's
    /// timestamp, for the columns an operator fills with `CURRENT_TIMESTAMP`.
    pub fn from_epoch(&self) -> &'static str {
        match self.backend {
            Backend::MySql => "FROM_UNIXTIME(?)",
            Backend::Postgres => "to_timestamp(?)",
            Backend::Sqlite => "datetime(?, 'unixepoch')",
        }
    }

    /// `n` comma-separated placeholders, for `IN (...)` lists.
    pub fn placeholders(n: usize) -> String {
        vec!["?"; n].join(", ")
    }
}

/// A transaction on a [`Db`].
pub type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// Hides the password of a database URL so that it can be logged.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_from_scheme() {
        assert_eq!(Backend::from_url("mysql://u@h/db").unwrap(), Backend::MySql);
        assert_eq!(Backend::from_url("mariadb://u@h/db").unwrap(), Backend::MySql);
        assert_eq!(Backend::from_url("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        let err = Backend::from_url("oracle://u:pw@h/db").unwrap_err().to_string();
        assert!(err.contains("unknown scheme"), "{err}");
        assert!(!err.contains("pw@"), "password leaked: {err}");
    }

    #[test]
    fn redacts_password() {
        assert_eq!(redact_url("postgres://bob:hunter2@db/x"), "postgres://bob:***@db/x");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
