//! The check kinds users write in `checks.type`: gobearmon's five (`http`, `tcp`, `icmp`,
//! `ssl_expire`, `dns`), `exec` (a Nagios plugin), `haproxy` (a load balancer's pools) and
//! the `worker` pseudo-check. One file per kind, each with its params struct (gobearmon's JSON keys
//! and defaults), a `validate`, and an async `run`, registered in the closed enum
//! [`CheckSpec`]: adding a kind is a compile error until every `match` has its arm.
//!
//! A target being down is an [`Outcome`] with [`Verdict::Offline`], never an `Err`. A check
//! whose type or JSON is wrong never runs: parsing gives an [`InvalidCheck`] naming the
//! check id, the field and the reason, so nobody is paged for a typo (gobearmon's bug 26).

mod dns;
mod exec;
pub mod haproxy;
mod http;
mod icmp;
mod params;
pub mod perfdata;
mod probes;
pub mod process;
mod redact;
mod ssl_expire;
mod tcp;
mod worker;

use std::fmt;
use std::time::{Duration, Instant};

pub use dns::DnsParams;
pub use exec::{ExecParams, MAX_OUTPUT};
pub use haproxy::HaproxyParams;
pub use http::HttpParams;
pub use icmp::IcmpParams;
pub use params::InvalidCheck;
pub use perfdata::Perf;
pub use probes::{ProbeConfig, Probes};
pub use redact::Redacted;
pub use ssl_expire::SslExpireParams;
pub use tcp::TcpParams;
pub use worker::WorkerParams;

/// What a run concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The target did what the check expects.
    Online,
    /// The target failed the check: a vote for "offline".
    Offline,
    /// The worker could not run the check at all (no raw socket, no capacity): not a vote.
    Error,
}

/// Nagios's four result states (SPEC §10). gobearmon's kinds give OK or CRITICAL; an
/// `exec` plugin's exit code 0..3 gives any of them; a local error is UNKNOWN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl State {
    /// The vote a result in this state casts: OK and WARNING are `online`, CRITICAL is
    /// `offline`, UNKNOWN is no vote (SPEC §10: "UNKNOWN leaves it as it was").
    pub fn verdict(self) -> Verdict {
        match self {
            State::Ok | State::Warning => Verdict::Online,
            State::Critical => Verdict::Offline,
            State::Unknown => Verdict::Error,
        }
    }

    /// The state a gobearmon kind's verdict stands for.
    pub fn of(v: Verdict) -> State {
        match v {
            Verdict::Online => State::Ok,
            Verdict::Offline => State::Critical,
            Verdict::Error => State::Unknown,
        }
    }

    /// Nagios's name in lower case, as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Warning => "warning",
            State::Critical => "critical",
            State::Unknown => "unknown",
        }
    }

    /// A plugin's exit code: 0..3, anything else is UNKNOWN (the plugin guidelines).
    pub fn from_exit_code(code: i64) -> State {
        match code {
            0 => State::Ok,
            1 => State::Warning,
            2 => State::Critical,
            _ => State::Unknown,
        }
    }

    /// The exit code a plugin gives for this state (Nagios's `$SERVICESTATEID$`).
    pub fn code(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Critical => 2,
            State::Unknown => 3,
        }
    }
}

/// The result of one execution.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    pub verdict: Verdict,
    /// The Nagios state; always agrees with `verdict` ([`State::verdict`]).
    pub state: State,
    /// Why it failed (gobearmon's texts); empty when online. A plugin's first line of output.
    pub message: String,
    /// Wall time of the run.
    pub latency: Duration,
    /// An `exec` plugin's performance data, when it printed any, or a `haproxy` check's
    /// counters; `None` for the other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perfdata: Option<Vec<Perf>>,
}

impl Outcome {
    pub fn online(latency: Duration) -> Self {
        Self::with_state(State::Ok, String::new(), latency)
    }
    pub fn offline(message: impl Into<String>, latency: Duration) -> Self {
        Self::with_state(State::Critical, message, latency)
    }
    pub fn error(message: impl Into<String>, latency: Duration) -> Self {
        Self::with_state(State::Unknown, message, latency)
    }
    /// A result in one of the four states; the verdict follows from it.
    pub fn with_state(state: State, message: impl Into<String>, latency: Duration) -> Self {
        Outcome { verdict: state.verdict(), state, message: message.into(), latency, perfdata: None }
    }
}

