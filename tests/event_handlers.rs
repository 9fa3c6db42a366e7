//! Event handlers end to end (issue 18), with real processes: the seed's restart-httpd
//! example, where a script run on the third SOFT CRITICAL attempt restarts a real HTTP
//! server before the state turns HARD, so nobody is paged; the global handler runs before the
//! check's own, with the macros as arguments and as `NAGIOS_*` variables; a handler that
//! outlives `[policy] event_handler_timeout` is killed with its children.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bearmon::db::Backend;
use common::cluster::{Cluster, wait_for};
use common::receivers::{Mode, Receiver};
use common::{exec, fresh_db, last_id};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

/// Kills the processes whose pids the test's scripts wrote, also when the test fails.
struct Reap(Vec<std::path::PathBuf>);

impl Drop for Reap {
    fn drop(&mut self) {
        for f in &self.0 {
            if let Ok(pid) = std::fs::read_to_string(f) {
                let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
            }
        }
    }
}

fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
        .is_ok_and(|s| s.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_httpd_fixes_the_server_before_anyone_is_paged() {
    let Some((db, url)) = fresh_db(Backend::Postgres).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("handlers.log").display().to_string();
    let (first_pid, second_pid) = (d.join("httpd1.pid"), d.join("httpd2.pid"));
    let _reap = Reap(vec![first_pid.clone(), second_pid.clone(), d.join("sleeper.pid")]);
    let port = free_port();
    // The "httpd": a real HTTP server, started in its own session as an init script would.
    let httpd = format!(
        "setsid -f sh -c 'echo $$ > {pidfile}; exec python3 -m http.server {port} --bind 127.0.0.1 --directory {dir}' >/dev/null 2>&1",
        dir = d.display(),
        pidfile = "{pidfile}"
    );
    let start = |pidfile: &Path| {
        let cmd = httpd.replace("{pidfile}", &pidfile.display().to_string());
        assert!(Command::new("sh").arg("-c").arg(&cmd).stdin(Stdio::null()).status().unwrap().success());
    };
    start(&first_pid);
    // The seed's script, with its echo lines; the restart is the command above.
    let restart = script(
        d,
        "restart-httpd",
        &format!(
            r#"echo "check $1 $2 $3 env=$NAGIOS_SERVICESTATE/$NAGIOS_SERVICESTATETYPE/$NAGIOS_SERVICEATTEMPT" >> {log}
case "$1" in
CRITICAL)
  case "$2" in
  SOFT)
    case "$3" in
    3)
      echo -n "Restarting HTTP service (3rd soft critical state)..."
      {restart}
      ;;
    esac
    ;;
  HARD)
    echo -n "Restarting HTTP service..."
    {restart}
    ;;
  esac
  ;;
