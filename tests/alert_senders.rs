//! Each contact kind against a real receiver: an SMTP server (plain and STARTTLS), a Twilio
//! stand-in that checks requests as Twilio documents them, and HTTP receivers.

mod common;

use std::time::{Duration, Instant};

use bearmon::alert::contact::parse;
use bearmon::alert::{
    AlertsConfig, Delivery, Event, Notifier, SendError, SmtpConfig, Target, TwilioConfig, web,
};
use common::receivers::{
    FAILING_NUMBER, INVALID_NUMBER, Mode, Receiver, SmtpSink, TWILIO_SID, TWILIO_TOKEN, TwilioStandIn,
};

/// A problem (`offline`) or recovery (`online`) notification, the first of its problem.
fn delivery(status: &str, message: &str) -> Delivery {
    let kind = if status == "offline" { "PROBLEM" } else { "RECOVERY" };
    notice(status, message, kind, 1)
}

/// A notification of any type (`ACKNOWLEDGEMENT`, `DOWNTIMESTART`, ...), the check being in
/// `status` when it was made.
fn notice(status: &str, message: &str, kind: &str, number: u32) -> Delivery {
    Delivery {
        outbox_id: 1,
        event_id: 41,
        contact_id: 3,
        idem_key: "bm-41-3".into(),
        incident: 41,
        incident_at_ms: 1_700_000_000_000,
        at_ms: 1_700_000_060_000,
        attempts: 1,
        event: Event {
            check_id: 7,
            check_name: "my http check".into(),
            check_type: "http".into(),
            check_data: r#"{"url":"https://example.com","password":"***"}"#.into(),
            status: status.into(),
            message: message.into(),
            notification_type: kind.into(),
            notification_number: number,
        },
    }
}

fn target(kind: &str, data: &str) -> Target {
    parse(kind, data).unwrap()
}

fn smtp(port: u16, starttls: Option<bool>, ca: Option<std::path::PathBuf>) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(port),
        from: "bearmon@example.com".into(),
        username: None,
        password: None,
        starttls,
        ca,
        timeout_secs: 3.0,
        admin: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn email_plain_with_gobearmon_text_and_message_id() {
    common::init();
    let sink = SmtpSink::start(None);
    let n = Notifier::new(Some(&smtp(sink.port, Some(false), None)), None, AlertsConfig::default()).unwrap();
    let d = delivery("offline", "HTTP 503");
    assert_eq!(n.deliver(&target("email", "oncall@example.com"), &d).await, Ok(None));
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert!(m.contains("X-Envelope-To: oncall@example.com"), "{m}");
    assert!(m.contains("Subject: Check offline: my http check"), "{m}");
    assert!(m.contains("Message-ID: <bm-41-3@bearmon>"), "{m}");
    assert!(m.contains("Check [my http check] is now offline: HTTP 503\r\n\r\nID: 7\r\nName: my http check\r\nType: http\r\n"), "{m}");

    // A refused recipient is permanent.
    let e = n.deliver(&target("email", "reject-me@example.com"), &d).await.unwrap_err();
    assert!(matches!(e, SendError::Permanent(_)), "{e:?}");
}

/// A fresh certificate and key as PEM files in `dir`, for a TLS SMTP sink.
fn tls_files(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = common::cert(30);
    let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_pem, pem("CERTIFICATE", cert.as_ref())).unwrap();
    std::fs::write(&key_pem, pem("PRIVATE KEY", key.secret_der())).unwrap();
    (cert_pem, key_pem)
}

#[tokio::test(flavor = "multi_thread")]
async fn email_over_starttls() {
    common::init();
    let dir = tempfile::tempdir().unwrap();
    let (cert_pem, key_pem) = tls_files(dir.path());
    let sink = SmtpSink::start(Some((&cert_pem, &key_pem)));
    let n = Notifier::new(
        Some(&smtp(sink.port, Some(true), Some(cert_pem.clone()))),
        None,
        AlertsConfig::default(),
    )
    .unwrap();
    let d = delivery("online", "");
    assert_eq!(n.deliver(&target("email", "oncall@example.com"), &d).await, Ok(None));
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "the server requires STARTTLS, so arriving proves it was used");
    assert!(msgs[0].contains("Check [my http check] is now online."), "{}", msgs[0]);

    // Without trusting the server's certificate, nothing is sent in clear instead.
    let n = Notifier::new(Some(&smtp(sink.port, Some(true), None)), None, AlertsConfig::default()).unwrap();
    assert!(n.deliver(&target("email", "oncall@example.com"), &d).await.is_err());
    assert_eq!(sink.messages().len(), 1);
}

