//! `bearmon haproxy-report`: HAP-Monitor's cron job (seed 002). One run reads `show stat`
//! from every stats socket given and sends the counters once to Graphite's plaintext
//! protocol (`path value timestamp`, UDP, or TCP with `--tcp`) or to statsd (`path:value|g`,
//! UDP); cron runs it every minute.
//!
//! Paths are `SCOPE.<proxy>.<server>.<field>`, each name with anything outside
//! `[A-Za-z0-9_-]` made `_` (a dot in a server's name would otherwise add a level). Where
//! HAP-Monitor differs, and why:
//! - HAP-Monitor sent each socket's values under `SCOPE.<host>.<Process_num>`. Two
//!   HAProxy instances both answer `Process_num: 1`, so their values overwrote each other
//!   under one path. Here the processes' values are merged (summed, the average times the
//!   largest, a server UP when UP in any: `check::haproxy::stat`) under
//!   `SCOPE.<proxy>...`; when several sockets answer different values, each process's are
//!   also sent under `SCOPE.proc<N>.<proxy>...` (N counts the sockets from 1, in the order
//!   given). Put the host in the scope (`::haproxy.lb1`) if several hosts report.
//! - Status is one-hot as HAP-Monitor made it (`...status.UP` 1, `.DOWN` and `.MAINT` 0),
//!   for every process count, not only when `Process_num` is 1.
//! - A socket or a backend that cannot be reached is an error and a non-zero exit (it
//!   logged and carried on); every socket and network call has `--timeout`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout};

use crate::check::haproxy::source::{SourceError, read_socket};
use crate::check::haproxy::stat::{Stats, format_number};

/// The `show stat` columns sent: HAP-Monitor's, with the traffic counters.
const FIELDS: &[&str] = &[
    "scur", "smax", "stot", "qcur", "bin", "bout", "ereq", "econ", "eresp", "rate", "req_rate", "chkfail",
    "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "qtime", "ctime", "rtime", "ttime",
];

/// The one-hot status values.
const STATUSES: &[&str] = &["UP", "DOWN", "MAINT"];

/// The largest UDP datagram sent: whole lines only, below a usual MTU.
const DATAGRAM: usize = 1400;

/// `bearmon haproxy-report`'s command line (HAP-Monitor's; `--verbose` is the global flag
/// and prints each line sent).
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Where to send: HOST:PORT, with ::SCOPE for the paths' prefix (default "haproxy"),
    /// e.g. graphite.host:2003::my.system.stats.haproxy.
    #[arg(long, value_name = "HOST:PORT[::SCOPE]")]
    pub backend: String,
    /// G for Graphite's plaintext protocol, S for statsd.
    #[arg(long = "type", value_name = "G|S", value_parser = ["G", "S", "g", "s"])]
    pub kind: String,
    /// The stats sockets, one per HAProxy process (stats socket PATH in haproxy.cfg).
    #[arg(long, num_args = 1.., required = true, value_name = "S")]
    pub sockets: Vec<PathBuf>,
    /// Graphite over TCP instead of UDP.
    #[arg(long)]
    pub tcp: bool,
    /// Seconds allowed for each socket and for the send.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,
}

/// Why a report was not sent.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("--backend {0:?} is not HOST:PORT[::SCOPE]")]
    Backend(String),
    #[error("--type S (statsd) is UDP only; --tcp is for Graphite")]
    StatsdTcp,
    #[error("cannot resolve the backend {0}: {1}")]
    Resolve(String, String),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("cannot send to the backend {0}: {1}")]
    Send(String, String),
}

/// Runs one report.
///
/// # Errors
/// [`ReportError`]: a bad `--backend`, an unreadable socket, an unreachable backend.
pub async fn run(args: &ReportArgs, verbose: bool) -> anyhow::Result<ExitCode> {
    let (address, scope) = parse_backend(&args.backend)?;
    let statsd = args.kind.eq_ignore_ascii_case("s");
    if statsd && args.tcp {
        return Err(ReportError::StatsdTcp.into());
    }
    let limit = Duration::from_secs(args.timeout);
    let mut parts = Vec::new();
    for socket in &args.sockets {
        parts.push(read_socket(socket, Instant::now() + limit).await.map_err(ReportError::from)?);
    }
    let now = crate::util::now_ms() / 1000;
    let lines: Vec<String> = metrics(&scope, &parts)
        .into_iter()
        .map(
            |(path, value)| {
                if statsd { format!("{path}:{value}|g\n") } else { format!("{path} {value} {now}\n") }
            },
        )
        .collect();
    let target = resolve(&address, limit).await?;
    if args.tcp {
        send_tcp(&address, target, &lines, limit).await?;
    } else {
        send_udp(&address, target, &lines, limit).await?;
    }
    if verbose {
        for line in &lines {
            print!("{line}");
        }
    }
    tracing::info!(backend = %address, metrics = lines.len(), sockets = parts.len(), "haproxy report sent");
    Ok(ExitCode::SUCCESS)
}

