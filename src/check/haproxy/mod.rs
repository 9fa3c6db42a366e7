//! `haproxy`: is a load balancer's pool healthy? Reads `show stat` from HAProxy's stats
//! sockets and/or its stats page (CSV), merges the processes ([`stat::Stats::merge`]) and
//! fails when a backend has fewer than `min_up` servers UP or a named server is DOWN.
//!
//! Why a kind of its own rather than an `http` check of the stats page: HAProxy already
//! health-checks every server, so one run here answers for the whole pool, and names the
//! servers that are down; every frontend's, backend's and server's counters come back as
//! perfdata (`app/s1/scur`) for graphs.
//!
//! A source that cannot be read (a missing socket, a refused or failing URL) fails the
//! check naming it: a load balancer whose stats are gone is not known to be healthy.

pub mod source;
pub mod stat;

use std::path::Path;
use std::time::{Duration, Instant as StdInstant};

use serde::Deserialize;
use tokio::time::Instant;

use super::{Outcome, Perf, Probes, State};
use stat::{Row, Stats};

pub(crate) const KEYS: &[&str] =
    &["sockets", "url", "username", "password", "insecure", "backends", "min_up", "servers", "timeout"];

/// The counters kept as perfdata (when HAProxy fills them for the row).
pub const PERF_FIELDS: &[&str] =
    &["scur", "smax", "stot", "bin", "bout", "ereq", "econ", "eresp", "qcur", "rate"];

/// At most this many perfdata entries per run: a result stays a small message.
const MAX_PERF: usize = 2000;

/// `checks.data` of a `haproxy` check: `sockets` and/or `url`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct HaproxyParams {
    /// Stats sockets (`stats socket PATH level ...`), one per process.
    pub sockets: Vec<String>,
    /// The stats page in CSV: `http://host:port/stats;csv`.
    pub url: String,
    pub username: String,
    pub password: String,
    /// Accept any certificate on an `https` stats page (a load balancer's own, often
    /// self-signed), as the `http` kind's `insecure`.
    pub insecure: bool,
    /// Backends that must keep `min_up` servers UP; empty means every backend that has
    /// servers.
    pub backends: Vec<String>,
    pub min_up: u32,
    /// `backend/server` names that must not be DOWN.
    pub servers: Vec<String>,
    pub timeout: i64,
}

impl Default for HaproxyParams {
    fn default() -> Self {
        HaproxyParams {
            sockets: Vec::new(),
            url: String::new(),
            username: String::new(),
            password: String::new(),
            insecure: false,
            backends: Vec::new(),
            min_up: 1,
            servers: Vec::new(),
            timeout: 0,
        }
    }
}

impl HaproxyParams {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.sockets.is_empty() && self.url.is_empty() {
            return Err(("sockets", "missing: give sockets (a list of paths) and/or url".into()));
        }
        if let Some(bad) = self.sockets.iter().find(|s| s.is_empty() || s.contains('\0')) {
            return Err(("sockets", format!("{bad:?} is not a socket path")));
        }
        if !self.url.is_empty() {
            let u = url::Url::parse(&self.url).map_err(|e| ("url", e.to_string()))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(("url", format!("scheme {:?} is not http or https", u.scheme())));
            }
        }
        if let Some(bad) =
            self.servers.iter().find(|s| s.split_once('/').is_none_or(|(b, s)| b.is_empty() || s.is_empty()))
        {
            return Err(("servers", format!("{bad:?} is not backend/server")));
        }
        Ok(())
    }

    /// Reads every source, merges, judges. Timing out is CRITICAL, like every kind's.
    pub(crate) async fn run(&self, probes: &Probes, deadline: Instant, limit: Duration) -> Outcome {
        let started = StdInstant::now();
        let result = tokio::time::timeout_at(deadline, self.read_all(probes, deadline)).await;
        let latency = started.elapsed();
        match result {
            Err(_) => {
                Outcome::offline(format!("haproxy check timed out after {} s", limit.as_secs()), latency)
            }
            Ok(Err(message)) => Outcome::offline(message, latency),
            Ok(Ok(stats)) => {
                let (state, message) = self.judge(&stats);
                let mut out = Outcome::with_state(state, message, latency);
                out.perfdata = Some(perfdata(&stats));
                out
            }
        }
    }

    async fn read_all(&self, probes: &Probes, deadline: Instant) -> Result<Stats, String> {
        let mut parts = Vec::new();
        for socket in &self.sockets {
            parts.push(source::read_socket(Path::new(socket), deadline).await.map_err(|e| e.to_string())?);
        }
        if !self.url.is_empty() {
            let client = probes.http(self.insecure)?;
            let auth =
                (!self.username.is_empty()).then_some((self.username.as_str(), self.password.as_str()));
            parts.push(source::read_url(client, &self.url, auth, deadline).await.map_err(|e| e.to_string())?);
        }
        Ok(Stats::merge(&parts))
    }

    /// The state and message of a merged table: what is down, or how many are up.
    pub fn judge(&self, stats: &Stats) -> (State, String) {
        let min_up = self.min_up as usize;
        let mut problems = Vec::new();
        let mut summary = Vec::new();
        let named = !self.backends.is_empty();
        let backends: Vec<&str> =
            if named { self.backends.iter().map(String::as_str).collect() } else { stats.backends() };
        for backend in backends {
            let servers: Vec<&Row> = stats.servers(backend).collect();
            if servers.is_empty() && !named {
                continue;
            }
            if servers.is_empty() && stats.row(backend, "BACKEND").is_none() {
                problems.push(format!("backend {backend}: not found"));
                continue;
            }
            let up = servers.iter().filter(|r| r.is_up()).count();
            let line = format!("backend {backend}: {up} of {} servers up", servers.len());
            if up < min_up {
                let down: Vec<String> = servers
                    .iter()
                    .filter(|r| !r.is_up())
                    .map(|r| format!("{} {}", r.server, r.text("status")))
                    .collect();
                problems.push(if down.is_empty() { line } else { format!("{line} ({})", down.join(", ")) });
            } else {
                summary.push(line);
            }
        }
        for name in &self.servers {
            let (backend, server) = name.split_once('/').unwrap_or((name, ""));
            match stats.row(backend, server) {
                None => problems.push(format!("server {name}: not found")),
                Some(r) if r.text("status").starts_with("DOWN") => {
                    problems.push(format!("server {name}: {}", r.text("status")));
                }
                Some(_) => {}
            }
        }
        if problems.is_empty() {
            let text =
                if summary.is_empty() { "no backend with servers".to_string() } else { summary.join("; ") };
            (State::Ok, text)
        } else {
            (State::Critical, problems.join("; "))
        }
    }
}

