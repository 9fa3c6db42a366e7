//! `bearmon periods`, the real binary on a SQLite file: the seed's on-call rotation
//! (003_db7a1b8e42b6bbea, "On-Call Rotations", scenario 1) read back as an operator would
//! check it before trusting it, an unknown name and a definition that does not parse.

use std::process::{Command, Output};

use bearmon::db::Db;

fn bearmon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bearmon")).args(args).output().expect("run bearmon")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The seed's holidays, verbatim (the `define timeperiod{ }` body).
const HOLIDAYS: &str = "name holidays
timeperiod_name holidays
january 1 00:00-24:00 ; New Year's Day
2008-03-23 00:00-24:00 ; Easter (2008)
2009-04-12 00:00-24:00 ; Easter (2009)
monday -1 may 00:00-24:00 ; Memorial Day (Last Monday in May)
july 4 00:00-24:00 ; Independence Day
monday 1 september 00:00-24:00 ; Labor Day (1st Monday in September)
thursday 4 november 00:00-24:00 ; Thanksgiving (4th Thursday in November)
december 25 00:00-24:00 ; Christmas
december 31 17:00-24:00 ; New Year's Eve (5pm onwards)
";

const JOHN: &str = "timeperiod_name john-oncall
monday 00:00-24:00
tuesday 00:00-24:00
wednesday 00:00-24:00
thursday 00:00-24:00
friday 00:00-24:00
exclude holidays ; Exclude holiday dates/times defined elsewhere
";

const BOB: &str = "timeperiod_name bob-oncall
friday 00:00-24:00
saturday 00:00-24:00
use holidays ; Also include holiday date/times defined elsewhere
";