/// `HOST:PORT[::SCOPE]` → (`HOST:PORT`, scope with each dotted part sanitised).
fn parse_backend(backend: &str) -> Result<(String, String), ReportError> {
    let bad = || ReportError::Backend(backend.into());
    // An IPv6 host is written in brackets: its own `::` is inside them.
    let host_end = if backend.starts_with('[') { backend.find(']').ok_or_else(bad)? } else { 0 };
    let (address, scope) = match backend[host_end..].find("::") {
        Some(i) => (&backend[..host_end + i], &backend[host_end + i + 2..]),
        None => (backend, ""),
    };
    let port_ok = address.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
    if !port_ok {
        return Err(bad());
    }
    let scope = if scope.is_empty() { "haproxy" } else { scope };
    let scope = scope.split('.').filter(|p| !p.is_empty()).map(sanitise).collect::<Vec<_>>().join(".");
    Ok((address.to_string(), scope))
}

/// A name as one path level: anything outside `[A-Za-z0-9_-]` becomes `_`.
pub fn sanitise(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

/// The (path, value) pairs of one report: the merged table, and each process's when
/// several sockets answered different values.
pub fn metrics(scope: &str, parts: &[Stats]) -> Vec<(String, String)> {
    let mut out = table(scope, &Stats::merge(parts));
    if parts.len() > 1 && parts.windows(2).any(|w| w[0] != w[1]) {
        for (i, part) in parts.iter().enumerate() {
            out.extend(table(&format!("{scope}.proc{}", i + 1), part));
        }
    }
    out
}

fn table(prefix: &str, stats: &Stats) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for row in &stats.rows {
        let base = format!("{prefix}.{}.{}", sanitise(&row.proxy), sanitise(&row.server));
        for field in FIELDS {
            if let Some(v) = row.number(field) {
                out.push((format!("{base}.{field}"), format_number(v)));
            }
        }
        let status = row.text("status").split_whitespace().next().unwrap_or("");
        if STATUSES.contains(&status) {
            for s in STATUSES {
                out.push((format!("{base}.status.{s}"), u8::from(*s == status).to_string()));
            }
        }
    }
    out
}

async fn resolve(address: &str, limit: Duration) -> Result<SocketAddr, ReportError> {
    let fail = |why: String| ReportError::Resolve(address.to_string(), why);
    let mut addrs = timeout(limit, tokio::net::lookup_host(address))
        .await
        .map_err(|_| fail("timed out".into()))?
        .map_err(|e| fail(e.to_string()))?;
    addrs.next().ok_or_else(|| fail("no address".into()))
}

async fn send_tcp(
    address: &str,
    target: SocketAddr,
    lines: &[String],
    limit: Duration,
) -> Result<(), ReportError> {
    let fail = |why: String| ReportError::Send(address.to_string(), why);
    let send = async {
        let mut stream = TcpStream::connect(target).await.map_err(|e| fail(format!("TCP connect: {e}")))?;
        stream.write_all(lines.concat().as_bytes()).await.map_err(|e| fail(e.to_string()))?;
        stream.shutdown().await.map_err(|e| fail(e.to_string()))
    };
    timeout(limit, send).await.map_err(|_| fail("timed out".into()))?
}

/// Lines packed into datagrams of whole lines (carbon and statsd read several per packet).
async fn send_udp(
    address: &str,
    target: SocketAddr,
    lines: &[String],
    limit: Duration,
) -> Result<(), ReportError> {
    let fail = |why: String| ReportError::Send(address.to_string(), why);
    let local: SocketAddr =
        if target.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = UdpSocket::bind(local).await.map_err(|e| fail(e.to_string()))?;
    socket.connect(target).await.map_err(|e| fail(e.to_string()))?;
    let mut packet = String::new();
    let send = async {
        for line in lines {
            if !packet.is_empty() && packet.len() + line.len() > DATAGRAM {
                socket.send(packet.as_bytes()).await.map_err(|e| fail(e.to_string()))?;
                packet.clear();
            }
            packet.push_str(line);
        }
        if !packet.is_empty() {
            socket.send(packet.as_bytes()).await.map_err(|e| fail(e.to_string()))?;
        }
        Ok(())
    };
    timeout(limit, send).await.map_err(|_| fail("timed out".into()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_forms() {
        assert_eq!(parse_backend("g.host:2003").unwrap(), ("g.host:2003".into(), "haproxy".into()));
        assert_eq!(
            parse_backend("g:2003::my.sys.ha proxy").unwrap(),
            ("g:2003".into(), "my.sys.ha_proxy".into())
        );
        assert_eq!(parse_backend("[::1]:2003::s").unwrap(), ("[::1]:2003".into(), "s".into()));
        assert!(parse_backend("g.host::x").is_err());
    }

    #[test]
    fn paths_merged_and_per_process() {
        let a = Stats::parse("# pxname,svname,scur,status,\napp,s.1,1,UP,\n").unwrap();
        let b = Stats::parse("# pxname,svname,scur,status,\napp,s.1,2,DOWN,\n").unwrap();
        let m = metrics("hap", &[a.clone(), b]);
        assert!(m.contains(&("hap.app.s_1.scur".into(), "3".into())), "{m:?}");
        assert!(m.contains(&("hap.app.s_1.status.UP".into(), "1".into())));
        assert!(m.contains(&("hap.proc2.app.s_1.status.DOWN".into(), "1".into())));
        assert!(!metrics("hap", &[a.clone(), a]).iter().any(|(p, _)| p.contains("proc")));
    }
}