/// Every row's [`PERF_FIELDS`] as `proxy/server/field` entries.
pub fn perfdata(stats: &Stats) -> Vec<Perf> {
    let mut out = Vec::new();
    for row in &stats.rows {
        for field in PERF_FIELDS {
            if let Some(value) = row.number(field) {
                if out.len() == MAX_PERF {
                    return out;
                }
                out.push(Perf {
                    label: format!("{}/{}/{field}", row.proxy, row.server),
                    value,
                    uom: if matches!(*field, "bin" | "bout") { "B".into() } else { String::new() },
                    warn: None,
                    crit: None,
                    min: None,
                    max: None,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "# pxname,svname,scur,status,\n\
        web,FRONTEND,2,OPEN,\n\
        app,s1,1,DOWN,\n\
        app,s2,0,DOWN,\n\
        app,BACKEND,1,DOWN,\n\
        empty,BACKEND,0,DOWN,\n\
        api,a1,0,UP,\n\
        api,BACKEND,0,UP,\n";

    fn params(json: &str) -> HaproxyParams {
        match crate::check::CheckSpec::parse(1, "haproxy", json).unwrap().spec {
            crate::check::CheckSpec::Haproxy(p) => p,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_what_is_down() {
        let stats = Stats::parse(CSV).unwrap();
        let (state, msg) = params(r#"{"sockets":["/x"]}"#).judge(&stats);
        assert_eq!(state, State::Critical);
        assert_eq!(msg, "backend app: 0 of 2 servers up (s1 DOWN, s2 DOWN)");
        let (state, msg) = params(r#"{"sockets":["/x"],"backends":["api"]}"#).judge(&stats);
        assert_eq!((state, msg.as_str()), (State::Ok, "backend api: 1 of 1 servers up"));
        let (state, msg) = params(r#"{"sockets":["/x"],"backends":["empty","nope"]}"#).judge(&stats);
        assert_eq!(state, State::Critical);
        assert_eq!(msg, "backend empty: 0 of 0 servers up; backend nope: not found");
        let (_, msg) = params(r#"{"sockets":["/x"],"backends":["api"],"servers":["app/s2"]}"#).judge(&stats);
        assert_eq!(msg, "server app/s2: DOWN");
        let perf = perfdata(&stats);
        assert_eq!(perf[0].label, "web/FRONTEND/scur");
        assert_eq!(perf[0].value, 2.0);
    }

    #[test]
    fn validation() {
        for (data, field) in [
            ("{}", "sockets"),
            (r#"{"url":"ftp://h/x"}"#, "url"),
            (r#"{"sockets":["/s"],"servers":["s1"]}"#, "servers"),
            (r#"{"sockets":"/s"}"#, "sockets"),
        ] {
            let e = crate::check::CheckSpec::parse(1, "haproxy", data).unwrap_err();
            assert_eq!(e.field, field, "{data}: {e}");
        }
        let p = params(r#"{"url":"http://127.0.0.1:1/stats;csv","password":"pw"}"#);
        assert_eq!(p.min_up, 1);
    }
}
