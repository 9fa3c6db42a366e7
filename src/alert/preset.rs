//! The webhook presets: the body PagerDuty, Alertmanager, Slack and Discord expect for each
//! notification type, or nothing when the receiver cannot take it. An incident is opened by
//! a problem and closed by its recovery, never by another type of notification.

use serde_json::{Value, json};

use super::Delivery;
use super::contact::WebhookSpec;
use super::text::{headline, notice_type, type_name};
use super::web::rfc3339;
use crate::policy::notify::NoticeType;

/// PagerDuty's `dedup_key`: one per check incident, so the recovery resolves the trigger and
/// the acknowledgement acknowledges it.
pub fn dedup_key(d: &Delivery) -> String {
    format!("bearmon-check-{}-incident-{}", d.event.check_id, d.incident)
}

/// Alertmanager's fingerprint: stable per check.
fn fingerprint(check_id: i64) -> String {
    let h = ring::digest::digest(&ring::digest::SHA256, format!("bearmon-check-{check_id}").as_bytes());
    crate::util::hex(&h.as_ref()[..8])
}

/// What a preset sends for one notification.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// This body, to the contact's URL, or to `url` when given (PagerDuty's change events
    /// have an endpoint of their own).
    Send { body: Value, url: Option<String> },
    /// Nothing: the receiver has no way to take this notification. Why, for the log.
    Skip(String),
}

impl Outgoing {
    fn body(body: Value) -> Self {
        Outgoing::Send { body, url: None }
    }
}

/// PagerDuty's change-event endpoint (`/v2/change/enqueue`) beside the alert-event one the
/// contact names (`/v2/enqueue`); `None` when the contact's URL is not of that form.
pub fn pagerduty_change_url(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    let path = u.path().trim_end_matches('/').to_string();
    if path.ends_with("/change/enqueue") {
        return Some(u.to_string());
    }
    let base = path.strip_suffix("/enqueue")?;
    u.set_path(&format!("{base}/change/enqueue"));
    Some(u.to_string())
}

/// The body of a preset. A problem opens (or, repeated, re-fires) the incident and a recovery
/// closes it; the other notification types never do:
/// - `slack`, `discord`: the headline, whatever the type;
/// - `pagerduty`: PROBLEM `trigger`, RECOVERY `resolve`, ACKNOWLEDGEMENT `acknowledge` (all
///   with the incident's `dedup_key`); any other type is informational: a change event
///   (Events API v2, `/v2/change/enqueue`), which notifies nobody and touches no incident;
/// - `alertmanager`: PROBLEM `firing`, RECOVERY `resolved`; its webhook payload has no way
///   to say anything else (not even an acknowledgement), so other types are not sent.
pub fn preset(format: &str, spec: &WebhookSpec, d: &Delivery) -> Outgoing {
    let e = &d.event;
    let kind = notice_type(e);
    match format {
        "slack" => Outgoing::body(json!({"text": headline(e)})),
        "discord" => Outgoing::body(json!({"content": headline(e)})),
        "pagerduty" => pagerduty(spec, d, kind),
        // Alertmanager's webhook payload, version 4.
        _ => match kind {
            Some(NoticeType::Problem) => Outgoing::body(alertmanager(d, true)),
            Some(NoticeType::Recovery) => Outgoing::body(alertmanager(d, false)),
            _ => Outgoing::Skip(format!(
                "an Alertmanager webhook payload is firing or resolved: it cannot express a notification of type {}",
                type_name(e)
            )),
        },
    }
}

