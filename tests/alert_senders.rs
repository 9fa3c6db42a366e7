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

fn delivery(status: &str, message: &str) -> Delivery {
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
    assert_eq!(keys, ["check_id", "data", "message", "name", "status", "type"]);
    assert_eq!(
        (f["check_id"].as_str(), f["name"].as_str(), f["type"].as_str()),
        ("7", "my http check", "http")
    );
    assert_eq!((f["status"].as_str(), f["message"].as_str()), ("offline", "HTTP 503"));
    assert_eq!(f["data"], r#"{"url":"https://example.com","password":"***"}"#);

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
