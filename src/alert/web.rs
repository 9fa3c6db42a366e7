//! HTTP notifications: gobearmon's form POST (`http` contacts) and the JSON `webhook`
//! with its presets (the bodies in [`super::preset`]) and optional signature.

use std::time::Duration;

use ring::hmac;
use serde_json::{Value, json};

use super::Event;
use super::contact::WebhookSpec;
use super::preset::{Outgoing, preset};
use super::text::{headline, type_name};
use super::{Delivery, SendError};

/// How a receiver's HTTP status is taken: 2xx delivered; 408, 429 and 5xx worth retrying;
/// any other answer is permanent (a wrong URL or a rejected payload will not get better).
pub fn classify(status: reqwest::StatusCode, body: &str) -> Result<(), SendError> {
    let code = status.as_u16();
    let snippet: String = body.chars().take(200).collect();
    if status.is_success() {
        Ok(())
    } else if code == 408 || code == 429 || status.is_server_error() {
        Err(SendError::Transient(format!("HTTP {code}: {snippet}")))
    } else {
        Err(SendError::Permanent(format!("HTTP {code}: {snippet}")))
    }
}

fn transport(e: &reqwest::Error) -> SendError {
    SendError::Transient(crate::util::error_chain(e))
}

async fn finish(resp: Result<reqwest::Response, reqwest::Error>) -> Result<(), SendError> {
    let resp = resp.map_err(|e| transport(&e))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    classify(status, &body)
}

/// gobearmon's `http` contact: a form POST with `check_id`, `name`, `type`, `data`,
/// `status`, `message`, bearmon's `notification_type` (`PROBLEM`, `RECOVERY`,
/// `ACKNOWLEDGEMENT`, ...) and `notification_number`, plus an `Idempotency-Key` header.
pub async fn form(
    client: &reqwest::Client,
    url: &url::Url,
    d: &Delivery,
    timeout: Duration,
) -> Result<(), SendError> {
    let e = &d.event;
    let fields = [
        ("check_id", e.check_id.to_string()),
        ("name", e.check_name.clone()),
        ("type", e.check_type.clone()),
        ("data", e.check_data.clone()),
        ("status", e.status.clone()),
        ("message", e.message.clone()),
        ("notification_type", type_name(e)),
        ("notification_number", e.notification_number.to_string()),
    ];
    let req = client.post(url.clone()).timeout(timeout).header("Idempotency-Key", &d.idem_key).form(&fields);
    finish(req.send().await).await
}

/// A unix-ms time as RFC 3339 (empty when out of range).
pub(super) fn rfc3339(ms: i64) -> String {
    crate::util::rfc3339(ms).unwrap_or_default()
}

/// bearmon's own JSON body.
pub fn default_body(d: &Delivery) -> Value {
    let e: &Event = &d.event;
    json!({
        "idempotency_key": d.idem_key,
        "event_id": d.event_id,
        "incident": d.incident,
        "status": e.status,
        "notification_type": type_name(e),
        "notification_number": e.notification_number,
        "message": e.message,
        "text": headline(e),
        "time": rfc3339(d.at_ms),
        "check": {"id": e.check_id, "name": e.check_name, "type": e.check_type, "data": e.check_data},
    })
}

/// Fills a body template: each `{{name}}` becomes the value, escaped for a JSON string.
pub fn render_template(template: &str, d: &Delivery) -> String {
    let e = &d.event;
    let vars = [
        ("check.id", e.check_id.to_string()),
        ("check.name", e.check_name.clone()),
        ("check.type", e.check_type.clone()),
        ("check.data", e.check_data.clone()),
        ("event.id", d.event_id.to_string()),
        ("event.status", e.status.clone()),
        ("notification_type", type_name(e)),
        ("notification_number", e.notification_number.to_string()),
        ("event.time", rfc3339(d.at_ms)),
        ("event.incident", d.incident.to_string()),
        ("result.message", e.message.clone()),
        ("headline", headline(e)),
        ("idempotency_key", d.idem_key.clone()),
    ];
    let mut out = template.to_string();
    for (k, v) in vars {
        let escaped = serde_json::to_string(&v).unwrap_or_default();
        out = out.replace(&format!("{{{{{k}}}}}"), &escaped[1..escaped.len() - 1]);
    }
    out
}

