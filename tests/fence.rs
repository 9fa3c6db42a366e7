//! Fenced terms on each real backend: once a newer term is claimed, the older term's writes
//! change nothing.

mod common;

use bearmon::db::{Backend, Db};
use bearmon::decide::Status;
use bearmon::policy::notify::{Notice, NoticeType};
use bearmon::store::Flip;
use bearmon::store::fence::{self, Fence, FenceError};
use common::{exec, fresh_db};
use sqlx::Row;

pub async fn events(db: &Db, check_id: i64) -> Vec<String> {
    let sql = db.sql(
        "SELECT CASE WHEN type = 'offline' THEN 'offline' ELSE 'online' END FROM check_events WHERE check_id = ? ORDER BY id",
    );
    let rows = sqlx::query(sql).bind(check_id).fetch_all(db.pool()).await.unwrap();
    rows.iter().map(|r| r.try_get::<String, _>(0).unwrap()).collect()
}

async fn status(db: &Db, check_id: i64) -> String {
    let sql = db
        .sql("SELECT CASE WHEN status = 'offline' THEN 'offline' ELSE 'online' END FROM checks WHERE id = ?");
    sqlx::query(sql).bind(check_id).fetch_one(db.pool()).await.unwrap().try_get(0).unwrap()
}

fn flip(to: Status, contacts: &[i64]) -> Flip {
    Flip {
        key: format!("test-{to:?}-{contacts:?}"),
        check_id: 1,
        to,
        name: "t".into(),
        kind: "tcp".into(),
        data: "{}".into(),
        message: "refused".into(),
        notice: Some(Notice {
            kind: if to == Status::Offline { NoticeType::Problem } else { NoticeType::Recovery },
            number: if to == Status::Offline { 1 } else { 2 },
            contacts: contacts.to_vec(),
            tag: String::new(),
        }),
    }
}

async fn outbox(db: &Db) -> Vec<(i64, i64, String)> {
    let sql = db.sql(&format!(
        "SELECT {}, {}, idem_key FROM bearmon_outbox ORDER BY id",
        db.int("event_id"),
        db.int("contact_id")
    ));
    let rows = sqlx::query(sql).fetch_all(db.pool()).await.unwrap();
    rows.iter().map(|r| (r.try_get(0).unwrap(), r.try_get(1).unwrap(), r.try_get(2).unwrap())).collect()
}

