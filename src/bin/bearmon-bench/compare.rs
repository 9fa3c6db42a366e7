//! `--peer`: with bearmon stopped, runs each peer (blackbox_exporter, Nagios 4) against the
//! same targets at the same demanded rate, and relates bearmon's CPU per run to the peer's.
//! The peers themselves live in `peers.rs`; this is the part of the run that drives them.

use std::path::Path;

use serde_json::json;

use crate::load::target_host;
use crate::options::Args;
use crate::peers;

/// Each `--peer`'s figures by name; `bearmon_ms` is bearmon's CPU milliseconds per run.
pub async fn run_peers(
    a: &Args,
    dir: &Path,
    demanded: f64,
    bearmon_ms: f64,
) -> serde_json::Map<String, serde_json::Value> {
    let mut peer_results = serde_json::Map::new();
    for peer in &a.peer {
        let hosts: Vec<String> = (0..a.checks).map(target_host).collect();
        let peer_seconds = a.peer_seconds.unwrap_or(a.seconds);
        eprintln!("running peer {peer} for {peer_seconds} s");
        let figures = match peer.as_str() {
            "blackbox" => {
                let targets: Vec<String> = hosts
                    .iter()
                    .map(|h| match a.kind.as_str() {
                        "tcp" => format!("{h}:{}", a.target_port),
                        "icmp" => h.clone(),
                        _ => format!("http://{h}:{}/", a.target_port),
                    })
                    .collect();
                peers::blackbox(dir, &targets, &a.kind, a.interval, peer_seconds).await
            }
            _ => peers::nagios(dir, &hosts, a.target_port, &a.kind, a.interval, peer_seconds).await,
        };
        let v = match figures {
            Ok(f) => {
                let mut v = f.json(demanded);
                v["bearmon_cpu_per_run_ratio"] =
                    json!(bearmon_ms / v["cpu_ms_per_run"].as_f64().unwrap_or(f64::NAN));
                v
            }
            Err(e) => json!({"error": e}),
        };
        peer_results.insert(peer.clone(), v);
    }
    peer_results
}