/// `X-Bearmon-Signature` for a body: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    format!("t={t},v1={}", crate::util::hex(hmac::sign(&key, &msg).as_ref()))
}

/// Sends a `webhook` notification.
pub async fn webhook(
    client: &reqwest::Client,
    spec: &WebhookSpec,
    d: &Delivery,
    timeout: Duration,
) -> Result<(), SendError> {
    let (body, url) = match (&spec.template, &spec.format) {
        (Some(t), _) => (render_template(t, d), None),
        (None, Some(f)) => match preset(f, spec, d) {
            Outgoing::Send { body, url } => (body.to_string(), url),
            Outgoing::Skip(why) => {
                tracing::info!(
                    check = d.event.check_id,
                    contact = d.contact_id,
                    format = %f,
                    notification_type = %type_name(&d.event),
                    key = %d.idem_key,
                    "webhook notification not sent: {why}"
                );
                return Ok(());
            }
        },
        (None, None) => (default_body(d).to_string(), None),
    };
    let method = reqwest::Method::from_bytes(spec.method.as_bytes())
        .map_err(|_| SendError::Permanent(format!("{:?} is not an HTTP method", spec.method)))?;
    let mut req = client
        .request(method, url.as_deref().unwrap_or(&spec.url))
        .timeout(timeout)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", &d.idem_key);
    for (k, v) in &spec.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    if let Some(secret) = &spec.secret {
        let t = crate::util::now_ms() / 1000;
        req = req.header("X-Bearmon-Signature", signature(secret, t, body.as_bytes()));
    }
    finish(req.body(body).send().await).await
}

/// How long resolving a contact's or a node's host may take before the guard gives up on
/// it (the send itself then fails or succeeds on its own timeout).
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The node URL among `nodes` that `url` points at. A notification there would talk to
/// bearmon's own API, so the dispatcher refuses it. Hosts are compared by the addresses they
/// resolve to, on the same port, and every address of this machine counts as one host
/// (all of 127.0.0.0/8, `::1`, `0.0.0.0`, the interfaces' addresses): a node listening on
/// `0.0.0.0:7300` answers at `127.0.0.2:7300` and at the machine's LAN address alike.
pub async fn points_at_node<'a>(url: &str, nodes: &'a [String]) -> Option<&'a str> {
    let u = url::Url::parse(url).ok()?;
    let theirs = resolve(&u).await;
    for n in nodes {
        let Ok(node) = url::Url::parse(n) else { continue };
        if same_endpoint(&u, &node) {
            return Some(n.as_str());
        }
        let ours = resolve(&node).await;
        let hit = theirs.iter().any(|a| {
            ours.iter().any(|b| {
                a.port() == b.port() && (a.ip() == b.ip() || (this_host(a.ip()) && this_host(b.ip())))
            })
        });
        if hit {
            return Some(n.as_str());
        }
    }
    None
}

/// The addresses a URL's host and port resolve to; none when it does not resolve in time.
async fn resolve(u: &url::Url) -> Vec<std::net::SocketAddr> {
    let (Some(host), Some(port)) = (u.host_str(), u.port_or_known_default()) else { return Vec::new() };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host.as_str(), port))).await {
        Ok(Ok(addrs)) => addrs.collect(),
        Ok(Err(e)) => {
            tracing::debug!(host = %host, error = %e, "cannot resolve; compared by name only");
            Vec::new()
        }
        Err(_) => {
            tracing::debug!(host = %host, "resolving timed out; compared by name only");
            Vec::new()
        }
    }
}