/// A kind's own result before timing is attached: `Ok` online, `Err(Failure)` otherwise.
pub(crate) type KindResult = Result<(), Failure>;

/// Why a kind's run did not pass.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The target failed: offline.
    Target(String),
    /// The worker could not run the check: not a vote.
    Local(String),
}

/// A parsed, validated check definition.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckSpec {
    Http(HttpParams),
    Tcp(TcpParams),
    Icmp(IcmpParams),
    SslExpire(SslExpireParams),
    Dns(DnsParams),
    /// A Nagios plugin, run by the worker with its exit code as the state.
    Exec(ExecParams),
    /// HAProxy's pools, from its stats sockets or stats page.
    Haproxy(HaproxyParams),
    /// A cluster worker's liveness, evaluated by the controller.
    Worker(WorkerParams),
}

/// The names accepted in `checks.type`.
pub const KINDS: [&str; 8] = ["http", "tcp", "icmp", "ssl_expire", "dns", "exec", "haproxy", "worker"];

/// A required key left out reads as an empty value, whose own complaint ("relative URL
/// without a base") would hide that the key is simply not there: say so.
fn missing_key(data: &str, field: &str, reason: String) -> String {
    let top = field.split('.').next().unwrap_or(field);
    let present = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(data)
        .map_or(true, |m| m.contains_key(top));
    if present || reason.starts_with("missing") {
        reason
    } else {
        format!("missing: the key `{top}` is required")
    }
}

impl CheckSpec {
    /// Parses `checks.type` and `checks.data` as gobearmon does (unknown JSON keys are
    /// allowed, and returned as warnings so typos are visible), then validates.
    ///
    /// # Errors
    /// [`InvalidCheck`] naming the check id, the field and the reason.
    pub fn parse(check_id: i64, kind: &str, data: &str) -> Result<Parsed, InvalidCheck> {
        // A reason may quote the offending value (serde's "invalid type: integer 987654", a
        // URL that does not parse): the check's secrets are taken out of it, as everywhere.
        Self::parse_raw(check_id, kind, data)
            .map_err(|e| InvalidCheck { reason: Redacted::new(data).scrub(&e.reason), ..e })
    }

    fn parse_raw(check_id: i64, kind: &str, data: &str) -> Result<Parsed, InvalidCheck> {
        let (spec, unknown) = match kind {
            "http" => params::decode(check_id, data, http::KEYS).map(|(p, u)| (Self::Http(p), u)),
            "tcp" => params::decode(check_id, data, tcp::KEYS).map(|(p, u)| (Self::Tcp(p), u)),
            "icmp" => params::decode(check_id, data, icmp::KEYS).map(|(p, u)| (Self::Icmp(p), u)),
            "ssl_expire" => {
                params::decode(check_id, data, ssl_expire::KEYS).map(|(p, u)| (Self::SslExpire(p), u))
            }
            "dns" => params::decode(check_id, data, dns::KEYS).map(|(p, u)| (Self::Dns(p), u)),
            "exec" => params::decode(check_id, data, exec::KEYS).map(|(p, u)| (Self::Exec(p), u)),
            "haproxy" => params::decode(check_id, data, haproxy::KEYS).map(|(p, u)| (Self::Haproxy(p), u)),
            "worker" => params::decode(check_id, data, worker::KEYS).map(|(p, u)| (Self::Worker(p), u)),
            other => Err(InvalidCheck::new(
                check_id,
                "type",
                format!("unknown check type {other:?}; expected one of {}", KINDS.join(", ")),
            )),
        }?;
        let validated = match &spec {
            Self::Http(p) => p.validate(),
            Self::Tcp(p) => p.validate(),
            Self::Icmp(p) => p.validate(),
            Self::SslExpire(p) => p.validate(),
            Self::Dns(p) => p.validate(),
            Self::Exec(p) => p.validate(),
            Self::Haproxy(p) => p.validate(),
            Self::Worker(p) => p.validate(),
        };
        validated.map_err(|(field, reason)| {
            InvalidCheck::new(check_id, field, missing_key(data, field, reason))
        })?;
        let warnings = unknown
            .into_iter()
            .map(|k| format!("check {check_id}: unknown key {k:?} in data is ignored"))
            .collect();
        Ok(Parsed { spec, warnings })
    }

