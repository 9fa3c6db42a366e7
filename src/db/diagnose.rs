//! Why a database cannot be opened, said so that the operator knows what to try: the
//! server's address and the cause (refused, no answer, not the protocol the URL names), a
//! SQLite file's missing directory, a schema `bearmon migrate` has not created yet.
//!
//! The pool retries a refused connection until its acquire timeout and then reports only
//! that it timed out; one direct connection first fails fast and keeps the cause.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, Connection as _};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Backend, DbError, redact_url};

/// How long a diagnosing connection may wait for the server's first bytes.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The `host:port` a server URL names (with the backend's default port), or `None` when the
/// URL reaches the server over a Unix socket or has no host.
pub fn server_addr(url: &str, backend: Backend) -> Option<(String, u16)> {
    let default_port = match backend {
        Backend::MySql => 3306,
        Backend::Postgres => 5432,
        Backend::Sqlite => return None,
    };
    let u = url::Url::parse(url).ok()?;
    if u.query_pairs().any(|(k, _)| k == "host" || k == "socket") {
        return None;
    }
    let host = u.host_str().filter(|h| !h.is_empty())?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    Some((host, u.port().unwrap_or(default_port)))
}

fn show(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// One connection, the pool's first, made directly: the pool retries a refused connection
/// until its acquire timeout and then says only that it timed out, while this fails at once
/// and keeps the cause. A real login, so that MySQL counts no aborted handshake.
///
/// # Errors
/// [`DbError::Unreachable`] (refused, unresolvable, silent), [`DbError::NotPostgres`],
/// [`DbError::NotMySql`], or [`DbError::Connect`] with the driver's error (a refused login).
pub async fn first_connection(
    url: &str,
    backend: Backend,
    options: &AnyConnectOptions,
    limit: Duration,
) -> Result<(), DbError> {
    let addr = server_addr(url, backend);
    let shown = addr.as_ref().map_or_else(|| "its socket".to_string(), |(h, p)| show(h, *p));
    let unreachable =
        |reason: String| DbError::Unreachable { addr: shown.clone(), url: redact_url(url), reason };
    match tokio::time::timeout(limit, AnyConnection::connect_with(options)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(sqlx::Error::Io(e))) => Err(unreachable(io_reason(&e))),
        Ok(Err(cause)) => {
            if backend == Backend::Postgres {
                speaks_postgres(url).await?;
            }
            Err(DbError::Connect { url: redact_url(url), cause })
        }
        Err(_) => {
            if backend == Backend::MySql
                && let Some((host, port)) = &addr
                && !greets(host, *port).await
            {
                return Err(DbError::NotMySql { addr: shown, url: redact_url(url) });
            }
            Err(unreachable(format!("no answer within {} s", limit.as_secs())))
        }
    }
}

/// Whether the server at `host:port` sends something first, as a MySQL server does.
async fn greets(host: &str, port: u16) -> bool {
    let first = tokio::time::timeout(PROBE_TIMEOUT, async {
        let mut s = TcpStream::connect((host, port)).await.ok()?;
        let mut buf = [0u8; 4];
        s.read(&mut buf).await.ok().filter(|n| *n > 0)
    });
    matches!(first.await, Ok(Some(_)))
}

fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::TimedOut => "connection timed out".into(),
        ErrorKind::HostUnreachable => "host unreachable".into(),
        ErrorKind::NetworkUnreachable => "network unreachable".into(),
        _ => {
            let text = e.to_string();
            // "failed to lookup address information: Name or service not known"
            if text.contains("lookup") { format!("cannot resolve the host name ({text})") } else { text }
        }
    }
}

/// After a failed PostgreSQL connection: whether the server speaks PostgreSQL at all. A
/// PostgreSQL server waits for the client and answers an SSLRequest with `S`, `N` or `E`;
/// a MySQL server greets first with a handshake packet.
///
/// # Errors
/// [`DbError::NotPostgres`] when the server answers something else.
pub async fn speaks_postgres(url: &str) -> Result<(), DbError> {
    let Some((host, port)) = server_addr(url, Backend::Postgres) else { return Ok(()) };
    let first = tokio::time::timeout(PROBE_TIMEOUT, async {
        let mut s = TcpStream::connect((host.as_str(), port)).await.ok()?;
        // The SSLRequest: length 8, code 80877103.
        s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]).await.ok()?;
        let mut buf = [0u8; 8];
        let n = s.read(&mut buf).await.ok()?;
        (n > 0).then(|| buf[..n].to_vec())
    })
    .await
    .ok()
    .flatten();
    match first {
        Some(bytes) if !matches!(bytes[0], b'S' | b'N' | b'E') => {
            Err(DbError::NotPostgres { addr: show(&host, port), url: redact_url(url) })
        }
        _ => Ok(()),
    }
}

/// The file a `sqlite:` URL names, or `None` for an in-memory database.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Checks a SQLite URL before opening it: its directory must exist, and with `must_exist`
/// the file too (read-only commands never create an empty database).
///
/// # Errors
/// [`DbError::SqliteDirMissing`], [`DbError::SqliteMissing`].
pub fn sqlite_file(url: &str, must_exist: bool) -> Result<(), DbError> {
    let Some(path) = sqlite_path(url) else { return Ok(()) };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(DbError::SqliteDirMissing {
            path: path.display().to_string(),
            dir: dir.display().to_string(),
        });
    }
    if must_exist && !path.exists() {
        return Err(DbError::SqliteMissing { path: path.display().to_string(), url: redact_url(url) });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_address_of_a_url() {
        let a = |u, b| server_addr(u, b);
        assert_eq!(a("mysql://u:p@db.example/x", Backend::MySql), Some(("db.example".into(), 3306)));
        assert_eq!(a("postgres://u@10.0.0.1:6432/x", Backend::Postgres), Some(("10.0.0.1".into(), 6432)));
        assert_eq!(a("postgres://u@[::1]/x", Backend::Postgres), Some(("::1".into(), 5432)));
        assert_eq!(a("postgres:///x?host=/var/run/postgresql", Backend::Postgres), None);
        assert_eq!(a("mysql://u@localhost/x?socket=/tmp/m.sock", Backend::MySql), None);
        assert_eq!(show("::1", 5432), "[::1]:5432");
    }

    #[test]
    fn the_file_of_a_sqlite_url() {
        assert_eq!(sqlite_path("sqlite://bearmon.db"), Some(PathBuf::from("bearmon.db")));
        assert_eq!(sqlite_path("sqlite:///var/lib/b.db?mode=rwc"), Some(PathBuf::from("/var/lib/b.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        let err = sqlite_file("sqlite:///nonexistent-dir-xyz/b.db", false).unwrap_err().to_string();
        assert!(err.contains("/nonexistent-dir-xyz does not exist"), "{err}");
    }
}
