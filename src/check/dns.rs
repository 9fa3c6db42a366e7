//! `dns`: ask one nameserver for one record type and check the answer.
//!
//! gobearmon's keys and texts, with its gaps filled: CNAME and CAA are supported, the
//! response code is checked (NXDOMAIN is reported as such), truncated answers are retried
//! over TCP, and IPv6 server literals work with or without a port.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use hickory_resolver::Resolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RecordType;
use serde::Deserialize;
use tokio::time::Instant;

use super::{Failure, KindResult, Probes};

pub(crate) const KEYS: &[&str] = &["server", "name", "type", "expect", "timeout"];

/// Record types a `dns` check may ask for (gobearmon's list plus CNAME and CAA).
pub const TYPES: &[&str] = &["a", "aaaa", "cname", "mx", "ns", "soa", "ptr", "txt", "srv", "spf", "caa"];

/// `checks.data` of a `dns` check.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct DnsParams {
    /// `address[:port]`, IPv6 as `::1` or `[::1]:53`; empty means the worker's default.
    pub server: String,
    pub name: String,
    /// Record type, case-insensitive.
    #[serde(rename = "type")]
    pub record_type: String,
    /// Text some answer record must contain (in `name ttl class type data` form).
    pub expect: String,
    pub timeout: i64,
}

impl DnsParams {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.name.trim().is_empty() {
            return Err(("name", "is empty".into()));
        }
        self.rtype().map_err(|e| ("type", e))?;
        if !self.server.is_empty() {
            parse_server(&self.server).map_err(|e| ("server", e))?;
        }
        Ok(())
    }

    fn rtype(&self) -> Result<RecordType, String> {
        let t = self.record_type.to_ascii_lowercase();
        if !TYPES.contains(&t.as_str()) {
            return Err(format!(
                "invalid record type: {:?}; expected one of {}",
                self.record_type,
                TYPES.join(", ")
            ));
        }
        // SPF's own record type is obsolete; SPF policies are published as TXT.
        let t = if t == "spf" { "TXT".to_string() } else { t.to_ascii_uppercase() };
        RecordType::from_str(&t).map_err(|e| e.to_string())
    }

    pub(crate) async fn run(&self, probes: &Probes, deadline: Instant) -> KindResult {
        let server = if self.server.is_empty() {
            probes.dns_server().map(str::to_string).unwrap_or_else(system_nameserver)
        } else {
            self.server.clone()
        };
        let addr = parse_server(&server).map_err(Failure::Local)?;
        let rtype = self.rtype().map_err(Failure::Local)?;
        let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
        for c in &mut ns.connections {
            c.port = addr.port();
        }
        let config = ResolverConfig::from_name_servers(vec![ns]);
        let mut builder = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
        let opts = builder.options_mut();
        opts.cache_size = 0;
        opts.attempts = 1;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.timeout = deadline.saturating_duration_since(Instant::now());
        let resolver =
            builder.build().map_err(|e| Failure::Local(format!("cannot build a resolver: {e}")))?;
        let mut name = self.name.trim().to_string();
        if !name.ends_with('.') {
            name.push('.');
        }
        let lookup = match resolver.lookup(name.as_str(), rtype).await {
            Ok(l) => l,
            Err(NetError::Dns(DnsError::NoRecordsFound(nr))) => {
                return Err(Failure::Target(if nr.response_code == ResponseCode::NXDomain {
                    format!("query failed: NXDOMAIN, {name} does not exist")
                } else {
                    "query returned no results".to_string()
                }));
            }
            Err(e) => return Err(Failure::Target(format!("query failed: {e}"))),
        };
        let answers = lookup.answers();
        if answers.is_empty() {
            return Err(Failure::Target("query returned no results".into()));
        }
        if self.expect.is_empty() {
            return Ok(());
        }
        let shown: Vec<String> = answers.iter().map(ToString::to_string).collect();
        let found = answers.iter().zip(&shown).any(|(rr, spaced)| {
            // gobearmon users matched miekg's tab-separated form; accept both.
            let tabbed =
                format!("{}\t{}\t{}\t{}\t{}", rr.name, rr.ttl, rr.dns_class, rr.record_type(), rr.data);
            spaced.contains(&self.expect) || tabbed.contains(&self.expect)
        });
        if found {
            Ok(())
        } else {
            Err(Failure::Target(format!(
                "query answer does not contain expected string (answer is {}, expected {})",
                shown.join("; "),
                self.expect
            )))
        }
    }
}

/// Parses `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]` and `[::1]:5353` (port 53 by default).
pub fn parse_server(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    if let Ok(sa) = SocketAddr::from_str(s) {
        return Ok(sa);
    }
    let bare = s.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = IpAddr::from_str(bare) {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(format!("{s:?} is not an IP address with an optional port"))
}

/// The first nameserver of /etc/resolv.conf, else 127.0.0.1 (gobearmon's fallback).
fn system_nameserver() -> String {
    std::fs::read_to_string("/etc/resolv.conf")
        .ok()
        .and_then(|text| {
            text.lines()
                .filter_map(|l| l.trim().strip_prefix("nameserver"))
                .map(|rest| rest.trim().to_string())
                .find(|addr| IpAddr::from_str(addr).is_ok())
        })
        .unwrap_or_else(|| "127.0.0.1".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_forms() {
        assert_eq!(parse_server("1.2.3.4").unwrap(), "1.2.3.4:53".parse().unwrap());
        assert_eq!(parse_server("1.2.3.4:5353").unwrap(), "1.2.3.4:5353".parse().unwrap());
        assert_eq!(parse_server("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(parse_server("[::1]").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(parse_server("[::1]:5353").unwrap(), "[::1]:5353".parse().unwrap());
        assert!(parse_server("ns1.example.com").is_err());
    }
}
