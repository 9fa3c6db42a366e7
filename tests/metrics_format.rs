//! `/metrics` as scrapers read it: promtool accepts every role's text, a real Prometheus files
//! the counters with their metadata, and `bearmon up` serves the whole cluster at one address.

mod common;

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bearmon::db::Backend;
use common::cluster::{Cluster, Node, Target, get_json, wait_for};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `promtool`, or `None` (and a note) when it is not installed and scripts/test.sh is not
/// running the suite (it installs Debian's `prometheus`, which ships it).
fn tool(name: &str) -> Option<String> {
    let path = format!("/usr/bin/{name}");
    if std::path::Path::new(&path).exists() {
        return Some(path);
    }
    assert!(!common::servers_required(), "{path} missing: scripts/test.sh installs Debian's prometheus");
    eprintln!("skipped: {path} is not installed");
    None
}

/// `(content type, body)` of `url` asked with `accept`.
async fn scrape(url: &str, accept: Option<&str>) -> (String, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let r = req.send().await.unwrap();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (ct, r.text().await.unwrap())
}

/// Runs `promtool check metrics` on `text`; panics with its report when it refuses it.
fn promtool_accepts(promtool: &str, what: &str, text: &str) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.trim().is_empty(), "promtool on {what}:\n{report}\n---\n{text}");
}

/// The sum of the values of the samples of `name` (any labels).
fn sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && matches!(l.as_bytes().get(name.len()), Some(b'{' | b' ')))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A process killed when dropped (also when the test fails).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn up_serves_the_whole_cluster_in_prometheus_format_and_a_real_prometheus_scrapes_it() {
    common::init();
    let Some(promtool) = tool("promtool") else { return };
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/bearmon.db", dir.path().display());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let up = Node::start(
        "up",
        &["up".into(), "--listen".into(), format!("127.0.0.1:{port}"), "--database".into(), db_url],
    );
    // The demo check runs on one of the three in-process workers, and its runs, the
    // assignment and the controller's term are all seen at the page's address.
    let text = wait_for(Duration::from_secs(40), || async {
        let (_, text) = scrape(&format!("{base}/metrics"), None).await;
        (sum(&text, "bearmon_check_runs_total") >= 1.0 && sum(&text, "bearmon_checks_assigned") >= 1.0)
            .then_some(text)
    })
    .await
    .unwrap_or_else(|| panic!("no check run in up's /metrics within 40 s:\n{}", up.log_text()));
    for node in ["viewserver", "w1", "w2", "w3"] {
        assert!(text.contains(&format!("bearmon_workers_live{{node=\"{node}\"}}")), "{node}:\n{text}");
    }
    assert!(sum(&text, "bearmon_controller_term") >= 1.0, "{text}");
    assert_eq!(text.matches("# TYPE bearmon_check_runs_total counter\n").count(), 1, "{text}");
    assert_eq!(text.matches("# TYPE process_cpu_seconds_total counter\n").count(), 1, "{text}");
    let (ct, text) = scrape(&format!("{base}/metrics"), None).await;
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    assert!(!text.contains("# EOF"), "{text}");
    promtool_accepts(&promtool, "up's /metrics", &text);

    // OpenMetrics only when asked for.
    let (ct, om) =
        scrape(&format!("{base}/metrics"), Some("application/openmetrics-text;version=1.0.0")).await;
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    assert!(om.ends_with("# EOF\n") && om.contains("# TYPE bearmon_check_runs counter\n"), "{om}");

    // A real Prometheus (it asks for OpenMetrics) files the counter family with its type
    // and help, and its samples as `bearmon_check_runs_total`.
    let Some(prometheus) = tool("prometheus") else { return };
    let prom_port = free_port();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: bearmon\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let _prom = Killed(
        Command::new(prometheus)
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let api = format!("http://127.0.0.1:{prom_port}/api/v1");
    let meta = wait_for(Duration::from_secs(60), || async {
        // The query first: the metadata of that scrape is there once its samples are.
        let q = get_json(&format!("{api}/query?query=sum(bearmon_check_runs_total)")).await?;
        let ran: f64 = q["data"]["result"][0]["value"][1].as_str()?.parse().ok()?;
        let m = get_json(&format!("{api}/metadata?metric=bearmon_check_runs")).await?;
        (ran >= 1.0 && m["data"]["bearmon_check_runs"].is_array()).then_some(m)
    })
    .await
    .expect("Prometheus never scraped bearmon_check_runs_total from up with its metadata");
    let entry = &meta["data"]["bearmon_check_runs"][0];
    assert_eq!(entry["type"], "counter", "{meta}");
    assert!(entry["help"].as_str().is_some_and(|h| h.contains("Check executions")), "{meta}");
    let up_targets = get_json(&format!("{api}/targets")).await.unwrap();
    assert_eq!(up_targets["data"]["activeTargets"][0]["health"], "up", "{up_targets}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_role_of_a_cluster_serves_metrics_promtool_accepts_and_the_viewserver_says_where() {
    let Some(promtool) = tool("promtool") else { return };
    let Some((db, url)) = common::fresh_db(Backend::Sqlite).await else { return };
    let target = Target::up().await;
    let data = target.check_json();
    common::exec(
        &db,
        &format!(
            "INSERT INTO checks (name, type, data, check_interval, delay) VALUES ('web \"a\"', 'tcp', '{data}', 1, 0)"
        ),
    )
    .await;
    // `[metrics] per_check`: the controller's /metrics has every check's series.
    let c = Cluster::start_with(&url, &["w1"], &["p1"], 2, "[metrics]\nper_check = true\n", "");
    c.wait_ready(2).await;
    let controller = c.cluster().await["controller_url"].as_str().unwrap().to_string();
    let series = "bearmon_check_up{check_id=\"1\",name=\"web \\\"a\\\"\"} 1";
    let text = wait_for(Duration::from_secs(20), || async {
        let (_, text) = scrape(&format!("{controller}/metrics"), None).await;
        let measured = text.contains("\nbearmon_check_latency_seconds{check_id=\"1\"");
        (text.contains(series) && measured).then_some(text)
    })
    .await
    .unwrap_or_else(|| panic!("no {series} on the controller:\n{}", c.all_logs()));
    assert!(text.contains(
        "# TYPE bearmon_check_latency_seconds gauge\nbearmon_check_latency_seconds{check_id=\"1\""
    ));
    let cluster = c.cluster().await;
    let workers = cluster["workers"].as_array().unwrap().clone();
    assert_eq!(workers.len(), 2, "{cluster}");
    let mut urls = vec![format!("{}/metrics", c.vs.url)];
    for w in &workers {
        let m = w["metrics_url"].as_str().unwrap_or_else(|| panic!("no metrics_url: {cluster}"));
        assert_eq!(m, format!("{}/metrics", w["url"].as_str().unwrap()));
        urls.push(m.to_string());
    }
    for u in &urls {
        let (ct, text) = scrape(u, None).await;
        // Only the controller exports the per-check series.
        assert_eq!(text.contains("bearmon_check_up{"), u.starts_with(&controller), "{u}:\n{text}");
        assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8", "{u}");
        // A node alone in its process labels nothing.
        assert!(text.contains("\nbearmon_controller_term "), "{u}:\n{text}");
        promtool_accepts(&promtool, u, &text);
    }
}