/// Whether `ip` is this machine: loopback, unspecified, or an address a socket can be bound
/// to here (the kernel knows its own addresses; no interface listing needed).
fn this_host(ip: std::net::IpAddr) -> bool {
    let ip = ip.to_canonical();
    ip.is_loopback() || ip.is_unspecified() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

fn same_endpoint(a: &url::Url, b: &url::Url) -> bool {
    fn host(u: &url::Url) -> Option<String> {
        Some(match u.host()? {
            url::Host::Domain(d) if d.eq_ignore_ascii_case("localhost") => "loopback".into(),
            url::Host::Ipv4(ip) if ip.is_loopback() || ip.is_unspecified() => "loopback".into(),
            url::Host::Ipv6(ip) if ip.is_loopback() || ip.is_unspecified() => "loopback".into(),
            h => h.to_string().to_ascii_lowercase(),
        })
    }
    a.port_or_known_default() == b.port_or_known_default() && host(a).is_some() && host(a) == host(b)
}

#[cfg(test)]
mod own_api_tests {
    use super::points_at_node;

    #[tokio::test]
    async fn a_url_at_a_node_is_recognised_and_others_are_not() {
        let nodes = vec!["http://127.0.0.1:7300".to_string(), "https://mon.invalid".to_string()];
        let at = |u: &'static str| {
            let nodes = nodes.clone();
            async move { points_at_node(u, &nodes).await.map(str::to_string) }
        };
        let local = Some("http://127.0.0.1:7300".to_string());
        assert_eq!(at("http://localhost:7300/cluster/sync").await, local);
        assert_eq!(at("http://[::1]:7300/api").await, local);
        assert_eq!(at("http://127.0.0.2:7300/api").await, local, "all of 127.0.0.0/8 is this host");
        assert_eq!(at("http://0.0.0.0:7300/api").await, local);
        assert_eq!(at("http://[::ffff:127.0.0.1]:7300/api").await, local);
        assert_eq!(at("https://MON.invalid:443/x").await, Some("https://mon.invalid".to_string()));
        assert_eq!(at("http://127.0.0.1:7301/").await, None);
        assert_eq!(at("http://mon.invalid/").await, None, "port 80 is not 443");
        assert_eq!(at("not a url").await, None);
        // A node listening on every address: this machine's own name reaches it too.
        let any = vec!["http://0.0.0.0:7400".to_string()];
        assert_eq!(points_at_node("http://127.0.0.3:7400/x", &any).await, Some("http://0.0.0.0:7400"));
        let name = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        let name = name.trim();
        if !name.is_empty() {
            let url = format!("http://{name}:7400/x");
            if tokio::net::lookup_host((name, 7400)).await.is_ok() {
                assert_eq!(points_at_node(&url, &any).await, Some("http://0.0.0.0:7400"), "{url}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::preset::tests::delivery;

    #[test]
    fn the_default_body_and_templates_carry_the_type_and_number() {
        let d = delivery("offline", "PROBLEM", 3);
        let v = default_body(&d);
        assert_eq!(
            (v["notification_type"].as_str(), v["notification_number"].as_u64()),
            (Some("PROBLEM"), Some(3))
        );
        assert_eq!(v["text"], "Check [api] is still offline (notification 3): HTTP 503");
        let v = default_body(&delivery("offline", "ACKNOWLEDGEMENT", 1));
        assert_eq!(v["notification_type"], "ACKNOWLEDGEMENT");
        assert_eq!(v["status"], "offline");
        assert_eq!(v["text"], "Check [api] problem acknowledged.");
        // A row from before notification types: gobearmon's kind, by its status.
        assert_eq!(default_body(&delivery("online", "", 1))["notification_type"], "RECOVERY");
        let t = render_template(r#"{"t":"{{notification_type}}","n":{{notification_number}}}"#, &d);
        assert_eq!(t, r#"{"t":"PROBLEM","n":3}"#);
    }
}