async fn a_deposed_term_writes_nothing(backend: Backend) {
    let Some((db, _)) = fresh_db(backend).await else { return };
    exec(&db, "INSERT INTO checks (name, type, data) VALUES ('t', 'tcp', '{\"address\":\"127.0.0.1:1\"}')")
        .await;
    let old = Fence::claim(&db, "w1").await.unwrap();
    old.renew().await.unwrap();
    old.save_streak(1, 1).await.unwrap();
    let new = Fence::claim(&db, "w2").await.unwrap();
    assert!(new.term() > old.term());

    match old.commit_flip(&flip(Status::Offline, &[5])).await {
        Err(FenceError::Deposed { ours, current, holder }) => {
            assert_eq!((ours, current, holder.as_str()), (old.term(), new.term(), "w2"));
        }
        other => panic!("the old term's flip was not refused: {other:?}"),
    }
    assert!(events(&db, 1).await.is_empty(), "a refused flip wrote an event");
    assert!(outbox(&db).await.is_empty(), "a refused flip queued a notification");
    assert_eq!(status(&db, 1).await, "online", "a refused flip changed checks.status");
    assert!(matches!(old.save_streak(1, 2).await, Err(FenceError::Deposed { .. })));
    assert!(matches!(old.renew().await, Err(FenceError::Deposed { .. })));
    assert_eq!(
        fence::load_streaks(&db).await.unwrap().get(&1),
        Some(&1),
        "the refused streak write changed it"
    );

    new.save_streak(1, 1).await.unwrap();
    let (problem, queued) = new.commit_flip(&flip(Status::Offline, &[5, 6])).await.unwrap();
    assert_eq!(queued, 2);
    assert_eq!(events(&db, 1).await, vec!["offline"]);
    assert!(
        matches!(old.claim_outbox(1, i64::MAX).await, Err(FenceError::Deposed { .. })),
        "a deposed term claimed"
    );
    assert_eq!(status(&db, 1).await, "offline");
    assert!(fence::load_streaks(&db).await.unwrap().is_empty(), "a flip resets the saved streak");
    assert_eq!(fence::current_term(&db).await.unwrap(), (new.term(), "w2".to_string()));
    assert!(bearmon::store::events::load_since(&db).await.unwrap().contains_key(&1));

    // The recovery goes to the contacts the policy chose (its alerts' and everyone told of
    // the problem: `policy::notify::on_recovery`), each once.
    let (recovery, queued) = new.commit_flip(&flip(Status::Online, &[5, 6, 7])).await.unwrap();
    assert_eq!(queued, 3);
    let rows = outbox(&db).await;
    let want = vec![
        (problem, 5, format!("bm-{problem}-5")),
        (problem, 6, format!("bm-{problem}-6")),
        (recovery, 5, format!("bm-{recovery}-5")),
        (recovery, 6, format!("bm-{recovery}-6")),
        (recovery, 7, format!("bm-{recovery}-7")),
    ];
    assert_eq!(rows, want);
    // Rollups: written in one batch, replaced per (check, hour), refused for a deposed term.
    let roll = |check_id: i64, hour: i64, runs: u32| bearmon::store::Rollup {
        check_id,
        hour,
        runs,
        failures: 1,
        latency_avg_ms: 2.0,
        latency_p50_ms: 2.0,
        latency_p95_ms: 5.0,
        latency_max_ms: 9.0,
    };
    new.write_rollups(&[roll(1, 3600, 60), roll(2, 3600, 60), roll(1, 7200, 10)]).await.unwrap();
    new.write_rollups(&[roll(1, 3600, 61)]).await.unwrap();
    assert!(matches!(old.write_rollups(&[roll(1, 3600, 99)]).await, Err(FenceError::Deposed { .. })));
    let got = bearmon::store::events::load_rollups(&db, 1, 0).await.unwrap();
    assert_eq!(got.iter().map(|r| (r.hour, r.runs)).collect::<Vec<_>>(), vec![(3600, 61), (7200, 10)]);
    assert_eq!(bearmon::store::events::load_rollups(&db, 2, 0).await.unwrap().len(), 1);

    // A claim is won once.
    let d = new.claim_outbox(1, i64::MAX).await.unwrap().expect("the first claim wins");
    assert_eq!((d.event_id, d.contact_id, d.attempts), (problem, 5, 1));
    assert!(new.claim_outbox(1, i64::MAX).await.unwrap().is_none(), "a claimed row was claimed again");

    // Retention: delivered rows and old rollups go; pending rows stay.
    let sent = bearmon::store::AttemptOutcome::Sent { charge: None };
    assert!(bearmon::store::outbox::record(&db, 1, 1, new.term(), &sent).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(bearmon::store::outbox::prune(&db, 0).await.unwrap(), 1);
    assert_eq!(outbox(&db).await.len(), 4, "pending rows are kept");
    assert_eq!(bearmon::store::events::prune_rollups(&db, 0).await.unwrap(), 3);
}

on_every_backend!(a_deposed_term_writes_nothing);

/// A controller frozen (SIGSTOP) in the middle of a commit holds the `bearmon_term` row
/// lock. The server ends its idle transaction, so the next controller's claim goes through
/// in seconds instead of waiting for the zombie to wake (scripts/chaos.sh found this on
/// MariaDB: 30 s without a controller).
async fn a_frozen_transaction_does_not_block_the_next_claim(backend: Backend) {
    if backend == Backend::Sqlite {
        return; // One process holds the file: no controller can freeze apart from the rest.
    }
    let Some((db, url)) = fresh_db(backend).await else { return };
    let old = Fence::claim(&db, "w1").await.unwrap();
    let zombie = Db::connect(&url).await.unwrap();
    let mut tx = zombie.pool().begin().await.unwrap();
    let sql = zombie.sql("UPDATE bearmon_term SET commits = commits + 1 WHERE id = 1");
    sqlx::query(sql).execute(&mut *tx).await.unwrap();
    let started = std::time::Instant::now();
    let claim = tokio::time::timeout(std::time::Duration::from_secs(20), Fence::claim(&db, "w2")).await;
    let new = claim.expect("the claim waited for the frozen transaction").unwrap();
    let waited = started.elapsed().as_secs_f64();
    assert!(waited < bearmon::db::IDLE_IN_TRANSACTION_SECS as f64 + 3.0, "claim took {waited:.1} s");
    assert!(new.term() > old.term());
    assert!(tx.commit().await.is_err(), "the frozen transaction was ended by the server");
}

on_every_backend!(a_frozen_transaction_does_not_block_the_next_claim);

/// A commit whose COMMIT went through but whose answer was lost is retried by the controller
/// with the same flip: the retry must not write a second event or queue the notifications
/// again.
async fn a_flip_retried_after_its_commit_is_written_once(backend: Backend) {
    let Some((db, _)) = fresh_db(backend).await else { return };
    exec(&db, "INSERT INTO checks (name, type, data) VALUES ('t', 'tcp', '{\"address\":\"127.0.0.1:1\"}')")
        .await;
    let fence = Fence::claim(&db, "w1").await.unwrap();
    let f = flip(Status::Offline, &[5, 6]);
    let (event, queued) = fence.commit_flip(&f).await.unwrap();
    assert_eq!(queued, 2);
    let again = fence.commit_flip(&f).await.unwrap();
    assert_eq!(again, (event, 0), "the retried flip was written again");
    assert_eq!(events(&db, 1).await, vec!["offline"]);
    assert_eq!(outbox(&db).await.len(), 2, "the retried flip queued its notifications again");
}

on_every_backend!(a_flip_retried_after_its_commit_is_written_once);

/// A receiver down during an outage: the problem's notification backs off, the check
/// recovers, and the recovery must not be sent to that contact before the problem is
/// delivered or given up (PagerDuty never resolves an incident it hears of after its end).
async fn a_notification_waits_for_the_earlier_one_of_its_pair(backend: Backend) {
    use bearmon::store::AttemptOutcome;
    use bearmon::store::outbox::{due, record};
    let Some((db, _)) = fresh_db(backend).await else { return };
    exec(&db, "INSERT INTO checks (name, type, data) VALUES ('t', 'tcp', '{\"address\":\"127.0.0.1:1\"}')")
        .await;
    let fence = Fence::claim(&db, "w1").await.unwrap();
    let term = fence.term();
    // Rows 1 (contact 5) and 2 (contact 6): the problem.
    fence.commit_flip(&flip(Status::Offline, &[5, 6])).await.unwrap();
    // Contact 5's receiver is down: its attempt is to be retried in an hour.
    assert!(fence.claim_outbox(1, i64::MAX).await.unwrap().is_some());
    let later = bearmon::util::now_ms() + 3_600_000;
    let retry = AttemptOutcome::Retry { at_ms: later, error: "connection refused".into() };
    assert!(record(&db, 1, 1, term, &retry).await.unwrap());
    // Rows 3 (contact 5) and 4 (contact 6): the recovery.
    fence.commit_flip(&flip(Status::Online, &[5, 6])).await.unwrap();
    assert_eq!(due(&db, term, 100).await.unwrap(), vec![2], "only contact 6's problem may go now");
    assert!(fence.claim_outbox(2, i64::MAX).await.unwrap().is_some());
    let sent = AttemptOutcome::Sent { charge: None };
    assert!(record(&db, 2, 1, term, &sent).await.unwrap());
    assert_eq!(due(&db, term, 100).await.unwrap(), vec![4], "contact 6's recovery follows its problem");
    // Contact 5's problem is given up: its recovery may go.
    assert!(fence.claim_outbox(4, i64::MAX).await.unwrap().is_some());
    assert!(record(&db, 4, 1, term, &sent).await.unwrap());
    exec(&db, "UPDATE bearmon_outbox SET next_attempt_at = 0 WHERE id = 1").await;
    assert!(fence.claim_outbox(1, i64::MAX).await.unwrap().is_some());
    let failed = AttemptOutcome::Failed { error: "gave up".into() };
    assert!(record(&db, 1, 1, term, &failed).await.unwrap());
    assert_eq!(
        due(&db, term, 100).await.unwrap(),
        vec![3],
        "contact 5's recovery goes once its problem is given up"
    );
}

on_every_backend!(a_notification_waits_for_the_earlier_one_of_its_pair);

/// MySQL 8 has no idle-transaction timeout (issue: a frozen controller held the term row
/// until wait_timeout, 8 h). Simulated on MariaDB by turning its timeout off for the frozen
/// session: the claim waits `CLAIM_LOCK_WAIT_SECS`, ends the connection recorded in the term
/// row, and goes through; the frozen transaction commits nothing.
#[tokio::test(flavor = "multi_thread")]
async fn on_mysql_a_claim_ends_a_transaction_frozen_on_the_term_row() {
    let Some((db, url)) = fresh_db(Backend::MySql).await else { return };
    let old = Fence::claim(&db, "w1").await.unwrap();
    let zombie = Db::connect(&url).await.unwrap();
    let mut conn = zombie.pool().acquire().await.unwrap();
    sqlx::raw_sql("SET SESSION idle_transaction_timeout = 0").execute(&mut *conn).await.unwrap();
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    // What a controller's fenced transaction runs first.
    let sql = "UPDATE bearmon_term SET commits = commits + 1, holder_conn = CONNECTION_ID() WHERE id = 1";
    sqlx::query(sql).execute(&mut *tx).await.unwrap();
    let started = std::time::Instant::now();
    let claim = tokio::time::timeout(std::time::Duration::from_secs(30), Fence::claim(&db, "w2")).await;
    let new = claim.expect("the claim waited for the frozen transaction").unwrap();
    let waited = started.elapsed().as_secs_f64();
    let bound = bearmon::store::fence::CLAIM_LOCK_WAIT_SECS as f64 + 3.0;
    assert!(waited < bound, "claim took {waited:.1} s");
    assert!(new.term() > old.term());
    assert!(tx.commit().await.is_err(), "the frozen connection was ended");
}
