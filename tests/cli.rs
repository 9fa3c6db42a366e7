//! The real `bearmon` binary: `--help`, `migrate` (idempotent, says what it applied),
//! `checks` (reports bad rows, exit code) and `probe`.

mod common;

use std::process::{Command, Output};

use bearmon::db::Backend;

fn bearmon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bearmon")).args(args).output().expect("run bearmon")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn help_lists_the_commands() {
    let out = bearmon(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for cmd in [
        "migrate",
        "probe",
        "checks",
        "viewserver",
        "worker",
        "certs",
        "check-config",
        "up",
        "status",
        "haproxy-report",
    ] {
        assert!(text.contains(cmd), "{cmd} missing from --help:\n{text}");
    }
}

#[test]
fn migrate_is_idempotent_and_says_what_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/b.db", dir.path().display());
    let n = common::migration_count();
    let first = bearmon(&["migrate", "--database", &url]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(stdout(&first).contains("applied 1 gobearmon tables"), "{}", stdout(&first));
    assert!(stdout(&first).contains(&format!("{n} applied, 0 already in place")), "{}", stdout(&first));
    let second = bearmon(&["migrate", "--database", &url]);
    assert!(second.status.success());
    assert!(
        stdout(&second).contains(&format!("schema up to date ({n} migrations already applied)")),
        "{}",
        stdout(&second)
    );
}

