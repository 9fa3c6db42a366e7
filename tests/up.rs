//! `bearmon up` as a newcomer runs it: the page, the API, `bearmon status`, a real browser.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use bearmon::db::Db;
use common::cluster::{Node, get_json, wait_for};
use serde_json::Value;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn status(url: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bearmon")).args(["status", "--url", url]).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn up_serves_the_page_the_api_and_status() {
    common::init();
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/bearmon.db", dir.path().display());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut up = Node::start(
        "up",
        &["up".into(), "--listen".into(), format!("127.0.0.1:{port}"), "--database".into(), db_url.clone()],
    );

    // The page answers within 10 s and lists the demo check as online. Until a controller
    // is elected it says that bearmon is starting and reloads itself, not to start a worker.
    let waiting = std::sync::Mutex::new(Vec::new());
    let page = wait_for(Duration::from_secs(10), || async {
        let r = reqwest::get(&base).await.ok()?;
        let code = r.status().as_u16();
        let text = r.text().await.ok()?;
        if code == 503 {
            waiting.lock().unwrap().push(text.clone());
        }
        text.contains("bearmon status page").then_some(text)
    })
    .await;
    let page = page.unwrap_or_else(|| panic!("no page within 10 s:\n{}", up.log_text()));
    let waiting = waiting.into_inner().unwrap();
    assert!(
        waiting
            .iter()
            .any(|w| w.contains("bearmon is starting: electing a controller, this takes a few seconds.")),
        "the page was there before any controller could be elected: {waiting:?}"
    );
    for w in &waiting {
        assert!(w.contains("bearmon is starting: "), "{w}");
        assert!(
            w.contains("<meta http-equiv=\"refresh\" content=\"2\">") && !w.contains("start a worker"),
            "{w}"
        );
    }
    eprintln!("page after {:?}", started.elapsed());
    assert!(page.contains("class=\"check online\""), "{page}");
    assert!(
        up.logged("INSERT INTO checks (name, type, data) VALUES"),
        "the SQL lines are printed:\n{}",
        up.log_text()
    );
    let demo_ok = wait_for(Duration::from_secs(40), || async {
        let v = get_json(&format!("{base}/api/checks/1")).await?;
        (v["last_result"]["verdict"] == "online").then_some(())
    })
    .await;
    assert!(
        demo_ok.is_some(),
        "the demo check never ran online: {:?}",
        get_json(&format!("{base}/api/checks/1")).await
    );
    assert_eq!(status(&base).0, Some(0), "{}", status(&base).1);

    // A check inserted by SQL appears within 5 s; one to a closed port goes offline.
    let db = Db::connect(&db_url).await.unwrap();
    let closed = free_port();
    let data = format!(
        r#"{{"url":"http://bob:hunter2-secret@127.0.0.1:{closed}/","password":"pw-secret-9","timeout":3}}"#
    );
    common::exec(&db, &format!("INSERT INTO checks (name, type, data, check_interval, delay) VALUES ('closed port', 'http', '{data}', 1, 0)")).await;
    let t0 = Instant::now();
    let seen = wait_for(Duration::from_secs(5), || async {
        let v = get_json(&format!("{base}/api/checks?q=closed")).await?;
        (v["total"] == 1).then_some(())
    })
    .await;
    assert!(seen.is_some(), "an inserted check did not appear within 5 s");
    eprintln!("inserted check listed after {:?}", t0.elapsed());
    let down = wait_for(Duration::from_secs(20), || async {
        let v = get_json(&format!("{base}/api/checks/2")).await?;
        (v["status"] == "offline").then_some(v)
    })
    .await
    .expect("the closed port goes offline");

    // The API: detail with secrets redacted, history, filters, events, 404s, OpenAPI.
    let text = down.to_string();
    assert!(!text.contains("hunter2-secret") && !text.contains("pw-secret-9"), "{text}");
    assert_eq!(down["data"]["password"], "***");
    assert_eq!(down["type"], "http");
    assert!(down["recent"].as_array().is_some_and(|r| !r.is_empty()), "{down}");
    let hist = get_json(&format!("{base}/api/checks/2/history")).await.unwrap();
    assert!(hist["recent"].as_array().is_some_and(|r| !r.is_empty()), "{hist}");
    assert!(
        hist["hourly"].as_array().is_some_and(|h| h.iter().any(|r| r["failures"].as_u64() > Some(0))),
        "{hist}"
    );
    let offline = get_json(&format!("{base}/api/checks?status=offline")).await.unwrap();
    assert_eq!(offline["total"], 1);
    assert_eq!(offline["checks"][0]["id"], 2);
    assert_eq!(offline["counts"]["online"], 1);
    // Every instant is RFC 3339, as /api/openapi.json says.
    let rfc3339 =
        |v: &Value| v.as_str().is_some_and(|t| t.len() >= 20 && t.ends_with('Z') && t.contains('T'));
    assert!(rfc3339(&hist["recent"][0]["at"]) && rfc3339(&hist["hourly"][0]["hour"]), "{hist}");
    // An empty status filters nothing, as on the page.
    let all = get_json(&format!("{base}/api/checks?status=")).await.unwrap();
    assert_eq!(all["total"], 2, "{all}");
    let events = get_json(&format!("{base}/api/events")).await.unwrap();
    assert!(rfc3339(&events["events"][0]["time"]), "{events}");
    let cluster = get_json(&format!("{base}/api/cluster")).await.unwrap();
    assert!(rfc3339(&cluster["workers"][0]["last_heartbeat"]), "{cluster}");
    assert_eq!(events["events"][0]["check_id"], 2);
    assert_eq!(events["events"][0]["status"], "offline");
    assert_eq!(events["events"][0]["check_name"], "closed port");
    for (path, code) in [
        ("/api/checks/999", 404),
        ("/api/checks/abc", 404),
        ("/api/nope", 404),
        ("/api/checks?status=weird", 400),
        ("/api/events?limit=1001", 400),
        ("/api/events?limit=-5", 400),
        ("/api/checks?per_page=1001", 400),
        ("/api/checks?page=99999999999999999999", 400),
        ("/api/checks/2/history?hours=", 400),
        ("/api/checks/2/notifications?limit=501", 400),
    ] {
        let (got, body) = get(&format!("{base}{path}")).await;
        assert_eq!(got, code, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: not JSON: {body}"));
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{path}: {body}");
    }
    let spec = get_json(&format!("{base}/api/openapi.json")).await.unwrap();
    assert_eq!(spec["openapi"], "3.0.3");
    assert!(spec["paths"]["/api/checks/{id}/history"].is_object());
    let cluster = get_json(&format!("{base}/api/cluster")).await.unwrap();
    assert_eq!(cluster["workers_live"], 3);
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    for m in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "bearmon_workers_live{node=\"viewserver\"} 3",
        "bearmon_controller_term",
    ] {
        assert!(metrics.contains(m), "{m} missing:\n{metrics}");
    }

    // The check's own page has both charts; the list page shows it down.
    let (code, detail) = get(&format!("{base}/checks/2")).await;
    assert_eq!(code, 200);
    assert!(detail.contains("<polyline") && detail.contains("<rect"), "{detail}");
    assert!(!detail.contains("hunter2-secret"));
    let (_, list) = get(&format!("{base}/?status=offline")).await;
    assert!(list.contains("class=\"check offline\"") && list.contains("closed port"), "{list}");
    let (code, _) = get(&format!("{base}/checks/999")).await;
    assert_eq!(code, 404);

    // `bearmon status` says what is wrong, with exit code 1.
    let (code, out) = status(&base);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("closed port") && out.contains("offline"), "{out}");
    assert!(out.contains("1 online, 1 offline, 0 invalid"), "{out}");
    let (code, _) = status("http://127.0.0.1:1");
    assert_eq!(code, Some(2), "an unreachable node is an error");

    // An oversized check with a known history: two past hours of 60 runs, one all failures.
    let big = format!(
        r#"{{"url":"http://127.0.0.1:1/","password":"pw-big-secret","pad":"{}"}}"#,
        "b".repeat(70_000)
    );
    common::exec(
        &db,
        &format!("INSERT INTO checks (name, type, data) VALUES ('oversized', 'http', '{big}')"),
    )
    .await;
    let hour = bearmon::util::now_ms() / 1000 / 3600 * 3600;
    for (ago, failures) in [(2, 60), (3, 0)] {
        common::exec(&db, &format!("INSERT INTO bearmon_rollups (check_id, hour, runs, failures, latency_avg_ms, latency_p50_ms, latency_p95_ms, latency_max_ms) VALUES (3, {}, 60, {failures}, 5, 5, 9, 12)", hour - ago * 3600)).await;
    }
    let invalid = wait_for(Duration::from_secs(10), || async {
        let v = get_json(&format!("{base}/api/checks/3")).await?;
        (v["status"] == "invalid").then_some(v)
    })
    .await;
    assert!(invalid.is_some(), "the oversized check is not listed as invalid");
    let message = get_json(&format!("{base}/api/checks/2")).await.unwrap()["last_result"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.len() > 60, "a message long enough to have been cut: {message}");

    browser_check(&base, dir.path(), &message);

    // Ctrl-C / SIGTERM stops it cleanly.
    up.signal("TERM");
    assert_eq!(up.wait_exit(Duration::from_secs(15)), Some(0), "{}", up.log_text());
}

