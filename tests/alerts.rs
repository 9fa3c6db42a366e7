//! Alerts end to end: a real cluster flips a check and notifies every kind of contact through
//! real receivers, once per idempotency key, even when a receiver is down for a while or the
//! controller dies mid-send; secrets never leave.

mod common;

use std::time::Duration;

use bearmon::db::{Backend, Db};
use common::cluster::{Cluster, get_json, wait_for};
use common::receivers::{Mode, Receiver, SmtpSink, TwilioStandIn};
use common::{exec, fresh_db, last_id};
use sqlx::Row;

const SECRETS: [&str; 3] = ["pw-url-s3cret", "pw-json-s3cret", "tok-s3cret"];

fn smtp_section(sink: &SmtpSink, admin: bool) -> String {
    let admin = if admin { "admin = \"admin@example.com\"\n" } else { "" };
    format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nfrom = \"bearmon@example.com\"\nstarttls = false\ntimeout_secs = 3\n{admin}",
        sink.port
    )
}

const FAST_RETRIES: &str = "[alerts]\nretry_first_secs = 0.5\nretry_max_secs = 2\n";

/// An http check of `target` with secrets in its URL, JSON and headers.
async fn add_secret_check(db: &Db, target: &Receiver) -> i64 {
    let data = format!(
        r#"{{"url":"http://alice:pw-url-s3cret@127.0.0.1:{}/health","username":"alice","password":"pw-json-s3cret","headers":{{"Authorization":"Bearer tok-s3cret"}},"timeout":3}}"#,
        target.port
    );
    exec(db, &format!("INSERT INTO checks (name, type, data, check_interval, delay) VALUES ('api', 'http', '{data}', 2, 1)")).await;
    last_id(db, "checks").await
}

async fn add_contact(db: &Db, check: i64, kind: &str, data: &str) -> i64 {
    exec(db, &format!("INSERT INTO contacts (type, data) VALUES ('{kind}', '{}')", data.replace('\'', "''")))
        .await;
    let id = last_id(db, "contacts").await;
    exec(db, &format!("INSERT INTO alerts (check_id, contact_id, type) VALUES ({check}, {id}, 'both')"))
        .await;
    id
}

async fn wait_status(c: &Cluster, id: i64, status: &str) {
    let ok = wait_for(Duration::from_secs(30), || async {
        let v = c.check(id).await?;
        (v["status"] == status && (status != "online" || v["last_result"]["verdict"] == "online"))
            .then_some(())
    })
    .await;
    assert!(ok.is_some(), "check {id} did not become {status}: {:?}", c.check(id).await);
}

/// (state, attempts, last_error) of each outbox row of `contact`.
async fn outbox_rows(db: &Db, contact: i64) -> Vec<(String, i64, String)> {
    let sql = db.sql(&format!(
        "SELECT state, {}, COALESCE(last_error, '') FROM bearmon_outbox WHERE contact_id = ? ORDER BY id",
        db.int("attempts")
    ));
    let rows = sqlx::query(sql).bind(contact).fetch_all(db.pool()).await.unwrap();
    rows.iter().map(|r| (r.try_get(0).unwrap(), r.try_get(1).unwrap(), r.try_get(2).unwrap())).collect()
}

