//! How `bearmon up` stops with notifications pending: it says so once, a second Ctrl-C
//! stops at once, and the next start sends what was left at once, not at its backoff time.

mod common;

use std::time::{Duration, Instant};

use bearmon::db::{Backend, Db};
use common::cluster::{Node, wait_for};
use common::receivers::{Mode, Receiver};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An outbox row for contact 1 that may first be sent at `next_attempt_at` (unix ms).
async fn pending_row(db: &Db, key: &str, next_attempt_at: i64) {
    let now = bearmon::util::now_ms();
    common::exec(
        db,
        &format!(
            "INSERT INTO bearmon_outbox (event_id, check_id, contact_id, idem_key, to_status, check_name, \
             check_type, check_data, message, created_at, next_attempt_at, notification_type, notification_number) \
             VALUES ({now}, 1, 1, '{key}', 'offline', 't', 'tcp', '{{}}', 'down', {now}, {next_attempt_at}, 'PROBLEM', 1)"
        ),
    )
    .await;
}

fn start_up(url: &str) -> Node {
    let listen = format!("127.0.0.1:{}", free_port());
    Node::start("up", &["up".into(), "--listen".into(), listen, "--database".into(), url.into()])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_with_notifications_pending_says_so_once_and_a_second_ctrl_c_is_at_once() {
    let Some((db, url)) = common::fresh_db(Backend::Sqlite).await else { return };
    let hook = Receiver::start(Mode::Ok).await;
    common::exec(
        &db,
        "INSERT INTO checks (name, type, data) VALUES ('t', 'tcp', '{\"address\":\"127.0.0.1:1\"}')",
    )
    .await;
    common::exec(
        &db,
        &format!(
            "INSERT INTO contacts (type, data) VALUES ('webhook', '{{\"url\":\"{}\"}}')",
            hook.url("/hook")
        ),
    )
    .await;
    // Left by an earlier run with its next attempt an hour away: sent at this start.
    pending_row(&db, "left-over", bearmon::util::now_ms() + 3_600_000).await;
    let mut up = start_up(&url);
    let sent =
        wait_for(Duration::from_secs(15), || async { (!hook.seen_at("/hook").is_empty()).then_some(()) })
            .await;
    assert!(sent.is_some(), "the left-over row was not sent at start:\n{}", up.log_text());

    // A receiver that never answers: the row stays in flight and the stop waits for it.
    hook.set_mode(Mode::HangFirst);
    pending_row(&db, "hangs", 0).await;
    let held = wait_for(Duration::from_secs(10), || async {
        hook.seen().iter().any(|s| s.header("idempotency-key") == "hangs").then_some(())
    })
    .await;
    assert!(held.is_some(), "the second row was not attempted:\n{}", up.log_text());
    up.signal("INT");
    let told = wait_for(Duration::from_secs(5), || async {
        up.logged("delivering the outbox before stopping").then_some(())
    })
    .await;
    assert!(told.is_some(), "{}", up.log_text());
    std::thread::sleep(Duration::from_secs(2));
    let times = up.log_text().matches("delivering the outbox before stopping").count();
    assert_eq!(times, 1, "said {times} times:\n{}", up.log_text());
    let second = Instant::now();
    up.signal("INT");
    let code = up.wait_exit(Duration::from_secs(8));
    assert!(code.is_some(), "still running 8 s after the second Ctrl-C:\n{}", up.log_text());
    assert!(second.elapsed() < Duration::from_secs(4), "the second Ctrl-C took {:?}", second.elapsed());
    db.pool().close().await;
}