esac
exit 0
"#,
            restart = httpd.replace("{pidfile}", &second_pid.display().to_string()),
        ),
    );
    let global = script(d, "global", &format!("echo \"global $1 $2 $3\" >> {log}\n"));
    let hooks = Receiver::start(Mode::Ok).await;
    exec(&db, &format!("INSERT INTO contacts (type, data) VALUES ('http', '{}')", hooks.url("/ops"))).await;
    let ops = last_id(&db, "contacts").await;
    let data = format!(r#"{{"address":"127.0.0.1:{port}","timeout":2}}"#);
    let options =
        format!(r#"{{"event_handler": "{restart} $SERVICESTATE$ $SERVICESTATETYPE$ $SERVICEATTEMPT$"}}"#);
    // max_check_attempts 4 (delay 3), as the seed's service definition.
    exec(&db, &format!("INSERT INTO checks (name, type, data, check_interval, delay, options) VALUES ('HTTP', 'tcp', '{data}', 3, 3, '{options}')")).await;
    let check = last_id(&db, "checks").await;
    exec(&db, &format!("INSERT INTO alerts (check_id, contact_id, type) VALUES ({check}, {ops}, 'both')"))
        .await;
    // A second check, always down, whose handler outlives the timeout with a child.
    let sleeper = script(
        d,
        "sleeper",
        &format!("sleep 120 &\necho $! > {}\nsleep 120\n", d.join("sleeper.pid").display()),
    );
    let closed = free_port();
    exec(&db, &format!("INSERT INTO checks (name, type, data, check_interval, delay, options) VALUES ('stuck', 'tcp', '{{\"address\":\"127.0.0.1:{closed}\",\"timeout\":1}}', 2, 0, '{{\"event_handler\": \"{sleeper}\"}}')")).await;
    let stuck = last_id(&db, "checks").await;
    let extra = format!(
        "[policy]\nglobal_event_handler = \"{global} $SERVICESTATE$ $SERVICESTATETYPE$ $SERVICEATTEMPT$\"\nevent_handler_timeout = 2\n"
    );
    let c = Cluster::start_with(&url, &["w1"], &[], 1, &extra, "");
    c.wait_ready(1).await;
    let up = wait_for(Duration::from_secs(20), || async {
        c.check(check).await.filter(|v| v["last_result"]["verdict"] == "online").map(|_| ())
    })
    .await;
    assert!(up.is_some(), "the check never saw the server up: {}", c.all_logs());
    // The server dies.
    let pid = std::fs::read_to_string(&first_pid).unwrap();
    assert!(Command::new("kill").arg(pid.trim()).status().unwrap().success());
    let lines = || std::fs::read_to_string(&log).unwrap_or_default();
    let recovered =
        wait_for(Duration::from_secs(40), || async { lines().contains("check OK SOFT").then_some(()) }).await;
    let got = lines();
    assert!(recovered.is_some(), "no soft recovery within 40 s:\n{got}\n{}", c.all_logs());
    let want = [
        "global CRITICAL SOFT 1",
        "check CRITICAL SOFT 1 env=CRITICAL/SOFT/1",
        "global CRITICAL SOFT 2",
        "check CRITICAL SOFT 2 env=CRITICAL/SOFT/2",
        "global CRITICAL SOFT 3",
        "check CRITICAL SOFT 3 env=CRITICAL/SOFT/3",
        "global OK SOFT 1",
        "check OK SOFT 1 env=OK/SOFT/1",
    ];
    // The stuck check's changes are HARD (delay 0); the HTTP check's are all SOFT.
    let soft: Vec<&str> = got.lines().filter(|l| !l.contains("HARD")).collect();
    assert_eq!(soft, want, "the handlers' calls, in order:\n{got}");
    assert!(!got.contains("CRITICAL HARD 4"), "the restart on soft 3 fixed it before the HARD state:\n{got}");
    let v = c.check(check).await.unwrap();
    assert_eq!((v["status"].as_str(), v["state"].as_str()), (Some("online"), Some("ok")), "{v}");
    let runs = v["event_handlers"].as_array().cloned().unwrap_or_default();
    assert!(
        runs.iter().any(|r| r["handler"] == "check"
            && r["exit_code"] == 0
            && r["output"] == "Restarting HTTP service (3rd soft critical state)..."),
        "the restart's output on /api/checks/{check}: {v}"
    );
    // Let a PROBLEM that should not exist arrive, if it were coming.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(hooks.seen_at("/ops").is_empty(), "nobody is paged for a problem fixed while soft");
    // The stuck check's handler: killed at 2 s with its child.
    let killed = wait_for(Duration::from_secs(30), || async {
        let v = c.check(stuck).await?;
        v["event_handlers"].as_array()?.iter().any(|r| r["timed_out"] == true).then_some(v)
    })
    .await;
    assert!(killed.is_some(), "no timed-out handler run on the stuck check: {:?}", c.check(stuck).await);
    let child = std::fs::read_to_string(d.join("sleeper.pid")).unwrap();
    let gone = wait_for(Duration::from_secs(5), || async { (!alive(&child)).then_some(()) }).await;
    assert!(gone.is_some(), "the handler's child {child} outlived the timeout");
    let page = reqwest::get(format!("{}/checks/{check}", c.vs.url)).await.unwrap().text().await.unwrap();
    assert!(page.contains("Event handlers") && page.contains("Restarting HTTP service"), "{page}");
}