/// PagerDuty's Events API v2 body for one notification (see [`preset`]).
fn pagerduty(spec: &WebhookSpec, d: &Delivery, kind: Option<NoticeType>) -> Outgoing {
    let e = &d.event;
    let routing_key = spec.routing_key.clone().unwrap_or_default();
    let details = json!({
        "check_id": e.check_id,
        "message": e.message,
        "status": e.status,
        "notification_type": type_name(e),
        "notification_number": e.notification_number,
        "idempotency_key": d.idem_key,
    });
    let action = match kind {
        Some(NoticeType::Problem) => "trigger",
        Some(NoticeType::Recovery) => "resolve",
        Some(NoticeType::Acknowledgement) => "acknowledge",
        _ => {
            let Some(url) = pagerduty_change_url(&spec.url) else {
                return Outgoing::Skip(format!(
                    "a notification of type {} is a PagerDuty change event, sent to /v2/change/enqueue beside the \
                     contact's /v2/enqueue; the contact's URL {} does not end in /enqueue",
                    type_name(e),
                    spec.url
                ));
            };
            let body = json!({
                "routing_key": routing_key,
                "payload": {
                    "summary": headline(e),
                    "source": "bearmon",
                    "timestamp": rfc3339(d.at_ms),
                    "custom_details": details,
                },
            });
            return Outgoing::Send { body, url: Some(url) };
        }
    };
    let mut v = json!({"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key(d)});
    if action == "trigger" {
        v["payload"] = json!({
            "summary": headline(e),
            "source": "bearmon",
            "severity": "critical",
            "component": e.check_name,
            "class": e.check_type,
            "custom_details": details,
        });
    }
    Outgoing::body(v)
}

/// Alertmanager's webhook payload (version 4) for a problem (`firing`) or a recovery.
fn alertmanager(d: &Delivery, firing: bool) -> Value {
    let e = &d.event;
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
            "annotations": {
                "summary": headline(e),
                "description": e.message,
                "idempotency_key": d.idem_key,
                "notification_type": type_name(e),
                "notification_number": e.notification_number.to_string(),
            },
            "startsAt": rfc3339(d.incident_at_ms),
            "endsAt": if firing { "0001-01-01T00:00:00Z".to_string() } else { rfc3339(d.at_ms) },
            "generatorURL": "",
            "fingerprint": fingerprint(e.check_id),
        }],
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::alert::Event;

    /// A notification of check 7 `api`, of incident 40.
    pub(crate) fn delivery(status: &str, kind: &str, number: u32) -> Delivery {
        Delivery {
            outbox_id: 1,
            event_id: 41,
            contact_id: 3,
            idem_key: "bm-41-3".into(),
            incident: 40,
            incident_at_ms: 1_700_000_000_000,
            at_ms: 1_700_000_060_000,
            attempts: 1,
            event: Event {
                check_id: 7,
                check_name: "api".into(),
                check_type: "http".into(),
                check_data: "{}".into(),
                status: status.into(),
                message: "HTTP 503".into(),
                notification_type: kind.into(),
                notification_number: number,
            },
        }
    }

    fn spec(url: &str) -> WebhookSpec {
        serde_json::from_value(json!({"url": url, "format": "pagerduty", "routing_key": "R0UT1NG"})).unwrap()
    }

    fn sent(o: Outgoing) -> (Value, Option<String>) {
        match o {
            Outgoing::Send { body, url } => (body, url),
            Outgoing::Skip(why) => panic!("skipped: {why}"),
        }
    }

    const OTHERS: [&str; 7] = [
        "FLAPPINGSTART",
        "FLAPPINGSTOP",
        "FLAPPINGDISABLED",
        "DOWNTIMESTART",
        "DOWNTIMEEND",
        "DOWNTIMECANCELLED",
        "CUSTOM",
    ];

    #[test]
    fn chat_presets_say_the_headline_of_every_type() {
        let s = spec("https://hooks.example.com/x");
        let d = delivery("online", "DOWNTIMESTART", 1);
        assert_eq!(
            sent(preset("slack", &s, &d)).0,
            json!({"text": "Check [api] entered scheduled downtime."})
        );
        assert_eq!(
            sent(preset("discord", &s, &d)).0,
            json!({"content": "Check [api] entered scheduled downtime."})
        );
    }

    #[test]
    fn pagerduty_opens_acknowledges_and_resolves_one_incident() {
        let s = spec("https://events.pagerduty.com/v2/enqueue");
        let (trig, url) = sent(preset("pagerduty", &s, &delivery("offline", "PROBLEM", 1)));
        assert_eq!(url, None);
        assert_eq!(trig["event_action"], "trigger");
        assert_eq!(trig["payload"]["custom_details"]["notification_type"], "PROBLEM");
        let (again, _) = sent(preset("pagerduty", &s, &delivery("offline", "PROBLEM", 2)));
        assert_eq!(again["event_action"], "trigger");
        assert_eq!(again["payload"]["custom_details"]["notification_number"], 2);
        let (ack, url) = sent(preset("pagerduty", &s, &delivery("offline", "ACKNOWLEDGEMENT", 1)));
        assert_eq!(url, None);
        assert_eq!(ack["event_action"], "acknowledge");
        assert!(ack.get("payload").is_none(), "{ack}");
        let (res, _) = sent(preset("pagerduty", &s, &delivery("online", "RECOVERY", 1)));
        assert_eq!(res["event_action"], "resolve");
        assert_eq!(trig["dedup_key"], "bearmon-check-7-incident-40");
        assert_eq!((&ack["dedup_key"], &res["dedup_key"]), (&trig["dedup_key"], &trig["dedup_key"]));
        // gobearmon-era rows (no type) still trigger and resolve.
        assert_eq!(sent(preset("pagerduty", &s, &delivery("offline", "", 1))).0["event_action"], "trigger");
        assert_eq!(sent(preset("pagerduty", &s, &delivery("online", "", 1))).0["event_action"], "resolve");
    }

    #[test]
    fn pagerduty_informational_notices_are_change_events() {
        let s = spec("https://events.pagerduty.com/v2/enqueue");
        for kind in OTHERS {
            let (v, url) = sent(preset("pagerduty", &s, &delivery("offline", kind, 1)));
            assert_eq!(url.as_deref(), Some("https://events.pagerduty.com/v2/change/enqueue"), "{kind}");
            assert!(v.get("event_action").is_none() && v.get("dedup_key").is_none(), "{kind}: {v}");
            assert_eq!(v["routing_key"], "R0UT1NG");
            assert_eq!(v["payload"]["source"], "bearmon");
            assert_eq!(v["payload"]["timestamp"], rfc3339(1_700_000_060_000));
            assert_eq!(v["payload"]["custom_details"]["notification_type"], kind);
            assert!(v["payload"]["summary"].as_str().unwrap().starts_with("Check [api]"), "{v}");
        }
        // A URL that is not the Events API's `.../enqueue`: where change events go is unknown.
        let proxy = spec("https://proxy.example.com/pagerduty");
        assert!(matches!(
            preset("pagerduty", &proxy, &delivery("offline", "DOWNTIMESTART", 1)),
            Outgoing::Skip(_)
        ));
        assert_eq!(sent(preset("pagerduty", &proxy, &delivery("offline", "PROBLEM", 1))).1, None);
    }

    #[test]
    fn pagerduty_change_urls() {
        let c = |u| pagerduty_change_url(u);
        assert_eq!(
            c("https://events.pagerduty.com/v2/enqueue").as_deref(),
            Some("https://events.pagerduty.com/v2/change/enqueue")
        );
        assert_eq!(
            c("https://events.eu.pagerduty.com/v2/enqueue/").as_deref(),
            Some("https://events.eu.pagerduty.com/v2/change/enqueue")
        );
        assert_eq!(
            c("http://127.0.0.1:9/v2/change/enqueue").as_deref(),
            Some("http://127.0.0.1:9/v2/change/enqueue")
        );
        assert_eq!(c("https://proxy.example.com/pd"), None);
        assert_eq!(c("not a url"), None);
    }

    #[test]
    fn alertmanager_fires_and_resolves_and_sends_nothing_else() {
        let s = spec("https://am.example.com/hook");
        let (fire, _) = sent(preset("alertmanager", &s, &delivery("offline", "PROBLEM", 1)));
        assert_eq!(fire["status"], "firing");
        assert_eq!(fire["alerts"][0]["annotations"]["notification_type"], "PROBLEM");
        let (again, _) = sent(preset("alertmanager", &s, &delivery("offline", "PROBLEM", 4)));
        assert_eq!(
            (again["status"].as_str(), again["alerts"][0]["annotations"]["notification_number"].as_str()),
            (Some("firing"), Some("4"))
        );
        let (res, _) = sent(preset("alertmanager", &s, &delivery("online", "RECOVERY", 1)));
        assert_eq!(res["status"], "resolved");
        for kind in std::iter::once("ACKNOWLEDGEMENT").chain(OTHERS) {
            for status in ["offline", "online"] {
                match preset("alertmanager", &s, &delivery(status, kind, 1)) {
                    Outgoing::Skip(why) => assert!(why.contains(kind), "{why}"),
                    o => panic!("{kind} sent {o:?}"),
                }
            }
        }
    }
}