/// A fresh SQLite file migrated by `bearmon migrate`, holding `rows` (name, definition).
async fn database(dir: &tempfile::TempDir, rows: &[(&str, &str)]) -> String {
    let url = format!("sqlite://{}/periods.db", dir.path().display());
    let out = bearmon(&["migrate", "--database", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let db = Db::connect(&url).await.expect("connect");
    for (name, definition) in rows {
        sqlx::query("INSERT INTO timeperiods (name, definition) VALUES (?, ?)")
            .bind(*name)
            .bind(*definition)
            .execute(db.pool())
            .await
            .expect("insert a timeperiod");
    }
    db.pool().close().await;
    url
}

#[tokio::test]
async fn the_seeds_rotation_reads_back_as_the_seed_says() {
    let dir = tempfile::tempdir().unwrap();
    let url = database(&dir, &[("holidays", HOLIDAYS), ("john-oncall", JOHN), ("bob-oncall", BOB)]).await;

    // Friday 4 July 2008 is Independence Day: John is off, Bob is on.
    let out = bearmon(&["periods", "--database", &url, "john-oncall", "--at", "2008-07-04T12:00:00Z"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("john-oncall: not active at 2008-07-04T12:00:00Z (Fri)\n"), "{text}");
    assert!(text.contains("  2008-07-07T00:00:00Z  Mon  starts  (active for 5d)\n"), "{text}");
    assert!(text.contains("  2008-07-12T00:00:00Z  Sat  ends    (inactive for 2d)\n"), "{text}");
    assert_eq!(text.lines().count(), 6, "the header and 5 transitions by default:\n{text}");
    assert!(!text.contains("bob-oncall"), "{text}");

    // Without NAME: every period, in row order; unix seconds work as --at.
    let out = bearmon(&["periods", "--database", &url, "--at", "1215172800", "--count", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let headers: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ') && !l.is_empty()).collect();
    assert_eq!(
        headers,
        [
            "holidays: active at 2008-07-04T12:00:00Z (Fri)",
            "john-oncall: not active at 2008-07-04T12:00:00Z (Fri)",
            "bob-oncall: active at 2008-07-04T12:00:00Z (Fri)",
        ],
        "{text}"
    );
    // Bob's holiday runs into his weekend: he is on until Sunday.
    assert!(text.contains("  2008-07-06T00:00:00Z  Sun  ends    (inactive for 5d)\n"), "{text}");

    // Thanksgiving 2008 (the 4th Thursday of November, the 27th) in New York's wall clock.
    let out = bearmon(&[
        "periods",
        "--database",
        &url,
        "john-oncall",
        "--at",
        "2008-11-26T18:00",
        "--timezone",
        "America/New_York",
        "--count",
        "2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "john-oncall: active at 2008-11-26T18:00:00-05:00 (Wed)\n\
         \x20 2008-11-27T00:00:00-05:00  Thu  ends    (inactive for 1d)\n\
         \x20 2008-11-28T00:00:00-05:00  Fri  starts  (active for 1d)\n"
    );
}

#[tokio::test]
async fn an_unknown_name_is_named_with_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let url = database(&dir, &[("holidays", HOLIDAYS), ("john-oncall", JOHN)]).await;
    let out = bearmon(&["periods", "--database", &url, "jon-oncall"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("no timeperiod named \"jon-oncall\""), "{err}");
    assert!(err.contains("known: holidays, john-oncall"), "{err}");
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

#[tokio::test]
async fn a_definition_that_does_not_parse_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = database(
        &dir,
        &[
            ("weekdays", "monday 09:00-17:00\ntusday 09:00-17:00\n"),
            ("oncall", "sunday 00:00-24:00\nuse weekdays\n"),
            ("weekends", "saturday 00:00-24:00\nsunday 00:00-24:00\n"),
        ],
    )
    .await;
    let out = bearmon(&["periods", "--database", &url, "weekdays"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("timeperiod \"weekdays\": line 2:"), "{err}");
    assert!(err.contains("tusday"), "{err}");

    // A period using it fails too, and says which row to fix.
    let out = bearmon(&["periods", "--database", &url, "oncall"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("use names the timeperiod \"weekdays\", which does not parse"), "{err}");
    assert!(err.contains("timeperiod \"weekdays\": line 2:"), "{err}");

    // The listing still shows the good ones, and fails.
    let out = bearmon(&["periods", "--database", &url, "--at", "2026-12-05T12:00:00Z"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("weekends: active at 2026-12-05T12:00:00Z (Sat)\n"), "{}", stdout(&out));
    assert!(stderr(&out).contains("line 2:"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_bad_time_or_zone_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let url = database(&dir, &[("holidays", HOLIDAYS)]).await;
    let out = bearmon(&["periods", "--database", &url, "--at", "christmas"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--at \"christmas\""), "{}", stderr(&out));
    let out = bearmon(&["periods", "--database", &url, "--timezone", "Mars/Olympus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("Mars/Olympus"), "{}", stderr(&out));
}

/// `bearmon checks` names every bad row of the policy tables and the `options` columns
/// (table, id, field, reason), and exits 1; good rows are not listed as problems.
#[tokio::test]
async fn the_row_linter_names_bad_policy_rows() {
    let dir = tempfile::tempdir().unwrap();
    let url = database(
        &dir,
        &[("workhours", "monday 09:00-17:00"), ("broken", "monday 09:00-17:00\nsomeday 10:00-11:00")],
    )
    .await;
    let db = Db::connect(&url).await.expect("connect");
    for sql in [
        r#"INSERT INTO checks (name, type, data, options) VALUES ('good', 'tcp', '{"address":"127.0.0.1:9"}', '{"notification_period": "workhours"}')"#,
        r#"INSERT INTO checks (name, type, data, options) VALUES ('lost', 'tcp', '{"address":"127.0.0.1:9"}', '{"notification_period": "nights"}')"#,
        r#"INSERT INTO checks (name, type, data, options) VALUES ('bad', 'tcp', '{"address":"127.0.0.1:9"}', '{"notification_interval": "soon"}')"#,
        r#"INSERT INTO contacts (type, data, options) VALUES ('email', 'a@example.com', '{"notification_options": "c,z"}')"#,
        "INSERT INTO escalations (check_id, contact_id, first_notification) VALUES (1, 1, 2)",
        "INSERT INTO escalations (check_id, contact_id, first_notification) VALUES (1, 77, 2)",
        "INSERT INTO downtimes (check_id, end_time) VALUES (99, CURRENT_TIMESTAMP)",
        "INSERT INTO acknowledgements (check_id, author) VALUES (98, 'ann')",
    ] {
        sqlx::query(sql).execute(db.pool()).await.expect(sql);
    }
    let out = bearmon(&["checks", "--database", &url]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for want in [
        "timeperiods row 2: field definition: broken: line 2",
        "checks row 2: field options.notification_period: names the timeperiod \"nights\"",
        "checks row 3: field options.notification_interval",
        "contacts row 1: field options.notification_options",
        "escalations row 2: field contact_id: contact 77 does not exist",
        "downtimes row 1: field check_id: check 99 does not exist",
        "acknowledgements row 1: field check_id: check 98 does not exist",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(!text.contains("escalations row 1"), "a good escalation was named:\n{text}");
    assert!(!text.contains("checks row 1:"), "a good check was named:\n{text}");
}