#[test]
fn a_bad_url_is_a_clear_error() {
    let out = bearmon(&["migrate", "--database", "oracle://scott:tiger@db/x"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown scheme") && !err.contains("tiger"), "{err}");
}

#[tokio::test]
async fn checks_reports_bad_rows_on_postgres() {
    let Some((db, url)) = common::fresh_db(Backend::Postgres).await else { return };
    common::exec(
        &db,
        r#"INSERT INTO checks (name, type, data) VALUES ('ok', 'tcp', '{"address":"127.0.0.1:1"}')"#,
    )
    .await;
    let out = bearmon(&["checks", "--database", &url]);
    assert!(out.status.success(), "{}", stdout(&out));
    common::exec(&db, "INSERT INTO checks (name, type, data) VALUES ('typo', 'htp', '{}')").await;
    let out = bearmon(&["checks", "--database", &url]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("problem: checks row 2: field type: unknown check type \"htp\""), "{text}");
    assert!(text.contains("invalid"), "{text}");
    // A contact whose data does not fit its type is reported when loaded, with its id.
    common::exec(&db, "INSERT INTO contacts (type, data) VALUES ('email', '[email protected]')").await;
    let text = stdout(&bearmon(&["checks", "--database", &url]));
    assert!(
        text.contains("problem: contacts row 1: field data: \"[email protected]\" is not an e-mail address"),
        "{text}"
    );
    common::exec(&db, "INSERT INTO contacts (type, data) VALUES ('pigeon', 'coo')").await;
    let text = stdout(&bearmon(&["checks", "--database", &url]));
    assert!(text.contains("problem: contacts row 2: field type: unknown contact type \"pigeon\""), "{text}");
}

#[test]
fn probe_runs_one_check() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let data = format!(r#"{{"address":"{addr}"}}"#);
    let out = bearmon(&["probe", "--type", "tcp", "--data", &data]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("online in "), "{}", stdout(&out));
    drop(l);
    let out = bearmon(&["probe", "--type", "tcp", "--data", &data]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("offline"), "{}", stdout(&out));
    // An invalid check is exit code 2, not a failing one's 1.
    let out = bearmon(&["probe", "--type", "tcp", "--data", "{\"address\": 5}"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("invalid: check 0: field address"), "{}", stdout(&out));
}

#[test]
fn probe_names_a_missing_key_and_refuses_what_the_cluster_refuses() {
    let out = bearmon(&["probe", "--type", "http", "--data", "{}"]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(text.contains("field url: missing: the key `url` is required"), "{text}");
    assert!(!text.contains("relative URL"), "{text}");
    // A key that is there but wrong keeps its own reason.
    let out = bearmon(&["probe", "--type", "http", "--data", r#"{"url":"nope"}"#]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("field url: \"nope\""), "{}", stdout(&out));
    // The cluster's 64 KiB limit on a check's JSON.
    let big = format!(r#"{{"url":"http://127.0.0.1:1/","body":"{}"}}"#, "x".repeat(64 * 1024));
    let out = bearmon(&["probe", "--type", "http", "--data", &big]);
    assert_eq!(out.status.code(), Some(2));
    let want = format!("field data: {} bytes, over the 65536-byte limit", big.len());
    assert!(stdout(&out).contains(&want), "{}", stdout(&out));
    let help = stdout(&bearmon(&["probe", "--help"]));
    assert!(help.contains("2 when the check is invalid"), "{help}");
}

/// Every shipped config passes `check-config`, its role found from its keys.
#[test]
fn the_shipped_configs_are_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/configs");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    for f in &files {
        let out = bearmon(&["check-config", f.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}", f.display(), stdout(&out));
        assert!(!stdout(&out).contains("warning"), "{}: {}", f.display(), stdout(&out));
    }
    let role = |name: &str| stdout(&bearmon(&["check-config", &format!("{dir}/{name}.toml")]));
    assert!(role("up").contains("valid up config"), "{}", role("up"));
    assert!(role("worker").contains("valid worker config"), "{}", role("worker"));
    assert!(role("viewserver").contains("valid viewserver config"), "{}", role("viewserver"));
    let out = bearmon(&["check-config", "--role", "worker", &format!("{dir}/up.toml")]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn a_bad_config_or_flag_stops_the_node_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("w.toml");
    std::fs::write(
        &cfg,
        "name = \"w1\"\nviewserver = \"http://127.0.0.1:1\"\nsecret = \"12345678\"\nconfirmation = 3\n",
    )
    .unwrap();
    let out = bearmon(&["worker", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("confirmation") && err.contains("w.toml"), "{err}");

    let out = bearmon(&[
        "worker",
        "--name",
        "w1",
        "--viewserver",
        "http://127.0.0.1:1",
        "--secret",
        "12345678",
        "--confirmations",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`confirmations`"), "{err}");

    let out = bearmon(&["viewserver", "--listen", "nonsense", "--secret", "12345678"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`listen`"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_bearmon"))
        .arg("viewserver")
        .env_remove("BEARMON_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`secret`") && err.contains("BEARMON_SECRET"), "{err}");

    std::fs::write(&cfg, "[timing]\nheartbeat_secs = -1\n").unwrap();
    let out = bearmon(&["check-config", "--role", "viewserver", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("timing.heartbeat_secs"), "{}", stdout(&out));
}

#[test]
fn a_worker_retries_an_unreachable_viewserver_and_database() {
    use common::cluster::{Node, Scratch, worker_args};
    let scratch = Scratch::new("");
    // Nothing listens on port 1; the database server does not exist.
    let db = "postgres://bearmon:x@127.0.0.1:1/none";
    let node = Node::start("w1", &worker_args(&scratch.config(), "w1", "http://127.0.0.1:1", Some(db), 2));
    // A refused database connection fails at once (not after the pool's 10 s acquire timeout).
    let start = std::time::Instant::now();
    while !(node.logged("viewserver unreachable") && node.logged("database unreachable; retrying"))
        && start.elapsed() < std::time::Duration::from_secs(20)
    {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(node.logged("viewserver unreachable"), "{}", node.log_text());
    assert!(node.logged("database unreachable; retrying"), "{}", node.log_text());
    assert!(!node.log_text().contains("panicked"), "{}", node.log_text());
    let metrics = Command::new("curl").args(["-s", &format!("{}/metrics", node.url)]).output();
    if let Ok(m) = metrics {
        assert!(String::from_utf8_lossy(&m.stdout).contains("bearmon_check_runs"), "the node still serves");
    }
}

/// `--help` never prints the database URL (with its password) taken from the environment,
/// and `[smtp] password` and `[twilio] auth_token` can stay out of the file (SPEC §1).
#[test]
fn secrets_stay_out_of_help_and_config_files() {
    for sub in ["migrate", "checks"] {
        let out = Command::new(env!("CARGO_BIN_EXE_bearmon"))
            .args([sub, "--help"])
            .env("BEARMON_DATABASE", "postgres://u:hunter2-pw@db.example/bm")
            .output()
            .unwrap();
        assert!(!stdout(&out).contains("hunter2-pw"), "{sub} --help:\n{}", stdout(&out));
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("worker.toml");
    std::fs::write(
        &cfg,
        "name = \"w1\"\nviewserver = \"http://127.0.0.1:7300\"\nsecret = \"12345678\"\n\
         [twilio]\naccount_sid = \"AC1\"\nauth_token = \"\"\nfrom = \"+15551234567\"\n",
    )
    .unwrap();
    let out = bearmon(&["check-config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("twilio.auth_token"), "{}", stdout(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_bearmon"))
        .args(["check-config", cfg.to_str().unwrap()])
        .env("BEARMON_TWILIO_AUTH_TOKEN", "from-the-environment")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
}

/// Every option of every subcommand says what it is, in a few lines at most: `--threads`,
/// repeated in each, is one short line.
#[test]
fn every_help_describes_its_options_briefly() {
    let subcommands: [&[&str]; 16] = [
        &[],
        &["migrate"],
        &["probe"],
        &["checks"],
        &["viewserver"],
        &["worker"],
        &["certs", "init"],
        &["certs", "issue"],
        &["up"],
        &["status"],
        &["token", "create"],
        &["token", "list"],
        &["token", "revoke"],
        &["periods"],
        &["check-config"],
        &["certs"],
    ];
    for sub in subcommands {
        let mut args = sub.to_vec();
        args.push("--help");
        let text = stdout(&bearmon(&args));
        for line in text.lines().filter(|l| l.trim_start().starts_with('-')) {
            let described = line.trim_start().split_once("  ").map(|(_, d)| d.trim_start());
            assert!(
                described.is_some_and(|d| !d.is_empty() && !d.starts_with('[')),
                "{sub:?}: an option without a description: {line}"
            );
            if line.contains("--threads") {
                assert!(line.len() < 160, "{sub:?}: {line}");
            }
        }
    }
    let up = stdout(&bearmon(&["up", "--help"]));
    assert!(!up.contains("with the status page on http://"), "up names a default a flag changes:\n{up}");
}