async fn controller_url(c: &Cluster) -> String {
    c.cluster().await["controller_url"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flip_notifies_every_contact_kind_once_and_leaks_no_secret() {
    let Some((db, url)) = fresh_db(Backend::Postgres).await else { return };
    let sink = SmtpSink::start(None);
    let tw = TwilioStandIn::start().await;
    let hooks = Receiver::start(Mode::Ok).await;
    let target = Receiver::start(Mode::Ok).await;
    let check = add_secret_check(&db, &target).await;
    let email = add_contact(&db, check, "email", "oncall@example.com").await;
    let sms = add_contact(&db, check, "sms", "+15551234567").await;
    let voice = add_contact(&db, check, "voice", "+15551234568").await;
    let form = add_contact(&db, check, "http", &hooks.url("/form")).await;
    let json = add_contact(
        &db,
        check,
        "webhook",
        &format!(r#"{{"url":"{}","secret":"whsec-1"}}"#, hooks.url("/json")),
    )
    .await;
    // The seed README's e-mail, mangled by an e-mail obfuscator: not an address.
    let broken = add_contact(&db, check, "email", "[email protected]").await;

    let extra = format!("{}{}{FAST_RETRIES}", smtp_section(&sink, false), tw.config());
    let c = Cluster::start_with(&url, &["w1", "w2"], &[], 2, &extra, "");
    c.wait_ready(2).await;
    wait_status(&c, check, "online").await;

    target.set_mode(Mode::Status(500));
    wait_status(&c, check, "offline").await;
    let all_sent = |n: usize| {
        let (sink, tw, hooks) = (&sink, &tw, &hooks);
        move || async move {
            let done = sink.messages().len() >= n
                && tw.seen().len() >= 2 * n
                && hooks.seen_at("/form").len() >= n
                && hooks.seen_at("/json").len() >= n;
            done.then_some(())
        }
    };
    assert!(wait_for(Duration::from_secs(20), all_sent(1)).await.is_some(), "offline notifications missing");
    target.set_mode(Mode::Ok);
    wait_status(&c, check, "online").await;
    assert!(wait_for(Duration::from_secs(20), all_sent(2)).await.is_some(), "online notifications missing");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Exactly one per flip and contact.
    let mails = sink.messages();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert_eq!(tw.seen().len(), 4);
    let forms = hooks.seen_at("/form");
    let jsons = hooks.seen_at("/json");
    assert_eq!((forms.len(), jsons.len()), (2, 2));

    // gobearmon's texts and fields; stable, distinct idempotency keys.
    assert!(mails[0].contains("Subject: Check offline: api"), "{}", mails[0]);
    assert!(mails[0].contains("Check [api] is now offline: "), "{}", mails[0]);
    assert!(
        mails[1].contains("Subject: Check online: api") && mails[1].contains("Check [api] is now online."),
        "{}",
        mails[1]
    );
    let events: Vec<i64> = {
        let sql =
            db.sql(&format!("SELECT {} FROM check_events WHERE check_id = ? ORDER BY id", db.int("id")));
        let rows = sqlx::query(sql).bind(check).fetch_all(db.pool()).await.unwrap();
        rows.iter().map(|r| r.try_get(0).unwrap()).collect()
    };
    assert_eq!(events.len(), 2);
    assert!(mails[0].contains(&format!("Message-ID: <bm-{}-{email}@bearmon>", events[0])), "{}", mails[0]);
    assert_eq!(forms[0].header("idempotency-key"), format!("bm-{}-{form}", events[0]));
    assert_eq!(forms[1].header("idempotency-key"), format!("bm-{}-{form}", events[1]));
    assert_eq!(jsons[1].json()["idempotency_key"], format!("bm-{}-{json}", events[1]));
    let f = forms[0].form();
    assert_eq!(
        (f["check_id"].clone(), f["name"].as_str(), f["type"].as_str(), f["status"].as_str()),
        (check.to_string(), "api", "http", "offline")
    );
    assert!(f["data"].contains("\"username\":\"alice\""), "{}", f["data"]);
    let sig = jsons[0].header("x-bearmon-signature");
    let t: i64 = sig.split(',').next().unwrap().trim_start_matches("t=").parse().unwrap();
    assert_eq!(sig, bearmon::alert::web::signature("whsec-1", t, jsons[0].body.as_bytes()));
    let twilio = tw.seen();
    let to: Vec<&str> = twilio.iter().map(|(_, f)| f["To"].as_str()).collect();
    assert_eq!(to.iter().filter(|t| **t == "+15551234567").count(), 2, "{to:?}");
    assert_eq!(to.iter().filter(|t| **t == "+15551234568").count(), 2, "{to:?}");

    // Twilio SIDs are charged as gobearmon did.
    let sql = db.sql("SELECT type, data FROM charges ORDER BY id");
    let charges = sqlx::query(sql).fetch_all(db.pool()).await.unwrap();
    let kinds: Vec<String> = charges.iter().map(|r| r.try_get(0).unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "sms").count(), 2, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "voice").count(), 2, "{kinds:?}");
    assert!(charges.iter().all(|r| r.try_get::<String, _>(1).unwrap().len() == 34));

    // The broken contact is recorded as failed, naming it; the others got through.
    let rows = outbox_rows(&db, broken).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (state, _, err) in &rows {
        assert_eq!(state, "failed");
        assert!(
            err.contains(&format!("contacts row {broken}: field data"))
                && err.contains("not an e-mail address"),
            "{err}"
        );
    }
    for contact in [email, sms, voice, form, json] {
        let rows = outbox_rows(&db, contact).await;
        assert!(rows.iter().all(|(s, _, _)| s == "sent"), "contact {contact}: {rows:?}");
    }

    // Every confirmation request reached its worker and its signed answer was accepted.
    assert!(!c.all_logs().contains("answer refused"), "a node refused a node's answer:\n{}", c.all_logs());

    // No secret in any notification or log line.
    let mut everything: Vec<String> = mails.clone();
    everything.extend(twilio.iter().map(|(_, f)| format!("{f:?}")));
    everything.extend(hooks.seen().iter().map(|s| s.body.clone()));
    everything.push(c.all_logs());
    everything.push(get_json(&format!("{}/api/checks", c.vs.url)).await.unwrap().to_string());
    for s in SECRETS {
        for (i, text) in everything.iter().enumerate() {
            assert!(!text.contains(s), "secret {s} leaked in item {i}: {text}");
        }
    }

    let metrics =
        reqwest::get(format!("{}/metrics", controller_url(&c).await)).await.unwrap().text().await.unwrap();
    for kind in ["email", "sms", "voice", "http", "webhook"] {
        assert!(
            metrics.contains(&format!("bearmon_alerts_sent_total{{kind=\"{kind}\"}} 2")),
            "{kind}:\n{metrics}"
        );
    }
    assert!(
        metrics.contains(&format!(
            "bearmon_alerts_failed_total{{kind=\"email\",reason=\"invalid_contact\",contact=\"{broken}\"}} 2"
        )),
        "{metrics}"
    );
    let pending = wait_for(Duration::from_secs(5), || async {
        let m =
            reqwest::get(format!("{}/metrics", controller_url(&c).await)).await.ok()?.text().await.ok()?;
        m.contains("bearmon_outbox_pending 0").then_some(())
    })
    .await;
    assert!(pending.is_some(), "the outbox gauge never reached 0");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_down_for_30s_gets_the_notification_after_once() {
    let Some((db, url)) = fresh_db(Backend::Postgres).await else { return };
    let mut hooks = Receiver::start(Mode::Ok).await;
    let target = Receiver::start(Mode::Ok).await;
    let check = add_secret_check(&db, &target).await;
    let hook = add_contact(
        &db,
        check,
        "webhook",
        &format!(r#"{{"url":"{}","format":"slack"}}"#, hooks.url("/slack")),
    )
    .await;
    let c = Cluster::start_with(&url, &["w1", "w2"], &[], 2, FAST_RETRIES, "");
    c.wait_ready(2).await;
    wait_status(&c, check, "online").await;

    hooks.down();
    target.set_mode(Mode::Status(503));
    wait_status(&c, check, "offline").await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let rows = outbox_rows(&db, hook).await;
    assert_eq!(rows.len(), 1);
    let (state, attempts, err) = &rows[0];
    assert_eq!(state, "pending", "still waiting: {rows:?}");
    assert!(*attempts >= 5, "retried with backoff capped at 2 s: {rows:?}");
    assert!(!err.is_empty(), "the last error is recorded");

    hooks.up().await;
    let delivered =
        wait_for(Duration::from_secs(10), || async { (!hooks.seen_at("/slack").is_empty()).then_some(()) })
            .await;
    assert!(delivered.is_some(), "not delivered after the receiver came back");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let seen = hooks.seen_at("/slack");
    assert_eq!(seen.len(), 1, "delivered once: {seen:?}");
    assert!(seen[0].json()["text"].as_str().unwrap().starts_with("Check [api] is now offline"));
    assert_eq!(outbox_rows(&db, hook).await[0].0, "sent");
    let sql = db.sql(&format!("SELECT {} FROM bearmon_outbox_attempts", db.int("COUNT(*)")));
    let attempts: i64 = sqlx::query(sql).fetch_one(db.pool()).await.unwrap().try_get(0).unwrap();
    assert_eq!(attempts, rows[0].1 + 1, "every attempt is recorded");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_send_cut_short_by_the_controllers_death_is_delivered_by_the_next() {
    let Some((db, url)) = fresh_db(Backend::MySql).await else { return };
    let hooks = Receiver::start(Mode::HangFirst).await;
    let target = Receiver::start(Mode::Ok).await;
    let check = add_secret_check(&db, &target).await;
    let hook = add_contact(&db, check, "http", &hooks.url("/form")).await;
    let extra = format!("{FAST_RETRIES}webhook_timeout_secs = 60\n");
    let mut c = Cluster::start_with(&url, &["w1", "w2", "w3"], &[], 2, &extra, "");
    c.wait_ready(3).await;
    wait_status(&c, check, "online").await;

    target.set_mode(Mode::Status(500));
    // The controller claims the row and sends; the receiver holds the request.
    let held =
        wait_for(Duration::from_secs(30), || async { (!hooks.seen_at("/form").is_empty()).then_some(()) })
            .await;
    assert!(held.is_some(), "the first send never arrived");
    let ctrl = c.cluster().await["controller"].as_str().unwrap().to_string();
    c.worker(&ctrl).kill();
    let again =
        wait_for(Duration::from_secs(20), || async { (hooks.seen_at("/form").len() >= 2).then_some(()) })
            .await;
    assert!(again.is_some(), "the new controller did not deliver the notification");
    let sent = wait_for(Duration::from_secs(10), || async {
        let rows = outbox_rows(&db, hook).await;
        (rows.len() == 1 && rows[0].0 == "sent").then_some(())
    })
    .await;
    assert!(sent.is_some(), "{:?}", outbox_rows(&db, hook).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = hooks.seen_at("/form");
    let key = seen[0].header("idempotency-key");
    assert_eq!(seen.len(), 2, "at most twice: {seen:?}");
    assert!(seen.iter().all(|s| s.header("idempotency-key") == key), "the same key both times");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_hears_when_no_controller_is_left() {
    let Some((_db, url)) = fresh_db(Backend::Postgres).await else { return };
    let sink = SmtpSink::start(None);
    let vs_extra = smtp_section(&sink, true);
    let mut c = Cluster::start_with(&url, &["w1"], &["p1"], 2, "", &vs_extra);
    c.wait_ready(2).await;
    c.worker("w1").kill();
    let mail = wait_for(Duration::from_secs(15), || async { sink.messages().into_iter().next() }).await;
    let mail = mail.expect("no admin mail");
    assert!(mail.contains("X-Envelope-To: admin@example.com"), "{mail}");
    assert!(mail.contains("Subject: bearmon: controller failed without replacement"), "{mail}");
    assert!(mail.contains("controller w1 failed without replacement"), "{mail}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.messages().len(), 1, "rate-limited: one mail");
}

/// A contact whose URL is the cluster's own API (the controller's `/cluster/sync`, the
/// viewserver's `/api/cluster`) is refused without a request, recorded as failed with the
/// reason, and the other contacts and the node carry on.
#[tokio::test(flavor = "multi_thread")]
async fn a_contact_pointing_at_the_nodes_own_api_is_refused_and_the_rest_carry_on() {
    let Some((db, url)) = fresh_db(Backend::Postgres).await else { return };
    let hooks = Receiver::start(Mode::Ok).await;
    let target = Receiver::start(Mode::Ok).await;
    let check = add_secret_check(&db, &target).await;
    let c = Cluster::start_with(&url, &["w1", "w2"], &[], 2, FAST_RETRIES, "");
    c.wait_ready(2).await;
    let own = add_contact(&db, check, "http", &format!("{}/cluster/sync", controller_url(&c).await)).await;
    let vs = add_contact(
        &db,
        check,
        "webhook",
        &format!(r#"{{"url":"{}/api/cluster"}}"#, c.vs.url.replace("127.0.0.1", "localhost")),
    )
    .await;
    // Another loopback address of the same port: the same machine, the same node.
    let other_loopback =
        format!("{}/cluster/sync", controller_url(&c).await.replace("127.0.0.1", "127.0.0.2"));
    let loopback = add_contact(&db, check, "http", &other_loopback).await;
    let fine = add_contact(&db, check, "http", &hooks.url("/form")).await;
    wait_status(&c, check, "online").await;
    // Give the controller's change poll time to see the contacts.
    tokio::time::sleep(Duration::from_secs(2)).await;

    target.set_mode(Mode::Status(500));
    wait_status(&c, check, "offline").await;
    let delivered =
        wait_for(Duration::from_secs(20), || async { (!hooks.seen_at("/form").is_empty()).then_some(()) });
    assert!(delivered.await.is_some(), "the ordinary contact was not notified");
    for contact in [own, vs, loopback] {
        let settled = wait_for(Duration::from_secs(10), || async {
            let rows = outbox_rows(&db, contact).await;
            (rows.len() == 1 && rows[0].0 == "failed").then_some(rows)
        })
        .await;
        let Some(rows) = settled else {
            panic!("contact {contact}: {:?}", outbox_rows(&db, contact).await);
        };
        assert_eq!(rows[0].1, 1, "refused at the first attempt, not retried");
        assert!(rows[0].2.contains("points at the bearmon node API"), "{}", rows[0].2);
    }
    assert_eq!(outbox_rows(&db, fine).await[0].0, "sent");
    assert!(c.workers.iter().any(|w| w.logged("notification not sent")));
    assert!(get_json(&format!("{}/api/cluster", c.vs.url)).await.is_some(), "the node still serves");
}

/// gobearmon users insert rows in any order: an alert inserted before its contact must not
/// be skipped until the next full resync (10 minutes); the contact inserted after it is told
/// of the next flip.
#[tokio::test(flavor = "multi_thread")]
async fn a_contact_inserted_after_its_alert_is_told_of_the_next_flip() {
    let Some((db, url)) = fresh_db(Backend::MySql).await else { return };
    let hooks = Receiver::start(Mode::Ok).await;
    let target = Receiver::start(Mode::Ok).await;
    let check = add_secret_check(&db, &target).await;
    // Contact 1 does not exist yet.
    exec(&db, &format!("INSERT INTO alerts (check_id, contact_id, type) VALUES ({check}, 1, 'both')")).await;
    let c = Cluster::start_with(&url, &["w1", "w2"], &[], 2, FAST_RETRIES, "");
    c.wait_ready(2).await;
    wait_status(&c, check, "online").await;
    exec(&db, &format!("INSERT INTO contacts (type, data) VALUES ('http', '{}')", hooks.url("/late"))).await;
    assert_eq!(last_id(&db, "contacts").await, 1);
    // Time for the controller's next poll of the change log.
    tokio::time::sleep(Duration::from_secs(3)).await;
    target.set_mode(Mode::Status(503));
    wait_status(&c, check, "offline").await;
    let told =
        wait_for(Duration::from_secs(15), || async { (!hooks.seen_at("/late").is_empty()).then_some(()) })
            .await;
    assert!(told.is_some(), "the contact inserted after its alert was not told of the flip");
    assert_eq!(hooks.seen_at("/late")[0].form().get("status").map(String::as_str), Some("offline"));
}

/// A failing channel is seen (issue: failures were only in the log): a contact whose
/// notifications fail for good is listed by the API, on the status page and by `bearmon
/// status` (exit code 1), counted under its id, and mailed to the admin; a cluster with
/// fewer live workers than confirmations mails the admin too. Once a notification to it is
/// delivered, it is no longer failing.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_channel_and_a_degraded_cluster_are_seen_and_mailed() {
    let Some((db, url)) = fresh_db(Backend::Postgres).await else { return };
    let sink = SmtpSink::start(None);
    let hooks = Receiver::start(Mode::Status(400)).await;
    let target = Receiver::start(Mode::Ok).await;
    let check = add_secret_check(&db, &target).await;
    let hook = add_contact(&db, check, "http", &hooks.url("/form")).await;
    // Confirmations 3 with two workers: degraded.
    let extra = format!("{}{FAST_RETRIES}", smtp_section(&sink, true));
    let c = Cluster::start_with(&url, &["w1", "w2"], &[], 3, &extra, "");
    c.wait_ready(2).await;
    wait_status(&c, check, "online").await;
    target.set_mode(Mode::Status(500));
    wait_status(&c, check, "offline").await;

    let failing = wait_for(Duration::from_secs(20), || async {
        let v = get_json(&format!("{}/api/contacts/failing", c.vs.url)).await?;
        (v["contacts"].as_array()?.len() == 1).then_some(v)
    })
    .await
    .expect("the failing contact is listed");
    let f = &failing["contacts"][0];
    assert_eq!(
        (f["contact_id"].as_i64(), f["kind"].as_str(), f["state"].as_str()),
        (Some(hook), Some("http"), Some("failed"))
    );
    assert!(f["error"].as_str().unwrap().contains("400"), "{f}");

    let page = reqwest::get(format!("{}/", c.vs.url)).await.unwrap().text().await.unwrap();
    assert!(
        page.contains("Notifications failing") && page.contains(&format!("contact {hook} (http)")),
        "{page}"
    );
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_bearmon"))
        .args(["status", "--url", &c.vs.url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(1), "{text}");
    assert!(
        text.contains("notifications FAILING") && text.contains(&format!("contact {hook} (http)")),
        "{text}"
    );
    let metrics =
        reqwest::get(format!("{}/metrics", controller_url(&c).await)).await.unwrap().text().await.unwrap();
    let line =
        format!("bearmon_alerts_failed_total{{kind=\"http\",reason=\"permanent\",contact=\"{hook}\"}} 1");
    assert!(metrics.contains(&line), "{line} in:\n{metrics}");

    let subjects = || {
        sink.messages()
            .iter()
            .filter_map(|m| m.lines().find(|l| l.starts_with("Subject: ")).map(str::to_string))
            .collect::<Vec<_>>()
    };
    let mailed = wait_for(Duration::from_secs(10), || async {
        let s = subjects();
        let want = format!("Subject: bearmon: notifications to contact {hook} are failing");
        (s.contains(&want) && s.iter().any(|l| l == "Subject: bearmon: cluster degraded")).then_some(())
    })
    .await;
    assert!(mailed.is_some(), "admin mails: {:?}", subjects());
    assert!(sink.messages().iter().all(|m| m.contains("X-Envelope-To: admin@example.com")));

    // The receiver works again: the recovery is delivered and the contact is no longer failing.
    hooks.set_mode(Mode::Ok);
    target.set_mode(Mode::Ok);
    wait_status(&c, check, "online").await;
    let cleared = wait_for(Duration::from_secs(20), || async {
        let v = get_json(&format!("{}/api/contacts/failing", c.vs.url)).await?;
        v["contacts"].as_array()?.is_empty().then_some(())
    })
    .await;
    assert!(cleared.is_some(), "{:?}", outbox_rows(&db, hook).await);
}
