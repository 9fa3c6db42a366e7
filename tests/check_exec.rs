//! `exec` checks running real programs: scripts written here, and Debian's
//! monitoring-plugins (`check_dummy`, `check_tcp`, `check_http`) against loopback servers.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bearmon::check::{CheckSpec, Outcome, Probes, State, Verdict};
use common::servers_required;
use serde_json::json;

const PLUGINS: &str = "/usr/lib/nagios/plugins";

/// Writes an executable `#!/bin/sh` script into `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "#!/bin/sh\n{body}").unwrap();
    f.sync_all().unwrap();
    drop(f);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Runs an exec check. A script just written may be "busy" for a moment while another
/// test's fork still holds it open (ETXTBSY): that run is retried.
async fn exec(data: serde_json::Value) -> Outcome {
    exec_env(data, &[]).await
}

async fn exec_env(data: serde_json::Value, env: &[(String, String)]) -> Outcome {
    common::init();
    let parsed = CheckSpec::parse(1, "exec", &data.to_string()).expect("valid check");
    let probes = Probes::new(Default::default());
    for _ in 0..20 {
        let out = parsed.spec.run_with_env(&probes, env).await;
        if !out.message.contains("Text file busy") {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{data}: the script stayed busy");
}

fn path(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

#[tokio::test]
async fn exit_codes_are_states() {
    let dir = tempfile::tempdir().unwrap();
    let table = [
        (0, State::Ok, Verdict::Online),
        (1, State::Warning, Verdict::Online),
        (2, State::Critical, Verdict::Offline),
        (3, State::Unknown, Verdict::Error),
        (4, State::Unknown, Verdict::Error),
    ];
    for (code, state, verdict) in table {
        let p = script(
            dir.path(),
            &format!("exit{code}"),
            &format!(
                "echo 'STATUS {code} - all said | time=0.5s;1;2;0 size=12B'\necho long line\nexit {code}"
            ),
        );
        let out = exec(json!({"command": [path(&p)]})).await;
        assert_eq!((out.state, out.verdict), (state, verdict), "exit {code}: {out:?}");
        if code <= 3 {
            assert_eq!(out.message, format!("STATUS {code} - all said"));
        } else {
            assert_eq!(out.message, "(return code of 4 is out of bounds) STATUS 4 - all said");
        }
        let perf = out.perfdata.expect("perfdata");
        assert_eq!(perf.len(), 2);
        assert_eq!((perf[0].label.as_str(), perf[0].value, perf[0].uom.as_str()), ("time", 0.5, "s"));
        assert_eq!(perf[0].warn.as_deref(), Some("1"));
        assert_eq!((perf[1].label.as_str(), perf[1].value), ("size", 12.0));
    }
}

#[tokio::test]
async fn command_line_env_and_macros() {
    let dir = tempfile::tempdir().unwrap();
    let p = script(dir.path(), "env.sh", "echo \"args=$1/$2 var=$BM_VAR macro=$NAGIOS_SERVICEDESC\"");
    let line = format!("{} 'one two' \"three\"", path(&p));
    let macros = [("NAGIOS_SERVICEDESC".to_string(), "web".to_string())];
    let out = exec_env(json!({"command_line": line, "env": {"BM_VAR": "v 1"}}), &macros).await;
    assert_eq!(out.state, State::Ok, "{out:?}");
    assert_eq!(out.message, "args=one two/three var=v 1 macro=web");
    assert!(out.perfdata.is_none());
}

#[tokio::test]
async fn empty_output_signal_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let p = script(dir.path(), "silent", "exit 0");
    let out = exec(json!({"command": [path(&p)]})).await;
    assert_eq!((out.state, out.message.as_str()), (State::Ok, "(no output returned from plugin)"));
    let p = script(dir.path(), "killed", "echo dying; kill -TERM $$");
    let out = exec(json!({"command": [path(&p)]})).await;
    assert_eq!(out.state, State::Unknown);
    assert_eq!(out.message, "(plugin killed by SIGTERM) dying");
    let p = script(dir.path(), "stderr", "echo 'CRITICAL - said on stderr' >&2; exit 2");
    let out = exec(json!({"command": [path(&p)]})).await;
    assert_eq!((out.state, out.message.as_str()), (State::Critical, "CRITICAL - said on stderr"));
}

/// A plugin that outlives the deadline and has started a child: the run ends at the
/// deadline, CRITICAL, and the child is gone too (the whole group was killed).
#[tokio::test]
async fn timeout_kills_the_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let p = script(
        dir.path(),
        "hang",
        &format!("sleep 60 &\necho $! > {}\necho starting\nsleep 60\necho never", pidfile.display()),
    );
    // `timeout` is whole seconds, clamped to 3..30 like every kind: 1 means 3 s.
    let started = Instant::now();
    let out = exec(json!({"command": [path(&p)], "timeout": 1})).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(3) && took < Duration::from_millis(4500), "{took:?}");
    assert_eq!((out.state, out.verdict), (State::Critical, Verdict::Offline), "{out:?}");
    assert_eq!(out.message, "exec check timed out after 3 s");
    let pid: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while alive(pid) {
        assert!(Instant::now() < deadline, "the plugin's child {pid} survived the timeout");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `pid` is a running process (a zombie waiting for init counts as gone).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// 10 MiB of output: the run ends, the first line is the message, and what is kept is
/// bounded (64 KiB).
#[tokio::test]
async fn huge_output_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let p = script(
        dir.path(),
        "big",
        "echo 'BIG OK - lots | size=10MB;;;0'\nhead -c 10485760 /dev/zero | tr '\\0' x\necho\nexit 1",
    );
    let started = Instant::now();
    let out = exec(json!({"command": [path(&p)]})).await;
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    assert_eq!((out.state, out.message.as_str()), (State::Warning, "BIG OK - lots"), "{:?}", out.state);
    assert_eq!(out.perfdata.unwrap()[0].value, 10.0);
    // One line of 10 MiB: the message is that line, cut at the bound.
    let p = script(dir.path(), "oneline", "head -c 10485760 /dev/zero | tr '\\0' y; exit 0");
    let out = exec(json!({"command": [path(&p)]})).await;
    assert_eq!(out.state, State::Ok);
    assert_eq!(out.message.len(), bearmon::check::MAX_OUTPUT);
}

/// A plugin that cannot run is the worker's problem: UNKNOWN, no vote, the path and the
/// OS error in the message.
#[tokio::test]
async fn missing_or_not_executable_plugin_is_unknown() {
    let out = exec(json!({"command": ["/nonexistent/check_nothing", "-H", "x"]})).await;
    assert_eq!((out.state, out.verdict), (State::Unknown, Verdict::Error), "{out:?}");
    assert!(out.message.contains("/nonexistent/check_nothing"), "{}", out.message);
    assert!(out.message.contains("No such file"), "{}", out.message);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("noexec");
    std::fs::write(&p, "#!/bin/sh\necho hi\n").unwrap();
    let out = exec(json!({"command_line": path(&p)})).await;
    assert_eq!(out.verdict, Verdict::Error, "{out:?}");
    assert!(out.message.contains("Permission denied"), "{}", out.message);
}

#[test]
fn bad_params_are_rejected_with_the_field() {
    for (data, field) in [
        (json!({"command_line": "/bin/echo 'open"}), "command_line"),
        (json!({"command_line": ""}), "command_line"),
        (json!({"command": ["/bin/true"], "command_line": "/bin/true"}), "command"),
        (json!({"timeout": 5}), "command"),
    ] {
        let e = CheckSpec::parse(9, "exec", &data.to_string()).unwrap_err();
        assert_eq!((e.check_id, e.field.as_str()), (9, field), "{data}: {e}");
    }
}

/// The path of a monitoring-plugins program, or `None` (with a note) when the package is
/// not installed and scripts/test.sh is not running the suite.
fn plugin(name: &str) -> Option<String> {
    let p = format!("{PLUGINS}/{name}");
    if Path::new(&p).exists() {
        return Some(p);
    }
    assert!(!servers_required(), "{p} is missing but scripts/test.sh requires it (monitoring-plugins-basic)");
    eprintln!(
        "skipped: {p} is missing (apt-get install monitoring-plugins-basic monitoring-plugins-standard)"
    );
    None
}

#[tokio::test]
async fn nagios_check_dummy() {
    let Some(p) = plugin("check_dummy") else { return };
    let out = exec(json!({"command": [p, "1", "hello"]})).await;
    assert_eq!((out.state, out.verdict), (State::Warning, Verdict::Online), "{out:?}");
    assert_eq!(out.message, "WARNING: hello");
}

#[tokio::test]
async fn nagios_check_tcp() {
    let Some(p) = plugin("check_tcp") else { return };
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let out = exec(json!({"command_line": format!("{p} -H 127.0.0.1 -p {port}")})).await;
    assert_eq!(out.state, State::Ok, "{out:?}");
    assert!(out.message.starts_with("TCP OK"), "{}", out.message);
    assert!(out.perfdata.unwrap().iter().any(|p| p.label == "time" && p.uom == "s"));
    drop(l);
    let out = exec(json!({"command_line": format!("{p} -H 127.0.0.1 -p {port}")})).await;
    assert_eq!(out.state, State::Critical, "{out:?}");
}

#[tokio::test]
async fn nagios_check_http() {
    let Some(p) = plugin("check_http").or_else(|| plugin("check_curl")) else { return };
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let mut req = Vec::new();
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    let out = exec(json!({"command": [p, "-H", "127.0.0.1", "-p", port.to_string(), "-s", "ok"]})).await;
    assert_eq!(out.state, State::Ok, "{out:?}");
    assert!(out.message.starts_with("HTTP OK"), "{}", out.message);
    let perf = out.perfdata.unwrap();
    assert!(perf.iter().any(|p| p.label == "time" && p.uom == "s"), "{perf:?}");
    assert!(perf.iter().any(|p| p.label == "size" && p.uom == "B"), "{perf:?}");
}