/// The page in headless Chromium: it loads without console errors, shows the down check as
/// down, draws the charts; a screenshot is kept in target/artifacts/.
fn browser_check(base: &str, scratch: &std::path::Path, message: &str) {
    let Some(chromium) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        assert!(!common::servers_required(), "chromium is not installed but scripts/test.sh requires it");
        eprintln!("skipped: chromium is not installed (run scripts/test.sh)");
        return;
    };
    let profile = scratch.join("chromium-profile");
    let flags = |extra: &[&str]| {
        let mut a: Vec<String> =
            ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        a.push(format!("--user-data-dir={}", profile.display()));
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let out = Command::new(chromium)
        .args(flags(&["--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000", "--dump-dom", base]))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(dom.contains("data-ready=\"1\""), "the page's script did not run:\n{dom}\n{log}");
    assert!(dom.contains("class=\"check offline\"") && dom.contains("closed port"), "{dom}");
    assert!(dom.contains("class=\"beat "), "no heartbeats drawn: {dom}");
    let console: Vec<&str> =
        log.lines().filter(|l| l.contains("CONSOLE") || l.contains("Uncaught")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let dump = |url: &str| {
        let out = Command::new(chromium)
            .args(flags(&["--virtual-time-budget=2000", "--dump-dom", url]))
            .output()
            .expect("run chromium");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    read_as_a_user(&dom, &dump(&format!("{base}/checks/2")), &dump(&format!("{base}/checks/3")), message);

    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    let out = Command::new(chromium)
        .args(flags(&[
            "--window-size=1280,900",
            "--virtual-time-budget=3000",
            &format!("--screenshot={}", shot.display()),
            base,
        ]))
        .output()
        .expect("run chromium");
    assert!(shot.exists(), "no screenshot: {}", String::from_utf8_lossy(&out.stderr));
    eprintln!("screenshot kept at {}", shot.display());
}

/// The row of check `id` in the list.
fn row(list: &str, id: u32) -> &str {
    let start = list.find(&format!("data-id=\"{id}\"")).unwrap_or_else(|| panic!("no row {id}: {list}"));
    &list[start..start + list[start..].find("</tr>").unwrap()]
}

/// The `<g>` of the chart mark whose hover text holds `title`.
fn mark<'a>(page: &'a str, title: &str) -> &'a str {
    let at = page.find(title).unwrap_or_else(|| panic!("{title:?} not drawn: {page}"));
    let start = page[..at].rfind("<g ").unwrap();
    &page[start..at + page[at..].find("</g>").unwrap()]
}

