//! Helpers shared by the integration tests: fresh databases on the real servers that
//! scripts/test.sh starts, TLS certificates, and a TLS listener for axum.
#![allow(dead_code)]

pub mod cluster;
pub mod receivers;

use std::net::SocketAddr;
use std::sync::Arc;

use bearmon::db::{Backend, Db};
use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

pub fn init() {
    bearmon::init_crypto();
    bearmon::telemetry::init(true);
}

/// Standard base64 with padding (HTTP Basic auth, PEM bodies in tests).
pub fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() { A[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// How many migrations each backend has (the files in migrations/sqlite).
pub fn migration_count() -> usize {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql")))
        .count()
}

/// True when scripts/test.sh started the servers: then a missing one is a failure.
pub fn servers_required() -> bool {
    std::env::var("BEARMON_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// A new, empty database on `backend`, migrated, with its URL. `None` (and a note on stderr)
/// when the server is not configured and scripts/test.sh is not running the suite.
pub async fn fresh_db(backend: Backend) -> Option<(Db, String)> {
    init();
    let name = format!("bm_{}_{}", std::process::id(), rand::random::<u32>());
    let url = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap().keep();
            format!("sqlite://{}/{name}.db", dir.display())
        }
        Backend::MySql | Backend::Postgres => {
            let var = if backend == Backend::MySql { "BEARMON_TEST_MYSQL" } else { "BEARMON_TEST_PG" };
            let Ok(base) = std::env::var(var) else {
                assert!(!servers_required(), "{var} is not set but scripts/test.sh requires it");
                eprintln!("skipped: {var} is not set (run scripts/test.sh)");
                return None;
            };
            let admin = Db::connect(&base).await.expect("connect to the test server");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(admin.pool())
                .await
                .expect("create database");
            admin.pool().close().await;
            let root = match backend {
                Backend::Postgres => base.rsplit_once('/').unwrap().0.to_string(),
                _ => base.trim_end_matches('/').to_string(),
            };
            format!("{root}/{name}")
        }
    };
    let db = Db::connect(&url).await.expect("connect to the fresh database");
    bearmon::db::migrate(&db).await.expect("migrate");
    Some((db, url))
}

/// Runs a user's SQL statement verbatim (no placeholders, no rewriting).
pub async fn exec(db: &Db, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{:?}: {sql}: {e}", db.backend()));
}

/// The id of the row last inserted into `table`.
pub async fn last_id(db: &Db, table: &str) -> i64 {
    use sqlx::Row;
    let sql = db.sql(&format!("SELECT {} FROM {table} ORDER BY id DESC LIMIT 1", db.int("id")));
    sqlx::query(sql).fetch_one(db.pool()).await.unwrap().try_get(0).unwrap()
}

/// A self-signed certificate for `localhost` and 127.0.0.1 valid for `days` more days.
pub fn cert(days: i64) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "bearmon test");
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(days);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (cert.der().clone(), key)
}

pub fn tls_acceptor(days: i64) -> TlsAcceptor {
    let (cert, key) = cert(days);
    let config =
        rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![cert], key).unwrap();
    TlsAcceptor::from(Arc::new(config))
}

/// A TLS listener that axum can serve on; handshake failures are skipped.
pub struct TlsListener {
    pub inner: TcpListener,
    pub acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.inner.accept().await else { continue };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Runs a check given as (type, JSON) and returns its outcome.
pub async fn probe(kind: &str, data: &str) -> bearmon::check::Outcome {
    init();
    let parsed = bearmon::check::CheckSpec::parse(1, kind, data).expect("valid check");
    let probes = bearmon::check::Probes::new(Default::default());
    parsed.spec.run(&probes).await
}

/// Runs the same scenario on each backend as separate tests.
#[macro_export]
macro_rules! on_every_backend {
    ($scenario:ident) => {
        mod $scenario {
            use bearmon::db::Backend;
            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                super::$scenario(Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn mariadb() {
                super::$scenario(Backend::MySql).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                super::$scenario(Backend::Postgres).await
            }
        }
    };
}