/// gobearmon's `[smtp]` (no `starttls` key) against a local relay that offers no STARTTLS:
/// delivered in clear, as gobearmon did; against one that requires it: over STARTTLS; and
/// with a username, never in clear.
#[tokio::test(flavor = "multi_thread")]
async fn gobearmon_smtp_uses_starttls_when_offered_and_requires_it_with_credentials() {
    common::init();
    let d = delivery("offline", "HTTP 503");
    let relay = SmtpSink::start(None);
    let n = Notifier::new(Some(&smtp(relay.port, None, None)), None, AlertsConfig::default()).unwrap();
    assert_eq!(n.deliver(&target("email", "oncall@example.com"), &d).await, Ok(None));
    assert_eq!(relay.messages().len(), 1, "a relay without STARTTLS gets the mail");

    let with_user = SmtpConfig {
        username: Some("bearmon".into()),
        password: Some("pw".into()),
        ..smtp(relay.port, None, None)
    };
    let n = Notifier::new(Some(&with_user), None, AlertsConfig::default()).unwrap();
    let e = n.deliver(&target("email", "oncall@example.com"), &d).await.unwrap_err();
    assert!(format!("{e:?}").to_lowercase().contains("starttls"), "{e:?}");
    assert_eq!(relay.messages().len(), 1, "credentials are never sent in clear");

    let dir = tempfile::tempdir().unwrap();
    let (cert_pem, key_pem) = tls_files(dir.path());
    let tls = SmtpSink::start(Some((&cert_pem, &key_pem)));
    let n =
        Notifier::new(Some(&smtp(tls.port, None, Some(cert_pem))), None, AlertsConfig::default()).unwrap();
    assert_eq!(n.deliver(&target("email", "oncall@example.com"), &d).await, Ok(None));
    assert_eq!(tls.messages().len(), 1, "the server requires STARTTLS, so arriving proves it was used");
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = common::base64(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_smtp_server_that_never_answers_times_out() {
    common::init();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = l.accept().await {
            conns.push(c);
        }
    });
    let n = Notifier::new(Some(&smtp(port, Some(false), None)), None, AlertsConfig::default()).unwrap();
    let started = Instant::now();
    let e = n.deliver(&target("email", "oncall@example.com"), &delivery("offline", "x")).await.unwrap_err();
    assert!(matches!(e, SendError::Transient(_)), "a silent server is worth a retry: {e:?}");
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    held.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn twilio_sms_and_voice_as_documented() {
    common::init();
    let tw = TwilioStandIn::start().await;
    let cfg = TwilioConfig {
        account_sid: TWILIO_SID.into(),
        auth_token: TWILIO_TOKEN.into(),
        from: "+15550000000".into(),
        api_base: tw.base(),
        timeout_secs: 5.0,
    };
    let n = Notifier::new(None, Some(&cfg), AlertsConfig::default()).unwrap();
    let d = delivery("offline", "HTTP 503");
    let sms = n.deliver(&target("sms", "+15551234567"), &d).await.unwrap();
    assert!(matches!(&sms, Some(("sms", sid)) if sid.starts_with("SM")), "{sms:?}");
    let call = n.deliver(&target("voice", "+15551234567"), &d).await.unwrap();
    assert!(matches!(&call, Some(("voice", sid)) if sid.starts_with("CA")), "{call:?}");
    let seen = tw.seen();
    assert_eq!(seen[0].0, "Messages.json");
    assert_eq!(seen[0].1["Body"], "Check [my http check] is now offline: HTTP 503");
    assert_eq!((seen[0].1["To"].as_str(), seen[0].1["From"].as_str()), ("+15551234567", "+15550000000"));
    assert_eq!(seen[1].0, "Calls.json");
    let twiml = &seen[1].1["Twiml"];
    assert!(
        twiml.starts_with("<Response><Say>") && twiml.contains("my http check . has been recorded . offline"),
        "{twiml}"
    );

    let e = n.deliver(&target("sms", INVALID_NUMBER), &d).await.unwrap_err();
    assert!(matches!(&e, SendError::Permanent(m) if m.contains("21211")), "{e:?}");
    let e = n.deliver(&target("sms", FAILING_NUMBER), &d).await.unwrap_err();
    assert!(matches!(e, SendError::Transient(_)), "{e:?}");

    // Without [twilio] the send waits (retries) rather than vanishing.
    let bare = Notifier::http_only();
    assert!(matches!(bare.deliver(&target("sms", "+15551234567"), &d).await, Err(SendError::Transient(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn http_contact_posts_gobearmon_form_fields() {
    common::init();
    let r = Receiver::start(Mode::Ok).await;
    let n = Notifier::http_only();
    let d = delivery("offline", "HTTP 503");
    n.deliver(&target("http", &r.url("/hook")), &d).await.unwrap();
    let s = &r.seen_at("/hook")[0];
    assert_eq!(s.header("content-type"), "application/x-www-form-urlencoded");
    assert_eq!(s.header("idempotency-key"), "bm-41-3");
    let f = s.form();
    let mut keys: Vec<&str> = f.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["check_id", "data", "message", "name", "notification_number", "notification_type", "status", "type"]
    );
    assert_eq!(
        (f["check_id"].as_str(), f["name"].as_str(), f["type"].as_str()),
        ("7", "my http check", "http")
    );
    assert_eq!((f["status"].as_str(), f["message"].as_str()), ("offline", "HTTP 503"));
    assert_eq!(f["data"], r#"{"url":"https://example.com","password":"***"}"#);
    assert_eq!((f["notification_type"].as_str(), f["notification_number"].as_str()), ("PROBLEM", "1"));

    // Redirects are followed, as gobearmon's form POST did: 307 keeps the POST and its body.
    r.set_mode(Mode::Redirect(307));
    n.deliver(&target("http", &r.url("/hook")), &d).await.unwrap();
    let moved = r.seen_at("/moved/hook");
    assert_eq!(moved.len(), 1, "{:?}", r.seen());
    assert_eq!(moved[0].form()["status"], "offline");
    r.set_mode(Mode::Redirect(302));
    n.deliver(&target("http", &r.url("/other")), &d).await.unwrap();
    assert_eq!(r.seen_at("/moved/other").len(), 1);

    r.set_mode(Mode::Status(404));
    assert!(matches!(n.deliver(&target("http", &r.url("/hook")), &d).await, Err(SendError::Permanent(_))));
    for code in [408, 429, 503] {
        r.set_mode(Mode::Status(code));
        assert!(
            matches!(n.deliver(&target("http", &r.url("/hook")), &d).await, Err(SendError::Transient(_))),
            "{code}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_bodies_presets_and_signature() {
    common::init();
    let r = Receiver::start(Mode::Ok).await;
    let n = Notifier::http_only();
    let down = delivery("offline", "HTTP 503");
    let up = Delivery { event_id: 42, idem_key: "bm-42-3".into(), ..delivery("online", "") };
    let hook = |extra: &str| {
        target("webhook", &format!(r#"{{"url":"{}",{extra}"headers":{{"X-Team":"ops"}}}}"#, r.url("/w")))
    };

    // Default body, signed.
    n.deliver(&hook(r#""secret":"whsec-1","#), &down).await.unwrap();
    let s = r.seen_at("/w").pop().unwrap();
    assert_eq!(s.header("idempotency-key"), "bm-41-3");
    assert_eq!(s.header("x-team"), "ops");
    let v = s.json();
    assert_eq!(v["idempotency_key"], "bm-41-3");
    assert_eq!(v["status"], "offline");
    assert_eq!(v["check"]["id"], 7);
    assert_eq!(v["text"], "Check [my http check] is now offline: HTTP 503");
    let sig = s.header("x-bearmon-signature");
    let t: i64 = sig.split(',').next().unwrap().trim_start_matches("t=").parse().unwrap();
    assert_eq!(sig, web::signature("whsec-1", t, s.body.as_bytes()), "the documented signature verifies");
    assert_ne!(sig, web::signature("other", t, s.body.as_bytes()));

    n.deliver(&hook(r#""format":"slack","#), &down).await.unwrap();
    assert_eq!(
        r.seen_at("/w").pop().unwrap().json(),
        serde_json::json!({"text": "Check [my http check] is now offline: HTTP 503"})
    );
    n.deliver(&hook(r#""format":"discord","#), &down).await.unwrap();
    assert_eq!(
        r.seen_at("/w").pop().unwrap().json()["content"],
        "Check [my http check] is now offline: HTTP 503"
    );

    // PagerDuty: the recovery resolves what the problem triggered.
    n.deliver(&hook(r#""format":"pagerduty","routing_key":"R0UT1NG","#), &down).await.unwrap();
    let trig = r.seen_at("/w").pop().unwrap().json();
    n.deliver(&hook(r#""format":"pagerduty","routing_key":"R0UT1NG","#), &up).await.unwrap();
    let res = r.seen_at("/w").pop().unwrap().json();
    assert_eq!(
        (trig["event_action"].as_str(), res["event_action"].as_str()),
        (Some("trigger"), Some("resolve"))
    );
    assert_eq!(trig["dedup_key"], res["dedup_key"]);
    assert_eq!(trig["routing_key"], "R0UT1NG");
    assert_eq!(trig["payload"]["severity"], "critical");
    assert_eq!(trig["payload"]["source"], "bearmon");

    // Alertmanager webhook v4.
    n.deliver(&hook(r#""format":"alertmanager","#), &down).await.unwrap();
    let fire = r.seen_at("/w").pop().unwrap().json();
    n.deliver(&hook(r#""format":"alertmanager","#), &up).await.unwrap();
    let resolved = r.seen_at("/w").pop().unwrap().json();
    assert_eq!(fire["version"], "4");
    assert_eq!((fire["status"].as_str(), resolved["status"].as_str()), (Some("firing"), Some("resolved")));
    assert_eq!(fire["alerts"][0]["fingerprint"], resolved["alerts"][0]["fingerprint"]);
    assert_eq!(fire["alerts"][0]["labels"]["check_id"], "7");
    assert_eq!(resolved["alerts"][0]["startsAt"], fire["alerts"][0]["startsAt"]);
    assert_ne!(resolved["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");

    // A template, with values escaped for JSON.
    let quoted =
        Delivery { event: Event { check_name: "say \"hi\"".into(), ..down.event.clone() }, ..down.clone() };
    n.deliver(&hook(r#""template":"{\"msg\":\"{{check.name}} is {{event.status}}\",\"key\":\"{{idempotency_key}}\"}","#), &quoted)
        .await
        .unwrap();
    assert_eq!(
        r.seen_at("/w").pop().unwrap().json(),
        serde_json::json!({"msg": "say \"hi\" is offline", "key": "bm-41-3"})
    );
}

/// SPEC §10: the gobearmon form POST carries `notification_type` and `notification_number`,
/// for a repeated problem and for the other types alike.
#[tokio::test(flavor = "multi_thread")]
async fn http_contact_form_carries_the_notification_type_and_number() {
    common::init();
    let r = Receiver::start(Mode::Ok).await;
    let n = Notifier::http_only();
    for (status, kind, number) in [
        ("offline", "PROBLEM", 3),
        ("offline", "ACKNOWLEDGEMENT", 1),
        ("online", "DOWNTIMESTART", 1),
        ("online", "RECOVERY", 3),
    ] {
        let d = Delivery { idem_key: format!("bm-41-3-{kind}"), ..notice(status, "HTTP 503", kind, number) };
        n.deliver(&target("http", &r.url("/form")), &d).await.unwrap();
        let f = r.seen_at("/form").pop().unwrap().form();
        assert_eq!(f["notification_type"], kind);
        assert_eq!(f["notification_number"], number.to_string());
        assert_eq!(f["status"], status, "status stays the check's state");
        assert_eq!(f["check_id"], "7");
    }
    assert_eq!(r.seen_at("/form").len(), 4);
}

/// SPEC §10: bearmon's default JSON body carries `notification_type` and
/// `notification_number`; its `text` is the type's sentence.
#[tokio::test(flavor = "multi_thread")]
async fn default_webhook_json_carries_the_notification_type_and_number() {
    common::init();
    let r = Receiver::start(Mode::Ok).await;
    let n = Notifier::http_only();
    let hook = target("webhook", &format!(r#"{{"url":"{}","secret":"whsec-1"}}"#, r.url("/j")));
    n.deliver(&hook, &notice("offline", "HTTP 503", "PROBLEM", 2)).await.unwrap();
    let v = r.seen_at("/j").pop().unwrap().json();
    assert_eq!(
        (v["notification_type"].as_str(), v["notification_number"].as_u64()),
        (Some("PROBLEM"), Some(2))
    );
    assert_eq!(v["status"], "offline");
    assert_eq!(v["text"], "Check [my http check] is still offline (notification 2): HTTP 503");

    n.deliver(&hook, &notice("offline", "HTTP 503", "ACKNOWLEDGEMENT", 1)).await.unwrap();
    let v = r.seen_at("/j").pop().unwrap().json();
    assert_eq!(
        (v["notification_type"].as_str(), v["notification_number"].as_u64()),
        (Some("ACKNOWLEDGEMENT"), Some(1))
    );
    assert_eq!(v["text"], "Check [my http check] problem acknowledged.");

    n.deliver(&hook, &notice("online", "", "FLAPPINGSTART", 1)).await.unwrap();
    let v = r.seen_at("/j").pop().unwrap().json();
    assert_eq!(v["notification_type"], "FLAPPINGSTART");
    assert_eq!(v["text"], "Check [my http check] started flapping.");

    // A template can name them too.
    let t = target(
        "webhook",
        &format!(
            r#"{{"url":"{}","template":"{{\"t\":\"{{{{notification_type}}}}\",\"n\":{{{{notification_number}}}}}}"}}"#,
            r.url("/t")
        ),
    );
    n.deliver(&t, &notice("online", "", "DOWNTIMEEND", 1)).await.unwrap();
    assert_eq!(r.seen_at("/t").pop().unwrap().json(), serde_json::json!({"t": "DOWNTIMEEND", "n": 1}));
}

/// PagerDuty (Events API v2): an acknowledgement acknowledges the incident the problem
/// triggered (same `dedup_key`); a downtime notice is a change event on `/v2/change/enqueue`
/// and touches no incident.
#[tokio::test(flavor = "multi_thread")]
async fn pagerduty_acknowledges_and_sends_change_events() {
    common::init();
    let r = Receiver::start(Mode::Ok).await;
    let n = Notifier::http_only();
    let pd = target(
        "webhook",
        &format!(r#"{{"url":"{}","format":"pagerduty","routing_key":"R0UT1NG"}}"#, r.url("/v2/enqueue")),
    );
    n.deliver(&pd, &notice("offline", "HTTP 503", "PROBLEM", 1)).await.unwrap();
    n.deliver(&pd, &notice("offline", "HTTP 503", "ACKNOWLEDGEMENT", 1)).await.unwrap();
    n.deliver(&pd, &notice("offline", "HTTP 503", "DOWNTIMESTART", 1)).await.unwrap();
    n.deliver(&pd, &notice("online", "", "RECOVERY", 1)).await.unwrap();
    let alerts: Vec<serde_json::Value> = r.seen_at("/v2/enqueue").iter().map(|s| s.json()).collect();
    let actions: Vec<&str> = alerts.iter().map(|v| v["event_action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["trigger", "acknowledge", "resolve"]);
    assert!(alerts.iter().all(|v| v["dedup_key"] == alerts[0]["dedup_key"]), "{alerts:?}");
    assert_eq!(alerts[0]["payload"]["custom_details"]["notification_type"], "PROBLEM");
    let changes = r.seen_at("/v2/change/enqueue");
    assert_eq!(changes.len(), 1, "{:?}", r.seen());
    let c = changes[0].json();
    assert!(c.get("event_action").is_none() && c.get("dedup_key").is_none(), "{c}");
    assert_eq!(c["routing_key"], "R0UT1NG");
    assert_eq!(c["payload"]["summary"], "Check [my http check] entered scheduled downtime.");
    assert_eq!(c["payload"]["custom_details"]["notification_type"], "DOWNTIMESTART");
    assert_eq!(changes[0].header("idempotency-key"), "bm-41-3");
}

/// Alertmanager's payload is firing or resolved: an acknowledgement or a flapping notice is
/// not sent (and counts as delivered: nothing to retry).
#[tokio::test(flavor = "multi_thread")]
async fn alertmanager_sends_only_problems_and_recoveries() {
    common::init();
    let r = Receiver::start(Mode::Ok).await;
    let n = Notifier::http_only();
    let am = target("webhook", &format!(r#"{{"url":"{}","format":"alertmanager"}}"#, r.url("/am")));
    for kind in ["ACKNOWLEDGEMENT", "FLAPPINGSTART", "DOWNTIMESTART", "CUSTOM"] {
        assert_eq!(n.deliver(&am, &notice("offline", "HTTP 503", kind, 1)).await, Ok(None), "{kind}");
    }
    assert!(r.seen().is_empty(), "{:?}", r.seen());
    n.deliver(&am, &notice("offline", "HTTP 503", "PROBLEM", 2)).await.unwrap();
    let v = r.seen_at("/am").pop().unwrap().json();
    assert_eq!(v["status"], "firing");
    assert_eq!(v["alerts"][0]["annotations"]["notification_number"], "2");
}

/// E-mail and SMS for the other types: `Check <type>: NAME`, the type's sentence, and the
/// type and number in the body.
#[tokio::test(flavor = "multi_thread")]
async fn email_and_sms_of_other_notification_types() {
    common::init();
    let sink = SmtpSink::start(None);
    let tw = TwilioStandIn::start().await;
    let cfg = TwilioConfig {
        account_sid: TWILIO_SID.into(),
        auth_token: TWILIO_TOKEN.into(),
        from: "+15550000000".into(),
        api_base: tw.base(),
        timeout_secs: 5.0,
    };
    let n = Notifier::new(Some(&smtp(sink.port, Some(false), None)), Some(&cfg), AlertsConfig::default())
        .unwrap();
    let d = notice("offline", "HTTP 503", "ACKNOWLEDGEMENT", 1);
    n.deliver(&target("email", "oncall@example.com"), &d).await.unwrap();
    let m = &sink.messages()[0];
    assert!(m.contains("Subject: Check acknowledgement: my http check"), "{m}");
    assert!(m.contains("Check [my http check] problem acknowledged.\r\n\r\nID: 7\r\n"), "{m}");
    assert!(m.contains("\r\nNotification: ACKNOWLEDGEMENT #1\r\n"), "{m}");
    let again = notice("offline", "HTTP 503", "PROBLEM", 2);
    n.deliver(&target("email", "oncall@example.com"), &again).await.unwrap();
    let m = &sink.messages()[1];
    assert!(m.contains("Subject: Check offline: my http check"), "{m}");
    assert!(m.contains("\r\nNotification: PROBLEM #2\r\n"), "{m}");

    n.deliver(&target("sms", "+15551234567"), &notice("online", "", "DOWNTIMECANCELLED", 1)).await.unwrap();
    n.deliver(&target("voice", "+15551234567"), &notice("online", "", "DOWNTIMECANCELLED", 1)).await.unwrap();
    let seen = tw.seen();
    assert_eq!(seen[0].1["Body"], "Check [my http check]: scheduled downtime cancelled.");
    let twiml = &seen[1].1["Twiml"];
    assert!(twiml.contains("Notification type . downtime cancelled ."), "{twiml}");
    assert!(!twiml.contains("has been recorded"), "{twiml}");
}
