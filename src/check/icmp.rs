//! `icmp`: five echo requests over a native ICMP socket (no `ping` binary to parse).
//!
//! gobearmon's `packetloss: true` keeps its meaning (fail above 30 % loss, so 2 of 5);
//! the new `max_packet_loss` says the allowed number of lost packets exactly, as gobearmon's
//! README promised; `force_ip: 4` now works too.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use serde::Deserialize;
use surge_ping::{PingIdentifier, PingSequence, SurgeError};
use tokio::time::{Instant, sleep};

use super::{Failure, KindResult, Probes};

/// Echo requests per run, as gobearmon's `ping -c 5`.
pub const PACKETS: u8 = 5;
/// Spacing between the requests of one run.
const SPACING: Duration = Duration::from_millis(200);
const PAYLOAD: [u8; 56] = [0; 56];

pub(crate) const KEYS: &[&str] = &["target", "packetloss", "force_ip", "max_packet_loss", "timeout"];

/// `checks.data` of an `icmp` check.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct IcmpParams {
    /// Host name or IP address.
    pub target: String,
    /// gobearmon's flag: fail when more than 30 % of the packets are lost.
    pub packetloss: bool,
    /// 4 or 6 picks the address family; 0 takes the first address.
    pub force_ip: u8,
    /// How many of the 5 packets may be lost (0..=5). Wins over `packetloss`.
    pub max_packet_loss: Option<u8>,
    pub timeout: i64,
}

impl IcmpParams {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.target.trim().is_empty() {
            return Err(("target", "is empty".into()));
        }
        if self.target.contains(|c: char| "$&<>!/\\\"' ".contains(c)) {
            return Err(("target", "ping target contains invalid characters".into()));
        }
        if !matches!(self.force_ip, 0 | 4 | 6) {
            return Err(("force_ip", format!("{} is not 0, 4 or 6", self.force_ip)));
        }
        if let Some(m) = self.max_packet_loss
            && m > PACKETS
        {
            return Err(("max_packet_loss", format!("{m} is more than the {PACKETS} packets sent")));
        }
        Ok(())
    }

    /// How many lost packets are tolerated.
    pub fn allowed_loss(&self) -> u8 {
        match (self.max_packet_loss, self.packetloss) {
            (Some(m), _) => m,
            // More than 30 % of 5 is 2 or more: 1 lost packet is allowed.
            (None, true) => 1,
            (None, false) => PACKETS - 1,
        }
    }

    async fn resolve(&self) -> Result<IpAddr, String> {
        if let Ok(ip) = self.target.parse::<IpAddr>() {
            return Ok(ip);
        }
        let addrs = tokio::net::lookup_host((self.target.as_str(), 0))
            .await
            .map_err(|e| format!("cannot resolve {}: {e}", self.target))?;
        addrs
            .map(|a| a.ip())
            .find(|ip| match self.force_ip {
                4 => ip.is_ipv4(),
                6 => ip.is_ipv6(),
                _ => true,
            })
            .ok_or_else(|| format!("{} has no IPv{} address", self.target, self.force_ip))
    }

    pub(crate) async fn run(&self, probes: &Probes, deadline: Instant) -> KindResult {
        let ip = self.resolve().await.map_err(Failure::Target)?;
        let client = probes.icmp(ip.is_ipv6()).await.map_err(|e| Failure::Local(e.clone()))?;
        // Leave time to report before the hard deadline.
        let budget = deadline.saturating_duration_since(Instant::now());
        let per_ping = (budget / 3)
            .max(Duration::from_millis(500))
            .min(budget.saturating_sub(SPACING * u32::from(PACKETS) + Duration::from_millis(100)));
        let ident = next_ident();
        let pings = (0..PACKETS).map(|seq| async move {
            sleep(SPACING * u32::from(seq)).await;
            let mut pinger = client.pinger(ip, PingIdentifier(ident)).await;
            pinger.timeout(per_ping);
            pinger.ping(PingSequence(u16::from(seq)), &PAYLOAD).await
        });
        let results = futures_util::future::join_all(pings).await;
        let mut lost = 0u8;
        let mut last_error = None;
        for r in results {
            match r {
                Ok(_) => {}
                Err(SurgeError::Timeout { .. }) => lost += 1,
                Err(e) => {
                    lost += 1;
                    last_error = Some(e.to_string());
                }
            }
        }
        if lost > self.allowed_loss() {
            let pct = u32::from(lost) * 100 / u32::from(PACKETS);
            let mut msg = format!("ping: {pct}% packet loss ({lost} of {PACKETS} lost)");
            if let Some(e) = last_error {
                msg.push_str(&format!(": {e}"));
            }
            return Err(Failure::Target(msg));
        }
        Ok(())
    }
}

/// Identifiers keep concurrent runs against the same host apart.
fn next_ident() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = (std::process::id() as u16).wrapping_mul(7919);
    base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_thresholds() {
        let p = |packetloss, max| IcmpParams {
            target: "x".into(),
            packetloss,
            max_packet_loss: max,
            ..Default::default()
        };
        assert_eq!(p(false, None).allowed_loss(), 4, "gobearmon: only 100 % loss fails");
        assert_eq!(p(true, None).allowed_loss(), 1, "gobearmon: more than 30 % fails");
        assert_eq!(p(true, Some(0)).allowed_loss(), 0, "max_packet_loss wins");
        assert!(p(false, Some(6)).validate().is_err());
    }
}
