//! `bearmon status`: the cluster and the checks that are not online, as a table, from any
//! node's API. Usable from cron or another monitor through its exit code.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

/// The base URL to query: `host:port` means `http://host:port`.
fn base_url(arg: &str) -> String {
    let arg = arg.trim().trim_end_matches('/');
    if arg.contains("://") { arg.to_string() } else { format!("http://{arg}") }
}

/// The innermost cause of a request error ("Connection refused (os error 111)"): reqwest's
/// own message says only that sending failed.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

async fn get(client: &reqwest::Client, url: &str, token: Option<&str>) -> anyhow::Result<Value> {
    let mut req = client.get(url).timeout(Duration::from_secs(10));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) if e.is_builder() => {
            bail!("{url} is not a URL ({}): give --url http://HOST:PORT", root_cause(&e))
        }
        Err(e) => bail!(
            "cannot reach bearmon at {url}: {}; is `bearmon up` or the viewserver running there? \
             (--url or BEARMON_URL names the address)",
            root_cause(&e)
        ),
    };
    let status = resp.status();
    let body: Value = resp.json().await.with_context(|| format!("GET {url}: not JSON"))?;
    if !status.is_success() {
        bail!("GET {url}: HTTP {status}: {}", body["error"].as_str().unwrap_or(""));
    }
    Ok(body)
}

/// Rows under a header, each column as wide as its widest cell; the last column is not
/// padded. Columns listed in `right` are right-aligned.
fn table(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| match (i == last, right.contains(&i)) {
                (true, _) => c.to_string(),
                (false, true) => format!("{c:>w$}", w = widths[i]),
                (false, false) => format!("{c:<w$}", w = widths[i]),
            })
            .collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// Prints the report; exit code 0 when all is well, 1 otherwise. `base` may be `host:port`.
///
/// # Errors
/// When the node cannot be reached or answers nonsense.
pub async fn run(base: &str, token: Option<&str>) -> anyhow::Result<ExitCode> {
    let base = base_url(base);
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
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let msg = r["error"].as_str().or(r["last_result"]["message"].as_str()).unwrap_or("");
                vec![
                    r["id"].to_string(),
                    r["status"].as_str().unwrap_or("").to_string(),
                    r["name"].as_str().unwrap_or("").to_string(),
                    r["since"].as_str().unwrap_or("-").to_string(),
                    msg.to_string(),
                ]
            })
            .collect();
        print!("{}", table(&["ID", "STATUS", "NAME", "SINCE", "MESSAGE"], &cells, &[0]));
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

#[cfg(test)]
mod tests {
    #[test]
    fn host_and_port_is_an_http_url() {
        assert_eq!(super::base_url("127.0.0.1:18480"), "http://127.0.0.1:18480");
        assert_eq!(super::base_url("https://mon.example/"), "https://mon.example");
    }

    #[test]
    fn columns_are_as_wide_as_their_content() {
        let rows = vec![
            vec!["7".into(), "offline".into(), "a rather long check name here".into(), "x".into()],
            vec!["1234".into(), "invalid".into(), "short".into(), "y".into()],
        ];
        let text = super::table(&["ID", "STATUS", "NAME", "MESSAGE"], &rows, &[0]);
        assert_eq!(
            text,
            "  ID  STATUS   NAME                           MESSAGE\n   7  offline  a rather long check name here  x\n1234  invalid  short                          y\n"
        );
    }
}
