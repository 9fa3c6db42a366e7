//! `bearmon status`: the cluster and the checks that are not online, as a table, from any
//! node's API. Usable from cron or another monitor through its exit code.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

async fn get(client: &reqwest::Client, url: &str, token: Option<&str>) -> anyhow::Result<Value> {
    let mut req = client.get(url).timeout(Duration::from_secs(10));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let body: Value = resp.json().await.with_context(|| format!("GET {url}: not JSON"))?;
    if !status.is_success() {
        bail!("GET {url}: HTTP {status}: {}", body["error"].as_str().unwrap_or(""));
    }
    Ok(body)
}

/// Prints the report; exit code 0 when all is well, 1 otherwise.
///
/// # Errors
/// When the node cannot be reached or answers nonsense.
pub async fn run(base: &str, token: Option<&str>) -> anyhow::Result<ExitCode> {
    let base = base.trim_end_matches('/');
    let client = reqwest::Client::builder().build()?;
    let cluster = get(&client, &format!("{base}/api/cluster"), token).await?;
    let mut healthy = true;
    let ctrl = cluster["controller"].as_str();
    let live = cluster["workers_live"].as_u64().unwrap_or(0);
    let total = cluster["workers"].as_array().map_or(0, Vec::len);
    println!(
        "cluster: controller {} (term {}), {live}/{total} workers live{}",
        ctrl.unwrap_or("NONE"),
        cluster["term"],
        if cluster["degraded"] == true { ", DEGRADED (fewer live workers than confirmations)" } else { "" }
    );
    if ctrl.is_none() || cluster["degraded"] == true {
        healthy = false;
    }
    for w in cluster["workers"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        if w["alive"] != true {
            println!("  worker {} is DEAD", w["name"].as_str().unwrap_or("?"));
        }
    }
    if ctrl.is_none() {
        println!("checks: unknown (no controller)");
        return Ok(ExitCode::from(1));
    }
    let page =
        get(&client, &format!("{base}/api/checks?status=offline,invalid&per_page=1000"), token).await?;
    let c = &page["counts"];
    println!(
        "checks: {} online, {} offline, {} invalid",
        c["online"].as_u64().unwrap_or(0),
        c["offline"].as_u64().unwrap_or(0),
        c["invalid"].as_u64().unwrap_or(0)
    );
    let rows = page["checks"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if !rows.is_empty() {
        healthy = false;
        println!("{:>7}  {:<8} {:<24} {:<22} MESSAGE", "ID", "STATUS", "NAME", "SINCE");
        for r in rows {
            let msg = r["error"].as_str().or(r["last_result"]["message"].as_str()).unwrap_or("");
            println!(
                "{:>7}  {:<8} {:<24} {:<22} {msg}",
                r["id"],
                r["status"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or(""),
                r["since"].as_str().unwrap_or("-")
            );
        }
        let total = page["total"].as_u64().unwrap_or(0);
        if total > rows.len() as u64 {
            println!("... and {} more", total - rows.len() as u64);
        }
    }
    // A channel that fails is a problem before the outage it should report.
    let failing = get(&client, &format!("{base}/api/contacts/failing"), token).await?;
    let contacts = failing["contacts"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if !contacts.is_empty() {
        healthy = false;
        println!("notifications FAILING to {} contact(s):", contacts.len());
        for f in contacts {
            println!(
                "  contact {} ({}): {} after {} attempts since {}: {}",
                f["contact_id"],
                f["kind"].as_str().unwrap_or("deleted"),
                f["state"].as_str().unwrap_or("?"),
                f["attempts"],
                f["since"].as_str().unwrap_or("?"),
                f["error"].as_str().unwrap_or("")
            );
        }
    }
    Ok(if healthy { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
