//! HTTP notifications: gobearmon's form POST (`http` contacts) and the JSON `webhook`
//! with its presets and optional signature.

use std::time::Duration;

use ring::hmac;
use serde_json::{Value, json};

use super::Event;
use super::contact::WebhookSpec;
use super::text::headline;
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
/// `status`, `message`, plus an `Idempotency-Key` header.
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
    ];
    let req = client.post(url.clone()).timeout(timeout).header("Idempotency-Key", &d.idem_key).form(&fields);
    finish(req.send().await).await
}

fn rfc3339(ms: i64) -> String {
    crate::util::rfc3339(ms).unwrap_or_default()
}

/// PagerDuty's `dedup_key`: one per check incident, so the recovery resolves the trigger.
pub fn dedup_key(d: &Delivery) -> String {
    format!("bearmon-check-{}-incident-{}", d.event.check_id, d.incident)
}

/// Alertmanager's fingerprint: stable per check.
fn fingerprint(check_id: i64) -> String {
    let h = ring::digest::digest(&ring::digest::SHA256, format!("bearmon-check-{check_id}").as_bytes());
    crate::util::hex(&h.as_ref()[..8])
}

/// bearmon's own JSON body.
pub fn default_body(d: &Delivery) -> Value {
    let e: &Event = &d.event;
    json!({
        "idempotency_key": d.idem_key,
        "event_id": d.event_id,
        "incident": d.incident,
        "status": e.status,
        "message": e.message,
        "text": headline(e),
        "time": rfc3339(d.at_ms),
        "check": {"id": e.check_id, "name": e.check_name, "type": e.check_type, "data": e.check_data},
    })
}

/// The body of a preset.
pub fn preset(format: &str, spec: &WebhookSpec, d: &Delivery) -> Value {
    let e = &d.event;
    let firing = e.status == "offline";
    match format {
        "slack" => json!({"text": headline(e)}),
        "discord" => json!({"content": headline(e)}),
        "pagerduty" => {
            let mut v = json!({
                "routing_key": spec.routing_key.clone().unwrap_or_default(),
                "event_action": if firing { "trigger" } else { "resolve" },
                "dedup_key": dedup_key(d),
            });
            if firing {
                v["payload"] = json!({
                    "summary": headline(e),
                    "source": "bearmon",
                    "severity": "critical",
                    "component": e.check_name,
                    "class": e.check_type,
                    "custom_details": {"check_id": e.check_id, "message": e.message, "idempotency_key": d.idem_key},
                });
            }
            v
        }
        // Alertmanager's webhook payload, version 4.
        _ => {
            let labels = json!({
                "alertname": "BearmonCheckDown",
                "check_id": e.check_id.to_string(),
                "check_name": e.check_name,
                "check_type": e.check_type,
            });
            let status = if firing { "firing" } else { "resolved" };
            json!({
                "version": "4",
                "groupKey": format!("{{}}:{{check_id=\"{}\"}}", e.check_id),
                "truncatedAlerts": 0,
                "status": status,
                "receiver": "bearmon",
                "groupLabels": {"check_id": e.check_id.to_string()},
                "commonLabels": labels,
                "commonAnnotations": {"summary": headline(e)},
                "externalURL": "",
                "alerts": [{
                    "status": status,
                    "labels": labels,
                    "annotations": {"summary": headline(e), "description": e.message, "idempotency_key": d.idem_key},
                    "startsAt": rfc3339(d.incident_at_ms),
                    "endsAt": if firing { "0001-01-01T00:00:00Z".to_string() } else { rfc3339(d.at_ms) },
                    "generatorURL": "",
                    "fingerprint": fingerprint(e.check_id),
                }],
            })
        }
    }
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
    let body = match (&spec.template, &spec.format) {
        (Some(t), _) => render_template(t, d),
        (None, Some(f)) => preset(f, spec, d).to_string(),
        (None, None) => default_body(d).to_string(),
    };
    let method = reqwest::Method::from_bytes(spec.method.as_bytes())
        .map_err(|_| SendError::Permanent(format!("{:?} is not an HTTP method", spec.method)))?;
    let mut req = client
        .request(method, &spec.url)
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

/// The node URL among `nodes` that `url` points at (same host and port; `localhost`,
/// 127.0.0.1 and ::1 count as one host). A notification there would talk to bearmon's own
/// API, so the dispatcher refuses it.
pub fn points_at_node<'a>(url: &str, nodes: &'a [String]) -> Option<&'a str> {
    let u = url::Url::parse(url).ok()?;
    nodes.iter().find(|n| url::Url::parse(n).is_ok_and(|n| same_endpoint(&u, &n))).map(String::as_str)
}

fn same_endpoint(a: &url::Url, b: &url::Url) -> bool {
    fn host(u: &url::Url) -> Option<String> {
        Some(match u.host()? {
            url::Host::Domain(d) if d.eq_ignore_ascii_case("localhost") => "loopback".into(),
            url::Host::Ipv4(ip) if ip == std::net::Ipv4Addr::LOCALHOST => "loopback".into(),
            url::Host::Ipv6(ip) if ip.is_loopback() => "loopback".into(),
            h => h.to_string().to_ascii_lowercase(),
        })
    }
    a.port_or_known_default() == b.port_or_known_default() && host(a).is_some() && host(a) == host(b)
}

#[cfg(test)]
mod own_api_tests {
    use super::points_at_node;

    #[test]
    fn a_url_at_a_node_is_recognised_and_others_are_not() {
        let nodes = vec!["http://127.0.0.1:7300".to_string(), "https://mon.example.org".to_string()];
        assert_eq!(
            points_at_node("http://localhost:7300/cluster/sync", &nodes),
            Some("http://127.0.0.1:7300")
        );
        assert_eq!(points_at_node("http://[::1]:7300/api", &nodes), Some("http://127.0.0.1:7300"));
        assert_eq!(points_at_node("https://MON.example.org:443/x", &nodes), Some("https://mon.example.org"));
        assert_eq!(points_at_node("http://127.0.0.1:7301/", &nodes), None);
        assert_eq!(points_at_node("http://mon.example.org/", &nodes), None, "port 80 is not 443");
        assert_eq!(points_at_node("not a url", &nodes), None);
    }
}