/// The `height` of the `<rect class="{class}">` in `group`.
fn height(group: &str, class: &str) -> Option<f64> {
    let rest = &group[group.find(&format!("<rect class=\"{class}\""))?..];
    let h = &rest[rest.find("height=\"")? + 8..];
    h[..h.find('"')?].parse().ok()
}

/// What a newcomer reads in the list, the down check's page and the oversized check's page.
fn read_as_a_user(list: &str, down: &str, oversized: &str, message: &str) {
    // Relative times with the exact time on hover; a check that never flipped says so.
    let closed = row(list, 2);
    assert!(closed.contains("<time datetime=\"20") && closed.contains(" UTC\">"), "{closed}");
    assert!(closed.contains(" ago</time>") || closed.contains("just now</time>"), "{closed}");
    assert!(closed.contains("class=\"beat down\""), "a red heartbeat: {closed}");
    assert!(row(list, 3).contains("since start of records"), "{}", row(list, 3));

    // The error message whole, in a paragraph that wraps.
    let esc = message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    assert!(down.contains(&format!("<p class=\"msg-full\" id=\"message\">{esc}</p>")), "{message}: {down}");
    assert!(down.contains(".msg-full{white-space:pre-wrap;overflow-wrap:anywhere"), "{down}");
    assert!(down.contains(" ms</text>") && down.contains("class=\"beat down\""), "axes, heartbeats: {down}");

    // The known history: 50 % up over 24 h, 7 d and 30 d; the fully-down hour a full red bar.
    for label in ["24h", "7d", "30d"] {
        assert!(oversized.contains(&format!("class=\"up-{label}\">uptime ")), "{oversized}");
        let fig = &oversized[oversized.find(&format!("class=\"up-{label}\"")).unwrap()..];
        assert!(fig[..fig.find("</div>").unwrap()].ends_with("<b>50.0 %</b>"), "{label}: {fig:.80}");
    }
    let red = mark(oversized, ": 0.0 % up (60 of 60 runs failed");
    assert!(red.contains("fill=\"#cf222e\""), "{red}");
    assert!(height(red, "down").is_some_and(|h| h > 100.0), "a full-height red bar: {red}");
    assert_eq!(height(red, "up"), None, "{red}");
    let green = mark(oversized, ": 100 % up (0 of 60 runs failed");
    assert!(height(green, "up").is_some_and(|h| h > 100.0) && height(green, "down").is_none(), "{green}");

    // The oversized definition: redacted, truncated, and the page says why.
    assert!(!oversized.contains("pw-big-secret"), "the secret is shown");
    assert!(oversized.contains("\"password\": \"***\""), "{oversized}");
    assert!(oversized.contains("(truncated: strings over 200 characters cut; "), "{oversized}");
    assert!(oversized.contains("the check is invalid: its data is 70065 bytes, over the 65536-byte limit)"));
    assert!(!oversized.contains("withheld"), "{oversized}");
}
