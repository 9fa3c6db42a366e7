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
    for cmd in ["migrate", "probe", "checks"] {
        assert!(text.contains(cmd), "{cmd} missing from --help:\n{text}");
    }
}

#[test]
fn migrate_is_idempotent_and_says_what_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/b.db", dir.path().display());
    let first = bearmon(&["migrate", "--database", &url]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(stdout(&first).contains("applied 1 gobearmon tables"), "{}", stdout(&first));
    assert!(stdout(&first).contains("2 applied, 0 already in place"), "{}", stdout(&first));
    let second = bearmon(&["migrate", "--database", &url]);
    assert!(second.status.success());
    assert!(
        stdout(&second).contains("schema up to date (2 migrations already applied)"),
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
    let out = bearmon(&["probe", "--type", "tcp", "--data", "{\"address\": 5}"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("invalid: check 0: field address"), "{}", stdout(&out));
}
