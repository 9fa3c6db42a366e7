//! What a new user reads when something is wrong: the real binary against a database that
//! is not there, a server that speaks another protocol, a missing directory, an unmigrated
//! file, a busy port. Each error is one line that says what to try.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Kills the child when dropped: a test that fails never leaves a bearmon running.
struct Child(Option<std::process::Child>);

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs bearmon in `cwd`; a run that has not ended within 20 s (it should fail at once) is
/// killed and fails the test.
fn bearmon_in(cwd: &Path, args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_bearmon"))
        .current_dir(cwd)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bearmon");
    let mut guard = Child(Some(child));
    let started = Instant::now();
    while guard.0.as_mut().unwrap().try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "bearmon {args:?} still runs after 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    guard.0.take().unwrap().wait_with_output().unwrap()
}

fn bearmon(args: &[&str]) -> Output {
    bearmon_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The error is said once, on one line.
fn one_line(err: &str) {
    assert_eq!(err.trim_end().lines().count(), 1, "more than one line:\n{err}");
}

#[test]
fn an_unreachable_database_server_is_named_at_once() {
    for scheme in ["mysql", "postgres"] {
        let port = closed_port();
        let url = format!("{scheme}://bearmon:secret-pw@127.0.0.1:{port}/bearmon");
        let started = Instant::now();
        let out = bearmon(&["migrate", "--database", &url]);
        assert!(started.elapsed() < Duration::from_secs(4), "{scheme}: took {:?}", started.elapsed());
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        one_line(&err);
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(err.contains("connection refused"), "{err}");
        assert!(err.contains("check that the server is running"), "{err}");
        assert!(!err.contains("secret-pw") && !err.contains("pool timed out"), "{err}");
    }
}

/// What a MySQL/MariaDB server sends first: its handshake packet (protocol 10).
fn mysql_greeting() -> Vec<u8> {
    let mut payload = vec![10];
    payload.extend_from_slice(b"5.5.5-10.11.6-MariaDB\0");
    payload.extend_from_slice(&7u32.to_le_bytes());
    payload.extend_from_slice(b"abcdefgh\0");
    payload.extend_from_slice(&[0xfe, 0xf7, 0x2d, 0x02, 0x00, 0xff, 0x81, 0x15]);
    payload.extend_from_slice(&[0; 10]);
    payload.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
    let len = payload.len() as u32;
    let mut packet = len.to_le_bytes()[..3].to_vec();
    packet.push(0);
    packet.extend(payload);
    packet
}

#[test]
fn a_postgres_url_at_a_mysql_server_says_so() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = s.write_all(&mysql_greeting());
                let mut buf = [0u8; 256];
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    let started = Instant::now();
    let out = bearmon(&["checks", "--database", &format!("postgres://u:pw@127.0.0.1:{port}/x")]);
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    one_line(&err);
    assert!(
        err.contains(&format!("the server at 127.0.0.1:{port}"))
            && err.contains("does not speak PostgreSQL (is it MySQL/MariaDB? use mysql://)"),
        "{err}"
    );
    assert!(!err.contains("SSLRequest"), "{err}");
}

#[test]
fn a_sqlite_file_in_a_missing_directory_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("b.db");
    let out = bearmon(&["migrate", "--database", &format!("sqlite://{}", path.display())]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    one_line(&err);
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("no-such-dir does not exist"), "{err}");
    assert!(!err.contains("code: 14"), "{err}");
}

#[test]
fn read_commands_on_a_missing_or_unmigrated_database_say_to_migrate() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["checks", "periods"] {
        let out = bearmon_in(dir.path(), &[cmd, "--database", "sqlite://b.db"]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = stderr(&out);
        one_line(&err);
        assert!(err.contains("`bearmon migrate --database sqlite://b.db`"), "{cmd}: {err}");
        assert!(!dir.path().join("b.db").exists(), "{cmd} created the file");
    }
    // An empty file (or a database no migration has touched) is not a schema.
    std::fs::write(dir.path().join("b.db"), b"").unwrap();
    for cmd in ["checks", "periods"] {
        let out = bearmon_in(dir.path(), &[cmd, "--database", "sqlite://b.db"]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = stderr(&out);
        one_line(&err);
        assert!(
            err.contains("no bearmon schema yet: run `bearmon migrate --database sqlite://b.db`"),
            "{err}"
        );
        assert!(!err.contains("no such table"), "{err}");
    }
    let out = bearmon_in(dir.path(), &["migrate", "--database", "sqlite://b.db"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = bearmon_in(dir.path(), &["checks", "--database", "sqlite://b.db"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn up_on_a_busy_port_names_it_and_creates_nothing() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let out = bearmon_in(dir.path(), &["up", "--listen", &format!("127.0.0.1:{port}")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    one_line(&err);
    assert!(err.contains(&format!("port {port} is already in use")) && err.contains("--listen"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "up left {left:?} behind");
}

#[test]
fn status_takes_host_and_port_and_names_the_url_it_tried() {
    let port = closed_port();
    let out = bearmon(&["status", "--url", &format!("127.0.0.1:{port}")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    one_line(&err);
    assert!(err.contains(&format!("cannot reach bearmon at http://127.0.0.1:{port}/api/cluster")), "{err}");
    assert!(err.to_lowercase().contains("connection refused") && err.contains("--url"), "{err}");
    assert!(!err.contains("relative URL without a base"), "{err}");
}

#[test]
fn a_mysql_url_at_a_silent_server_says_it_sent_no_greeting() {
    // A PostgreSQL server waits for the client to speak first, as this listener does.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let out = bearmon(&["checks", "--database", &format!("mysql://u:pw@127.0.0.1:{port}/x")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    one_line(&err);
    assert!(
        err.contains(&format!("the server at 127.0.0.1:{port}"))
            && err.contains("sends no MySQL greeting (is it PostgreSQL? use postgres://)"),
        "{err}"
    );
}