    /// The kind's name as written in `checks.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http(_) => "http",
            Self::Tcp(_) => "tcp",
            Self::Icmp(_) => "icmp",
            Self::SslExpire(_) => "ssl_expire",
            Self::Dns(_) => "dns",
            Self::Exec(_) => "exec",
            Self::Haproxy(_) => "haproxy",
            Self::Worker(_) => "worker",
        }
    }

    /// The hard deadline of one run.
    pub fn timeout(&self) -> Duration {
        match self {
            Self::Http(p) => params::clamp_timeout(p.timeout),
            Self::Tcp(p) => params::clamp_timeout(p.timeout),
            Self::Icmp(p) => params::clamp_timeout(p.timeout),
            Self::SslExpire(p) => params::clamp_timeout(p.timeout),
            Self::Dns(p) => params::clamp_timeout(p.timeout),
            Self::Exec(p) => params::clamp_timeout(p.timeout),
            Self::Haproxy(p) => params::clamp_timeout(p.timeout),
            Self::Worker(_) => params::clamp_timeout(0),
        }
    }

    /// Fills what a worker keeps to run the check often (an `http` check's parsed URL). Done
    /// where checks are scheduled, not where they are only held: the controller holds every
    /// check, and the parsed URL cost 170 bytes a check there at 1,000,000 checks.
    pub fn prepare(&mut self) {
        if let Self::Http(p) = self {
            p.prepare();
        }
    }

    /// Runs the check once. Never panics and never takes longer than [`Self::timeout`] plus a
    /// few milliseconds: whatever the kind is doing when the deadline passes is dropped,
    /// which closes its sockets (an `exec` plugin's process group is killed and reaped).
    pub async fn run(&self, probes: &Probes) -> Outcome {
        self.run_with_env(probes, &[]).await
    }

    /// [`Self::run`], giving an `exec` plugin these environment variables on top of the
    /// worker's and the check's own (the `NAGIOS_*` macros its caller knows); the other
    /// kinds ignore them.
    pub async fn run_with_env(&self, probes: &Probes, env: &[(String, String)]) -> Outcome {
        let started = Instant::now();
        let limit = self.timeout();
        let deadline = tokio::time::Instant::now() + limit;
        // A plugin has four states, not pass/fail, and must be killed (not dropped) at the
        // deadline: it answers with its own Outcome.
        if let Self::Exec(p) = self {
            return p.run(env, deadline, limit).await;
        }
        // A pool's verdict carries a message and perfdata even when it passes.
        if let Self::Haproxy(p) = self {
            return p.run(probes, deadline, limit).await;
        }
        let fut = async {
            match self {
                Self::Http(p) => p.run(probes, deadline).await,
                Self::Tcp(p) => p.run(deadline).await,
                Self::Icmp(p) => p.run(probes, deadline).await,
                Self::SslExpire(p) => p.run(deadline).await,
                Self::Dns(p) => p.run(probes, deadline).await,
                Self::Worker(p) => p.run().await,
                // Answered above; never reached, and no panic if it were.
                Self::Exec(_) | Self::Haproxy(_) => {
                    Err(Failure::Local(format!("{} checks run through their own run", self.kind())))
                }
            }
        };
        let result = tokio::time::timeout_at(deadline, fut).await;
        let latency = started.elapsed();
        match result {
            Ok(Ok(())) => Outcome::online(latency),
            Ok(Err(Failure::Target(m))) => Outcome::offline(m, latency),
            Ok(Err(Failure::Local(m))) => Outcome::error(m, latency),
            Err(_) => Outcome::offline(
                format!("{} check timed out after {} s", self.kind(), limit.as_secs()),
                latency,
            ),
        }
    }
}

/// A parsed check plus the warnings its JSON raised (unknown keys).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub spec: CheckSpec,
    pub warnings: Vec<String>,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Online => "online",
            Verdict::Offline => "offline",
            Verdict::Error => "error",
        })
    }
}

pub(crate) use crate::util::error_chain;
